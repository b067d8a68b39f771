"""Load test: N concurrent clients for T seconds against ``POST /api/v1/ner`` and the Gradio ``/extract``.

    python -m ner.bench.load --clients 20 --seconds 60          # starts app.py on a free loopback port
    python -m ner.bench.load --url http://127.0.0.1:7860 --pid 1234 --clients 8 --seconds 20

Loopback only, bounded in requests (--max-requests) and time (--seconds).  Texts
mix short sentences and long documents, each one distinct; every response is
compared with the entities of the same text recognized alone (sequentially,
before the load), so batching can never hand a caller someone else's result.
Prints throughput, p50/p95/p99 latency, errors, mismatches and the server's RSS
before the load, after warm-up and at the end (growth after warm-up in %).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

import httpx

from ner.commands import add_model
from ner.samples import MIXED, NEWS, POST, REPORT, SEED

from .api import rss_mib
from .launch import running_server

NAMES = ["王建国", "李晓明", "陈静", "赵立新", "刘洋", "孙丽", "周杰", "吴敏", "郑强", "黄磊"]
PLACES = ["南京", "重庆", "西安", "拉萨", "厦门", "哈尔滨", "昆明", "青岛", "苏州", "兰州"]


def make_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct texts: two thirds short sentences, one third long documents (1-6k characters)."""
    rng = random.Random(seed)
    base = [SEED, NEWS, REPORT, POST, MIXED]
    texts = []
    for i in range(n):
        intro = f"{rng.choice(NAMES)}昨天从{rng.choice(PLACES)}出发，第{i}次前往{rng.choice(PLACES)}。"
        if i % 3 == 2:
            body = "".join(rng.choice(base) for _ in range(rng.randint(4, 25)))
            texts.append(intro + body)
        else:
            texts.append(intro + rng.choice(base)[: rng.randint(10, 120)])
    return texts


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def canon(entities: list[dict]) -> list[tuple]:
    return [(e["text"], e["type"], e["start"], e["end"]) for e in entities]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {"rest": [], "extract": []}
        self.errors: list[str] = []
        self.mismatches: list[str] = []
        self.requests = 0

    def add(self, kind: str, seconds: float, error: str | None = None, mismatch: str | None = None):
        with self.lock:
            self.requests += 1
            if error:
                self.errors.append(error)
            else:
                self.latencies[kind].append(seconds)
            if mismatch:
                self.mismatches.append(mismatch)


def client_loop(url: str, texts: list[str], reference: dict[int, list], stats: Stats, deadline: float,
                budget: threading.Semaphore, seed: int, use_gradio: bool) -> None:
    rng = random.Random(seed)
    gclient = None
    if use_gradio:
        from gradio_client import Client

        gclient = Client(url, verbose=False)
    with httpx.Client(timeout=60) as http:
        while time.monotonic() < deadline and budget.acquire(blocking=False):
            i = rng.randrange(len(texts))
            kind = "extract" if gclient and rng.random() < 0.3 else "rest"
            t0 = time.perf_counter()
            try:
                if kind == "rest":
                    r = http.post(f"{url}/api/v1/ner", json={"text": texts[i]})
                    if r.status_code != 200:
                        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
                    entities = r.json()["entities"]
                else:
                    assert gclient is not None  # use_gradio made one
                    entities = gclient.predict(texts[i], api_name="/extract")["entities"]
            except Exception as exc:  # counted and reported, the load goes on
                stats.add(kind, 0.0, error=f"{kind}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            dt = time.perf_counter() - t0
            got = canon(entities)
            stats.add(kind, dt, mismatch=None if got == reference[i] else f"text {i} via {kind}")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] * 1000 if xs else float("nan")


def run(url: str, pid: int | None, clients: int, seconds: float, max_requests: int, n_texts: int,
        use_gradio: bool, warmup_s: float = 20.0) -> dict:
    if not is_loopback(url):
        raise SystemExit(f"refusing to load {url}: this load test only targets loopback addresses")
    texts = make_texts(n_texts)
    rss_start = rss_mib(pid) if pid else None
    reference = {}
    with httpx.Client(timeout=120) as http:
        for i, t in enumerate(texts):  # each text recognized alone, before any concurrency
            r = http.post(f"{url}/api/v1/ner", json={"text": t})
            r.raise_for_status()
            reference[i] = canon(r.json()["entities"])
    # warm-up: the same load for warmup_s seconds, then the baseline memory
    warm = Stats()
    burst = threading.Semaphore(max_requests)
    threads = [threading.Thread(target=client_loop, args=(url, texts, reference, warm, time.monotonic() + warmup_s,
                                                          burst, 1000 + k, use_gradio)) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rss_warm = rss_mib(pid) if pid else None
    stats = Stats()
    budget = threading.Semaphore(max_requests)
    deadline = time.monotonic() + seconds
    t0 = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(url, texts, reference, stats, deadline, budget, k,
                                                          use_gradio)) for k in range(clients)]
    for th in threads:
        th.start()
    samples = []
    while any(t.is_alive() for t in threads):  # memory every 10 s, to see whether it levels off
        time.sleep(min(10.0, max(0.1, deadline - time.monotonic())))
        if pid:
            samples.append(round(rss_mib(pid) or 0, 1))
    for th in threads:
        th.join()
    elapsed = time.monotonic() - t0
    rss_end = rss_mib(pid) if pid else None
    all_lat = stats.latencies["rest"] + stats.latencies["extract"]
    out = {
        "clients": clients, "seconds": round(elapsed, 1), "requests": stats.requests,
        "throughput_rps": round(stats.requests / elapsed, 1),
        "chars_per_request_mean": round(statistics.mean(map(len, texts))),
        "errors": len(stats.errors) + len(warm.errors), "mismatches": len(stats.mismatches) + len(warm.mismatches),
        "p50_ms": round(pct(all_lat, 0.5), 1), "p95_ms": round(pct(all_lat, 0.95), 1),
        "p99_ms": round(pct(all_lat, 0.99), 1),
        "by_endpoint": {k: {"requests": len(v), "p50_ms": round(pct(v, 0.5), 1), "p95_ms": round(pct(v, 0.95), 1)}
                        for k, v in stats.latencies.items()},
        "rss_mib": {"start": rss_start, "after_warmup": rss_warm, "end": rss_end, "every_10s": samples},
        "warmup_s": warmup_s, "warmup_requests": warm.requests,
        "error_samples": (warm.errors + stats.errors)[:5], "mismatch_samples": (warm.mismatches + stats.mismatches)[:5],
    }
    if rss_warm and rss_end:
        out["rss_growth_after_warmup_pct"] = round(100 * (rss_end - rss_warm) / rss_warm, 2)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server (loopback only); default: start app.py on a free port")
    ap.add_argument("--pid", type=int, help="the server's process id, for its RSS (with --url)")
    add_model(ap, help="NER_MODEL for the server this command starts")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-requests", type=int, default=20_000)
    ap.add_argument("--texts", type=int, default=60)
    ap.add_argument("--warmup", type=float, default=20, help="seconds of the same load before the memory baseline")
    ap.add_argument("--no-gradio", action="store_true", help="REST only (skip the gradio_client /extract calls)")
    args = ap.parse_args(argv)
    if args.url:
        res = run(args.url, args.pid, args.clients, args.seconds, args.max_requests, args.texts, not args.no_gradio,
                  args.warmup)
    else:
        with running_server(args.model) as (url, proc):
            res = run(url, proc.pid, args.clients, args.seconds, args.max_requests, args.texts, not args.no_gradio,
                      args.warmup)
    print(json.dumps(res, ensure_ascii=False, indent=1))
    return 0 if res["errors"] == 0 and res["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
