"""The Dockerfile, followed without Docker (no registry here): each stage's COPY lines into a fresh folder of its own,
its RUN lines in a fresh virtual environment, its CMD on a loopback port, then its HEALTHCHECK command, one real
request and the CRF decoder the image runs."""
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


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves ``path`` (relative to the context, "/"-separated) out of the build context."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p.removeprefix("**/")) for p in patterns)


def copy_into(rel: str, target: Path, patterns: list[str]) -> None:
    """The build context's ``rel`` (a file or folder) to ``target``, without what .dockerignore names."""
    src = ROOT / rel
    if src.is_dir():
        shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if ignored(
                            (Path(d).relative_to(ROOT) / n).as_posix(), patterns)])
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target / src.name if target.is_dir() else target)


@pytest.fixture(scope="module")
def dockerfile():
    return instructions(ROOT / "Dockerfile")


def test_dockerfile_is_the_conventional_one_click_image(dockerfile):
    words = [w for w, _ in dockerfile]
    args = dict(dockerfile[::-1])  # the first of each instruction wins
    image = [a for w, a in dockerfile if w == "FROM"][-1]  # the last stage is the image
    assert image.startswith("python:") and image.endswith("-slim")
    env = {k: v for w, a in dockerfile if w == "ENV" for k, v in env_of(a).items()}
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0"
    user = [a for w, a in dockerfile if w == "USER"]
    assert user and user[-1] not in ("root", "0") and words.index("USER") < words.index("CMD")
    assert "/healthz" in healthcheck_command(args["HEALTHCHECK"])
    assert json.loads(args["CMD"]) == ["python", "app.py"]
    assert "pip install -r requirements.txt" in [a for w, a in dockerfile if w == "RUN"]
    copied = [[x for x in shlex.split(a) if not x.startswith("--")][0] for w, a in dockerfile if w == "COPY"]
    assert "models" in copied and "app.py" in copied  # the model is inside the image
    # the compiled CRF decoder is built in a stage of its own, and the build fails if the image would not run it
    assert any(w == "FROM" and " AS " in a.upper() for w, a in dockerfile[:-1])
    assert any("ner.crf.KERNEL != 'c'" in a for w, a in dockerfile if w == "RUN")


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
    stages: dict[str, Path] = {}  # each stage's root folder, by name
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    base_env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path / "home"),
                "VIRTUAL_ENV": str(venv)}
    (tmp_path / "home").mkdir()
    server = None
    try:
        for word, args in dockerfile:
            if word == "FROM":  # a new stage: its own folder and environment
                name = args.split()[-1] if " AS " in args.upper() else f"stage{len(stages)}"
                root = workdir = tmp_path / "stages" / name
                root.mkdir(parents=True)
                stages[name], env = root, dict(base_env)
            elif word == "ENV":
                env.update(env_of(args))
            elif word == "WORKDIR":
                workdir = root / args.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif word == "COPY":
                parts = shlex.split(args)
                origin = next((p.split("=", 1)[1] for p in parts if p.startswith("--from=")), None)
                *sources, dest = [p for p in parts if not p.startswith("--")]
                target = workdir / dest if not dest.startswith("/") else root / dest.lstrip("/")
                for src in sources:
                    if origin:  # from an earlier stage's folder
                        shutil.copytree(stages[origin] / src.lstrip("/"), target, dirs_exist_ok=True)
                    else:
                        copy_into(src, target, patterns)
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
        kernel = subprocess.run(["python", "-c", "import ner.crf; print(ner.crf.KERNEL)"], cwd=workdir, env=env,
                                capture_output=True, text=True, timeout=60)
        assert kernel.stdout.strip() == "c", kernel.stderr  # the app of the image decodes with the compiled kernel
    finally:
        if server is not None:
            stop(server, timeout=15)
