"""Benchmark the Ray Serve replicas of the REST API (:mod:`ner_app.serve`): throughput with 1 and 2 replicas.

    python -m ner.bench.serve [--requests 300] [--clients 8] [--replicas 1 2]

Starts a local Ray instance (loopback only, no dashboard, no usage report; the proxy guarded), deploys the
REST API with each replica count in turn, and sends ``--requests`` concurrent
``POST /api/v1/ner`` of a 500-character text from ``--clients`` threads; every
answer is checked against the in-process result.  Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

import ner
from ner.samples import text_of_length

from .launch import free_port


def measure(url: str, texts: list[str], want: list[list[dict]], clients: int) -> dict:
    def ask(i: int) -> bool:
        r = httpx.post(f"{url}/api/v1/ner", json={"text": texts[i]}, timeout=120)
        return r.status_code == 200 and r.json()["entities"] == want[i]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        ok = list(pool.map(ask, range(len(texts))))
    seconds = time.perf_counter() - t0
    return {"requests": len(texts), "errors_or_mismatches": ok.count(False), "seconds": round(seconds, 2),
            "requests_per_s": round(len(texts) / seconds, 1),
            "chars_per_s": round(sum(map(len, texts)) / seconds)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ner.bench.serve", description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--chars", type=int, default=500)
    args = ap.parse_args(argv)
    from ray import serve

    from ner.batch.ray import init_ray
    from ner_app.serve import PROXY_CALLBACK, build

    os.environ.setdefault("RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH", PROXY_CALLBACK)  # the proxy gets the guard

    base = text_of_length(args.chars * 4)
    texts = [base[i % args.chars:][: args.chars] for i in range(args.requests)]
    # what the replicas serve: NER_MODEL's model, read by their Settings
    want = [[e.to_dict() for e in ents] for ents in ner.load(os.environ.get("NER_MODEL") or None).recognize_batch(texts)]
    ray = init_ray(num_cpus=os.cpu_count(), log_to_driver=False, configure_logging=False)  # loopback only
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    report: dict = {"cpus": os.cpu_count(), "clients": args.clients, "chars_per_request": args.chars}
    try:
        for n in args.replicas:
            serve.run(build({"replicas": str(n)}), name="ner", route_prefix="/")
            url = f"http://127.0.0.1:{port}"
            measure(url, texts[: 4 * args.clients], want, args.clients)  # warm every replica
            report[f"{n} replica(s)"] = measure(url, texts, want, args.clients)
            serve.delete("ner")
    finally:
        serve.shutdown()
        ray.shutdown()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
