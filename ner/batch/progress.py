"""How far a batch run got: the ``OUT.progress.json`` sidecar that makes it resumable, its figures, its bar."""
from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .sources import BatchError, BatchOptions, Source
from .writers import parts_dir

log = logging.getLogger(__name__)

PROGRESS_VERSION = 1


@dataclass
class Stats:
    """What a run did (this invocation's figures; ``records`` and ``skipped`` count the whole output)."""

    records: int = 0
    skipped: int = 0
    entities: int = 0
    chars: int = 0
    seconds: float = 0.0
    resumed: bool = False
    workers: int = 0
    threads: int = 0

    @property
    def chars_per_s(self) -> float:
        return self.chars / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {"records": self.records, "skipped": self.skipped, "entities": self.entities, "chars": self.chars,
                "seconds": round(self.seconds, 2), "chars_per_s": round(self.chars_per_s), "resumed": self.resumed,
                "workers": self.workers, "threads_per_worker": self.threads}


def progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.json")


def save_progress(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def prepare_output(out: Path, fingerprint: dict, overwrite: bool) -> dict | None:
    """The saved progress of an interrupted run to resume, or None for a fresh start (old output removed)."""
    progress = progress_path(out)
    if progress.is_file() and not overwrite:
        try:
            state = json.loads(progress.read_text(encoding="utf-8"))
        except ValueError:
            raise BatchError(f"{progress.name} is damaged; rerun with --overwrite to start again") from None
        if state.get("version") != PROGRESS_VERSION or state.get("fingerprint") != fingerprint:
            raise BatchError(f"{progress.name} belongs to a run with other inputs or options; rerun with "
                             f"--overwrite to start again, or choose another --out")
        return state
    if (out.exists() or parts_dir(out).exists()) and not overwrite:
        raise BatchError(f"{out} exists and is not an interrupted run of this command; pass --overwrite to replace it")
    for stale in (out, progress):
        stale.unlink(missing_ok=True)
    shutil.rmtree(parts_dir(out), ignore_errors=True)
    return None


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
