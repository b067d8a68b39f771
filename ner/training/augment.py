"""Mention replacement: new training sentences from gold ones, each entity swapped for another of its type.

A model trained on 1998 news has seen few of today's names; swapping mentions
(Dai & Adel 2020, "An Analysis of Simple Data Augmentation for NER") shows it
the same contexts with other names, so it learns the context, not the list.
Replacements come from the gold mentions of every training corpus and, when
given, from the entity lexicons.
"""
from __future__ import annotations

import random
from pathlib import Path

from .corpora import Example

#: Lexicon files under ``data/lexicon`` that feed the pools, by type.
LEXICON_POOLS = {"PER": "per.txt", "LOC": "loc.txt", "ORG": "org.txt"}


def mention_pools(examples: list[Example]) -> dict[str, list[str]]:
    """Every distinct gold mention by type, in first-seen order."""
    pools: dict[str, dict[str, None]] = {}
    for ex in examples:
        for s, e, label in ex.spans:
            pools.setdefault(label, {})[ex.text[s:e]] = None
    return {label: list(mentions) for label, mentions in pools.items()}


def lexicon_pools(data_dir: Path, per_type: int, rng: random.Random) -> dict[str, list[str]]:
    """Up to ``per_type`` random entries of each entity lexicon (2 to 12 characters)."""
    out = {}
    for label, name in LEXICON_POOLS.items():
        path = Path(data_dir) / "lexicon" / name
        if not path.is_file():
            continue
        words = [w for w in (ln.strip() for ln in open(path, encoding="utf-8")) if 2 <= len(w) <= 12]
        out[label] = rng.sample(words, min(per_type, len(words)))
    return out


def replace_mentions(ex: Example, pools: dict[str, list[str]], rng: random.Random) -> Example:
    """``ex`` with every entity replaced by a random mention of the same type (offsets rebuilt)."""
    parts, spans, at, last = [], [], 0, 0
    for s, e, label in sorted(ex.spans):
        pool = pools.get(label)
        mention = rng.choice(pool) if pool else ex.text[s:e]
        parts.append(ex.text[last:s])
        at += s - last
        parts.append(mention)
        spans.append((at, at + len(mention), label))
        at += len(mention)
        last = e
    parts.append(ex.text[last:])
    return Example("".join(parts), spans)


def augment(examples: list[Example], n: int, seed: int, data_dir: Path | None = None,
            lexicon_share: float = 0.5) -> list[Example]:
    """``n`` new sentences: random gold sentences that hold an entity, their mentions replaced.

    Each replacement is drawn from the lexicons with probability ``lexicon_share``
    (when ``data_dir`` has them), else from the gold mentions.
    """
    rng = random.Random(seed)
    gold = mention_pools(examples)
    lex = lexicon_pools(data_dir, 50_000, rng) if data_dir else {}
    with_entities = [ex for ex in examples if ex.spans]
    out = []
    for _ in range(n if with_entities else 0):
        ex = rng.choice(with_entities)
        pools = {label: (lex[label] if label in lex and rng.random() < lexicon_share else mentions)
                 for label, mentions in gold.items()}
        out.append(replace_mentions(ex, pools, rng))
    return out
