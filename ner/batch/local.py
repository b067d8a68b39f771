"""The run: chunks of records through a pool of worker processes (or any pool given) into the writer, in
input order, with a commit and a saved cursor after each chunk."""
from __future__ import annotations

import collections
import logging
import os
import signal
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .progress import (FIGURES, PROGRESS_VERSION, Figures, Stats, fingerprint, prepare_output, progress_bar,
                       progress_path, save_progress)
from .files import Source, find_sources, open_stream
from .sources import CHUNK_CHARS, BatchError, BatchOptions, Chunk, Cursor, StrictStop, read_chunks
from .writers import WRITERS, check_keep_fields, file_mark, output_format, parts_dir

log = logging.getLogger(__name__)

#: Windows per ONNX Runtime call in a worker: 16 keeps a worker near 145 MB (32: 175 MB) at the same speed.
BATCH_SIZE = 16
#: Characters per recognize_batch call inside a chunk (see :func:`annotate_texts`).
CALL_CHARS = 8_000

_worker_rec = None


class WorkerDied(BrokenProcessPool):
    """A worker of a pool that is not a process pool (a Ray actor) died with a chunk in hand."""


def _init_worker(model: str | None, options: dict, parent: int) -> None:
    """Each worker process loads the model once; Ctrl-C is the parent's to handle (it stops the pool), and the
    worker dies with its parent (:func:`die_with_parent`)."""
    global _worker_rec
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import ner

    _worker_rec = ner.load(model, **options)


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies, even by ``kill -9`` (Linux: ``prctl
    PR_SET_PDEATHSIG``); exit at once if the parent ``parent`` is already gone.  Elsewhere a no-op: the pool's
    own pipes end an idle worker there."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("could not ask to die with the parent process (errno %d)", ctypes.get_errno())
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _annotate(texts: list[str]) -> list[list[dict]]:
    assert _worker_rec is not None, "the worker was not initialised"
    return annotate_texts(_worker_rec, texts)


def annotate_texts(rec, texts: list[str], call_chars: int = CALL_CHARS) -> list[list[dict]]:
    """``[e.to_dict() for e in entities]`` of each text, in calls of about ``call_chars`` characters.

    One ``recognize_batch`` call decodes all its windows at once, and its peak memory grows with the characters
    it is given (measured: 264 MB of Python allocations for 50,000 characters, 14 MB for 2,700), so a chunk goes
    through in smaller calls; the results are the same (a text's entities never depend on its batch-mates)."""
    found: list[list[dict]] = []
    start, size = 0, 0
    for end, text in enumerate(texts, 1):
        size += len(text)
        if size >= call_chars or end == len(texts):
            found += [[e.to_dict() for e in ents] for ents in rec.recognize_batch(texts[start:end])]
            start, size = end, 0
    return found


def check_output_is_no_input(out: Path, sources: list[Source]) -> None:
    """Refuse an output (or its progress file, or its folder of parts) that is one of the inputs: the same
    path, a symbolic link to it or a hard link of it, before anything is opened for writing."""
    inputs = {(st.st_dev, st.st_ino): s.name for s in sources for st in [s.path.stat()]}
    progress = progress_path(out)
    for path in (out, progress, out.with_name(out.name + ".tmp"), progress.with_name(progress.name + ".tmp")):
        try:
            st = path.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in inputs:
            raise BatchError(f"--out {str(out)!r} would write over the input {inputs[(st.st_dev, st.st_ino)]!r}; "
                             f"choose another --out")
    parts = parts_dir(out).resolve()
    for s in sources:
        if s.path.resolve().is_relative_to(parts):
            raise BatchError(f"the input {s.name!r} is inside {parts_dir(out).name}, the output's working folder; "
                             f"choose another --out")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class InProcess:
    """The pool's interface in the calling process (``--workers 0``): for debugging and small inputs."""

    def __init__(self, model: str | None, options: dict):
        import ner

        self.rec = ner.load(model, **options)

    def submit(self, fn, texts: list[str]) -> Future:
        fut: Future = Future()
        fut.set_result(annotate_texts(self.rec, texts))
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def run(inputs: list[str | Path], out: str | Path, *, workers: int | None = None, threads: int | None = None,
        model: str | None = None, precision: str = "int8", opts: BatchOptions = BatchOptions(), fmt: str | None = None,
        strict: bool = False, overwrite: bool = False, progress: bool = True, chunk_chars: int = CHUNK_CHARS,
        batch_size: int = BATCH_SIZE, make_pool=None, follow_symlinks: bool = False) -> Stats:
    """Annotate every record of ``inputs`` into ``out``, resuming an interrupted run of the same command.

    ``workers`` processes (default: one per usable core; 0 = in this process) each
    run an ONNX Runtime session of ``threads`` threads (default: cores // workers).
    ``make_pool(workers, model, options)``, when given, makes the pool instead (``submit(fn, texts)`` -> a
    future, ``shutdown``): :class:`ner.batch.ray.RayPool` for ``--engine ray``.
    Raises :class:`BatchError` for unusable inputs or options (an output that is one of the inputs, a
    progress file that does not match the output), at the first malformed record when ``strict``, and when a
    worker dies (killed, out of memory); ``KeyboardInterrupt`` leaves a resumable run.
    """
    out = Path(out)
    sources = find_sources(inputs, follow_symlinks)
    check_output_is_no_input(out, sources)
    for src in sources:
        if src.kind in ("jsonl", "csv"):
            open_stream(src, opts.encoding)  # an unreadable encoding stops the run before anything is written
    fmt = output_format(out, fmt)
    if opts.max_chars < 1:
        raise BatchError(f"--max-chars must be at least 1, not {opts.max_chars}")
    check_keep_fields(opts, fmt)
    cores = usable_cores()
    workers = cores if workers is None else workers
    if workers < 0:
        raise BatchError(f"--workers must be 0 (in this process) or more, not {workers}")
    threads = threads or max(1, cores // max(1, workers))
    mark = fingerprint(sources, fmt, opts, model, precision)
    state = prepare_output(out, mark, overwrite, sources, fmt, opts.encoding)
    total = Figures(**{k: state[k] for k in FIGURES}) if state else Figures()
    stats = Stats(total=total, resumed=state is not None, workers=workers, threads=threads)
    if state and state["done"]:
        log.info("%s is already complete (%d records); nothing to do", out, state["records"])
        return stats
    source, cursor = (state["source"], Cursor(*state["cursor"])) if state else (0, Cursor())
    writer = WRITERS[fmt](out, state["output"] if state else None)
    options = {"precision": precision, "threads": threads, "batch_size": batch_size}
    pool: ProcessPoolExecutor | InProcess
    if make_pool is not None:
        pool = make_pool(workers, model, options)
    elif workers == 0:
        pool = InProcess(model, options)
    else:
        import multiprocessing

        # spawn: a fresh interpreter per worker, never a fork of a process with threads and open sessions
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(model, options, os.getpid()))
    bar = progress_bar(sum(s.path.stat().st_size for s in sources), progress)
    pending: collections.deque[tuple[Chunk, Future]] = collections.deque()
    t0 = time.perf_counter()

    def commit(chunk: Chunk, found: list[list[dict]]) -> None:
        writer.write(chunk.records, found)
        stats.add(len(chunk.records), chunk.skipped, sum(len(f) for f in found), chunk.chars)
        save_progress(progress_path(out), {
            "version": PROGRESS_VERSION, "fingerprint": mark, "source": chunk.source,
            "cursor": [chunk.cursor.offset, chunk.cursor.ordinal, chunk.cursor.line], **stats.total.to_dict(),
            "output": writer.commit(), "done": False})
        if bar is not None:
            bar.update(chunk.done_bytes - bar.n)
            rate = stats.this_run.chars / max(1e-9, time.perf_counter() - t0)
            bar.set_postfix_str(f"{stats.records:,} records, {rate / 1000:.1f}k chars/s", refresh=False)

    try:
        try:
            for chunk in read_chunks(sources, source, cursor, opts, strict, chunk_chars=chunk_chars):
                pending.append((chunk, pool.submit(_annotate, [r.text for r in chunk.records])))
                while len(pending) > 2 * max(1, workers):  # bounded: at most two chunks per worker in flight
                    done, fut = pending.popleft()
                    commit(done, fut.result())
        except StrictStop:
            while pending:  # strict stop: keep what was read before the bad record
                done, fut = pending.popleft()
                commit(done, fut.result())
            raise
        while pending:
            done, fut = pending.popleft()
            commit(done, fut.result())
        writer.finish()
        writer.close()
        stats.seconds = time.perf_counter() - t0
        save_progress(progress_path(out), {"version": PROGRESS_VERSION, "fingerprint": mark, "done": True,
                                            **stats.total.to_dict(), "output": file_mark(out)})
    except BrokenProcessPool as exc:  # the chunks it held were never committed: resuming writes them once
        why = str(exc) if isinstance(exc, WorkerDied) else "a worker died (killed, or out of memory)"
        raise BatchError(f"{why}; the {stats.records} records before its chunk are written: run the same command "
                         f"again to resume") from None
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)
        writer.close()
        if bar is not None:
            bar.close()
    return stats
