"""Text from outside the process: bytes of unknown encoding -> str, and str -> text every codec can encode.

The one home of encoding detection (the app's uploads, the CLI's ``--file``, ``ner-batch``'s .txt files) and
of the one decoding rule of every entry point (the server, the CLI's argument, ``--file`` and stdin, batch
records): a lone surrogate, or a byte that is not part of a character, becomes U+FFFD, one code point for one,
so offsets into the result are code-point offsets into what was sent.
"""
from __future__ import annotations

import codecs
import re

#: Byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
#: When several encodings read the bytes equally well, the first of these wins: mainland Chinese first.
PREFERRED = ["gb18030", "big5", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr", "utf_16", "cp1252"]
#: A detection whose mess ratio is at most this much above the best one is a rival reading.
RIVAL_CHAOS = 0.01

#: Bytes that are UTF-8 but for a few stray bytes (at most this share of their non-ASCII bytes) are UTF-8 with
#: errors, not another encoding: text in GB18030, Big5 or Latin-1 read as UTF-8 fails at nearly every such byte.
MAX_STRAY = 0.3

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile("[\udc80-\udcff]")
_ASCII = bytes(range(128))
REPLACEMENT = "\ufffd"


def decode_bytes(data: bytes) -> tuple[str, str, bool]:
    """``(text, encoding, confident)`` of ``data``.

    A byte-order mark decides (UTF-8, UTF-16, UTF-32); then valid UTF-8 is UTF-8, and so
    is UTF-8 with a few stray bytes (:data:`MAX_STRAY`; each read as U+FFFD, not confident);
    otherwise charset-normalizer picks the encoding that reads the bytes with the
    least mess, preferring GB18030, then Big5, then Shift-JIS... when several read
    them equally well.  ``confident`` is False when rival encodings read the bytes
    differently but equally well (short texts), or when nothing reads them and
    the text is UTF-8 with each invalid byte replaced by U+FFFD.
    """
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), _name(encoding), True
            except UnicodeDecodeError:
                return data.decode(encoding, errors="replace"), _name(encoding), False
    try:
        return data.decode("utf-8"), "utf-8", True
    except UnicodeDecodeError:
        pass
    escaped = data.decode("utf-8", "surrogateescape")
    if len(_ESCAPED.findall(escaped)) <= MAX_STRAY * (len(data) - len(data.translate(None, _ASCII))):
        return well_formed(escaped), "utf-8", False
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(data) if _decodes(data, m.encoding)]
    if not matches:
        return from_utf8(data), "utf-8", False
    least = min(m.chaos for m in matches)
    rivals = [m for m in matches if m.chaos <= least + RIVAL_CHAOS]
    rank = {name: i for i, name in enumerate(PREFERRED)}
    best = min(rivals, key=lambda m: (rank.get(_codec(m.encoding), len(rank)), rivals.index(m)))
    text = data.decode(best.encoding)
    confident = all(data.decode(m.encoding) == text for m in rivals)
    return text, _name(best.encoding), confident


def well_formed(text: str) -> str:
    """``text`` with every lone surrogate (U+D800..U+DFFF) replaced by U+FFFD, one code point for one.

    Surrogates are the only code points a Python string can hold that UTF-8 (and
    so every JSON encoder, tokenizer and browser down the line) cannot encode; a
    JavaScript client produces one when it cuts an emoji in half.  The length is
    unchanged, so offsets into the result are offsets into ``text``.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)


def from_utf8(data: bytes, encoding: str = "utf-8") -> str:
    """``data`` read as ``encoding`` (UTF-8 by default), each byte that is not part of a character read as
    U+FFFD: one code point per stray byte, so one bad byte never costs the rest of the text."""
    return well_formed(data.decode(encoding, "surrogateescape"))


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except (UnicodeDecodeError, LookupError):
        return False


def _codec(encoding: str) -> str:
    return codecs.lookup(encoding).name.replace("-", "_")


def _name(encoding: str) -> str:
    """``utf_16`` / ``utf-8-sig`` -> ``utf-16`` / ``utf-8``: the name shown to people."""
    return codecs.lookup(encoding).name.removesuffix("-sig")
