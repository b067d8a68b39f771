"""Reading the annotated corpora into ``(text, spans)`` examples with character offsets.

Corpora live outside the project (default ``../shared/data``); types are mapped
to PER/LOC/ORG as that folder's README says.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .decode import tags_to_spans

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


def load_corpus(name: str, data_dir: Path = DEFAULT_DATA) -> list[Example]:
    """By name: ``msra-train``, ``msra-test``, ``weibo-train``, ``weibo-dev``, ``cluener``."""
    data_dir = Path(data_dir)
    table = {
        "msra-train": lambda: read_bio_tsv(data_dir / "msra" / "train.tsv"),
        "msra-test": lambda: read_bio_tsv(data_dir / "msra" / "test.tsv"),
        "weibo-train": lambda: read_bio_tsv(data_dir / "weibo" / "train.tsv", weibo=True),
        "weibo-dev": lambda: read_bio_tsv(data_dir / "weibo" / "dev.tsv", weibo=True),
        "cluener": lambda: read_cluener(data_dir / "cluener" / "train.jsonl"),
    }
    if name not in table:
        raise ValueError(f"unknown corpus {name!r}; choose from {sorted(table)}")
    return table[name]()


def read_any(path: str | Path) -> list[Example]:
    """A file by its format: Weibo-style ``.tsv`` (detected by its digits), BIO ``.tsv`` or CLUENER ``.jsonl``."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_cluener(path)
    with open(path, encoding="utf-8") as fh:
        first = next((ln for ln in fh if ln.strip()), "")
    token = first.split("\t")[0]
    return read_bio_tsv(path, weibo=len(token) > 1 and token[-1].isdigit())
