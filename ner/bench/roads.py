"""Every road in, measured on the real server: the same bad inputs on each road, many MCP calls at once, a flood
of queued client calls.

    python -m ner.bench.roads [--model DIR] [--mcp 100] [--queued 80]

Starts ``python app.py`` on a free loopback port and prints one JSON object:

* ``roads``: for each bad input, the status and message of REST, ``/call``, ``/call/v2``, ``/run``, ``/api``, the
  queue and MCP, whether they all agree, and the slowest answer in seconds;
* ``mcp``: ``--mcp`` concurrent ``extract_entities`` calls of about 340 characters: how many were answered with
  entities, the slowest, and a small REST request's time while they ran;
* ``queue``: ``--queued`` concurrent ``/call/extract`` of 20,000 characters from one client: how many the queue
  took (at most ``NER_QUEUE_SIZE``), how many got 503, and a small REST request's time meanwhile.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from ..commands import add_model
from .launch import running_server

SEED = "张三在北京清华大学任职。"
FIELDS = ("text", "min_score", "types", "offsets")
CASES: dict[str, list[Any]] = {
    "null text": [None], "a number for text": [123], "a list for text": [["张三"], 0.5],
    "an object for text": [{"a": 1}], "min_score 5": [SEED, 5], "an unknown type": [SEED, 0, ["XX"]],
    "bad offsets": [SEED, 0, None, "bytes"], "100,001 characters": ["张" * 100_001],
    "2,700,000 characters": ["张" * 2_700_000], "no text": [],
}


def _error(r: httpx.Response) -> tuple[int, str]:
    try:
        return r.status_code, r.json().get("error", "")
    except ValueError:
        return r.status_code, r.text[:80]


async def _mcp(url: str, arguments: dict) -> tuple[bool, str]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}/gradio_api/mcp/", timeout=120) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            result = await session.call_tool("extract_entities", arguments)
            return bool(result.isError), getattr(result.content[0], "text", "")


def roads(url: str) -> dict:
    config = httpx.get(f"{url}/config", timeout=30).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "extract")
    out = {}
    with httpx.Client(base_url=url, timeout=300) as c:
        for case, data in CASES.items():
            started = time.perf_counter()
            answers: dict[str, tuple[int, str]] = {}
            rest_body = {"text": data[0], **dict(zip(FIELDS[1:], data[1:]))} if data else {}
            answers["rest"] = _error(c.post("/api/v1/ner", json=rest_body))
            for road in ("call", "run", "api"):
                answers[road] = _error(c.post(f"/gradio_api/{road}/extract", json={"data": data}))
            answers["call/v2"] = _error(c.post("/gradio_api/call/v2/extract", json=dict(zip(FIELDS, data))))
            answers["queue"] = _error(c.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                                                                              "session_hash": "bench"}))
            if len(json.dumps(dict(zip(FIELDS, data)))) < 8_000_000:
                error, text = asyncio.run(_mcp(url, dict(zip(FIELDS, data))))
                answers["mcp"] = (0 if error else 200, text)
            # REST's body for "no text" is another request ({}): it answers in its own words
            http = {v for k, v in answers.items() if k != "mcp" and (k != "rest" or data)}
            messages = {v[1] for k, v in answers.items() if k != "rest" or data}
            out[case] = {"statuses": {k: v[0] for k, v in answers.items()},
                         "same": len(http) == 1 and len(messages) == 1,
                         "message": next(iter(messages))[:90], "seconds": round(time.perf_counter() - started, 2)}
    return out


def _small_rest(url: str) -> float:
    started = time.perf_counter()
    r = httpx.post(f"{url}/api/v1/ner", json={"text": SEED}, timeout=60)
    r.raise_for_status()
    return time.perf_counter() - started


def mcp_flood(url: str, n: int) -> dict:
    text = SEED * 28

    async def flood():
        started = time.perf_counter()

        async def one(k: int):
            error, answer = await _mcp(url, {"text": "我" * k + text})
            return error, answer, time.perf_counter() - started

        return await asyncio.gather(*(one(k) for k in range(n)), return_exceptions=True)

    with ThreadPoolExecutor(1) as pool:
        results_future = pool.submit(lambda: asyncio.run(flood()))
        time.sleep(1.0)
        small = _small_rest(url)
        results = results_future.result()
    answered = [r for r in results if not isinstance(r, BaseException) and not r[0]
                and json.loads(r[1])["entities"]]
    return {"calls": n, "answered_with_entities": len(answered),
            "slowest_s": round(max((r[2] for r in answered), default=0.0), 2),
            "small_rest_meanwhile_s": round(small, 3)}


def queue_flood(url: str, n: int) -> dict:
    text = "张三在北京。" * 3_333
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(httpx.post, f"{url}/gradio_api/call/extract", json={"data": [text]}, timeout=120)
                   for _ in range(n)]
        time.sleep(0.5)
        small = _small_rest(url)
        statuses = [f.result().status_code for f in futures]
    return {"calls": n, "taken": statuses.count(200), "refused_503": statuses.count(503),
            "small_rest_meanwhile_s": round(small, 3)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ner.bench.roads", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model(ap, os.environ)
    ap.add_argument("--mcp", type=int, default=100, help="concurrent MCP calls (default: 100)")
    ap.add_argument("--queued", type=int, default=80, help="concurrent /call/extract of one client (default: 80)")
    args = ap.parse_args(argv)
    with running_server(args.model, timeout=180) as (url, _proc):
        report: dict[str, Any] = {"roads": roads(url), "mcp": mcp_flood(url, args.mcp), "queue": queue_flood(url, args.queued)}
    report["load_average"] = os.getloadavg()
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
