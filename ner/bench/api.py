"""Latency of ``POST /api/v1/ner`` and the server's memory: sequential requests, bounded in count and time.

    python -m ner.bench.api                      # starts app.py on a free loopback port ($NER_MODEL)
    python -m ner.bench.api --model /tmp/smoke_model --requests 200
    python -m ner.bench.api --url http://127.0.0.1:7860 --pid 1234

Prints the time from process start to the first answered request, p50/p95 latency
of a 500-character text, and the server's resident memory (VmRSS) after the requests.

Where the time goes, in the same interleaved run (each round: one request, the same text
recognized in this process with the same model, one ``GET /healthz``): the server's p50
against the in-process p50 (the bar: within 2 ms), and ``/healthz`` as the floor every
request pays for HTTP, the client and the server's middleware.  ``--no-compare`` skips both.
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


def run(url: str, pid: int | None, requests: int, chars: int, budget_s: float, model: str | None = None,
        compare: bool = True) -> dict:
    """Send ``requests`` sequential requests (stopping early after ``budget_s``); returns the figures.

    With ``compare``, each request is followed by the same text recognized in this process (``model``)
    and a ``GET /healthz``, in alternating order, for the in-process p50 and the HTTP floor."""
    text = text_of_length(chars)
    latencies: list[float] = []
    local: list[float] = []
    floor: list[float] = []
    rec = None
    if compare:
        import ner

        rec = ner.load(model)
    deadline = time.monotonic() + budget_s
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(WARMUP):
            client.post("/api/v1/ner", json={"text": text}).raise_for_status()
            if rec is not None:
                rec.recognize(text)
        entities = 0

        def request() -> None:
            nonlocal entities
            t = time.perf_counter()
            r = client.post("/api/v1/ner", json={"text": text})
            latencies.append(time.perf_counter() - t)
            r.raise_for_status()
            entities = len(r.json()["entities"])

        def in_process() -> None:
            assert rec is not None
            t = time.perf_counter()
            rec.recognize(text)
            local.append(time.perf_counter() - t)

        def health() -> None:
            t = time.perf_counter()
            client.get("/healthz").raise_for_status()
            floor.append(time.perf_counter() - t)

        steps = [request, in_process, health] if rec is not None else [request]
        while len(latencies) < requests and time.monotonic() < deadline:
            for step in steps:
                step()
            steps.reverse()
    ms = sorted(1000 * x for x in latencies)
    out = {"requests": len(ms), "chars": len(text), "entities": entities,
           "p50_ms": statistics.median(ms), "p95_ms": ms[max(0, round(0.95 * len(ms)) - 1)],
           "mean_ms": statistics.fmean(ms), "max_ms": ms[-1],
           "rss_mib": rss_mib(pid) if pid else None}
    if local:
        out["in_process_p50_ms"] = statistics.median(local) * 1000
        out["healthz_p50_ms"] = statistics.median(floor) * 1000
    return out


def report(figures: dict, first_s: float | None) -> None:
    if first_s is not None:
        print(f"first request answered {first_s:.2f} s after process start")
    print(f"{figures['requests']} sequential POST /api/v1/ner, {figures['chars']} chars "
          f"({figures['entities']} entities) each")
    print(f"latency ms: p50 {figures['p50_ms']:.1f}  p95 {figures['p95_ms']:.1f}  "
          f"mean {figures['mean_ms']:.1f}  max {figures['max_ms']:.1f}")
    if "in_process_p50_ms" in figures:
        print(f"in-process p50 {figures['in_process_p50_ms']:.1f} ms: the server adds "
              f"{figures['p50_ms'] - figures['in_process_p50_ms']:+.1f} ms at p50 (bar: within 2 ms); "
              f"GET /healthz p50 {figures['healthz_p50_ms']:.1f} ms (HTTP, client and middleware alone)")
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
    ap.add_argument("--no-compare", action="store_true",
                    help="skip the in-process and /healthz figures (no model is loaded in this process)")
    args = ap.parse_args()
    requests = min(max(args.requests, 1), 2000)
    compare = not args.no_compare
    if args.url:
        report(run(args.url.rstrip("/"), args.pid, requests, args.chars, args.budget, args.model, compare), None)
        return
    started = time.perf_counter()
    with running_server(args.model) as (url, proc):
        httpx.post(f"{url}/api/v1/ner", json={"text": text_of_length(args.chars)}, timeout=30).raise_for_status()
        first_s = time.perf_counter() - started
        report(run(url, proc.pid, requests, args.chars, args.budget, args.model, compare), first_s)


if __name__ == "__main__":
    main()
