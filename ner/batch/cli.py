"""``python -m ner.batch`` / ``ner-batch``: the command line of :mod:`ner.batch` (local workers or Ray Data)."""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
from pathlib import Path

from ..errors import NerError
from .local import BATCH_SIZE, run
from .progress import Stats, progress_path
from .sources import CHUNK_CHARS, MAX_CHARS, BatchError, BatchOptions, StrictStop
from .writers import WRITERS


def build_parser(prog: str = "python -m ner.batch") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description="Find PER/LOC/ORG entities in every record of files: "
                                 ".txt files or folders, JSONL, CSV/TSV, Parquet -> JSONL, CSV or Parquet.")
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders of .txt files")
    ap.add_argument("--out", required=True, help="output file: .jsonl (a record per input record), .csv (a row "
                    "per entity) or .parquet")
    ap.add_argument("--format", choices=sorted(WRITERS), help="output format (default: from the --out suffix)")
    ap.add_argument("--text-column", default="text", help="field holding the text in JSONL/CSV/Parquet (default text)")
    ap.add_argument("--id-column", help="field holding the record id (default: the record's own \"id\" field, "
                    "with its JSON type, else INPUT:N, the N-th record of INPUT)")
    ap.add_argument("--keep-fields", nargs="+", default=[], metavar="FIELD",
                    help="input fields copied into each output record as they are (.jsonl output)")
    ap.add_argument("--workers", type=int, help="worker processes (default: one per core; 0: in this process)")
    ap.add_argument("--threads", type=int, help="ONNX Runtime threads per worker (default: cores // workers)")
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"windows per model call in each worker "
                    f"(default {BATCH_SIZE})")
    ap.add_argument("--chunk-chars", type=int, default=CHUNK_CHARS, help=f"characters per chunk: the unit of work "
                    f"of a worker and of each commit (default {CHUNK_CHARS})")
    ap.add_argument("--max-chars", type=int, default=MAX_CHARS, help=f"longest record in characters; longer ones "
                    f"are reported and skipped (default {MAX_CHARS})")
    ap.add_argument("--encoding", default="auto", help="encoding of JSONL and CSV inputs (default auto: detected "
                    "per file from its byte-order mark or its first 64 KiB, as .txt files are; or name one, e.g. "
                    "gb18030)")
    ap.add_argument("--follow-symlinks", action="store_true", help="in a folder input, also read .txt files "
                    "through symbolic links that lead out of it (default: skipped with a warning)")
    ap.add_argument("--strict", action="store_true", help="stop at the first malformed record instead of skipping it")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output instead of resuming it")
    ap.add_argument("--model", default=os.environ.get("NER_MODEL") or None,
                    help="model directory (default: $NER_MODEL or the embedded model)")
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--engine", default="local", choices=["local", "ray"],
                    help="local worker processes (default) or Ray actors (pip install '.[ray]'); the same reading, "
                         "skipping, --strict and resuming either way")
    ap.add_argument("--address", help="with --engine ray: the Ray cluster to join, e.g. 10.0.0.5:6379 or auto "
                    "(default: start Ray on this machine, listening on loopback only)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def main(argv: list[str] | None = None, prog: str = "python -m ner.batch") -> int:
    args = build_parser(prog).parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # kill / docker stop: stop as Ctrl-C does, resumable
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    opts = BatchOptions(text_column=args.text_column, id_column=args.id_column, max_chars=args.max_chars,
                   encoding=args.encoding, keep_fields=tuple(args.keep_fields))
    try:
        if args.address and args.engine != "ray":
            raise BatchError("--address is for --engine ray")
        stats = _run_logged(args, opts)
    except (BatchError, NerError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, StrictStop) else 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; run the same command again to resume ({progress_path(Path(args.out)).name} "
              f"holds the progress)", file=sys.stderr)
        return 130
    print(json.dumps(stats.to_dict()))
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _run_logged(args, opts: BatchOptions) -> Stats:
    """The run of either engine: both read the inputs here, skip (or, ``--strict``, stop at) malformed records
    the same way and resume the same way; only where the chunks are annotated differs."""
    kwargs = dict(workers=args.workers, threads=args.threads, model=args.model, precision=args.precision, opts=opts,
                  fmt=args.format, batch_size=args.batch_size, chunk_chars=args.chunk_chars, strict=args.strict,
                  overwrite=args.overwrite, progress=not args.quiet, follow_symlinks=args.follow_symlinks)
    runner = run
    if args.engine == "ray":
        from .ray import run_files

        runner = functools.partial(run_files, address=args.address)
    try:
        from tqdm.contrib.logging import logging_redirect_tqdm
    except ImportError:
        return runner(args.inputs, args.out, **kwargs)
    with logging_redirect_tqdm():  # warnings about skipped records print above the bar, not through it
        return runner(args.inputs, args.out, **kwargs)


def cli() -> None:
    """The ``ner-batch`` console script."""
    sys.exit(main(prog="ner-batch"))
