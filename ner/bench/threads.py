"""How the engine shares ONNX Runtime's threads: each mode under 1, 2 and 8 concurrent callers, interleaved.

    python -m ner.bench.threads [--model DIR] [--lengths 100 500] [--callers 1 2 8] [--seconds 1.5] [--rounds 3]

Modes: ``engine`` (:class:`ner.session.Engine`: a spinning session while the engine is otherwise
idle on a quiet machine, one of half the threads under a burst of callers, a sleeping one on a
crowded machine), ``sleeping`` (every caller on one session whose threads sleep when idle: issue
22's engine, the baseline of the ratios), ``spinning`` (every caller on one spinning session) and
``one thread`` (every caller on a one-thread session). Every caller thread calls ``recognize`` on
the same text for ``--seconds``; each round runs every mode in turn, and the figure is the median
over rounds: throughput in characters per second and the median call. The same entities come out of
every mode (checked). Also prints the resident memory the engine's other two sessions (sleeping,
half) cost.
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any



def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def engines(rec, threads: int) -> tuple[dict, float]:
    """Every mode's engine for ``rec``'s model, and the resident MB the engine's other two sessions (sleeping, half) cost."""
    from ner.session import Engine, create_engine, create_session

    path = rec.model_path
    built: dict = {"engine": create_engine(path, threads=threads)}
    before = _rss_mb()
    built["engine"].prepare()
    others_mb = _rss_mb() - before
    built["sleeping"] = Engine(create_session(path, threads=threads))
    built["spinning"] = Engine(create_session(path, threads=threads, spinning=True))
    built["one thread"] = Engine(create_session(path, threads=1))
    return built, others_mb


def hammer(rec, text: str, callers: int, seconds: float) -> tuple[float, float]:
    """``callers`` threads calling ``rec.recognize(text)`` for ``seconds``: chars/s and the median call (ms)."""
    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(callers + 1)
    stop = time.perf_counter() + seconds + 0.05

    def caller():
        mine = []
        start.wait()
        while time.perf_counter() < stop:
            t = time.perf_counter()
            rec.recognize(text)
            mine.append(time.perf_counter() - t)
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for th in threads:
        th.start()
    t0 = time.perf_counter()
    start.wait()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return len(times) * len(text) / wall, statistics.median(times) * 1000


def measure(model: str | None, lengths: list[int], callers: list[int], seconds: float, rounds: int) -> dict:
    import ner
    from ner.samples import text_of_length
    from ner.session import default_threads

    rec = ner.load(model)
    built, others_mb = engines(rec, default_threads())
    original = rec.engine
    out: dict = {"threads": default_threads(), "other_sessions_mb": round(others_mb, 1), "results": []}
    try:
        for n in lengths:
            text = text_of_length(n)
            want = None
            for name, engine in built.items():  # warm up, and the same answer from each
                rec.engine = engine
                got = [rec.recognize(text) for _ in range(3)][-1]
                want = want or got
                if got != want:
                    raise SystemExit(f"error: mode {name} gives different entities for {n} characters")
            for k in callers:
                per: dict[str, list[tuple[float, float]]] = {name: [] for name in built}
                for _ in range(rounds):
                    for name, engine in built.items():
                        rec.engine = engine
                        per[name].append(hammer(rec, text, k, seconds))
                row: dict[str, Any] = {"chars": n, "callers": k, "modes": {}}
                for name, figs in per.items():
                    row["modes"][name] = {"chars_per_s": round(statistics.median(f[0] for f in figs)),
                                          "median_ms": round(statistics.median(f[1] for f in figs), 2)}
                out["results"].append(row)
    finally:
        rec.engine = original
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 500])
    ap.add_argument("--callers", type=int, nargs="+", default=[1, 2, 8])
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = measure(args.model, args.lengths, args.callers, args.seconds, args.rounds)
    if args.json:
        print(json.dumps(res))
        return
    print(f"{res['threads']} threads; the engine's sleeping and half sessions cost {res['other_sessions_mb']:.1f} MB "
          "resident")
    for row in res["results"]:
        base = row["modes"]["sleeping"]["chars_per_s"]
        print(f"{row['chars']:>5} chars, {row['callers']} caller(s):")
        for name, v in row["modes"].items():
            print(f"  {name:14s} {v['chars_per_s']:>9,} chars/s  x{v['chars_per_s'] / base:.2f}   "
                  f"median call {v['median_ms']:.2f} ms")


if __name__ == "__main__":
    main()
