"""One client against the others: the hostile loads of issue 26 against ``python app.py``, with figures.

    python -m ner.bench.edge sessions [--sessions 400] [--chars 1700]
    python -m ner.bench.edge uploads [--stalled 340] [--declared 850000]
    python -m ner.bench.edge flood [--sockets 70] [--chars 100000]
    python -m ner.bench.edge queue [--calls 80]
    python -m ner.bench.edge heartbeats [--streams 3000]
    python -m ner.bench.edge downloads [--analyses 30] [--chars 100000]
    python -m ner.bench.edge sigterm [--chars 100000] [--entries 1000]
    python -m ner.bench.edge bombs        # two clients: the dictionary bomb, then U+FDFA x 100,000

Each starts ``app.py`` on a free loopback port (or uses ``--url`` with ``--pid``), runs one scenario and
prints one JSON object.  The hostile client and the other client are told apart by their loopback source
address (127.0.0.2 is the hostile one; 127.0.0.1 the other): the server's bounds are per client address.
Every load is bounded in count and time and closes what it opens; figures taken on a shared machine
should be reported with the load average (printed as ``load``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx

from ner.samples import NEWS

from .api import rss_mib
from .launch import running_server

HOSTILE = "127.0.0.2"
OTHER = "127.0.0.1"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def text_of(chars: int, salt: str = "") -> str:
    body = NEWS * (chars // len(NEWS) + 2)
    return (salt + body)[:chars]


def client(source: str = OTHER, timeout: float = 30) -> httpx.Client:
    return httpx.Client(timeout=timeout, transport=httpx.HTTPTransport(local_address=source))


def timed(fn: Callable[[], httpx.Response]) -> tuple[float, int | str]:
    t0 = time.perf_counter()
    try:
        status: int | str = fn().status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return round(time.perf_counter() - t0, 3), status


def small_request(url: str, source: str = OTHER, timeout: float = 30) -> tuple[float, int | str]:
    """Seconds and status of another client's small REST request."""
    with client(source, timeout) as http:
        return timed(lambda: http.post(f"{url}/api/v1/ner", json={"text": "张三在北京。"}))


def fn_index(url: str, api_name: str) -> int:
    deps = httpx.get(f"{url}/config", timeout=30).json()["dependencies"]
    return next(d["id"] for d in deps if d.get("api_name") == api_name)


def page_analysis(url: str, index: int, text: str, http: httpx.Client) -> str:
    """What a fresh tab does: its heartbeat stream open while the button's event joins the queue under a new
    session and its event stream is read; then the tab closes."""
    session = uuid.uuid4().hex[:11]
    with http.stream("GET", f"{url}/gradio_api/heartbeat/{session}"):
        return _page_event(url, index, text, http, session)


def _page_event(url: str, index: int, text: str, http: httpx.Client, session: str) -> str:
    r = http.post(f"{url}/gradio_api/queue/join", json={"data": [text, None], "fn_index": index,
                                                         "session_hash": session, "event_data": None,
                                                         "trigger_id": None})
    if r.status_code != 200:
        return f"join {r.status_code}"
    with http.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}) as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    return "ok" if msg.get("success") else f"failed: {str(msg.get('output'))[:120]}"
    return "stream ended"


# ---------------------------------------------------------------- scenarios

def sessions(url: str, pid: int | None, n: int = 400, chars: int = 1700, first: int = 100,
             one_session: bool = False) -> dict:
    """``n`` fresh page sessions, each analysing a text of ``chars`` characters: RSS after the first
    ``first`` and after the last.  ``one_session``: the same analyses in one session (the baseline)."""
    index = fn_index(url, "analyze")
    results: dict[str, int] = {}
    rss: dict[str, float | None] = {}
    t0 = time.monotonic()
    with client(timeout=120) as http:
        for i in range(n):
            text = text_of(chars, f"第{i}位访客：")
            outcome = (_page_event(url, index, text, http, "one-session") if one_session
                       else page_analysis(url, index, text, http))
            results[outcome] = results.get(outcome, 0) + 1
            if i + 1 == first:
                rss["after_first"] = pid and rss_mib(pid)
    time.sleep(2)
    rss["after_last"] = pid and rss_mib(pid)
    out: dict = {"sessions": 1 if one_session else n, "analyses": n, "chars": chars, "outcomes": results, "seconds": round(time.monotonic() - t0, 1),
                 "rss_mib": {k: v and round(v, 1) for k, v in rss.items()}}
    if rss.get("after_first") and rss.get("after_last"):
        out["growth_mib"] = round(rss["after_last"] - rss["after_first"], 1)  # type: ignore[operator]
    return out


@contextlib.contextmanager
def open_sockets(url: str, n: int, head: Callable[[int], bytes], source: str = HOSTILE) -> Iterator[list]:
    """``n`` connections from ``source`` that each send ``head(i)`` and then nothing; closed on exit."""
    host, port = url.rsplit("/", 1)[1].split(":")
    socks = []
    try:
        for i in range(n):
            s = socket.socket()
            s.bind((source, 0))
            s.settimeout(5)
            try:
                s.connect((host, int(port)))
                s.sendall(head(i))
            except OSError:
                s.close()
                continue
            socks.append(s)
        yield socks
    finally:
        for s in socks:
            s.close()


def uploads(url: str, pid: int | None, stalled: int = 340, declared: int = 850_000) -> dict:
    """``stalled`` connections declaring ``declared``-byte uploads and sending nothing; then a real upload."""
    def head(i: int) -> bytes:
        return (f"POST /gradio_api/upload HTTP/1.1\r\nHost: {url.split('//')[1]}\r\n"
                f"Content-Type: multipart/form-data; boundary=b{i}\r\nContent-Length: {declared}\r\n\r\n").encode()

    with open_sockets(url, stalled, head) as socks:
        time.sleep(1)
        with client() as http:
            t, status = timed(lambda: http.post(f"{url}/gradio_api/upload",
                                                files={"files": ("a.txt", "张三在北京。".encode(), "text/plain")}))
        return {"stalled": len(socks), "declared": declared, "upload": {"status": status, "seconds": t},
                "small_request": small_request(url)}


def flood(url: str, pid: int | None, sockets: int = 70, chars: int = 100_000) -> dict:
    """One client posts ``sockets`` texts of ``chars`` characters at once; another client's small request
    meanwhile, and 2 s after the hostile client disconnects."""
    body = json.dumps({"text": text_of(chars)}, ensure_ascii=False).encode()

    def head(i: int) -> bytes:
        return (f"POST /api/v1/ner HTTP/1.1\r\nHost: {url.split('//')[1]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    with open_sockets(url, sockets, head) as socks:
        time.sleep(3)
        during = [small_request(url) for _ in range(3)]
        statuses: dict[str, int] = {}
        for s in socks:
            s.settimeout(0.2)
            with contextlib.suppress(OSError):
                line = s.recv(64).split(b"\r\n")[0].decode(errors="replace")
                statuses[line] = statuses.get(line, 0) + 1
    time.sleep(2)
    after = [small_request(url) for _ in range(3)]
    return {"hostile_sockets": len(socks), "chars": chars, "hostile_answers_so_far": statuses,
            "other_during": during, "other_after_disconnect": after}


def queue(url: str, pid: int | None, calls: int = 80) -> dict:
    """One client queues ``calls`` ``/call/extract`` jobs at once; another client's ``/call/extract`` and REST."""
    text = text_of(20_000)
    with client(HOSTILE, 60) as hostile, ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: hostile.post(f"{url}/gradio_api/call/extract",
                                                      json={"data": [text]}).status_code, range(calls)))
        with client() as http:
            other_call = timed(lambda: http.post(f"{url}/gradio_api/call/extract", json={"data": ["张三在北京。"]}))
        other_rest = small_request(url)
    counts = {str(c): codes.count(c) for c in sorted(set(codes))}
    return {"calls": calls, "hostile_statuses": counts, "other_call": other_call, "other_rest": other_rest}


def heartbeats(url: str, pid: int | None, streams: int = 3000) -> dict:
    """One client opens ``streams`` heartbeat event streams; another client's request; the server's open files."""
    def head(i: int) -> bytes:
        return f"GET /gradio_api/heartbeat/s{i} HTTP/1.1\r\nHost: {url.split('//')[1]}\r\n\r\n".encode()

    with open_sockets(url, streams, head) as socks:
        time.sleep(2)
        fds = pid and len(os.listdir(f"/proc/{pid}/fd"))
        during = [small_request(url) for _ in range(3)]
        opened = len(socks)
    time.sleep(2)
    return {"streams": opened, "server_open_files": fds, "other_during": during,
            "other_after_disconnect": [small_request(url) for _ in range(3)]}


def downloads(url: str, pid: int | None, analyses: int = 30, chars: int = 100_000) -> dict:
    """One visitor runs ``analyses`` page analyses of ``chars`` characters (downloads written); another
    visitor's upload afterwards."""
    index = fn_index(url, "analyze")
    outcomes: dict[str, int] = {}
    with client(HOSTILE, 600) as http:
        for i in range(analyses):
            o = page_analysis(url, index, text_of(chars, f"{i}"), http)
            outcomes[o] = outcomes.get(o, 0) + 1
    with client() as http:
        up = timed(lambda: http.post(f"{url}/gradio_api/upload",
                                     files={"files": ("a.txt", "张三在北京。".encode(), "text/plain")}))
    return {"analyses": analyses, "chars": chars, "outcomes": outcomes, "other_upload": up}


def sigterm(model: str | None, chars: int = 100_000, entries: int = 1000) -> dict:
    """SIGTERM while a REST request of two ``chars``-character texts with an ``entries``-entry dictionary
    runs: seconds until the process exits, and its exit code."""
    dictionary = [f"{'张' * (1 + k % 7)}{k}\tPER" for k in range(entries)]
    body = {"texts": [text_of(chars, "甲"), text_of(chars, "乙")], "dictionary": dictionary}
    with running_server(model, timeout=300) as (url, proc):
        answer: list = []
        th = threading.Thread(target=lambda: answer.append(timed(lambda: httpx.post(
            f"{url}/api/v1/ner", json=body, timeout=120))), daemon=True)
        th.start()
        time.sleep(4)  # the body is in and the engine is on the first text
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        exit_s = round(time.monotonic() - t0, 2)
        th.join(10)
        return {"chars": chars, "texts": 2, "entries": entries, "exit_code": code, "exit_seconds": exit_s,
                "client_answer": answer[0] if answer else None}


def bombs(url: str, pid: int | None) -> dict:
    """Two hostile clients each send the dictionary bomb (张 x 50,000 with 300 nested entries as PER), then
    U+FDFA x 100,000 (NFKC grows it 18-fold); a third client's small requests meanwhile.  Beside them, the time
    of 100,000 plain characters alone, and the server's resident memory (peak sampled every 0.1 s)."""
    bomb = {"text": "张" * 50_000, "dictionary": [f"{'张' * k} PER" for k in range(1, 301)]}
    wide = {"text": "\ufdfa" * 100_000}

    def post(body: dict, source: str, timeout: float = 600) -> tuple[float, int | str]:
        with client(source, timeout) as http:
            return timed(lambda: http.post(f"{url}/api/v1/ner", json=body))

    plain = post({"text": text_of(100_000)}, OTHER)
    base = pid and rss_mib(pid)
    peak = [base or 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], (pid and rss_mib(pid)) or 0.0)
            time.sleep(0.1)

    def hostile(source: str) -> list:
        return [post(bomb, source), post(wide, source)]

    small: list[tuple[float, int | str]] = []
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(2) as pool:
        both = [pool.submit(hostile, src) for src in (HOSTILE, "127.0.0.3")]
        time.sleep(0.5)
        while not all(f.done() for f in both):
            small.append(small_request(url))
            time.sleep(0.5)
        answers = [f.result() for f in both]
    done.set()
    watcher.join()
    slowest = max(t for pair in answers for t, _ in pair)
    return {"plain_100k_s": plain, "hostile": [{"bomb": a, "ufdfa": b} for a, b in answers],
            "slowest_over_plain": round(slowest / plain[0], 2) if plain[0] else None,
            "small_request_s": {"max": max((t for t, _ in small), default=None), "n": len(small),
                                "statuses": sorted({str(st) for _, st in small})},
            "rss_mib": {"before": base and round(base, 1), "peak": round(peak[0], 1),
                        "rise": base and round(peak[0] - base, 1)}}


SCENARIOS: dict[str, Callable[..., dict]] = {"sessions": sessions, "uploads": uploads, "flood": flood,
                                             "queue": queue, "heartbeats": heartbeats, "downloads": downloads,
                                             "bombs": bombs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ner.bench.edge", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=[*SCENARIOS, "sigterm"])
    ap.add_argument("--url")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--model")
    ap.add_argument("--sessions", type=int, default=400)
    ap.add_argument("--one-session", action="store_true", help="sessions: every analysis in one session")
    ap.add_argument("--chars", type=int)
    ap.add_argument("--stalled", type=int, default=340)
    ap.add_argument("--declared", type=int, default=850_000)
    ap.add_argument("--sockets", type=int, default=70)
    ap.add_argument("--calls", type=int, default=80)
    ap.add_argument("--streams", type=int, default=3000)
    ap.add_argument("--analyses", type=int, default=30)
    ap.add_argument("--entries", type=int, default=1000)
    args = ap.parse_args(argv)
    kwargs = {"sessions": {"n": args.sessions, "chars": args.chars or 1700, "one_session": args.one_session},
              "uploads": {"stalled": args.stalled, "declared": args.declared},
              "flood": {"sockets": args.sockets, "chars": args.chars or 100_000},
              "queue": {"calls": args.calls}, "heartbeats": {"streams": args.streams},
              "downloads": {"analyses": args.analyses, "chars": args.chars or 100_000}, "bombs": {}}
    if args.scenario == "sigterm":
        report = sigterm(args.model, args.chars or 100_000, args.entries)
    elif args.url:
        report = SCENARIOS[args.scenario](args.url, args.pid, **kwargs[args.scenario])
    else:
        with running_server(args.model, env={"NER_HEADER_TIMEOUT": "10"}, timeout=180) as (url, proc):
            report = SCENARIOS[args.scenario](url, proc.pid, **kwargs[args.scenario])
    report["load"] = load_average()
    print(json.dumps({"scenario": args.scenario, **report}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
