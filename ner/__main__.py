"""Command line: ``python -m ner "text"`` (or stdin, or ``--file PATH``) prints the entities as JSON.

``--format`` picks any output of the one table of formats, :data:`ner.outputs.OUTPUTS`, and writes exactly the
file the page offers for the same text: ``json`` (the default) and ``csv`` hold the whole text; ``doccano``,
``label-studio`` and ``conll`` are pre-annotations for an annotation tool, one record per non-blank line (the
entities of the whole text, offsets per line).  They read back with :mod:`ner.formats`, so corrected files go
straight into ``python -m ner.finetune``.
"""
from __future__ import annotations

import argparse
import os
import stat
import sys

from .commands import add_model

#: Default of --max-bytes (setting NER_MAX_FILE_BYTES): the largest --file or stdin read.
MAX_FILE_BYTES = 8 * 1024 * 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ner", description="Find named entities in Chinese text.")
    ap.add_argument("text", nargs="?", help="the text; read from stdin when omitted")
    ap.add_argument("--file", help="read the text from this file (UTF-8, UTF-16, GB18030, Big5, Shift-JIS...: detected)")
    add_model(ap, os.environ)
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    from .outputs import OUTPUTS

    ap.add_argument("--format", default="json", choices=list(OUTPUTS),
                    help="json (default) and csv: the whole text; doccano, label-studio, conll: one record per "
                         "non-blank line (as the page's downloads)")
    ap.add_argument("--dictionary", help="a user dictionary file (one \"TEXT TYPE\" entry per line, see ner.dictionary)")
    ap.add_argument("--max-bytes", type=int, help=f"largest --file or stdin to read (default $NER_MAX_FILE_BYTES "
                    f"or {MAX_FILE_BYTES:,})")
    args = ap.parse_args(argv)
    if args.text is not None and args.file:
        ap.error("give the text or --file, not both")
    from ner.commands import positive_int
    from ner.textio import from_utf8, well_formed

    try:
        limit = args.max_bytes or positive_int(os.environ, "NER_MAX_FILE_BYTES", MAX_FILE_BYTES)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.file:
            from ner.textio import decode_bytes

            with open(args.file, "rb") as fh:
                text, encoding, confident = decode_bytes(read_bounded(fh, limit, args.file))
            if not confident and encoding == "utf-8":
                print(f"warning: {args.file} holds bytes that are not UTF-8; each was read as U+FFFD",
                      file=sys.stderr)
            elif not confident:
                print(f"warning: the encoding of {args.file} is uncertain; read as {encoding} "
                      f"(save it as UTF-8 to be sure)", file=sys.stderr)
        elif args.text is not None:
            # Python reads each byte of an argument that is not UTF-8 as a lone surrogate: U+FFFD, one for one
            text = well_formed(args.text)
        else:
            text = from_utf8(read_bounded(sys.stdin.buffer, limit, None))
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except InputRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import ner

    try:
        threads = positive_int(os.environ, "NER_THREADS", 0)  # 0: unset, the library's default
        options = {"threads": threads} if threads else {}
        rec = ner.load(args.model, precision=args.precision, dictionary=args.dictionary, **options)
    except (ner.NerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .outputs import render

    sys.stdout.write(render(args.format, text, rec.recognize(text), rec.name, rec.entity_types))
    return 0


class InputRefused(Exception):
    """A --file or stdin this command does not read (a device, or more than the limit)."""


def read_bounded(fh, limit: int, name: str | None) -> bytes:
    """The bytes of ``fh`` (a file named ``name``, or stdin), read in pieces: at most ``limit`` of them.

    A named file must be a regular file, a pipe or a socket: a device (``/dev/zero``, ``/dev/urandom``) or a
    folder is refused before anything is read; stdin may be anything, bounded by the limit."""
    mode = os.fstat(fh.fileno()).st_mode
    if name is not None and not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        raise InputRefused(f"{name} is not a regular file (a device or a folder); give a file or pipe the text in")
    pieces, size = [], 0
    while piece := fh.read(min(1 << 20, limit + 1 - size)):
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            raise InputRefused(f"{name or 'stdin'} holds more than {limit:,} bytes; raise --max-bytes (or "
                               f"NER_MAX_FILE_BYTES), or use ner-batch for corpora")
    return b"".join(pieces)


def run() -> None:
    """The ``ner`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()
