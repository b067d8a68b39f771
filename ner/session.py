"""The one place an ONNX Runtime session is built: providers, threads and graph optimisation."""
from __future__ import annotations

import logging
import os
from pathlib import Path

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
    ``spinning`` lets idle intra-op threads busy-wait for the next piece of work
    (see below for why it is off by default; ``python -m ner.bench.session`` measures it).
    Sessions are thread-safe for ``run``: build one per model and share it.
    """
    if optimization not in OPT_LEVELS:
        raise ValueError(f"optimization must be one of {sorted(OPT_LEVELS)}, not {optimization!r}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = OPT_LEVELS[optimization]
    # Idle pool threads sleep instead of spinning: on a small machine shared with other work (and with two
    # engine calls at once behind the server) spinning steals the cores the next call needs.  Measured
    # interleaved on this 2-core machine under load: 100 / 500 / 5,000 characters 52 / 148 / 466 ms against
    # 77 / 159 / 562 ms spinning, batched throughput 18.5k against 13.6k chars/s; results identical.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
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
