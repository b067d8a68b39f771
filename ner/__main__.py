"""Command line: ``python -m ner "text"`` (or stdin, or ``--file PATH``) prints the entities as JSON.

``--format csv`` prints the entities as CSV rows (the page's download, by the one writer of
:mod:`ner.csvout`).  ``--format doccano|label-studio|conll`` prints pre-annotations for an annotation tool instead,
one record per non-blank input line (offsets per line): doccano JSONL, a Label Studio task
list with the entities as predictions, or CoNLL ``char<TAB>tag`` BIO lines.  They read back
with :mod:`ner.formats`, so corrected files go straight into ``python -m ner.finetune``.
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys

#: Default of --max-bytes (setting NER_MAX_FILE_BYTES): the largest --file or stdin read.
MAX_FILE_BYTES = 8 * 1024 * 1024

OUTPUT_FORMATS = ("json", "csv", "doccano", "label-studio", "conll")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ner", description="Find named entities in Chinese text.")
    ap.add_argument("text", nargs="?", help="the text; read from stdin when omitted")
    ap.add_argument("--file", help="read the text from this file (UTF-8, UTF-16, GB18030, Big5, Shift-JIS...: detected)")
    ap.add_argument("--model", default=os.environ.get("NER_MODEL") or None,
                    help="model directory (default: $NER_MODEL or the embedded model)")
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--format", default="json", choices=OUTPUT_FORMATS,
                    help="json (default) and csv: the whole text; the others: one record per non-blank line")
    ap.add_argument("--dictionary", help="a user dictionary file (one \"TEXT TYPE\" entry per line, see ner.dictionary)")
    ap.add_argument("--max-bytes", type=int, help=f"largest --file or stdin to read (default $NER_MAX_FILE_BYTES "
                    f"or {MAX_FILE_BYTES:,})")
    args = ap.parse_args(argv)
    if args.text is not None and args.file:
        ap.error("give the text or --file, not both")
    from ner.settings import positive_int
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
    if args.format == "json":
        entities = rec.recognize(text)
        json.dump({"model": rec.name, "entities": [e.to_dict() for e in entities]}, sys.stdout, ensure_ascii=False,
                  indent=1)
        print()
        return 0
    if args.format == "csv":
        from .csvout import entities_csv

        sys.stdout.write(entities_csv(e.to_dict() for e in rec.recognize(text)))
        return 0
    sys.stdout.write(line_annotations(rec, text, args.format))
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


def line_annotations(rec, text: str, fmt: str) -> str:
    """The entities of each non-blank line of ``text`` in an annotation format (see the module doc)."""
    from . import formats
    from .formats import Example

    lines = [line for line in text.splitlines() if line.strip()]
    found = rec.recognize_batch(lines)
    examples = [Example(line, [(e.start, e.end, e.label) for e in ents]) for line, ents in zip(lines, found)]
    if fmt == "label-studio":
        return formats.dumps_label_studio(examples, "predictions", model_version=rec.name,
                                          scores=[[e.score for e in ents] for ents in found])
    return formats.dumps(examples, fmt)


def run() -> None:
    """The ``ner`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()
