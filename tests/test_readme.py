"""Documentation that runs: every ``bash`` and ``python`` block of README.md (and of the model card) is run as
written, in a scratch directory, against ``python app.py`` on a free loopback port; any error fails.

A block can be marked by HTML comments on the lines right before it (invisible on the rendered page):

* ``<!-- readme-test: skip REASON -->``   not run, and the test says why (training for hours, a cluster,
  the network); a block is never left out silently
* ``<!-- readme-test: file NAME -->``     the block is not a command but a file: written to NAME for the blocks
  after it (the user dictionary example)
* ``<!-- readme-test: setup COMMAND -->`` a shell command run in the scratch directory before the block
  (it makes the input files the block names: ``report.txt``, ``posts.csv``...)

Blocks run in order in one scratch directory, with this environment's ``python`` first on PATH, the
checkout importable, ``http://127.0.0.1:7860`` replaced by the test server's address and curl failing on
an HTTP error.  Inline commands in the prose (```python -m ner.bench.api```) must name a module or file
that exists.  Run it beside your own app: ``python app.py & python -m pytest tests/test_readme.py``.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from server_util import ROOT, running_server

import ner

DOCS = [ROOT / "README.md", ner.EMBEDDED_MODEL / "README.md"]
DEFAULT_URL = "http://127.0.0.1:7860"
MARKER = re.compile(r"<!--\s*readme-test:\s*(skip|file|setup)\b\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
RUN = {"bash", "sh", "shell", "python"}
BLOCK_TIMEOUT_S = 300


@dataclass
class Block:
    doc: Path
    line: int
    lang: str
    code: str
    skip: str | None = None
    file: str | None = None
    setup: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.doc.name}:{self.line}:{self.lang or 'text'}"


def blocks_of(doc: Path) -> list[Block]:
    """Every fenced block of ``doc`` with the markers on the lines before it."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    marks: list[tuple[str, str]] = []
    k = 0
    while k < len(lines):
        marker = MARKER.search(lines[k])
        fence = FENCE.match(lines[k])
        if marker:
            marks.append((marker.group(1), marker.group(2)))
        elif fence:
            end = next(j for j in range(k + 1, len(lines)) if lines[j].startswith("```"))
            block = Block(doc, k + 1, fence.group(1), "\n".join(lines[k + 1 : end]) + "\n")
            for kind, arg in marks:
                if kind == "skip":
                    block.skip = arg
                elif kind == "file":
                    block.file = arg
                else:
                    block.setup.append(arg)
            out.append(block)
            marks, k = [], end
        elif lines[k].strip():
            marks = []  # markers belong to the block right after them
        k += 1
    return out


ALL = [b for doc in DOCS if doc.is_file() for b in blocks_of(doc)]
RUNNABLE = [b for b in ALL if b.lang in RUN or b.file]


def test_every_marker_says_what_it_does():
    assert RUNNABLE, "no blocks found"
    for b in ALL:
        assert b.skip is None or len(b.skip) > 10, f"{b.name}: say why the block is skipped"
        assert b.file is None or re.fullmatch(r"[\w.-]+", b.file), f"{b.name}: a plain file name"


def test_inline_commands_name_modules_and_files_that_exist():
    """``python -m MODULE`` and ``python FILE.py`` in the prose: a stale name (scripts/bench_api.py) fails."""
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS if doc.is_file())
    modules = set(re.findall(r"python3? -m ([\w.]+)", text)) - {"venv", "pip", "pytest", "build"}
    missing = [m for m in sorted(modules) if importlib.util.find_spec(m) is None]
    assert not missing, f"modules named in the docs do not exist: {missing}"
    files = set(re.findall(r"python3? ((?:[\w-]+/)*[\w-]+\.py)\b", text))
    assert not [f for f in sorted(files) if not (ROOT / f).is_file()], "files named in the docs do not exist"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.fixture(scope="module")
def server():
    with running_server() as (url, _proc):  # the embedded model, on a free port
        yield url


@pytest.fixture(scope="module")
def env(scratch):
    (scratch / ".curlrc").write_text("fail\nsilent\nshow-error\n", encoding="utf-8")
    child = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
             "PYTHONPATH": str(ROOT), "CURL_HOME": str(scratch), "GRADIO_ANALYTICS_ENABLED": "False",
             "NER_DATA": os.environ.get("NER_DATA", str(ROOT.parent / "shared" / "data"))}
    child.pop("NER_MODEL", None)
    return child


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_block_runs_as_written(block, scratch, server, env):
    if block.skip:
        pytest.skip(f"{block.name}: {block.skip}")
    for command in block.setup:
        _run(["bash", "-euo", "pipefail", "-c", command], scratch, env, f"{block.name} setup")
    code = block.code.replace(DEFAULT_URL, server)
    if block.file:
        (scratch / block.file).write_text(code, encoding="utf-8")
        return
    argv = ["python", "-c", code] if block.lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
    _run(argv, scratch, env, block.name)


def _run(argv: list[str], cwd: Path, env: dict[str, str], name: str) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    assert done.returncode == 0, f"{name} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
