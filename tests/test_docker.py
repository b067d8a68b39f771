"""The Dockerfile, followed without Docker (no registry here): its COPY lines into a fresh folder, its RUN lines in
a fresh virtual environment, its CMD on a loopback port, then its HEALTHCHECK command and one real request."""
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ner import samples

ROOT = Path(__file__).resolve().parent.parent
#: RUN lines that manage users of the image's system: not something a test may do to this machine
SYSTEM_COMMANDS = ("useradd", "groupadd", "adduser", "chown", "apt-get")


def instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of a Dockerfile, continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def env_of(args: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(args))


def healthcheck_command(args: str) -> str:
    return args[args.index("CMD ") + len("CMD "):].strip()


def ignored(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p.removeprefix("**/")) for p in patterns)


@pytest.fixture(scope="module")
def dockerfile():
    return instructions(ROOT / "Dockerfile")


def test_dockerfile_is_the_conventional_one_click_image(dockerfile):
    words = [w for w, _ in dockerfile]
    args = dict(dockerfile[::-1])  # the first of each instruction wins
    assert args["FROM"].startswith("python:") and args["FROM"].endswith("-slim")
    env = {k: v for w, a in dockerfile if w == "ENV" for k, v in env_of(a).items()}
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0"
    user = [a for w, a in dockerfile if w == "USER"]
    assert user and user[-1] not in ("root", "0") and words.index("USER") < words.index("CMD")
    assert "/healthz" in healthcheck_command(args["HEALTHCHECK"])
    assert json.loads(args["CMD"]) == ["python", "app.py"]
    assert "pip install -r requirements.txt" in [a for w, a in dockerfile if w == "RUN"]
    copied = [shlex.split(a)[0] for w, a in dockerfile if w == "COPY"]
    assert "models" in copied and "app.py" in copied  # the model is inside the image


@pytest.mark.slow
def test_the_dockerfile_commands_install_and_serve_in_a_fresh_venv(dockerfile, tmp_path):
    from ner.bench.launch import stop, free_port

    httpx = pytest.importorskip("httpx")
    probe = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(tmp_path / "probe"),
                            "charset-normalizer>=3,<4"], capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip("no package index is reachable for pip install -r requirements.txt")
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    image = tmp_path / "image"
    workdir = image
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path / "home"),
           "VIRTUAL_ENV": str(venv)}
    (tmp_path / "home").mkdir()
    server = None
    try:
        for word, args in dockerfile:
            if word == "ENV":
                env.update(env_of(args))
            elif word == "WORKDIR":
                workdir = image / args.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif word == "COPY":
                src, dest = shlex.split(args)[-2:]
                target = workdir / dest
                if (ROOT / src).is_dir():
                    shutil.copytree(ROOT / src, target, ignore=lambda d, names: [n for n in names
                                                                                 if ignored(n, patterns)])
                else:
                    shutil.copy2(ROOT / src, target)
            elif word == "RUN" and not args.startswith(SYSTEM_COMMANDS):
                env.pop("PIP_NO_CACHE_DIR", None)  # the image saves space; the test may reuse pip's cache
                run = subprocess.run(["bash", "-c", args], cwd=workdir, env=env, capture_output=True, text=True,
                                     timeout=900)
                assert run.returncode == 0, f"RUN {args} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        port = free_port()
        # the image listens on every interface; a test listens on loopback only
        env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
        cmd = json.loads(dict(dockerfile[::-1])["CMD"])
        server = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert server.poll() is None, server.stdout.read().decode(errors="replace")[-3000:]
        check = subprocess.run(["bash", "-c", healthcheck_command(dict(dockerfile[::-1])["HEALTHCHECK"])],
                               cwd=workdir, env=env, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        answer = httpx.post(f"{url}/api/v1/ner", json={"text": samples.SEED}, timeout=30).json()
        import ner

        assert answer["entities"] == [e.to_dict() for e in ner.recognize(samples.SEED)]
    finally:
        if server is not None:
            stop(server, timeout=15)
