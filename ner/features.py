"""Input features beyond the token ids: character bigrams and lexicon matches, vectorised in numpy.

Both work on token ids, so training and inference compute them the same way
and no per-character Python loop runs at inference time.

- bigram: for token *i*, the index of the pair (id[i], id[i+1]) in a sorted
  table of known pairs, 0 when unknown.
- lexicon: for token *i* and each lexicon type (PER, LOC, ORG, WORD, and CORP and PROD in models
  that have them), whether a lexicon entry Begins, is in the Middle of, Ends at, or is Single at *i*.
  Entries are stored as 64-bit rolling hashes of their token ids (compact, and
  the original lists need not ship), each with a bit mask of its types.
- shape (models with ``shape_features`` in their config): what the ids cannot say, because the
  tokenizer lower-cases and drops whitespace — Latin letter case, digits, the ends of a Latin or
  digit run, and a space before or after the token (:func:`shape_features`).  These columns follow
  the lexicon's in the model's ``lexicon`` input.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: The lexicon's bit layout, in one place: one feature bit per type (the model sees these),
#: then two bits beyond them that only the LOC/ORG split rule reads (jieba words tagged as
#: proper nouns vs. common words).  CORP (company short names and brands, a noisy list kept
#: apart from ORG) is a fifth type only in models trained with it, so the two extra bits sit
#: right after the last type: 16/32 in a four-type lexicon, 32/64 in a five-type one.
LEXICON_TYPES = ("PER", "LOC", "ORG", "WORD")
#: CORP: company short names and brands (Latin-script ones too); PROD: products, models and services,
#: a type the model learns to keep apart from the organisations that make them.
TYPE_BITS = {"PER": 1, "LOC": 2, "ORG": 4, "WORD": 8, "CORP": 16, "PROD": 32}

#: The shape columns, in order (see :func:`shape_features`).
SHAPE_FEATURES = ("latin", "upper_first", "all_upper", "digit", "space_before", "space_after",
                  "run_begin", "run_end")


def _code_points(text: str) -> np.ndarray:
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    wide = (cp >= 0xFF01) & (cp <= 0xFF5E)  # full-width ASCII reads as its half-width form, as NFKC folds it
    return np.where(wide, cp - 0xFEE0, cp)


def shape_features(text: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``(n_tokens, len(SHAPE_FEATURES))`` floats for the tokens at ``[starts, ends)`` of ``text``.

    - ``latin`` / ``digit``: the token begins with a Latin letter / an ASCII digit;
    - ``upper_first``: it begins with an upper-case letter; ``all_upper``: its Latin run has two
      letters or more, all upper case (IBM, DHL);
    - ``space_before`` / ``space_after``: whitespace (or a dropped character) separates it from the
      token before / after — the only place the model learns that ``512GB 官方`` is two pieces;
    - ``run_begin`` / ``run_end``: the first / last token of a run of Latin and digit tokens with
      nothing between them.
    Computed once per text from the original characters, so case survives the tokenizer's folding.
    """
    n = len(starts)
    out = np.zeros((n, len(SHAPE_FEATURES)), dtype=np.float32)
    if not n:
        return out
    cp = _code_points(text)
    first = cp[starts]
    upper = (first >= 65) & (first <= 90)
    lower = (first >= 97) & (first <= 122)
    latin = upper | lower
    digit = (first >= 48) & (first <= 57)
    gap = np.zeros(n + 1, dtype=bool)
    gap[1:n] = starts[1:] > ends[:-1]
    alnum = latin | digit
    begin = alnum & (gap[:n] | ~np.concatenate(([False], alnum[:-1])))
    end = alnum & (gap[1:] | ~np.concatenate((alnum[1:], [False])))
    # a run's letters all upper case: within each run, count letters and upper-case letters
    run_id = np.cumsum(begin) * alnum
    letters = np.bincount(run_id, weights=latin, minlength=int(run_id.max()) + 1)
    uppers = np.bincount(run_id, weights=upper, minlength=int(run_id.max()) + 1)
    caps = (letters >= 2) & (uppers == letters)
    caps[0] = False
    out[:, 0] = latin
    out[:, 1] = upper
    out[:, 2] = caps[run_id] & latin
    out[:, 3] = digit
    out[:, 4] = gap[:n]
    out[:, 5] = gap[1:]
    out[:, 6] = begin
    out[:, 7] = end
    return out


def aux_bits(n_types: int) -> tuple[int, int]:
    """``(proper, common)``: the split rule's two bits in a lexicon of ``n_types`` feature types."""
    return 1 << n_types, 1 << (n_types + 1)


def feature_mask(n_types: int) -> int:
    """The bits the model sees in a lexicon of ``n_types`` feature types."""
    return (1 << n_types) - 1

HASH_BASE = np.uint64(1_000_003)
FILTER_BITS = 24
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _filter_slot(h: np.ndarray) -> np.ndarray:
    """Fibonacci hashing of 64-bit keys to ``FILTER_BITS``-bit slots."""
    return (h * _GOLDEN) >> np.uint64(64 - FILTER_BITS)
POSITIONS = ("B", "M", "E", "S")


def rolling_hashes(ids: np.ndarray, length: int) -> np.ndarray:
    """Hash of every window ``ids[i:i+length]`` (uint64, wrapping), for ``i`` in ``0..n-length``."""
    ids = ids.astype(np.uint64)
    h = ids[: len(ids) - length + 1].copy()
    for k in range(1, length):
        h *= HASH_BASE
        h += ids[k : len(ids) - length + 1 + k]
    return h


_POWERS: list[np.ndarray] = [np.ones(1, np.uint64), np.ones(1, np.uint64)]  # HASH_BASE^j and its inverse^j


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(HASH_BASE ** j, HASH_BASE ** -j)`` modulo 2**64 for ``j < n`` (the base is odd, so it has an inverse)."""
    pw, inv = _POWERS
    if len(pw) < n:
        size = max(n, 2 * len(pw), 1024)
        steps = np.empty((2, size), dtype=np.uint64)
        steps[:, 0] = 1
        steps[0, 1:] = HASH_BASE
        steps[1, 1:] = pow(int(HASH_BASE), -1, 1 << 64)
        pw, inv = np.cumprod(steps, axis=1, dtype=np.uint64)
        _POWERS[:] = [pw, inv]
    return pw, inv


def prefix_hashes(ids: np.ndarray) -> np.ndarray:
    """``P[k]``: the hash of ``ids[:k]`` for ``k`` in ``0..n``, so that the hash of ``ids[i:i+L]`` (as
    :func:`rolling_hashes` gives it) is ``P[i+L] - P[i] * HASH_BASE**L``, all modulo 2**64: every window of
    every length from one cumulative sum, ``P[k] = B**(k-1) * sum(ids[j] * B**-j for j < k)``."""
    n = len(ids)
    pw, inv = _powers(n + 1)
    out = np.zeros(n + 1, dtype=np.uint64)
    if n:
        acc = np.cumsum(ids.astype(np.uint64) * inv[:n], dtype=np.uint64)
        np.multiply(acc, pw[:n], out=out[1:])
    return out


def hash_sequence(ids) -> int:
    """Hash of one whole id sequence, equal to ``rolling_hashes(ids, len(ids))[0]``."""
    h = 0
    for i in ids:
        h = (h * 1_000_003 + int(i)) & 0xFFFF_FFFF_FFFF_FFFF
    return h


class BigramTable:
    """Sorted pair keys ``id_a * vocab_size + id_b``; row ``k+1`` of the embedding is key ``k``."""

    def __init__(self, keys: np.ndarray, vocab_size: int):
        self.keys = np.asarray(keys, dtype=np.int64)
        self.vocab_size = vocab_size

    def __len__(self) -> int:
        return len(self.keys) + 1

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.int64)
        if len(ids) < 2 or not len(self.keys):
            return out
        pair = ids[:-1] * self.vocab_size + ids[1:]
        pos = np.minimum(np.searchsorted(self.keys, pair), len(self.keys) - 1)
        found = (self.keys[pos] == pair) & (ids[:-1] >= 0) & (ids[1:] >= 0)  # -1 separates rows
        out[:-1] = np.where(found, pos + 1, 0)
        return out


class Lexicon:
    """Hashed lexicon entries with type bits; :meth:`features` gives (n, 4 * n_types) floats."""

    def __init__(self, keys: np.ndarray, bits: np.ndarray, lengths: np.ndarray, types: list[str]):
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.bits = np.asarray(bits, dtype=np.uint8)
        if len(self.keys) > 1 and not (self.keys[1:] >= self.keys[:-1]).all():  # a saved lexicon is sorted already
            order = np.argsort(self.keys, kind="stable")
            self.keys, self.bits = self.keys[order], self.bits[order]
        self.types = list(types)
        self.lengths = sorted({int(x) for x in np.unique(lengths)}) if len(lengths) else []
        # A 2 MB bit filter in front of the binary search: most windows of text are no entry,
        # and random probes into the sorted keys (cache misses) would dominate the cost.
        # Built in slices, so loading a large lexicon does not hold several key-sized temporaries.
        self._filter = np.zeros(1 << (FILTER_BITS - 3), dtype=np.uint8)
        for a in range(0, len(self.keys), 1 << 16):
            slot = _filter_slot(self.keys[a : a + (1 << 16)])
            np.bitwise_or.at(self._filter, slot >> np.uint64(3), (1 << (slot & np.uint64(7))).astype(np.uint8))

    @property
    def proper_bit(self) -> int:
        return aux_bits(len(self.types))[0]

    @property
    def common_bit(self) -> int:
        return aux_bits(len(self.types))[1]

    @property
    def n_features(self) -> int:
        return len(POSITIONS) * len(self.types)

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        z = np.load(path)
        return cls(z["keys"], z["bits"], z["lengths"], [str(t) for t in z["types"]])

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, keys=self.keys, bits=self.bits, lengths=np.asarray(self.lengths, np.int16),
                            types=np.asarray(self.types))

    def features(self, ids: np.ndarray) -> np.ndarray:
        n = len(ids)
        n_types = len(self.types)
        feats = np.zeros((n, len(POSITIONS), n_types), dtype=np.float32)
        lengths = [length for length in self.lengths if length <= n]
        if not n or not len(self.keys) or not lengths:
            return feats.reshape(n, -1)
        # every candidate window of every entry length, hashed from the prefix hashes and looked up in one searchsorted
        counts = n - np.asarray(lengths) + 1
        first = np.cumsum(counts) - counts
        starts = np.arange(int(counts.sum())) - np.repeat(first, counts)
        lens = np.repeat(lengths, counts)
        prefix = prefix_hashes(ids)
        hashes = prefix[starts + lens] - prefix[starts] * _powers(max(lengths) + 1)[0][lens]
        slot = _filter_slot(hashes)
        maybe = np.nonzero((self._filter[slot >> np.uint64(3)] >> (slot & np.uint64(7)).astype(np.uint8)) & 1)[0]
        pos = np.minimum(np.searchsorted(self.keys, hashes[maybe]), len(self.keys) - 1)
        found = self.keys[pos] == hashes[maybe]
        if not found.any():
            return feats.reshape(n, -1)
        hit = maybe[found]
        bits, starts, lens = self.bits[pos[found]], starts[hit], lens[hit]
        ends = starts + lens - 1
        # (hit, type) pairs, all types at once: Begin/End of a longer entry, Single, and Middle by a difference
        # array over (position, type) for entries of three tokens or more
        has = (bits[:, None] >> np.arange(n_types, dtype=np.uint8)) & 1 == 1
        single = lens == 1
        r, t = np.nonzero(has & ~single[:, None])
        feats[starts[r], 0, t] = 1.0
        feats[ends[r], 2, t] = 1.0
        rs, ts = np.nonzero(has & single[:, None])
        feats[starts[rs], 3, ts] = 1.0
        inner = lens[r] > 2
        if inner.any():
            r, t = r[inner], t[inner]
            size = (n + 1) * n_types
            cover = (np.bincount((starts[r] + 1) * n_types + t, minlength=size)
                     - np.bincount(ends[r] * n_types + t, minlength=size))
            feats[:, 1, :] = np.cumsum(cover.reshape(n + 1, n_types), axis=0)[:n] > 0
        return feats.reshape(n, -1)


def build_lexicon(entries: dict[str, int], vocab: dict[str, int], types: list[str], encode) -> Lexicon:
    """Hash ``entries`` (string -> type bit mask) through ``encode`` (string -> token ids).

    Entries with a character the vocabulary does not know are dropped: in text
    that character is ``[UNK]`` and the entry could only match by accident.
    """
    unk = vocab["[UNK]"]
    acc: dict[int, int] = {}
    lens: dict[int, int] = {}
    for word, word_bits in entries.items():
        ids = encode(word)
        if not ids or unk in ids or len(ids) != len(word):
            continue
        h = hash_sequence(ids)
        acc[h] = acc.get(h, 0) | word_bits
        lens[h] = len(ids)
    keys = np.fromiter(acc.keys(), dtype=np.uint64, count=len(acc))
    bits = np.fromiter(acc.values(), dtype=np.uint8, count=len(acc))
    lengths = np.fromiter((lens[int(k)] for k in keys), dtype=np.int16, count=len(keys))
    return Lexicon(keys, bits, lengths, types)


class Featurizer:
    """All model inputs for one token sequence, as the model directory's config asks.

    With ``shape=True`` the caller passes each row's :func:`shape_features` (they need the text, which
    the ids no longer hold); they become the last columns of the ``lexicon`` input.
    """

    def __init__(self, bigrams: BigramTable | None, lexicon: Lexicon | None, shape: bool = False):
        self.bigrams, self.lexicon, self.shape = bigrams, lexicon, shape

    @property
    def lexicon_width(self) -> int:
        """Columns of the model's ``lexicon`` input: the lexicon's bits, then the shape columns."""
        return (self.lexicon.n_features if self.lexicon is not None else 0) + (len(SHAPE_FEATURES) if self.shape else 0)

    def __call__(self, ids: np.ndarray, shape: np.ndarray | None = None) -> dict[str, np.ndarray]:
        out = {}
        if self.bigrams is not None:
            out["bigram_ids"] = self.bigrams.lookup(ids)
        parts = []
        if self.lexicon is not None:
            parts.append(self.lexicon.features(ids))
        if self.shape:
            if shape is None or len(shape) != len(ids):
                raise ValueError("this model reads shape features: pass shape_features() of each row")
            parts.append(shape.astype(np.float32, copy=False))
        if parts:
            out["lexicon"] = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return out

    def joined(self, rows: list[np.ndarray], shapes: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """The features of all ``rows`` one after another (``len`` = total tokens), as :meth:`many` gives them."""
        if len(rows) < 2:
            return self(rows[0] if rows else np.zeros(0, dtype=np.int64),
                        shapes[0] if shapes else (np.zeros((0, len(SHAPE_FEATURES))) if self.shape else None))
        joined = np.concatenate([np.append(r, -1) for r in rows])
        keep = joined >= 0
        shape = None
        if self.shape and shapes is not None:
            shape = np.zeros((len(joined), len(SHAPE_FEATURES)), dtype=np.float32)
            shape[keep] = np.concatenate(shapes)
        return {k: v[keep] for k, v in self(joined, shape).items()}

    def many(self, rows: list[np.ndarray], shapes: list[np.ndarray] | None = None) -> list[dict[str, np.ndarray]]:
        """``[self(r, s) for r, s in zip(rows, shapes)]``, computed in one pass over the rows joined by a separator.

        The separator id (-1) is in no bigram or lexicon entry, so nothing is
        matched across two rows and each row's features equal those of the row alone.
        """
        if len(rows) < 2:
            each: list[np.ndarray | None] = list(shapes) if shapes else [None] * len(rows)
            return [self(r, s) for r, s in zip(rows, each)]
        whole = self.joined(rows, shapes)
        out, a = [], 0
        for r in rows:
            out.append({k: v[a : a + len(r)] for k, v in whole.items()})
            a += len(r)
        return out
