"""Reading the annotated corpora into ``(text, spans)`` examples with character offsets.

Corpora live outside the project (default ``../shared/data``); types are mapped
to PER/LOC/ORG as that folder's README says.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..tags import tags_to_spans

DEFAULT_DATA = Path(os.environ.get("NER_DATA", Path(__file__).resolve().parent.parent.parent / "shared" / "data"))

WEIBO_MAP = {"PER.NAM": "PER", "ORG.NAM": "ORG", "LOC.NAM": "LOC", "GPE.NAM": "LOC"}
CLUENER_MAP = {"name": "PER", "company": "ORG", "government": "ORG", "organization": "ORG",
               "address": "LOC", "scene": "LOC"}


@dataclass
class Example:
    """One sentence: its text and gold spans ``(start, end, label)`` in character offsets."""

    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)


def read_bio_tsv(path: str | Path, *, weibo: bool = False) -> list[Example]:
    """``char<TAB>tag`` lines, blank line between sentences.

    ``weibo=True`` strips the word-position digit from each character and maps
    the Weibo types (``.NOM`` mentions become O).
    """
    examples, chars, tags = [], [], []

    def flush():
        if chars:
            spans = tags_to_spans(tags, "BIO")
            examples.append(Example("".join(chars), [(s, e, t) for s, e, t in spans if t]))
        chars.clear()
        tags.clear()

    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                flush()
                continue
            ch, _, tag = line.rpartition("\t") if "\t" in line else line.rpartition(" ")
            if weibo:
                ch = ch[:-1] if len(ch) > 1 else ch
                prefix, _, typ = tag.partition("-")
                tag = f"{prefix}-{WEIBO_MAP[typ]}" if typ in WEIBO_MAP else "O"
            if len(ch) != 1:
                ch = ch[:1] or " "
            chars.append(ch)
            tags.append(tag)
    flush()
    return examples


def read_cluener(path: str | Path) -> list[Example]:
    """CLUENER2020 jsonl (inclusive end offsets) mapped to PER/LOC/ORG."""
    examples = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            spans = []
            for typ, mentions in obj.get("label", {}).items():
                if typ not in CLUENER_MAP:
                    continue
                for positions in mentions.values():
                    spans.extend((s, e + 1, CLUENER_MAP[typ]) for s, e in positions)
            spans.sort()
            kept, last_end = [], -1
            for s in spans:  # drop nested or overlapping mentions, keep the first
                if s[0] >= last_end:
                    kept.append(s)
                    last_end = s[1]
            examples.append(Example(obj["text"], kept))
    return examples


#: Every corpus by name: its training file, its dev file (``None``: a dev part is held out of
#: training with a fixed seed) and how many sentences that held-out part has.
CORPORA = {
    "msra": ("msra/train.tsv", None, 2000),
    "cluener": ("cluener/train.jsonl", None, 1000),
    "weibo": ("weibo/train.tsv", "weibo/dev.tsv", 0),
    "boson": ("boson/train.tsv", None, 800),
    "aishell": ("aishell/train.tsv", None, 1000),
    "resume": ("resume/train.tsv", "resume/dev.tsv", 0),
}
DEV_SEED = 20261201
#: MSRA keeps the split the first embedded models were trained with, so its dev part stays unseen by them.
DEV_SEEDS = {"msra": 1}


def train_dev(name: str, data_dir: Path = DEFAULT_DATA) -> tuple[list[Example], list[Example]]:
    """``(train, dev)`` of a corpus in :data:`CORPORA`; a held-out dev part never overlaps train."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose from {sorted(CORPORA)}")
    data_dir = Path(data_dir)
    train_file, dev_file, n_dev = CORPORA[name]
    train = read_any(data_dir / train_file)
    if dev_file:
        return train, read_any(data_dir / dev_file)
    order = list(range(len(train)))
    random.Random(DEV_SEEDS.get(name, DEV_SEED)).shuffle(order)
    held = set(order[:n_dev])
    return [ex for i, ex in enumerate(train) if i not in held], [train[i] for i in sorted(held)]


def load_corpus(name: str, data_dir: Path = DEFAULT_DATA) -> list[Example]:
    """By name: ``msra-test``, or ``CORPUS-train`` / ``CORPUS-dev`` for every corpus in :data:`CORPORA`
    (``weibo-dev`` and ``resume-dev`` are the published dev files, the others held-out parts)."""
    if name == "msra-test":
        return read_bio_tsv(Path(data_dir) / "msra" / "test.tsv")
    corpus, _, split = name.rpartition("-")
    if corpus not in CORPORA or split not in ("train", "dev"):
        names = ["msra-test"] + [f"{c}-{s}" for c in CORPORA for s in ("train", "dev")]
        raise ValueError(f"unknown corpus {name!r}; choose from {names}")
    train, dev = train_dev(corpus, data_dir)
    return train if split == "train" else dev


def read_any(path: str | Path, data_dir: Path = DEFAULT_DATA) -> list[Example]:
    """A file by its format: Weibo-style ``.tsv`` (detected by its digits), BIO ``.tsv`` or CLUENER ``.jsonl``;
    or a corpus split by name (``boson-dev``, see :func:`load_corpus`) when no such file exists."""
    path = Path(path)
    if not path.exists() and "/" not in str(path) and "-" in str(path):
        return load_corpus(str(path), data_dir)
    if path.suffix == ".jsonl":
        return read_cluener(path)
    with open(path, encoding="utf-8") as fh:
        first = next((ln for ln in fh if ln.strip()), "")
    token = first.split("\t")[0]
    return read_bio_tsv(path, weibo=len(token) > 1 and token[-1].isdigit())
