"""CRF decoding in pure numpy: Viterbi paths, token marginals, and tags -> entity spans.

Shapes: ``emissions (batch, seq_len, num_tags)`` float, ``lengths (batch,)`` int,
``transitions (num_tags, num_tags)`` with ``transitions[i, j]`` the score of tag
``i`` followed by tag ``j``, ``start``/``end`` ``(num_tags,)``.  Positions at or
past a row's length are padding and never influence that row.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEMES = ("BIO", "BIOES")
RENORM = 8


@dataclass(frozen=True)
class CRF:
    """The transition scores stored beside a model (``crf.npz``)."""

    transitions: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def uniform(cls, num_tags: int) -> "CRF":
        """No transition preferences: Viterbi becomes a per-token argmax."""
        return cls(np.zeros((num_tags, num_tags)), np.zeros(num_tags), np.zeros(num_tags))


def _rows_ending(lengths: np.ndarray, seq_len: int) -> dict[int, np.ndarray]:
    """For each position ``t``, the rows whose last token is at ``t``."""
    return {t: np.nonzero(lengths == t + 1)[0] for t in np.unique(lengths - 1) if 0 <= t < seq_len}


def viterbi(emissions: np.ndarray, lengths: np.ndarray, crf: CRF) -> np.ndarray:
    """Best tag path of every row, ``(batch, seq_len)`` int64 (-1 past each row's length)."""
    em = np.asarray(emissions, dtype=np.float64)
    batch, seq_len, _ = em.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    paths = np.full((batch, seq_len), -1, dtype=np.int64)
    if seq_len == 0 or batch == 0:
        return paths
    trans = crf.transitions[None].astype(np.float64)
    back = np.zeros(em.shape, dtype=np.int64)
    last = np.zeros(batch, dtype=np.int64)          # best final tag of each row
    ending = _rows_ending(lengths, seq_len)
    delta = crf.start + em[:, 0]
    for t in range(seq_len):
        if t:
            scores = delta[:, :, None] + trans
            back[:, t] = scores.argmax(1)
            delta = scores.max(1) + em[:, t]
        if t in ending:
            rows = ending[t]
            last[rows] = (delta[rows] + crf.end).argmax(1)
    rows = np.arange(batch)
    cur = last.copy()
    for t in range(seq_len - 1, -1, -1):
        if t in ending:
            cur[ending[t]] = last[ending[t]]
        paths[:, t] = cur
        if t:
            cur = back[rows, t, cur]
    paths[np.arange(seq_len)[None, :] >= lengths[:, None]] = -1
    return paths


def marginals(emissions: np.ndarray, lengths: np.ndarray, crf: CRF) -> np.ndarray:
    """``P(tag_t = k | text)`` under the CRF, ``(batch, seq_len, num_tags)`` (forward-backward).

    Runs in probability space, each step renormalised, which is exact for
    per-position marginals.  Each row's products are separate matrix-vector
    products, so a row's result does not depend on its batch-mates (bit for bit).
    """
    em = np.asarray(emissions, dtype=np.float64)
    batch, seq_len, num_tags = em.shape
    out = np.zeros(em.shape)
    if seq_len == 0 or batch == 0:
        return out
    lengths = np.asarray(lengths, dtype=np.int64)
    e = np.exp(em - em.max(-1, keepdims=True))[:, :, None, :]   # (batch, seq, 1, tags): row vectors
    a = np.exp(crf.transitions - crf.transitions.max())
    a_t = np.ascontiguousarray(a.T)
    # Renormalising every RENORM steps is enough: one step shrinks the mass by at most
    # min(a) (the emission factor of the best tag is 1), far from float64's range.
    alpha = np.empty_like(e)
    cur = np.exp(crf.start - crf.start.max()) * e[:, 0]
    alpha[:, 0] = cur / cur.sum(-1, keepdims=True)
    for t in range(1, seq_len):
        cur = (alpha[:, t - 1] @ a) * e[:, t]
        if t % RENORM == 0:
            cur /= cur.sum(-1, keepdims=True)
        alpha[:, t] = cur
    beta = np.empty_like(e)
    end = np.exp(crf.end - crf.end.max())
    ending = _rows_ending(lengths, seq_len)
    cur = np.broadcast_to(end, (batch, 1, num_tags)).copy()
    for t in range(seq_len - 1, -1, -1):
        if t < seq_len - 1:
            cur = (e[:, t + 1] * beta[:, t + 1]) @ a_t
            if t % RENORM == 0:
                cur /= cur.sum(-1, keepdims=True)
        if t in ending:
            cur[ending[t]] = end / end.sum()
        beta[:, t] = cur
    g = (alpha * beta)[:, :, 0, :]
    g /= g.sum(-1, keepdims=True)
    g[np.arange(seq_len)[None, :] >= lengths[:, None]] = 0.0
    return g


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``."""
    if tag == "O" or "-" not in tag:
        return "O", ""
    prefix, _, label = tag.partition("-")
    return prefix, label


def tags_to_spans(tags: list[str], scheme: str) -> list[tuple[int, int, str]]:
    """Entity spans ``(first, last + 1, label)`` over tag positions.

    Lenient like conlleval: an ``I-`` (or ``E-``) that does not continue an open
    entity of its type starts a new one, so no predicted token is silently lost.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"tag scheme must be one of {SCHEMES}, not {scheme!r}")
    spans = []
    open_start, open_label = None, None

    def close(end):
        nonlocal open_start, open_label
        if open_start is not None:
            spans.append((open_start, end, open_label))
        open_start, open_label = None, None

    for i, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if prefix == "O":
            close(i)
        elif prefix == "S":
            close(i)
            spans.append((i, i + 1, label))
        elif prefix == "B" or open_label != label:
            close(i)
            open_start, open_label = i, label
            if prefix == "E":
                close(i + 1)
        elif prefix == "E":
            close(i + 1)
        # I- continuing the open entity: nothing to do
    close(len(tags))
    return spans


class TagCodes:
    """Label strings pre-parsed once, so decoded paths become spans without string work per token."""

    def __init__(self, labels: list[str], scheme: str):
        if scheme not in SCHEMES:
            raise ValueError(f"tag scheme must be one of {SCHEMES}, not {scheme!r}")
        parts = [split_tag(t) for t in labels]
        self.prefix = [p for p, _ in parts]
        self.label = [lab for _, lab in parts]
        self.outside = np.array([p == "O" for p in self.prefix])

    def spans(self, path: np.ndarray) -> list[tuple[int, int, str]]:
        """``tags_to_spans`` of a path of label indices, visiting only the non-O positions."""
        spans = []
        open_start = open_label = None
        last = -2
        for i in np.nonzero(~self.outside[path])[0].tolist():
            prefix, label = self.prefix[path[i]], self.label[path[i]]
            if open_start is not None and i != last + 1:  # an O in between closed the entity
                spans.append((open_start, last + 1, open_label))
                open_start = None
            last = i
            if prefix == "S":
                if open_start is not None:
                    spans.append((open_start, i, open_label))
                    open_start = None
                spans.append((i, i + 1, label))
            elif prefix == "B" or open_start is None or open_label != label:
                if open_start is not None:
                    spans.append((open_start, i, open_label))
                open_start, open_label = i, label
                if prefix == "E":
                    spans.append((i, i + 1, label))
                    open_start = None
            elif prefix == "E":
                spans.append((open_start, i + 1, label))
                open_start = None
        if open_start is not None:
            spans.append((open_start, last + 1, open_label))
        return spans


def spans_to_tags(spans, length: int, scheme: str) -> list[str]:
    """Inverse of :func:`tags_to_spans` for well-formed, non-overlapping spans."""
    tags = ["O"] * length
    for start, end, label in spans:
        if scheme == "BIOES" and end - start == 1:
            tags[start] = f"S-{label}"
            continue
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
        if scheme == "BIOES":
            tags[end - 1] = f"E-{label}"
    return tags
