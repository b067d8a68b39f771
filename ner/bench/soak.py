"""Soak benchmark: a long run of mixed traffic against ``python app.py``, every answer checked, memory sampled.

    python -m ner.bench.soak --minutes 30          # the soak (starts app.py on a free loopback port)
    python -m ner.bench.soak --minutes 1           # the CI-sized variant
    python -m ner.bench.soak --minutes 1 --batch   # plus the batch run killed with SIGKILL and resumed

Client threads send, at random, the page's own call (``/analyze`` as the button of a fresh tab does:
a new page session each time, its heartbeat stream open while the event runs, then closed), the client API (``/extract`` through gradio_client), the REST API (half of
the requests with a dictionary of their own) and the MCP tool (``extract_entities``) — texts
of 1 to 50,000 characters.  Every answer is compared with the entities of the same text (and
dictionary) recognized alone, sequentially, before the load.  The server's RSS is sampled
each minute (every ``minutes * 10`` seconds in runs under 6 minutes), under load.

Its growth is measured from the end of the warm-up (the first 5 minutes, a sixth of shorter runs) to
the end, two ways.  ``rss_growth_after_warmup_pct``: the sample under load at the warm-up's end
against the one just after the last answer (as in earlier soaks; under load a sample moves by
tens of MiB with the long texts in flight at that instant).  ``rss_growth_quiet_pct``: the
clients pause between requests at the warm-up's end and again at the end, and once every request
has been answered and ``--settle`` seconds have passed (longer than the server's
``NER_MALLOC_TRIM_S``, so free heap pages went back), the RSS is read: memory the server keeps,
in the same state both times.  The pause does not count in the soak's minutes.

``--batch``: ``ner-batch`` over a JSONL file, one worker killed with SIGKILL mid-chunk (the run
stops and says how to resume), then the whole command killed with SIGKILL mid-run, then resumed
to the end: every record must be in the output exactly once, in input order.

Loopback only, bounded in time.  Prints one JSON object; exits 1 on any error or mismatch.
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import json
import math
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from ner.commands import add_model
from ner.samples import MIXED, NEWS, POST, REPORT, SEED

from .api import rss_mib
from .load import NAMES, PLACES, canon, is_loopback, pct
from .launch import ROOT, running_server

KINDS = ("page", "client", "rest", "mcp")
LONGEST = 50_000
#: ast.literal_eval in several threads at once can fail in CPython 3.11 ("AST constructor recursion depth mismatch")
_EVAL = threading.Lock()


def make_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct texts whose lengths spread evenly on a log scale from 1 to 50,000 characters."""
    rng = random.Random(seed)
    base = "".join([SEED, NEWS, REPORT, POST, MIXED])
    body = base * (2 * LONGEST // len(base) + 1)
    texts = []
    for i in range(n):
        length = max(1, round(math.exp(math.log(LONGEST) * i / max(1, n - 1))))
        intro = f"{rng.choice(NAMES)}第{i}次从{rng.choice(PLACES)}出发。"
        start = rng.randrange(len(body) - LONGEST)
        texts.append((intro + body[start:start + length])[:length])
    return texts


def dictionary_for(text: str, i: int) -> list[str]:
    """A request's own dictionary: a made-up organisation found in the text, and a block of one entity type."""
    word = text[: min(4, len(text))].strip() or "某公司"
    return [f"{word}\tORG", f"-{NAMES[i % len(NAMES)]}\tPER", f"{PLACES[i % len(PLACES)]}集团\tORG"]


def highlight_spans(value) -> list[tuple]:
    """The page's highlight (tokens, each with its type or None) -> ``(text, type, start, end)`` of each entity."""
    spans, at = [], 0
    for part in value:
        token, label = part["token"], part.get("class_or_confidence")
        if label:
            spans.append((token, label, at, at + len(token)))
        at += len(token)
    return spans


def fresh_page(http: httpx.Client, url: str, index: int, text: str):
    """The page's button in a new tab: a new session whose heartbeat stream is open while its event joins the
    queue and its event stream is read; the highlight value it shows."""
    session = uuid.uuid4().hex[:11]
    with http.stream("GET", f"{url}/gradio_api/heartbeat/{session}"):
        r = http.post(f"{url}/gradio_api/queue/join", json={"data": [text, None], "fn_index": index,
                                                             "session_hash": session, "event_data": None,
                                                             "trigger_id": None})
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
        with http.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        if not msg.get("success"):
                            raise RuntimeError(f"page event failed: {str(msg.get('output'))[:200]}")
                        return msg["output"]["data"][0]
    raise RuntimeError("the page's event stream ended without a result")


def page_index(url: str) -> int:
    deps = httpx.get(f"{url}/config", timeout=60).json()["dependencies"]
    return next(d["id"] for d in deps if d.get("api_name") == "analyze")


async def _mcp_call(url: str, text: str) -> list[dict]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}/gradio_api/mcp/") as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            result = await session.call_tool("extract_entities", {"text": text})
    text = getattr(result.content[0], "text", "") if result.content else ""
    if result.isError:
        raise RuntimeError(f"MCP tool error: {text[:200]}")
    with _EVAL:  # Gradio writes a dict result as its repr
        return ast.literal_eval(text)["entities"]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {k: [] for k in KINDS}
        self.errors: list[str] = []
        self.mismatches: list[str] = []

    def add(self, kind: str, seconds: float, error: str | None = None, mismatch: str | None = None) -> None:
        with self.lock:
            if error:
                self.errors.append(error)
            else:
                self.latency[kind].append(seconds)
            if mismatch:
                self.mismatches.append(mismatch)


class Pause:
    """The soak's clock, and a pause of every client between two requests (a quiet moment on the server)."""

    def __init__(self, seconds: float, clients: int):
        self.deadline = time.monotonic() + seconds
        self.clients = clients
        self.cond = threading.Condition()
        self.paused = False
        self.waiting = 0  # clients held by the pause, or finished

    def running(self) -> bool:
        """Before each request: False at the deadline; waits while the soak is paused."""
        with self.cond:
            if self.paused:
                self.waiting += 1
                self.cond.notify_all()
                self.cond.wait_for(lambda: not self.paused)
                self.waiting -= 1
            return time.monotonic() < self.deadline

    def finished(self) -> None:
        with self.cond:
            self.waiting += 1
            self.cond.notify_all()

    def quiet_sample(self, pid: int | None, settle: float) -> float | None:
        """Holds every client, waits ``settle`` seconds after the last answer, reads the RSS, lets them go
        on; the deadline moves by the time paused."""
        t0 = time.monotonic()
        with self.cond:
            self.paused = True
            self.cond.wait_for(lambda: self.waiting >= self.clients, timeout=600)
        time.sleep(settle)
        rss = rss_mib(pid) if pid else None
        with self.cond:
            self.paused = False
            self.deadline += time.monotonic() - t0
            self.cond.notify_all()
        return rss


def client_loop(url: str, texts: list[str], want: dict, tally: Tally, clock: Pause, seed: int) -> None:
    try:
        _client_loop(url, texts, want, tally, clock, seed)
    finally:
        clock.finished()


def _client_loop(url: str, texts: list[str], want: dict, tally: Tally, clock: Pause, seed: int) -> None:
    from gradio_client import Client

    rng = random.Random(seed)
    gradio = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    index = page_index(url)
    with httpx.Client(timeout=300) as http:
        while clock.running():
            i, kind = rng.randrange(len(texts)), rng.choice(KINDS)
            own = kind == "rest" and rng.random() < 0.5
            t0 = time.perf_counter()
            try:
                if kind == "page":
                    got = highlight_spans(fresh_page(http, url, index, texts[i]))
                elif kind == "client":
                    got = canon(gradio.predict(texts[i], api_name="/extract")["entities"])
                elif kind == "mcp":
                    got = canon(asyncio.run(asyncio.wait_for(_mcp_call(url, texts[i]), 300)))
                else:
                    body: dict = {"text": texts[i], **({"dictionary": dictionary_for(texts[i], i)} if own else {})}
                    r = http.post(f"{url}/api/v1/ner", json=body)
                    if r.status_code != 200:
                        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
                    got = canon(r.json()["entities"])
            except Exception as exc:  # counted and reported; the soak goes on
                tally.add(kind, 0.0, error=f"{kind}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            expected = want[(i, own)]
            tally.add(kind, time.perf_counter() - t0,
                      mismatch=None if got == expected else f"text {i} ({len(texts[i])} chars) via {kind}")


def references(url: str, texts: list[str]) -> dict[tuple[int, bool], list[tuple]]:
    """The entities of each text alone (one request at a time), without and with its own dictionary."""
    want = {}
    with httpx.Client(timeout=300) as http:
        for i, text in enumerate(texts):
            for own in (False, True):
                body: dict = {"text": text, **({"dictionary": dictionary_for(text, i)} if own else {})}
                r = http.post(f"{url}/api/v1/ner", json=body)
                r.raise_for_status()
                want[(i, own)] = canon(r.json()["entities"])
    return want


def soak(url: str, pid: int | None, minutes: float, clients: int, n_texts: int, settle: float | None = None) -> dict:
    if not is_loopback(url):
        raise SystemExit(f"refusing to load {url}: the soak only targets loopback addresses")
    texts = make_texts(n_texts)
    t_ref = time.monotonic()
    want = references(url, texts)
    seconds = 60 * minutes
    warmup = min(300.0, seconds / 6)
    every = min(60.0, seconds / 6)
    settle = min(65.0, seconds / 6) if settle is None else settle
    tally = Tally()
    start = time.monotonic()
    clock = Pause(seconds, clients)
    threads = [threading.Thread(target=client_loop, args=(url, texts, want, tally, clock, k), daemon=True)
               for k in range(clients)]
    for th in threads:
        th.start()
    samples: list[tuple[float, float | None]] = [(0.0, rss_mib(pid) if pid else None)]
    quiet: list[float | None] = []
    paused = 0.0  # seconds held by the pause, not counted in the soak's clock

    def load_time() -> float:
        return time.monotonic() - start - paused

    while time.monotonic() < clock.deadline:
        time.sleep(min(every, max(0.1, clock.deadline - time.monotonic())))
        samples.append((round(load_time()), rss_mib(pid) if pid else None))
        if not quiet and load_time() >= warmup:
            t0 = time.monotonic()
            quiet.append(clock.quiet_sample(pid, settle))
            paused += time.monotonic() - t0
    for th in threads:
        th.join(timeout=600)  # a request started before the deadline may take a while (50,000 characters)
    elapsed = load_time()
    end_rss = rss_mib(pid) if pid else None
    if pid:
        time.sleep(settle)
        quiet.append(rss_mib(pid))
    after_warmup = next((mib for t, mib in samples if t >= warmup), None)
    requests = sum(map(len, tally.latency.values())) + len(tally.errors)
    out: dict = {
        "minutes": minutes, "seconds": round(elapsed, 1), "clients": clients, "texts": n_texts,
        "text_chars": [min(map(len, texts)), max(map(len, texts))], "reference_s": round(start - t_ref, 1),
        "requests": requests, "errors": len(tally.errors), "mismatches": len(tally.mismatches),
        "by_kind": {k: {"requests": len(v), "p50_ms": round(pct(v, 0.5), 1), "p95_ms": round(pct(v, 0.95), 1)}
                    for k, v in tally.latency.items()},
        "rss_mib": {"samples": [[t, round(m, 1) if m else None] for t, m in samples],
                    "after_warmup": after_warmup and round(after_warmup, 1), "end": end_rss and round(end_rss, 1)},
        "warmup_s": warmup, "error_samples": tally.errors[:5], "mismatch_samples": tally.mismatches[:5],
    }
    if after_warmup and end_rss:
        out["rss_growth_after_warmup_pct"] = round(100 * (end_rss - after_warmup) / after_warmup, 2)
    if len(quiet) == 2 and quiet[0] and quiet[1]:
        out["rss_mib"]["quiet"] = {"after_warmup": round(quiet[0], 1), "end": round(quiet[1], 1), "settle_s": settle}
        out["rss_growth_quiet_pct"] = round(100 * (quiet[1] - quiet[0]) / quiet[0], 2)
    return out


# ---------------------------------------------------------------- the batch run killed with SIGKILL


def _workers(pid: int) -> list[int]:
    """The worker processes of the batch run ``pid`` (its spawned children, not multiprocessing's tracker)."""
    found = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    for child in children:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except OSError:
            pass
    return found


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if check():
            return True
        time.sleep(0.05)
    return False


def kill_and_resume(folder: Path, records: int = 3000, model: str | None = None, timeout: float = 300) -> dict:
    """``ner-batch`` over ``records`` JSONL records into ``folder/out.jsonl``: a worker killed with SIGKILL while
    it holds a chunk, then the command itself killed with SIGKILL mid-run, then resumed to the end."""
    src, out = folder / "in.jsonl", folder / "out.jsonl"
    rng = random.Random(1)
    with open(src, "w", encoding="utf-8") as fh:
        for i in range(records):
            text = f"第{i}条：{rng.choice(NAMES)}在{rng.choice(PLACES)}。" + SEED[: rng.randint(5, 60)]
            fh.write(json.dumps({"id": f"r{i}", "text": text}, ensure_ascii=False) + "\n")
    progress = out.with_name(out.name + ".progress.json")
    command = [sys.executable, "-m", "ner.batch", str(src), "--out", str(out), "--id-column", "id", "--workers", "2",
               "--chunk-chars", "2000", "--quiet", *(["--model", model] if model else [])]

    def committed() -> int:
        try:
            state = json.loads(progress.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        return -1 if state.get("done") else state.get("records", 0)

    report: dict = {"records": records}
    # 1: a worker dies with a chunk in hand; the run stops with a message and a resumable state
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if _wait_for(lambda: committed() > 0 and bool(_workers(proc.pid)), proc, timeout):
        subprocess.run(["kill", "-9", str(_workers(proc.pid)[0])], check=False)
        report["worker_killed_after_records"] = committed()
    _, err = proc.communicate(timeout=timeout)
    report["after_worker_kill"] = {"exit": proc.returncode, "message": err.decode("utf-8", "replace").strip()[-300:]}
    # 2: the whole command killed mid-run (after one more commit), the output cut back on resume
    seen = max(0, committed())
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if _wait_for(lambda: committed() > seen, proc, timeout):
        proc.send_signal(signal.SIGKILL)
        report["command_killed_after_records"] = committed()
    proc.wait(timeout=timeout)
    # 3: resumed to the end
    done = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=timeout)
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    report.update({"resume_exit": done.returncode, "lines": len(ids), "distinct_ids": len(set(ids)),
                   "in_input_order": ids == [f"r{i}" for i in range(records)]})
    report["every_record_once"] = report["in_input_order"] and len(ids) == records
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ner.bench.soak", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="length of the soak (default 30; 1 for CI)")
    ap.add_argument("--url", help="a running server (loopback only); default: start app.py on a free port")
    ap.add_argument("--pid", type=int, help="the server's process id, for its RSS (with --url)")
    add_model(ap, help="NER_MODEL for the server this command starts, and the batch run's model")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--texts", type=int, default=24, help="distinct texts, 1 to 50,000 characters (default 24)")
    ap.add_argument("--settle", type=float, help="seconds between the last answer and a quiet RSS sample "
                    "(default: 65, more than NER_MALLOC_TRIM_S; a sixth of runs under 6 minutes)")
    ap.add_argument("--batch", action="store_true", help="also the ner-batch run killed with SIGKILL and resumed")
    ap.add_argument("--batch-records", type=int, default=3000)
    args = ap.parse_args(argv)
    if args.url:
        report = soak(args.url, args.pid, args.minutes, args.clients, args.texts, args.settle)
    else:
        with running_server(args.model) as (url, proc):
            report = soak(url, proc.pid, args.minutes, args.clients, args.texts, args.settle)
    ok = report["errors"] == 0 and report["mismatches"] == 0
    if args.batch:
        with tempfile.TemporaryDirectory(prefix="ner-soak-") as tmp:
            report["batch_kill_and_resume"] = kill_and_resume(Path(tmp), args.batch_records, args.model)
        ok = ok and report["batch_kill_and_resume"]["every_record_once"]
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
