"""ONNX Runtime settings per input size: the forward pass alone, each setting against the default, interleaved.

    python -m ner.bench.session [--model DIR] [--lengths 20 100 500] [--repeats 200] [--rounds 5] [--json]

For each input length, the recognizer's own feeds (ids, bigrams, lexicon features, as
``Recognizer.forward`` builds them for one text) go through sessions that differ in one
setting from the default of :func:`ner.session.create_session`: intra-op threads 1 and 2,
idle threads spinning, and I/O binding (inputs and output bound to CPU buffers, run with
``run_with_iobinding``).  Each round times every session ``--repeats`` times in turn; the
figure is the median over rounds of each session's median call, and ``ratio`` is that
over the default's (below 1: faster).  Run it on a quiet machine: threads and spinning
compete for the cores with whatever else runs.  Also prints the features' share.
"""
from __future__ import annotations

from . import median_ms, run_micro
import statistics
from typing import Any, Callable

import numpy as np


def _feeds(rec, text: str) -> list[dict[str, np.ndarray]]:
    """The inputs ``rec`` gives its session for ``text``, one dict per batch, captured from a real call."""
    captured: list[dict[str, np.ndarray]] = []
    engine = rec.engine

    class Recorder:
        session = engine.session

        def run(self, feeds):
            captured.append(dict(feeds))
            return engine.run(feeds)

    rec.engine = Recorder()
    try:
        encs, windows = rec.preprocess([text])
        rec.forward(encs, windows)
    finally:
        rec.engine = engine
    return captured


def _bound(session, feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
    """A call running ``feeds`` through ``session`` with I/O binding (output preallocated on the CPU)."""
    binding = session.io_binding()
    for name, value in feeds.items():
        binding.bind_cpu_input(name, value)
    out = session.get_outputs()[0].name
    shape = session.run(None, feeds)[0].shape
    result = np.empty(shape, dtype=np.float32)
    binding.bind_output(out, "cpu", 0, np.float32, list(shape), result.ctypes.data)

    def call():
        session.run_with_iobinding(binding)
        return result
    return call


def _calls(rec, sessions: dict[str, Any], text: str) -> tuple[dict[str, Callable[[], Any]], int]:
    """What to time for ``text``: each session's runs of its batches, I/O binding, the features, the forward."""
    batches = _feeds(rec, text)

    def plain(session) -> Callable[[], Any]:
        return lambda: [session.run(None, f) for f in batches]

    calls = {name: plain(s) for name, s in sessions.items()}
    bound = [_bound(next(iter(sessions.values())), f) for f in batches]
    calls["io binding"] = lambda: [b() for b in bound]
    encs, windows = rec.preprocess([text])
    rows = [encs[w.text].ids[w.start : w.end] for w in windows]
    shapes = [encs[w.text].shape[w.start : w.end] for w in windows] if rec.featurize.shape else None
    calls["features only"] = lambda: rec.featurize.joined(rows, shapes)
    calls["forward (features + run)"] = lambda: rec.forward(encs, windows)
    return calls, len(windows)


def measure(model: str | None, lengths: list[int], repeats: int, rounds: int) -> list[dict]:
    import ner
    from ner.samples import text_of_length
    from ner.session import create_session, default_threads

    rec = ner.load(model)
    default = default_threads()
    variants: dict[str, dict[str, Any]] = {f"default ({default} threads, no spinning)": {}, "threads=1": {"threads": 1},
                                           "threads=2": {"threads": 2}, "spinning": {"spinning": True}}
    sessions = {name: create_session(rec.model_path, **opts) for name, opts in variants.items()}
    results = []
    for n in lengths:
        calls, n_windows = _calls(rec, sessions, text_of_length(n))
        for call in calls.values():
            call()
        per: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                per[name].append(median_ms(call, repeats))
        ms = {name: statistics.median(v) for name, v in per.items()}
        base = ms[next(iter(sessions))]
        results.append({"chars": n, "windows": n_windows,
                        "ms": {k: round(v, 3) for k, v in ms.items()},
                        "ratio": {k: round(v / base, 2) for k, v in ms.items()}})
    return results


def show(r: dict) -> None:
    print(f"{r['chars']} characters, {r['windows']} window(s):")
    for name, v in r["ms"].items():
        print(f"  {name:34s} {v:8.3f} ms   x{r['ratio'][name]:.2f}")


def main(argv=None) -> None:
    run_micro(__doc__, [20, 100, 500], measure, show, argv)

if __name__ == "__main__":
    main()
