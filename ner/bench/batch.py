"""Benchmark ``ner batch``: throughput, scaling with worker processes, and the memory of all its processes.

    python -m ner.bench.batch --make work/corpus.jsonl --mb 200      # a JSONL corpus from the sample texts
    python -m ner.bench.batch work/corpus.jsonl --prefix-mb 10       # scaling on the first 10 MB
    python -m ner.bench.batch work/corpus.jsonl --full               # the default configuration on all of it

Each configuration runs ``python -m ner.batch`` as its own process tree; the peak
RSS is the largest sum over that tree (parent, workers, helpers), sampled every
0.2 s from /proc.  Throughput is the run's own characters per second (model
loading in the workers included).  A command that prints figures, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ner import samples

#: (label, extra arguments of ``ner batch``): single-process configurations first.
CONFIGS = [("1 worker x 1 thread", ["--workers", "1", "--threads", "1"]),
           ("1 worker x 2 threads", ["--workers", "1", "--threads", "2"]),
           ("in-process, 2 threads", ["--workers", "0", "--threads", "2"]),
           ("2 workers x 1 thread", ["--workers", "2", "--threads", "1"]),
           ("default (all cores)", [])]
SINGLE_PROCESS = {"1 worker x 1 thread", "1 worker x 2 threads", "in-process, 2 threads"}


def make_corpus(path: Path, mb: float, seed: int = 0) -> dict:
    """A JSONL file of about ``mb`` megabytes: records of 1 to 12 sample sentences (20 to ~1,000 characters)."""
    base = samples.NEWS + samples.REPORT + samples.POST + samples.MIXED + samples.SEED
    sentences = [s for s in re.split(r"(?<=[。！？])", base) if s.strip()]
    rng = random.Random(seed)
    target, size, n = int(mb * 1e6), 0, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        while size < target:
            text = "".join(rng.choice(sentences) for _ in range(rng.randint(1, 12)))
            line = json.dumps({"id": f"doc-{n}", "text": text}, ensure_ascii=False) + "\n"
            fh.write(line)
            size += len(line.encode("utf-8"))
            n += 1
    return {"file": str(path), "records": n, "mb": round(size / 1e6, 1)}


def prefix(path: Path, mb: float, out: Path) -> Path:
    """The first ``mb`` megabytes of ``path``, cut at a line end."""
    target = int(mb * 1e6)
    with open(path, "rb") as src, open(out, "wb") as dst:
        size = 0
        for line in src:
            if size >= target:
                break
            dst.write(line)
            size += len(line)
    return out


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, in MB."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def run_config(corpus: Path, args: list[str], work: Path) -> dict:
    """One ``python -m ner.batch`` run: its stats line plus the peak RSS of its process tree."""
    out = work / "out.jsonl"
    cmd = [sys.executable, "-m", "ner.batch", str(corpus), "--out", str(out), "--overwrite", "--quiet", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    stats = json.loads(stdout.strip().splitlines()[-1])["this_run"]
    return {**stats, "wall_seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb_all_processes": round(peak[0])}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ner.bench.batch", description=__doc__.split("\n")[0])
    ap.add_argument("corpus", nargs="?", help="a JSONL corpus (make one with --make)")
    ap.add_argument("--make", metavar="FILE", help="write a JSONL corpus of --mb megabytes from the sample texts")
    ap.add_argument("--mb", type=float, default=200.0)
    ap.add_argument("--prefix-mb", type=float, default=10.0, help="measure scaling on this much of the corpus")
    ap.add_argument("--full", action="store_true", help="run only the default configuration, on the whole corpus")
    args = ap.parse_args(argv)
    if args.make:
        print(json.dumps(make_corpus(Path(args.make), args.mb)))
        return
    if not args.corpus:
        ap.error("give a corpus (or --make FILE)")
    corpus = Path(args.corpus)
    report: dict = {"cpus": os.cpu_count(), "corpus": str(corpus), "corpus_mb": round(corpus.stat().st_size / 1e6, 1)}
    with tempfile.TemporaryDirectory(prefix="ner-bench-batch-") as tmp:
        work = Path(tmp)
        if args.full:
            report["default (all cores)"] = run_config(corpus, [], work)
        else:
            part = prefix(corpus, args.prefix_mb, work / "prefix.jsonl")
            report["prefix_mb"] = round(part.stat().st_size / 1e6, 1)
            for label, extra in CONFIGS:
                report[label] = run_config(part, extra, work)
                print(f"{label:24} {report[label]['chars_per_s']:>9,} chars/s  "
                      f"peak RSS {report[label]['peak_rss_mb_all_processes']} MB", file=sys.stderr)
            one = report["1 worker x 1 thread"]["chars_per_s"]
            best_single = max(report[k]["chars_per_s"] for k in SINGLE_PROCESS)
            report["speedup_2x1_over_1x1"] = round(report["2 workers x 1 thread"]["chars_per_s"] / one, 2)
            report["default_over_best_single_process"] = round(
                report["default (all cores)"]["chars_per_s"] / best_single, 2)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
