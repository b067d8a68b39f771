"""Command line: ``python -m ner "text"`` (or stdin, or ``--file PATH``) prints the entities as JSON."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ner", description="Find PER/LOC/ORG entities in Chinese text.")
    ap.add_argument("text", nargs="?", help="the text; read from stdin when omitted")
    ap.add_argument("--file", help="read the text from this file (UTF-8, UTF-16, GB18030, Big5, Shift-JIS...: detected)")
    ap.add_argument("--model", help="model directory (default: $NER_MODEL or the embedded model)")
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    args = ap.parse_args(argv)
    if args.text is not None and args.file:
        ap.error("give the text or --file, not both")
    try:
        if args.file:
            from ner.textio import decode_bytes

            with open(args.file, "rb") as fh:
                text, encoding, confident = decode_bytes(fh.read())
            if not confident:
                print(f"warning: the encoding of {args.file} is uncertain; read as {encoding} "
                      f"(save it as UTF-8 to be sure)", file=sys.stderr)
        elif args.text is not None:
            text = args.text
        else:
            text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    import ner

    try:
        rec = ner.load(args.model, precision=args.precision)
    except ner.ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    entities = rec.recognize(text)
    json.dump({"model": rec.name, "entities": [e.to_dict() for e in entities]}, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


def run() -> None:
    """The ``ner`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()
