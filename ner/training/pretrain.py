"""Pre-train character and bigram vectors with word2vec on the raw text in ``data/raw``.

This is the CPU substitute for a character language model: a few minutes of
skip-gram over 61M characters gives every character and frequent bigram a vector
that the NER network starts from.  Needs ``gensim`` (the ``train`` extra).

    python -m ner.training.pretrain --data ../shared/data --out work/w2v [--exclude cctv ...]
"""
from __future__ import annotations

import argparse
import gzip
import logging
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..tokenizer import fold_text
from .corpora import add_data_argument

log = logging.getLogger(__name__)

#: Raw sources by short name, so a user can leave any of them out (``--exclude``).
RAW_SOURCES = {
    "cctv": ["news_cctv_xwlb.part1.txt.gz", "news_cctv_xwlb.part2.txt.gz"],
    "cmrc": ["encyclopedic_cmrc2018.txt.gz"],
    "drcd": ["encyclopedic_drcd_t2s.txt.gz"],
    "reviews": ["reviews_chinesenlpcorpus.txt.gz"],
    "law": ["legal_lawrefbook.txt.gz"],
    # modern text, 2010-2026 (shared/data/README.md): internal training use only
    "weibo-hotsearch": ["social_weibo_hotsearch.txt.gz"],
    "weibo-ced": ["social_weibo_ced.txt.gz"],
    "weibo-2020": ["social_weibo_2020.txt.gz"],
    "zhihu": ["social_zhihu_hotquestions.txt.gz"],
    "qqnews": ["news_qqnews.txt.gz"],
    "toutiao": ["news_toutiao_tnews.txt.gz"],
    "finre": ["news_finance_finre.txt.gz"],
    "iflytek": ["encyclopedic_apps_iflytek.txt.gz"],
    "kdconv": ["dialogue_kdconv.txt.gz"],
    "squad-zh": ["encyclopedic_squad_zh_translated.txt.gz"],
}

#: The modern raw sources (2010-2026) the silver data and the company list read; the older ones are mostly
#: 1990s-2010s news and law.
MODERN = ("weibo-hotsearch", "weibo-ced", "weibo-2020", "zhihu", "qqnews", "toutiao", "finre", "iflytek", "kdconv")

def source_lines(data_dir: Path, name: str) -> Iterator[str]:
    """The lines of one raw source (:data:`RAW_SOURCES`), as they are in its files."""
    for f in RAW_SOURCES[name]:
        with gzip.open(Path(data_dir) / "raw" / f, "rt", encoding="utf-8") as fh:
            yield from fh


def raw_lines(data_dir: Path, exclude: set[str]) -> list[str]:
    """Folded, whitespace-free lines of every raw source not in ``exclude``."""
    lines = []
    for name in RAW_SOURCES:
        if name in exclude:
            continue
        for line in source_lines(data_dir, name):
            line = "".join(fold_text(line).split())
            if line:
                lines.append(line)
    return lines


class _Corpus:
    """Re-iterable token lists for gensim: characters or character bigrams."""

    def __init__(self, lines: list[str], bigram: bool):
        self.lines, self.bigram = lines, bigram

    def __iter__(self):
        for line in self.lines:
            if self.bigram:
                yield [line[i : i + 2] for i in range(len(line) - 1)]
            else:
                yield list(line)


def train_vectors(lines, bigram: bool, dim: int, epochs: int, min_count: int, max_vocab: int):
    from gensim.models import Word2Vec  # optional, training only

    model = Word2Vec(
        vector_size=dim, window=5, sg=1, negative=5, min_count=min_count,
        max_final_vocab=max_vocab, workers=2, seed=1,
    )
    corpus = _Corpus(lines, bigram)
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(lines), epochs=epochs)
    keys = list(model.wv.index_to_key)
    return keys, model.wv.vectors.astype(np.float32), [model.wv.get_vecattr(k, "count") for k in keys]


def save(out: Path, name: str, keys, vectors, counts) -> None:
    np.save(out / f"{name}.npy", vectors)
    with open(out / f"{name}.vocab", "w", encoding="utf-8") as fh:
        for k, c in zip(keys, counts):
            fh.write(f"{k}\t{c}\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap, os.environ)
    ap.add_argument("--out", type=Path, default=Path("work/w2v"))
    ap.add_argument("--exclude", nargs="*", default=[], choices=sorted(RAW_SOURCES))
    ap.add_argument("--char-dim", type=int, default=128)
    ap.add_argument("--bigram-dim", type=int, default=50)
    ap.add_argument("--char-epochs", type=int, default=3)
    ap.add_argument("--bigram-epochs", type=int, default=2)
    ap.add_argument("--max-bigrams", type=int, default=150_000)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    lines = raw_lines(args.data, set(args.exclude))
    log.info("%d lines, %d chars read in %.0fs", len(lines), sum(map(len, lines)), time.time() - t0)
    save(args.out, "char", *train_vectors(lines, False, args.char_dim, args.char_epochs, 3, 20_000))
    log.info("char vectors done at %.0fs", time.time() - t0)
    save(args.out, "bigram", *train_vectors(lines, True, args.bigram_dim, args.bigram_epochs, 5, args.max_bigrams))
    log.info("bigram vectors done at %.0fs", time.time() - t0)
    (args.out / "sources.txt").write_text(" ".join(s for s in RAW_SOURCES if s not in args.exclude) + "\n")


if __name__ == "__main__":
    main()
