"""Self-training data: label raw text with a trained model and keep the confident sentences.

    python -m ner.training.selftrain --model models/zh-ner-lite --data ../shared/data --chars 1500000 \
        --out work/pseudo.jsonl [--exclude cctv ...]

Writes one JSON object per line, ``{"text", "spans": [[start, end, label], ...]}``,
which ``python -m ner.train --extra work/pseudo.jsonl`` adds to its training data.
Sentences are kept only when every entity's score is at least ``--min-score``;
the LOC/ORG split rule is off, so the labels follow the model's (MSRA's) conventions.
"""
from __future__ import annotations

import argparse
import os
import json
import logging
import random
import re
from pathlib import Path

from ..commands import add_model
from .corpora import Example, add_data_argument
from .pretrain import RAW_SOURCES, raw_lines

log = logging.getLogger(__name__)
SENTENCE = re.compile(r"[^。！？!?]*[。！？!?]")


def sentences(lines: list[str], n_chars: int, seed: int) -> list[str]:
    """Random raw sentences of 8 to 100 characters, about ``n_chars`` in all."""
    rng = random.Random(seed)
    order = list(range(len(lines)))
    rng.shuffle(order)
    out, total = [], 0
    for i in order:
        # headlines and posts often have no end punctuation: the whole line is one sentence
        for s in SENTENCE.findall(lines[i]) or [lines[i]]:
            if 8 <= len(s) <= 100:
                out.append(s)
                total += len(s)
        if total >= n_chars:
            break
    return out


def read_extra(path: str | Path) -> list[Example]:
    with open(path, encoding="utf-8") as fh:
        return [Example(o["text"], [tuple(s) for s in o["spans"]]) for o in map(json.loads, fh)]


def main(argv=None) -> None:
    import ner

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model(ap, default=str(ner.EMBEDDED_MODEL))
    add_data_argument(ap, os.environ)
    ap.add_argument("--out", type=Path, default=Path("work/pseudo.jsonl"))
    ap.add_argument("--chars", type=int, default=1_500_000)
    ap.add_argument("--min-score", type=float, default=0.9)
    ap.add_argument("--exclude", nargs="*", default=["reviews", "law"], choices=sorted(RAW_SOURCES))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rec = ner.Recognizer(args.model, precision="fp32" if ner.read_spec(args.model).fp32_file else "int8")
    rec.splitter = None
    sents = sentences(raw_lines(args.data, set(args.exclude)), args.chars, args.seed)
    kept = dropped = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for i in range(0, len(sents), 256):
            chunk = sents[i : i + 256]
            for text, ents in zip(chunk, rec.recognize_batch(chunk)):
                if any(e.score < args.min_score for e in ents):
                    dropped += 1
                    continue
                kept += 1
                fh.write(json.dumps({"text": text, "spans": [[e.start, e.end, e.label] for e in ents]},
                                    ensure_ascii=False) + "\n")
    log.info("kept %d sentences, dropped %d with an entity below %.2f", kept, dropped, args.min_score)


if __name__ == "__main__":
    main()
