"""CRF decoding: Viterbi paths and token marginals, in numpy (the reference) and compiled.

Shapes: ``emissions (batch, seq_len, num_tags)`` float, ``lengths (batch,)`` int,
``transitions (num_tags, num_tags)`` with ``transitions[i, j]`` the score of tag
``i`` followed by tag ``j``, ``start``/``end`` ``(num_tags,)``.  Positions at or
past a row's length are padding and never influence that row.

:func:`decode` runs the optional C extension ``ner._crfkernel`` (built by
``pip install .`` where a compiler exists) and falls back to :func:`decode_numpy`,
its reference, where the extension is missing or ``$NER_CRF_KERNEL=numpy``.
Both give the same paths exactly and the same marginals to the last bits.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

RENORM = 8

try:
    from . import _crfkernel as _kernel  # type: ignore[attr-defined]
except ImportError:  # not built (no compiler at install time): the numpy reference serves
    log.debug("ner._crfkernel is not built; CRF decoding runs in numpy (pip install . builds it)")
    _kernel = None
if os.environ.get("NER_CRF_KERNEL", "").lower() == "numpy":
    _kernel = None

#: which implementation :func:`decode` runs: ``"c"`` or ``"numpy"``
KERNEL = "c" if _kernel is not None else "numpy"
#: Tag sets smaller than this use the scheme's allowed moves in the compiled Viterbi; larger ones visit every
#: move in a vectorised loop.  Measured (python -m ner.bench.decode's 500-character emissions widened to more
#: tags): vectorised/pruned Viterbi 1.34x at 13 tags, 1.01x at 17, 0.91x at 21, 0.52x at 41.
PRUNE_BELOW = 20


@dataclass(frozen=True)
class CRF:
    """The transition scores stored beside a model (``crf.npz``).

    ``allowed (num_tags, num_tags)`` bool, optional, marks the moves the tag scheme
    allows (:func:`ner.tags.allowed_moves`).  It changes no result: for tag sets
    under :data:`PRUNE_BELOW` the compiled Viterbi visits those moves first and skips
    the others when a bound proves none of them can win.  Treat the arrays as
    read-only: the kernel's tables are cached.
    """

    transitions: np.ndarray
    start: np.ndarray
    end: np.ndarray
    allowed: np.ndarray | None = None

    @classmethod
    def uniform(cls, num_tags: int) -> "CRF":
        """No transition preferences: Viterbi becomes a per-token argmax."""
        return cls(np.zeros((num_tags, num_tags)), np.zeros(num_tags), np.zeros(num_tags))

    @cached_property
    def _kernel_tables(self) -> tuple[Any, ...] | None:
        """The arrays the compiled kernel reads, made once per CRF; ``None`` when it cannot serve this CRF."""
        trans = np.asarray(self.transitions, dtype=np.float64)
        start = np.asarray(self.start, dtype=np.float64)
        end = np.asarray(self.end, dtype=np.float64)
        k = len(start)
        if trans.shape != (k, k) or end.shape != (k,) or not all(np.isfinite(x).all() for x in (trans, start, end)):
            return None
        # the probability-space tables exactly as decode_numpy computes them (same dtype, same exp)
        a = np.exp(self.transitions - self.transitions.max())
        tables: tuple[Any, ...] = (
            np.ascontiguousarray(trans), np.ascontiguousarray(trans.T),
            np.ascontiguousarray(start), np.ascontiguousarray(end),
            np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(a.T, dtype=np.float64),
            np.ascontiguousarray(np.exp(self.start - self.start.max()), dtype=np.float64),
            np.ascontiguousarray(np.exp(self.end - self.end.max()), dtype=np.float64))
        if self.allowed is None or np.asarray(self.allowed).shape != (k, k) or k >= PRUNE_BELOW:
            sparse = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.full(k, -np.inf))
        else:
            into = np.asarray(self.allowed, dtype=bool).T                    # into[j, i]: i -> j allowed
            ptr = np.concatenate([[0], np.cumsum(into.sum(1))]).astype(np.int32)
            sources = np.nonzero(into)[1].astype(np.int32)                  # row-major: by j, then i ascending
            gap = np.where(into, -np.inf, trans.T).max(1)
            sparse = (sources, ptr, np.ascontiguousarray(gap))
        return tables + sparse


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
    num_tags = em.shape[2]
    scores = np.empty((seq_len, batch, num_tags, num_tags))  # scores[t, b, i, j]: tag i at t-1, j at t
    last = np.zeros(batch, dtype=np.int64)          # best final tag of each row
    ending = _rows_ending(lengths, seq_len)
    delta = crf.start + em[:, 0]
    for t in range(seq_len):
        if t:
            np.add(delta[:, :, None], trans, out=scores[t])
            delta = scores[t].max(1) + em[:, t]
        if t in ending:
            rows = ending[t]
            last[rows] = (delta[rows] + crf.end).argmax(1)
    back = scores.argmax(2).transpose(1, 0, 2)  # (batch, seq, tags): best previous tag, all steps at once
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


def decode(emissions: np.ndarray, lengths: np.ndarray, crf: CRF,
           wanted: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi paths and the marginals a score needs, for all windows of a call: the contract of
    :func:`decode_numpy`, computed by the compiled kernel where it is built.

    The kernel decodes row by row without the GIL, and computes forward-backward only
    for rows with a wanted token, only as far as their outermost wanted tokens.
    """
    tables = crf._kernel_tables if _kernel is not None else None
    if tables is None:
        return decode_numpy(emissions, lengths, crf, wanted)
    em = np.ascontiguousarray(emissions, dtype=np.float64)
    lens = np.ascontiguousarray(lengths, dtype=np.int64)
    if em.ndim != 3 or lens.shape != em.shape[:1] or em.shape[2] != len(tables[2]):
        return decode_numpy(emissions, lengths, crf, wanted)
    batch, seq_len, num_tags = em.shape
    want = np.ones(num_tags, dtype=np.uint8) if wanted is None else np.ascontiguousarray(wanted, dtype=np.uint8)
    if want.shape != (num_tags,):
        return decode_numpy(emissions, lengths, crf, wanted)
    paths = np.full((batch, seq_len), -1, dtype=np.int64)
    probs = np.zeros((batch, seq_len))
    if not _kernel.decode(em, lens, *tables[:8], want, *tables[8:], paths, probs, batch, seq_len, num_tags):
        return decode_numpy(emissions, lengths, crf, wanted)  # non-finite scores or odd lengths: the reference
    return paths, probs


def decode_numpy(emissions: np.ndarray, lengths: np.ndarray, crf: CRF,
                 wanted: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi paths and the marginals a score needs, for all windows of a call in one pass (the reference).

    Returns ``paths`` as :func:`viterbi` does and ``probs (batch, seq_len)``: at each
    token whose tag on the path is in ``wanted`` (a boolean mask over tags, all tags
    when ``None``), ``marginals(...)[b, t, paths[b, t]]``; 0 elsewhere.  The figures are
    those of :func:`viterbi` (exactly: the same float operations) and :func:`marginals`
    (to the last bits, which one GEMM per direction and step may round differently from
    its per-row products), from one loop running the Viterbi recursion and both
    directions of forward-backward side by side over a time-major layout, with the
    final normalisation only at the tokens asked for.
    """
    em = np.asarray(emissions, dtype=np.float64)
    batch, seq_len, num_tags = em.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    paths = np.full((batch, seq_len), -1, dtype=np.int64)
    probs = np.zeros((batch, seq_len))
    if seq_len == 0 or batch == 0:
        return paths, probs
    emt = np.ascontiguousarray(em.transpose(1, 0, 2))                      # (T, B, K)
    trans = crf.transitions.astype(np.float64)
    deltas = np.empty((seq_len, batch, num_tags))
    scores = np.empty((seq_len - 1, batch, num_tags, num_tags))  # scores[t-1, b, i, j]: tag i at t-1, j at t
    np.add(crf.start, emt[0], out=deltas[0])
    # forward-backward: direction 0 runs forward, direction 1 over each row reversed within its length
    rows = np.arange(batch)
    e = np.exp(emt - emt.max(-1, keepdims=True))
    rev = _reverse_index(lengths, seq_len).T                               # (T, B)
    emit = np.stack([e, e[rev, rows]], axis=1)                             # (T, 2, B, K)
    a = np.exp(crf.transitions - crf.transitions.max())
    mats = np.stack([a, a.T])                                              # one GEMM per direction and step
    pre = np.empty_like(emit)
    post = np.empty_like(emit)
    pre[0, 0] = np.exp(crf.start - crf.start.max())
    pre[0, 1] = np.exp(crf.end - crf.end.max())
    np.multiply(pre[0], emit[0], out=post[0])
    maximum = np.maximum.reduce  # np.max without its Python wrapper: this loop is numpy-call bound
    for t in range(1, seq_len):
        np.add(deltas[t - 1][:, :, None], trans, out=scores[t - 1])
        maximum(scores[t - 1], axis=1, out=deltas[t])
        deltas[t] += emt[t]
        np.matmul(post[t - 1], mats, out=pre[t])
        if t % RENORM == 0:
            pre[t] /= pre[t].sum(-1, keepdims=True)
        np.multiply(pre[t], emit[t], out=post[t])
    last_t = np.maximum(lengths - 1, 0)
    last = (deltas[last_t, rows] + crf.end).argmax(1)
    # backtrack: past a row's end its pointers all lead to its best last tag, so one walk serves every row
    back = scores.argmax(2)                                                # (T-1, B, K)
    pad = np.arange(1, seq_len)[:, None] >= lengths[None, :]
    back[pad] = np.broadcast_to(last[None, :, None], back.shape)[pad]
    walk = np.empty((seq_len, batch), dtype=np.int64)
    cur = last
    for t in range(seq_len - 1, -1, -1):
        walk[t] = cur
        if t:
            cur = back[t - 1, rows, cur]
    valid = np.arange(seq_len)[:, None] < lengths[None, :]
    paths[valid.T] = walk.T[valid.T]
    need = valid.T & (wanted[np.maximum(paths, 0)] if wanted is not None else True)
    bb, tt = np.nonzero(need)
    if len(bb):
        g = pre[tt, 0, bb] * post[last_t[bb] - tt, 1, bb]
        probs[bb, tt] = g[np.arange(len(bb)), paths[bb, tt]] / g.sum(-1)
    return paths, probs


def _reverse_index(lengths: np.ndarray, seq_len: int) -> np.ndarray:
    """``idx[b, t]``: position ``t`` read backwards within row ``b``'s length (padding stays put)."""
    pos = np.arange(seq_len)[None, :]
    lens = lengths[:, None]
    return np.where(pos < lens, lens - 1 - pos, pos)


def marginals(emissions: np.ndarray, lengths: np.ndarray, crf: CRF) -> np.ndarray:
    """``P(tag_t = k | text)`` under the CRF, ``(batch, seq_len, num_tags)`` (forward-backward).

    The backward pass is a forward pass over each row reversed within its
    length, with transposed transitions, so both run in one loop as a stack of
    ``2 * batch`` rows, each step one stacked vector-matrix product, in
    probability space, renormalised every ``RENORM`` steps.  Every row is its
    own product; BLAS may still round the last bit differently for different
    memory layouts, which is why the pipeline rounds scores to 6 decimals.
    """
    em = np.asarray(emissions, dtype=np.float64)
    batch, seq_len, num_tags = em.shape
    if seq_len == 0 or batch == 0:
        return np.zeros(em.shape)
    lengths = np.asarray(lengths, dtype=np.int64)
    e = np.exp(em - em.max(-1, keepdims=True))
    rev = _reverse_index(lengths, seq_len)
    e_rev = np.take_along_axis(e, rev[:, :, None], 1)
    a = np.exp(crf.transitions - crf.transitions.max())
    mats = np.concatenate([np.broadcast_to(a, (batch, num_tags, num_tags)),
                           np.broadcast_to(np.ascontiguousarray(a.T), (batch, num_tags, num_tags))])
    emit = np.concatenate([e, e_rev])[:, :, None, :]                      # (2B, T, 1, K)
    pre = np.empty_like(emit)   # before the step's emission: forward rows use it
    post = np.empty_like(emit)  # after it: backward rows use it
    pre[:batch, 0, 0] = np.exp(crf.start - crf.start.max())
    pre[batch:, 0, 0] = np.exp(crf.end - crf.end.max())
    np.multiply(pre[:, 0], emit[:, 0], out=post[:, 0])
    for t in range(1, seq_len):
        np.matmul(post[:, t - 1], mats, out=pre[:, t])
        if t % RENORM == 0:
            pre[:, t] /= pre[:, t].sum(-1, keepdims=True)
        np.multiply(pre[:, t], emit[:, t], out=post[:, t])
    # P(tag_t) ∝ forward mass arriving at t (before t's emission) × backward mass from t on (with it)
    back = np.take_along_axis(post[batch:, :, 0], rev[:, :, None], 1)
    g = pre[:batch, :, 0] * back
    g /= g.sum(-1, keepdims=True)
    g[np.arange(seq_len)[None, :] >= lengths[:, None]] = 0.0
    return g
