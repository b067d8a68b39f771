"""Record every output of the engine on a fixed set of texts, and check a later engine gives the same.

    python -m ner.bench.identity --save FILE [--model DIR] [--texts 10000] [--seed 0]
    python -m ner.bench.identity --compare FILE [--model DIR]

The texts are drawn with a fixed seed: random stretches (1 to 3,000 characters,
most of them short) of the modern raw text under ``../shared/data/raw`` when it
is there, else of :mod:`ner.samples`, a tenth of them with emoji, Latin words,
digits or whitespace spliced in.  They go through ``recognize_batch`` in batches
of random sizes (1 to 64), so batching and windowing are exercised as well.

``FILE`` (gzip JSON lines) holds, per text, a hash of the text and every entity
``[start, end, label, score to 6 decimals]``, after a header naming the model
files' hash.  ``--compare`` re-runs the same texts and batches and reports every
difference; it exits 1 on any.  Compare with the same model directory on both
sides: the header's hash says when it is not.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

from ..training.corpora import DEFAULT_DATA, add_data_argument
from ..commands import add_model

RAW_FILES = ("news_qqnews.txt.gz", "social_weibo_2020.txt.gz", "social_zhihu_hotquestions.txt.gz",
             "encyclopedic_apps_iflytek.txt.gz", "news_toutiao_tnews.txt.gz", "dialogue_kdconv.txt.gz",
             "encyclopedic_cmrc2018.txt.gz", "reviews_chinesenlpcorpus.txt.gz")
LINES_PER_FILE = 4000
NOISE = ("😀", "🥳", " ", "\n", "  ", "iPhone 15", "OpenAI", "Tim Cook", "2024年", "12%", "ＡＢＣ", "\t",
         "《", "》", "～", "#话题#", "@新京报", "é", "\u200b", "ｶﾀｶﾅ", "한국", "…")


def _pool(data_dir: Path) -> list[str]:
    """Source lines: the first lines of several raw files, or the project's samples without them."""
    lines: list[str] = []
    raw = data_dir / "raw"
    for name in RAW_FILES:
        path = raw / name
        if not path.is_file():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= LINES_PER_FILE:
                    break
                if line.strip():
                    lines.append(line.rstrip("\n"))
    if not lines:
        from ..samples import EXAMPLES
        lines = list(EXAMPLES)
    return lines


def make_texts(n: int, seed: int = 0, data_dir: Path = DEFAULT_DATA) -> list[str]:
    """``n`` texts drawn with ``seed`` (the same list for the same seed, pool and ``n``)."""
    rng = random.Random(seed)
    pool = _pool(data_dir)
    joined = "\n".join(pool)
    texts = []
    for _ in range(n):
        length = min(3000, int(round(2 ** rng.uniform(0, 11.6))))
        a = rng.randrange(0, max(1, len(joined) - length))
        text = joined[a : a + length]
        if rng.random() < 0.1:
            for _ in range(rng.randint(1, 4)):
                k = rng.randint(0, len(text))
                text = text[:k] + rng.choice(NOISE) + text[k:]
        texts.append(text)
    return texts


def batch_sizes(n: int, seed: int) -> list[int]:
    rng = random.Random(seed + 1)
    sizes, total = [], 0
    while total < n:
        sizes.append(min(n - total, rng.choice((1, 1, 1, 2, 3, 4, 8, 16, 32, 64))))
        total += sizes[-1]
    return sizes


def model_hash(model_dir: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(model_dir.iterdir()):
        if f.is_file() and f.suffix in (".onnx", ".npy", ".npz", ".txt", ".json") and f.name != "scores.json":
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def outputs(rec, texts: list[str], sizes: list[int]) -> list[list]:
    out, a = [], 0
    for size in sizes:
        for ents in rec.recognize_batch(texts[a : a + size]):
            out.append([[e.start, e.end, e.label, f"{e.score:.6f}"] for e in ents])
        a += size
    return out


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def main(argv=None) -> None:
    import ner

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--save", type=Path, metavar="FILE", help="record the outputs to FILE")
    mode.add_argument("--compare", type=Path, metavar="FILE", help="re-run and compare with FILE")
    add_model(ap, os.environ)
    ap.add_argument("--texts", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    add_data_argument(ap, os.environ)
    args = ap.parse_args(argv)
    rec = ner.load(args.model)
    header = {"model": rec.name, "model_hash": model_hash(rec.spec.path), "texts": args.texts, "seed": args.seed}
    if args.compare:
        with gzip.open(args.compare, "rt", encoding="utf-8") as fh:
            saved_header = json.loads(fh.readline())
            saved = [json.loads(line) for line in fh]
        if saved_header["model_hash"] != header["model_hash"]:
            print(f"warning: {args.compare} was recorded with model files {saved_header['model_hash']}, "
                  f"these are {header['model_hash']}", file=sys.stderr)
        args.texts, args.seed = saved_header["texts"], saved_header["seed"]
    texts = make_texts(args.texts, args.seed, args.data)
    t0 = time.perf_counter()
    got = outputs(rec, texts, batch_sizes(len(texts), args.seed))
    seconds = time.perf_counter() - t0
    chars = sum(map(len, texts))
    n_ents = sum(map(len, got))
    if args.save:
        with gzip.open(args.save, "wt", encoding="utf-8") as fh:
            fh.write(json.dumps(header) + "\n")
            for text, ents in zip(texts, got):
                fh.write(json.dumps({"h": _text_hash(text), "e": ents}, ensure_ascii=False) + "\n")
        print(json.dumps({"saved": str(args.save), "texts": len(texts), "chars": chars, "entities": n_ents,
                          "seconds": round(seconds, 2)}))
        return
    diffs = []
    for i, (text, ents, rec_) in enumerate(zip(texts, got, saved)):
        if rec_["h"] != _text_hash(text):
            sys.exit(f"error: text {i} differs from the recorded one: the raw data or the seed changed")
        if rec_["e"] != ents:
            diffs.append({"text": i, "recorded": rec_["e"], "now": ents})
    print(json.dumps({"compared": len(texts), "chars": chars, "entities": n_ents, "differences": len(diffs),
                      "seconds": round(seconds, 2), "first": diffs[:5]}, ensure_ascii=False))
    if diffs:
        sys.exit(1)


if __name__ == "__main__":
    main()
