"""Start the real server (``python app.py`` of a source checkout) on a free loopback port and stop it afterwards.

Used by the server benchmarks and by the tests."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    """A port that was free a moment ago (bound to 127.0.0.1:0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(model_dir: str | Path | None = None, env: dict[str, str] | None = None,
                   timeout: float = 180.0, log_path: Path | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield ``(base_url, process)`` of ``python app.py`` once ``/healthz`` answers; terminate it on exit.

    The server's output goes to ``log_path`` (a temporary file when None) and is
    included in the error when the server does not come up within ``timeout`` seconds.
    """
    port = free_port()
    child_env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                 "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
    if model_dir is not None:
        child_env["NER_MODEL"] = str(model_dir)
        if Path(model_dir).is_dir():  # allow a model directory outside models/ (a test's temporary one)
            roots = [child_env.get("NER_MODEL_ROOTS", ""), str(Path(model_dir).resolve().parent)]
            child_env["NER_MODEL_ROOTS"] = os.pathsep.join(r for r in roots if r)
    log_file = open(log_path, "w+b") if log_path else _tempfile()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=child_env,
                            stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, timeout, log_file)
        yield url, proc
    finally:
        stop(proc)
        log_file.close()


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGTERM ``proc``, then SIGKILL if it has not exited within ``timeout`` seconds; its exit code."""
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float, log_file) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with code {proc.returncode}:\n{_tail(log_file)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"app.py did not answer /healthz within {timeout:.0f} s:\n{_tail(log_file)}")


def _tail(log_file, n: int = 4000) -> str:
    log_file.flush()
    log_file.seek(0)
    return log_file.read().decode("utf-8", errors="replace")[-n:]


def _tempfile():
    import tempfile

    return tempfile.TemporaryFile()
