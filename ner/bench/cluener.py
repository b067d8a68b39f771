"""Worked example: fine-tune the embedded model to CLUENER's ten types, then print its figures.

    python -m ner.bench.cluener [--data ../shared/data] [--work work/cluener] [--epochs 30] [--patience 3]

Holds out 1,000 sentences of ``cluener/train.jsonl`` with the fixed seed of
``ner.training.corpora`` (the part the embedded model never trained on), writes both
parts as CLUENER JSON lines, runs ``python -m ner.finetune`` on them, and prints F1 per
type on the held-out part (INT8), the training time and the single-text latency of the
new model against the embedded one.  Rerunning resumes (or reuses) the run in ``--work``.
"""
from __future__ import annotations

import argparse
import os
import json
import statistics
import time
from pathlib import Path

from ..commands import add_threads
from ..training.corpora import CORPORA, DEV_SEED, add_data_argument, hold_out


def latency_ms(rec, texts: list[str], repeats: int) -> float:
    """Median milliseconds of one ``recognize`` call over ``texts``, after a warm-up."""
    for t in texts:
        rec.recognize(t)
    times = []
    for _ in range(repeats):
        for t in texts:
            t0 = time.perf_counter()
            rec.recognize(t)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv=None) -> None:
    import ner
    from ner.samples import text_of_length
    from ner import formats
    from ner import finetune

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap, os.environ)
    ap.add_argument("--work", type=Path, default=Path("work/cluener"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=0, help="stop training after this many steps (smoke runs)")
    add_threads(ap, 2, "torch threads for training (default: 2)")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)
    source = args.data / CORPORA["cluener"][0]
    args.work.mkdir(parents=True, exist_ok=True)
    train, dev = hold_out(formats.read(source, "cluener"), CORPORA["cluener"][2], DEV_SEED)
    formats.write(args.work / "train.jsonl", train, "cluener")
    formats.write(args.work / "dev.jsonl", dev, "cluener")
    out = args.work / "model"
    argv_ft = ["--train", str(args.work / "train.jsonl"), "--dev", str(args.work / "dev.jsonl"), "--out", str(out),
               "--epochs", str(args.epochs), "--patience", str(args.patience), "--max-steps", str(args.max_steps), "--threads", str(args.threads),
               "--no-progress"]
    t0 = time.perf_counter()
    finetune.finetune(finetune.parse_args(argv_ft))
    wall = time.perf_counter() - t0
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    scores = json.loads((out / "scores.json").read_text(encoding="utf-8"))["dev_int8"]
    tr = cfg["training"]

    texts = [text_of_length(500)]
    tuned, embedded = ner.Recognizer(out), ner.Recognizer(ner.EMBEDDED_MODEL)
    rounds_tuned, rounds_embedded = [], []
    for _ in range(3):  # interleaved, so a busy moment of the machine hits both alike
        rounds_tuned.append(latency_ms(tuned, texts, args.repeats))
        rounds_embedded.append(latency_ms(embedded, texts, args.repeats))
    ms_tuned, ms_embedded = min(rounds_tuned), min(rounds_embedded)

    print(f"CLUENER ten types: {len(train)} train / {len(dev)} held-out sentences (seed {DEV_SEED})")
    print(f"{'type':<14}{'name':<8}{'P':>8}{'R':>8}{'F1':>8}{'support':>9}")
    names = cfg.get("display_names", {})
    for t, r in scores["per_type"].items():
        print(f"{t:<14}{names.get(t, ''):<8}{100 * r['precision']:>8.2f}{100 * r['recall']:>8.2f}"
              f"{100 * r['f1']:>8.2f}{r['support']:>9}")
    print(f"{'all':<22}{100 * scores['precision']:>8.2f}{100 * scores['recall']:>8.2f}{100 * scores['f1']:>8.2f}"
          f"{sum(r['support'] for r in scores['per_type'].values()):>9}")
    print(f"training: {tr['train_seconds'] / 60:.1f} min over {len(tr['history'])} epochs "
          f"(best epoch {tr.get('best_epoch')}), {tr['hardware']}; this call {wall / 60:.1f} min incl. export")
    print(f"latency, 500 characters: fine-tuned {ms_tuned:.2f} ms, embedded {ms_embedded:.2f} ms "
          f"({100 * (ms_tuned / ms_embedded - 1):+.1f}%)")


if __name__ == "__main__":
    main()
