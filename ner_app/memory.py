"""The server process's memory: what one long text takes goes back to the system once it is answered.

A server that recognizes texts of 1 to 100,000 characters for hours kept, with glibc's and ONNX Runtime's
defaults, the peak of every unlucky moment: ONNX Runtime's arena never gives back what the largest run took
(see :func:`ner.session.create_session`), glibc raises its mmap threshold after each large free so later
large buffers fill its heap, and the freed middle of a heap stays resident.  Measured with
``python -m ner.bench.soak`` (issue 26): RSS grew 10% over 12 minutes after warm-up with the defaults and
kept a level ~250 MiB above what the same traffic needs (figures in the README).

:func:`tune_allocator` (before the server's threads start) caps glibc's arenas and fixes its mmap threshold;
:class:`Trimmer` hands the free pages in the middle of glibc's heaps back every ``NER_MALLOC_TRIM_S`` seconds.
Elsewhere than glibc (musl, macOS) both do nothing.
"""
from __future__ import annotations

import ctypes
import logging
import threading
import time

log = logging.getLogger(__name__)

#: mallopt parameters (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: buffers this large are mapped on their own and unmapped when freed (fixed: glibc's own threshold rises
#: to the largest buffer freed, up to 32 MiB, and every later buffer below it fills the heap)
MMAP_THRESHOLD = 256 * 1024


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc
        return None


def tune_allocator(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` (like ``MALLOC_ARENA_MAX``) and fix its mmap threshold.

    glibc gives each thread that allocates its own arena, so a threadpool serving many concurrent requests
    grows resident memory far beyond what it uses (measured: +40% over 30 s of 20 clients, +8% with the cap).
    Call before the server's threads start (and before pyarrow's first allocation).  False where the C library is not glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.mallopt(M_ARENA_MAX, arenas)
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    try:  # Gradio's pandas loads pyarrow, whose own jemalloc pool no trim reaches
        import pyarrow
    except ImportError:
        pass
    else:
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    return True


class Trimmer:
    """A daemon thread that calls glibc's ``malloc_trim(0)`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, interval: float):
        self.interval = interval
        self._stopped = threading.Event()
        self._libc = _libc()
        self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)

    def start(self) -> Trimmer:
        if self._libc is not None and self.interval > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def trim(self) -> float:
        """One trim; the seconds it took."""
        t = time.perf_counter()
        self._libc.malloc_trim(0)
        return time.perf_counter() - t

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            log.debug("malloc_trim took %.1f ms", 1000 * self.trim())
