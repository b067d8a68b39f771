"""Latency of ``POST /api/v1/ner`` and the server's memory: sequential requests, bounded in count and time.

    python -m ner.bench.api                      # starts app.py on a free loopback port ($NER_MODEL)
    python -m ner.bench.api --model /tmp/smoke_model --requests 200
    python -m ner.bench.api --url http://127.0.0.1:7860 --pid 1234

Prints the time from process start to the first answered request, p50/p95 latency
of a 500-character text, and the server's resident memory (VmRSS) after the requests.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import httpx

from ner.commands import add_model
from ner.samples import text_of_length

from .launch import running_server

WARMUP = 5


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, from /proc (None where that is not readable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run(url: str, pid: int | None, requests: int, chars: int, budget_s: float) -> dict:
    """Send ``requests`` sequential requests (stopping early after ``budget_s``); returns the figures."""
    text = text_of_length(chars)
    latencies: list[float] = []
    deadline = time.monotonic() + budget_s
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(WARMUP):
            client.post("/api/v1/ner", json={"text": text}).raise_for_status()
        entities = 0
        while len(latencies) < requests and time.monotonic() < deadline:
            t = time.perf_counter()
            r = client.post("/api/v1/ner", json={"text": text})
            latencies.append(time.perf_counter() - t)
            r.raise_for_status()
            entities = len(r.json()["entities"])
    ms = sorted(1000 * x for x in latencies)
    return {"requests": len(ms), "chars": len(text), "entities": entities,
            "p50_ms": statistics.median(ms), "p95_ms": ms[max(0, round(0.95 * len(ms)) - 1)],
            "mean_ms": statistics.fmean(ms), "max_ms": ms[-1],
            "rss_mib": rss_mib(pid) if pid else None}


def report(figures: dict, first_s: float | None) -> None:
    if first_s is not None:
        print(f"first request answered {first_s:.2f} s after process start")
    print(f"{figures['requests']} sequential POST /api/v1/ner, {figures['chars']} chars "
          f"({figures['entities']} entities) each")
    print(f"latency ms: p50 {figures['p50_ms']:.1f}  p95 {figures['p95_ms']:.1f}  "
          f"mean {figures['mean_ms']:.1f}  max {figures['max_ms']:.1f}")
    rss = figures["rss_mib"]
    print(f"server RSS after the requests: {rss:.0f} MiB" if rss else "server RSS: unknown (pass --pid)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="benchmark a running server instead of starting one")
    ap.add_argument("--pid", type=int, help="with --url: the server's process id, for its memory")
    add_model(ap, help="model directory for the started server (default: $NER_MODEL or embedded)")
    ap.add_argument("--requests", type=int, default=200, help="timed requests (default 200, at most 2000)")
    ap.add_argument("--chars", type=int, default=500, help="characters per text (default 500)")
    ap.add_argument("--budget", type=float, default=120, help="stop sending after this many seconds (default 120)")
    args = ap.parse_args()
    requests = min(max(args.requests, 1), 2000)
    if args.url:
        report(run(args.url.rstrip("/"), args.pid, requests, args.chars, args.budget), None)
        return
    started = time.perf_counter()
    with running_server(args.model) as (url, proc):
        httpx.post(f"{url}/api/v1/ner", json={"text": text_of_length(args.chars)}, timeout=30).raise_for_status()
        first_s = time.perf_counter() - started
        report(run(url, proc.pid, requests, args.chars, args.budget), first_s)


if __name__ == "__main__":
    main()
