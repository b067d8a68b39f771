"""The files of a batch run: which inputs are read (regular files only), and how a JSONL or CSV file's bytes
become lines of text (its encoding, detected as for .txt files; its line ends, in UTF-16 too)."""
from __future__ import annotations

import codecs
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import BatchError
from ..textio import BOMS, decode_bytes

log = logging.getLogger(__name__)

#: Input kinds by file suffix.
KINDS = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
#: Bytes at the start of a JSONL or CSV file the encoding is detected from (``--encoding auto``).
SNIFF_BYTES = 64 * 1024
#: Above this share of characters that are not text in the sniffed bytes, the encoding is wrong: the run stops.
MAX_UNREADABLE = 0.3
#: What a byte that is not part of a character becomes (``surrogateescape``).
SURROGATE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Source:
    """One input file; ``name`` (the path as given) prefixes the default ids ``name:1``, ``name:2``..."""

    path: Path
    kind: str
    name: str


def find_sources(inputs: list[str | Path], follow_symlinks: bool = False) -> list[Source]:
    """Each input file, and each ``.txt`` file under an input folder (sorted), in the order given.

    An input named on the command line is read wherever it is, but must be a regular file (a device or a FIFO
    is refused).  In a folder, only regular files inside the folder are read: a symbolic link that leads out
    of it (or to a device, a FIFO, a socket) is skipped with a warning, unless ``follow_symlinks``."""
    sources: list[Source] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            files = _folder_files(path, follow_symlinks)
            if not files:
                raise BatchError(f"folder {str(given)!r} holds no .txt files")
            sources += [Source(p, "txt", str(Path(given) / p.relative_to(path))) for p in files]
        elif path.exists():
            if not stat.S_ISREG(path.stat().st_mode):
                raise BatchError(f"input {str(given)!r} is not a regular file (a device, a FIFO or a socket); "
                                 f"copy what it holds into a file")
            kind = KINDS.get(path.suffix.lower())
            if kind is None:
                raise BatchError(f"{str(given)!r}: unknown input type {path.suffix!r}; "
                                 f"use one of {', '.join(sorted(KINDS))} or a folder of .txt files")
            sources.append(Source(path, kind, str(given)))
        else:
            raise BatchError(f"input {str(given)!r} does not exist")
    if not sources:
        raise BatchError("no inputs given")
    return sources


def _folder_files(folder: Path, follow_symlinks: bool) -> list[Path]:
    """The ``.txt`` files of ``folder`` and its subfolders that are regular files inside it (see find_sources)."""
    root = folder.resolve()
    files, walked = [], set()
    for here, dirs, names in os.walk(folder, followlinks=follow_symlinks):
        real = os.path.realpath(here)
        if real in walked:  # a link back up the tree: walked once
            dirs[:] = []
            continue
        walked.add(real)
        for name in names + ([] if follow_symlinks else dirs):
            p = Path(here) / name
            if name in dirs:
                if p.is_symlink():
                    log.warning("%s: a symbolic link to a folder; skipped (--follow-symlinks reads it)", p)
                continue
            if p.suffix.lower() != ".txt":
                continue
            why = _not_readable(p, root, follow_symlinks)
            if why:
                log.warning("%s: %s; skipped", p, why)
            else:
                files.append(p)
    return sorted(files)


def _not_readable(path: Path, root: Path, follow_symlinks: bool) -> str | None:
    """Why a file found in a folder is not read (None: it is read)."""
    try:
        if path.is_symlink() and not follow_symlinks and not path.resolve().is_relative_to(root):
            return "a symbolic link out of the folder (--follow-symlinks reads it)"
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, a FIFO or a socket)"
    return None


@dataclass(frozen=True)
class Stream:
    """How a JSONL or CSV file's bytes are lines: the codec of each line, its newline bytes and the length of
    the byte-order mark at the start of the file (0 without one)."""

    encoding: str
    newline: bytes = b"\n"
    bom: int = 0


def open_stream(src: Source, encoding: str) -> Stream:
    """The encoding of ``src``: ``encoding``, or with ``"auto"`` what its first :data:`SNIFF_BYTES` read
    as (:func:`ner.textio.decode_bytes`, as for .txt files).  Raises :class:`BatchError` naming an encoding
    to pass when most of those bytes are not text in the encoding used."""
    with open(src.path, "rb") as fh:
        sample = fh.read(SNIFF_BYTES)
    bom = next(((mark, name) for mark, name in BOMS if sample.startswith(mark)), None)
    given = encoding.lower().replace("_", "-")
    if given == "auto":
        if bom:
            name = bom[1]
        else:
            cut = sample if len(sample) < SNIFF_BYTES else sample[: sample.rfind(b"\n") + 1] or sample
            name = decode_bytes(cut)[1]
    else:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise BatchError(f"--encoding {encoding!r} is not an encoding Python knows (for example utf-8, "
                             f"gb18030, utf-16 or auto)") from None
    name = codecs.lookup(name).name
    if name in ("utf-16", "utf-32"):  # the byte order: from the mark, little-endian without one
        name += "-be" if bom and bom[0] in (codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE) else "-le"
    if name == "utf-8-sig":
        name = "utf-8"
    marked = bom is not None and codecs.lookup(bom[1]).name.startswith(name[:6]) and \
        (name.startswith("utf-8") or sample.startswith("\ufeff".encode(name)))
    stream = Stream(name, "\n".encode(name), len("\ufeff".encode(name)) if marked else 0)
    text = decode(sample[stream.bom :], name)
    bad = len(SURROGATE.findall(text)) + text.count("\ufffd")
    if len(text) >= 16 and bad > MAX_UNREADABLE * len(text):
        guess = decode_bytes(sample)[1]
        hint = f"pass --encoding {guess}" if guess != name else "pass the file's --encoding (gb18030, utf-16...)"
        raise BatchError(f"{src.name}: {100 * bad // len(text)}% of its first {len(sample):,} bytes are not {name} "
                         f"text; {hint}, or save it as UTF-8")
    return stream


def decode(data: bytes, encoding: str) -> str:
    """``data`` in ``encoding``; each byte that is not part of a character a lone surrogate (as
    ``surrogateescape``), or U+FFFD where that handler cannot stand for it (UTF-16 and UTF-32)."""
    try:
        return data.decode(encoding, "surrogateescape")
    except UnicodeDecodeError:
        return data.decode(encoding, "replace")


def lines(fh, offset: int, limit: int, newline: bytes = b"\n") -> Iterator[tuple[int, bytes | None]]:
    """``(offset after it, line)`` of a binary file from ``offset``; a line over ``limit`` bytes is read past
    in bounded pieces and given as None, so one huge line never sits in memory whole.  ``newline`` is the
    encoded line end (``b"\\n\\x00"`` in UTF-16-LE: found only at offsets that are a multiple of its length)."""
    if newline != b"\n":
        yield from _wide_lines(fh, offset, limit, newline)
        return
    fh.seek(offset)
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        offset += len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = fh.readline(1 << 20)
                offset += len(line)
            yield offset, None
        else:
            yield offset, line


def _wide_lines(fh, offset: int, limit: int, newline: bytes) -> Iterator[tuple[int, bytes | None]]:
    unit = len(newline)
    fh.seek(offset)
    buf, over, eof = b"", False, False
    while True:
        k = buf.find(newline)
        while k >= 0 and (offset + k) % unit:
            k = buf.find(newline, k + 1)
        if k < 0 and not eof:
            if len(buf) > limit:  # no line end in reach: drop whole units, the line is too long
                drop = len(buf) - len(buf) % unit
                buf, offset, over = buf[drop:], offset + drop, True
            more = fh.read(1 << 16)
            eof = not more
            buf += more
            continue
        end = k + unit if k >= 0 else len(buf)
        if end == 0:  # the end of the file
            if over:
                yield offset, None
            return
        line, buf = buf[:end], buf[end:]
        offset += end
        yield offset, None if over or len(line) > limit else line
        over = False
