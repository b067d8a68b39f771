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


def is_cjk(ch: str) -> bool:
    """True for CJK ideographs (the characters BERT tokenizers split one by one)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )
