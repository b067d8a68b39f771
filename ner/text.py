"""Character normalisation shared by training, pre-training and inference."""
from __future__ import annotations

import unicodedata


def fold_char(ch: str) -> str:
    """Fold one character the way the tokenizer does: NFKC (full-width to half-width), lower case.

    Returns the first character of the folded form (NFKC may expand, e.g. '㈱'),
    so one input character always maps to exactly one feature character.
    """
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded[0] if folded else ch


def fold_text(text: str) -> str:
    """Fold every character of ``text`` with :func:`fold_char`; the length is unchanged."""
    if text.isascii():
        return text.lower()
    return "".join(fold_char(c) for c in text)

