"""The one place an ONNX Runtime session is built: providers, threads and graph optimisation."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

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
