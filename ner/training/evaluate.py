"""Score a model on an annotated file: entity-level precision, recall and F1 (exact span and type).

    python -m ner.evaluate ../shared/data/msra/test.tsv [--model DIR] [--precision int8|fp32]
    python -m ner.evaluate msra-test weibo-dev boson-dev aishell-dev resume-dev cluener-dev

Each argument is a file or a corpus split by name (``boson-dev``: the dev part held out of
training with a fixed seed, see ``ner.training.corpora.CORPORA``).  One file prints one JSON object:
precision, recall, f1, per_type, sentences, seconds; several print
``{"sets": {name: result}, "macro": {...}}`` with the macro-average of their P/R/F1.
Weibo files are mapped to PER/LOC/ORG as the data README says (named mentions only).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .corpora import DEFAULT_DATA, Example, add_data_argument, read_any
from .scoring import macro, score
from ..commands import add_model


def evaluate(path: str | Path, recognizer, batch_size: int = 64, data_dir: Path = DEFAULT_DATA) -> dict:
    """P/R/F1 (overall, per type), sentences and seconds of ``recognizer`` on a file or corpus split."""
    return evaluate_examples(read_any(path, data_dir), recognizer, batch_size)


def evaluate_examples(examples: list[Example], recognizer, batch_size: int = 64) -> dict:
    """P/R/F1 (overall, per type), sentences and seconds of ``recognizer`` on annotated examples."""
    t0 = time.perf_counter()
    predicted = []
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        for ents in recognizer.recognize_batch([ex.text for ex in chunk]):
            predicted.append([(e.start, e.end, e.label) for e in ents])
    seconds = time.perf_counter() - t0
    result = score([ex.spans for ex in examples], predicted)
    result.update({"sentences": len(examples), "seconds": round(seconds, 2)})
    return result


def main(argv=None) -> None:
    import ner

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", help="annotated files or corpus splits by name (boson-dev, msra-test)")
    add_data_argument(ap, os.environ, "corpora folder for splits given by name")
    add_model(ap, os.environ)
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    args = ap.parse_args(argv)
    rec = ner.load(args.model, precision=args.precision)
    results = {}
    for path in args.paths:
        try:
            results[path] = evaluate(path, rec, data_dir=args.data)
        except (OSError, ValueError) as exc:
            sys.exit(f"error: {path}: {exc}")
    if len(results) == 1:
        out = next(iter(results.values()))
    else:
        out = {"sets": results, "macro": macro(results)}
    out["model"] = rec.name
    out["precision_mode"] = args.precision
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
