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
    delta = crf.start + em[:, 0]
    rows = np.arange(batch)
    for t in range(seq_len):
        if t:
            scores = delta[:, :, None] + trans
            back[:, t] = scores.argmax(1)
            delta = np.take_along_axis(scores, back[:, t][:, None, :], 1)[:, 0] + em[:, t]
        ending = rows[lengths == t + 1]
        if len(ending):
            last[ending] = (delta[ending] + crf.end).argmax(1)
    cur = last.copy()
    for t in range(seq_len - 1, -1, -1):
        cur = np.where(lengths == t + 1, last, cur)
        active = t < lengths
        paths[active, t] = cur[active]
        if t:
            cur = back[rows, t, cur]
    return paths


def marginals(emissions: np.ndarray, lengths: np.ndarray, crf: CRF) -> np.ndarray:
    """``P(tag_t = k | text)`` under the CRF, ``(batch, seq_len, num_tags)`` (forward-backward).

    Runs in probability space, each step renormalised, which is exact for
    per-position marginals.  Products are summed by broadcasting rather than
    BLAS, so a row's result does not depend on its batch-mates (bit for bit).
    """
    em = np.asarray(emissions, dtype=np.float64)
    batch, seq_len, num_tags = em.shape
    out = np.zeros(em.shape)
    if seq_len == 0 or batch == 0:
        return out
    lengths = np.asarray(lengths, dtype=np.int64)
    e = np.exp(em - em.max(-1, keepdims=True))
    a = np.exp(crf.transitions - crf.transitions.max())
    alpha = np.empty_like(e)
    cur = np.exp(crf.start - crf.start.max()) * e[:, 0]
    alpha[:, 0] = cur / cur.sum(1, keepdims=True)
    for t in range(1, seq_len):
        cur = (alpha[:, t - 1, :, None] * a).sum(1) * e[:, t]
        alpha[:, t] = cur / cur.sum(1, keepdims=True)
    beta = np.empty_like(e)
    end = np.exp(crf.end - crf.end.max())
    cur = np.tile(end, (batch, 1))
    rows = np.arange(batch)
    for t in range(seq_len - 1, -1, -1):
        if t < seq_len - 1:
            cur = (a * (e[:, t + 1] * beta[:, t + 1])[:, None, :]).sum(2)
            cur /= cur.sum(1, keepdims=True)
        ending = rows[lengths == t + 1]
        if len(ending):
            cur[ending] = end / end.sum()
        beta[:, t] = cur
    g = alpha * beta
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
