"""The tests start servers with :mod:`ner.bench.launch` (one implementation for tests and benchmarks).

A test that runs ``python app.py`` itself (to see it refuse to start) does so through :func:`run_app`, on a
free loopback port: a test never collides with an app already running on the default port 7860."""
import os
import subprocess
import sys

from ner.bench.launch import ROOT, free_port, running_server  # noqa: F401


def run_app(env: dict[str, str], timeout: float = 120, inherit: bool = False) -> subprocess.CompletedProcess:
    """Run ``python app.py`` to its end with ``env`` (added to this process's environment when ``inherit``)
    on 127.0.0.1 and a free port unless ``env`` names one; its output as text."""
    child = {**os.environ, **env} if inherit else dict(env)
    child.setdefault("GRADIO_SERVER_NAME", "127.0.0.1")
    child.setdefault("GRADIO_SERVER_PORT", str(free_port()))
    return subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=child, capture_output=True,
                          text=True, timeout=timeout)
