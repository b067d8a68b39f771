"""How far a batch run got: the ``OUT.progress.json`` sidecar that makes it resumable, its figures, its bar."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .files import Source, open_stream
from .sources import BatchError, BatchOptions
from .writers import check_output, file_mark, parts_dir

log = logging.getLogger(__name__)

#: 2: every state carries a checksum of itself and of the output's end (issue 27)
PROGRESS_VERSION = 2
#: A progress file larger than this is not one this package wrote.
MAX_PROGRESS_BYTES = 1 << 20
FIGURES = ("records", "skipped", "entities", "chars")


@dataclass
class Figures:
    """Records written and skipped, entities found, characters read."""

    records: int = 0
    skipped: int = 0
    entities: int = 0
    chars: int = 0

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in FIGURES}


@dataclass
class Stats:
    """What a run did: ``total`` counts the whole output (every invocation of a resumed run), ``this_run``
    this invocation only (its seconds and rate too)."""

    total: Figures = field(default_factory=Figures)
    this_run: Figures = field(default_factory=Figures)
    seconds: float = 0.0
    resumed: bool = False
    workers: int = 0
    threads: int = 0

    @property
    def records(self) -> int:
        return self.total.records

    @property
    def skipped(self) -> int:
        return self.total.skipped

    @property
    def chars_per_s(self) -> float:
        return self.this_run.chars / self.seconds if self.seconds else 0.0

    def add(self, records: int, skipped: int, entities: int, chars: int) -> None:
        for figures in (self.total, self.this_run):
            figures.records += records
            figures.skipped += skipped
            figures.entities += entities
            figures.chars += chars

    def to_dict(self) -> dict:
        return {"total": self.total.to_dict(),
                "this_run": {**self.this_run.to_dict(), "seconds": round(self.seconds, 2),
                             "chars_per_s": round(self.chars_per_s)},
                "resumed": self.resumed, "workers": self.workers, "threads_per_worker": self.threads}


def progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.json")


def _digest(state: dict) -> str:
    body = {k: v for k, v in state.items() if k != "check"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def save_progress(path: Path, state: dict) -> None:
    """Write ``state`` with its checksum, atomically (a crash leaves the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({**state, "check": _digest(state)}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def prepare_output(out: Path, fingerprint: dict, overwrite: bool, sources: list[Source], fmt: str,
                   encoding: str) -> dict | None:
    """The saved progress of an interrupted run to resume (checked: see :func:`read_progress`), or None for
    a fresh start (old output removed)."""
    progress = progress_path(out)
    if progress.is_file() and not overwrite:
        return read_progress(progress, fingerprint, sources, fmt, out, encoding)
    if (out.exists() or parts_dir(out).exists()) and not overwrite:
        raise BatchError(f"{out} exists and is not an interrupted run of this command; pass --overwrite to replace it")
    for stale in (out, progress):
        stale.unlink(missing_ok=True)
    shutil.rmtree(parts_dir(out), ignore_errors=True)
    return None


def read_progress(progress: Path, fingerprint: dict, sources: list[Source], fmt: str, out: Path,
                  encoding: str) -> dict:
    """The state in ``progress``, after checking every field: its checksum, version and fingerprint, the
    types and ranges of the figures and of the cursor (a record boundary inside its input), and that the
    output holds what the state says it committed (:func:`ner.batch.writers.check_output`).  Anything
    else raises :class:`BatchError` saying how to start again; the output is left as it is."""
    again = "rerun with --overwrite to start again (or choose another --out)"

    def refuse(why: str) -> BatchError:
        return BatchError(f"{progress.name} {why}; {again}")

    try:
        with open(progress, "rb") as fh:
            data = fh.read(MAX_PROGRESS_BYTES + 1)
        state = json.loads(data.decode("utf-8")) if len(data) <= MAX_PROGRESS_BYTES else None
    except (ValueError, RecursionError):
        state = None
    if not isinstance(state, dict) or state.get("check") != _digest(state):
        raise refuse("is damaged or was edited (its checksum does not match)")
    if state.get("version") != PROGRESS_VERSION or state.get("fingerprint") != fingerprint:
        raise refuse("belongs to a run with other inputs or options")
    if not all(_count(state.get(k)) for k in FIGURES) or not isinstance(state.get("done"), bool):
        raise refuse("holds figures that are not counts")
    try:
        check_output(fmt, out, state.get("output"))
    except BatchError as exc:
        raise refuse(f"does not match {out.name}: {exc}") from None
    if state["done"]:
        if not out.is_file() or file_mark(out) != state["output"]:
            raise refuse(f"says the run finished, but {out.name} changed since")
        return state
    source, cursor = state.get("source"), state.get("cursor")
    if not (isinstance(source, int) and _count(source) and source <= len(sources) and isinstance(cursor, list) and len(cursor) == 3
            and all(_count(c) for c in cursor)):
        raise refuse("holds a cursor that is not one of this run's inputs")
    if source < len(sources) and not _at_record_boundary(sources[source], cursor[0], encoding):
        raise refuse(f"points past the end of {sources[source].name} or into the middle of a record")
    if source == len(sources) and cursor != [0, 0, 0]:
        raise refuse("holds a cursor past the last input")
    return state


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _at_record_boundary(src: Source, offset: int, encoding: str) -> bool:
    """Whether a saved offset is where a record of ``src`` ends (or its start)."""
    if src.kind == "parquet":
        import pyarrow.parquet as pq

        return offset <= pq.ParquetFile(src.path).metadata.num_rows
    size = src.path.stat().st_size
    if src.kind == "txt" or offset in (0, size):
        return offset in (0, size)
    newline = open_stream(src, encoding).newline
    if offset > size or offset < len(newline) or offset % len(newline):
        return False
    with open(src.path, "rb") as fh:
        fh.seek(offset - len(newline))
        return fh.read(len(newline)) == newline


def fingerprint(sources: list[Source], fmt: str, opts: BatchOptions, model: str | None, precision: str) -> dict:
    """What the output depends on: a resumed run must have the same inputs (size, mtime) and options."""
    import ner

    model_dir = Path(model) if model else ner.EMBEDDED_MODEL
    # the model's files by size and mtime too: a model replaced in the same directory must not resume
    files = sorted([f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in model_dir.iterdir() if f.is_file())
    return {"inputs": [[str(s.path.resolve()), s.path.stat().st_size, s.path.stat().st_mtime_ns] for s in sources],
            "format": fmt, "options": [opts.text_column, opts.id_column, opts.max_chars, opts.encoding,
                                       list(opts.keep_fields)],
            "model": [str(model_dir.resolve()), precision, files]}


def progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        log.info("install tqdm (the batch extra) for a progress bar")
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="ner batch", smoothing=0.1,
                dynamic_ncols=True)
