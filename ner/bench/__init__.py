"""Benchmarks that print figures: engine latency and memory (``python -m ner.bench``), RaNER-sized models."""


def micro_args(doc: str | None, lengths: list[int], argv=None):
    """The options every microbenchmark of one engine stage takes: model, text lengths, repeats, rounds, --json."""
    import argparse

    from ..commands import add_model

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model(ap, help="model directory (default: $NER_MODEL or the embedded model)")
    ap.add_argument("--lengths", type=int, nargs="+", default=lengths)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args(argv)


def run_micro(doc: str | None, lengths: list[int], measure, show, argv=None) -> None:
    """A stage microbenchmark's command: ``measure(model, lengths, repeats, rounds)``, then one JSON line
    (``--json``) or ``show(result)`` for each result."""
    import json

    args = micro_args(doc, lengths, argv)
    results = measure(args.model, args.lengths, args.repeats, args.rounds)
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        show(r)


def median_ms(call, repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``call()``, in milliseconds."""
    import statistics
    import time

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3
