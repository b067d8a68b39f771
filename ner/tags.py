"""Tag schemes in one place: tag strings <-> entity spans over token positions (BIO, BIOES).

Spans are half-open ``(first, last + 1, label)``; every conversion here is a pure
function and :func:`spans_to_tags` is the inverse of :func:`tags_to_spans`.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np

SCHEMES = ("BIO", "BIOES")
#: ``(start, end, label)``: half-open offsets (token positions here; characters in :mod:`ner.formats`) and a type.
Span = tuple[int, int, str]
S = TypeVar("S", bound=tuple)


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


def drop_overlaps(spans: Iterable[S]) -> list[S]:
    """Sorted spans with every span that overlaps an earlier one removed (tags cannot hold nesting, windows
    overlap); a span is any tuple that begins ``(start, end, ...)``."""
    kept: list[S] = []
    last_end = -1
    for span in sorted(spans):
        if span[0] >= last_end:
            kept.append(span)
            last_end = span[1]
    return kept


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


def allowed_moves(labels: list[str], scheme: str) -> np.ndarray:
    """``allowed[i, j]``: whether tag ``labels[j]`` may follow ``labels[i]`` in a well-formed sequence.

    BIOES: ``I-X``/``E-X`` only after ``B-X`` or ``I-X``; ``O``, ``B-``, ``S-`` only after
    ``O``, ``E-`` or ``S-``.  BIO: ``I-X`` only after ``B-X`` or ``I-X``, anything else
    anywhere.  A tag of another shape may follow and precede anything.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"tag scheme must be one of {SCHEMES}, not {scheme!r}")
    parts = [split_tag(t) for t in labels]
    allowed = np.ones((len(labels), len(labels)), dtype=bool)
    known = set("BIES") if scheme == "BIOES" else set("BI")
    for j, (pj, lj) in enumerate(parts):
        for i, (pi, li) in enumerate(parts):
            if pi not in known | {"O"} or pj not in known | {"O"}:
                continue
            if pj in ("I", "E"):  # continues an entity of its own type
                allowed[i, j] = pi in ("B", "I") and li == lj
            elif scheme == "BIOES":  # O, B-, S- start fresh: the previous entity must be closed
                allowed[i, j] = pi in ("O", "E", "S")
    return allowed


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
