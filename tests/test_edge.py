"""Issue 26 at the server's edge: one client cannot hurt the others.

One real server (``python app.py`` on the toy model) with small per-client bounds serves the attacks.
The hostile client connects from 127.0.0.2 and the others from 127.0.0.1: the server's bounds are per
client address.  Every flood is bounded in count and time and closes what it opens.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from server_util import running_server

from ner_app.config import Settings
from ner_app.files import CacheFull, ClientFull, FileArea

HOSTILE, OTHER = "127.0.0.2", "127.0.0.1"
SECURITY_HEADERS = (b"x-content-type-options", b"content-security-policy", b"referrer-policy")
ENV = {"NER_HEADER_TIMEOUT": "3", "NER_BODY_TIMEOUT": "3", "NER_CLIENT_MAX_REQUESTS": "8",
       "NER_CLIENT_MAX_STREAMS": "8", "NER_STREAM_MAX_SECONDS": "6", "NER_CACHE_MAX_BYTES": "3000000",
       "NER_CLIENT_CACHE_BYTES": "1000000", "NER_UPLOAD_MAX_FILES": "4"}
TEXT = "张三在北京清华大学任职。"


@dataclass
class Live:
    url: str
    port: int
    cache: Path
    log: Path

    def connect(self, source: str = OTHER, timeout: float = 10) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout, source_address=(source, 0))

    def fn_index(self, api_name: str) -> int:
        deps = httpx.get(f"{self.url}/config", timeout=10).json()["dependencies"]
        return next(d["id"] for d in deps if d.get("api_name") == api_name)


@pytest.fixture(scope="module")
def live(toy_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("edge-cache")
    log = tmp_path_factory.mktemp("edge-log") / "server.log"
    with running_server(toy_dir, env={**ENV, "GRADIO_TEMP_DIR": str(cache)}, log_path=log) as (url, _):
        yield Live(url, int(url.rsplit(":", 1)[1]), cache, log)


def http(source: str = OTHER, timeout: float = 10) -> httpx.Client:
    return httpx.Client(timeout=timeout, transport=httpx.HTTPTransport(local_address=source))


def served(live: Live) -> None:
    """Another client is answered at once (a generous bound: the machine is shared)."""
    with http() as c:
        t0 = time.monotonic()
        r = c.post(f"{live.url}/api/v1/ner", json={"text": "张三"})
        assert r.status_code == 200 and r.json()["entities"][0]["text"] == "张三"
        assert time.monotonic() - t0 < 10


def raw(live: Live, data: bytes, source: str = OTHER, wait_s: float = 10) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (or ``wait_s`` passes)."""
    with live.connect(source, wait_s) as s:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out


def upload(client: httpx.Client, url: str, data: bytes, n: int = 1, headers: dict | None = None) -> httpx.Response:
    files = [("files", (f"f{k}.txt", data, "text/plain")) for k in range(n)]
    return client.post(f"{url}/gradio_api/upload", files=files, headers=headers or {})


# ------------------------------------------------------------ item 6: HTTP edges

@pytest.mark.parametrize("name, head", [
    ("CL+TE", b"POST /api/v1/ner HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
              b"\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    ("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n\r\n"),
    ("bare LF", b"GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n"),
])
def test_malformed_framing_is_refused_once_and_closed(live, name, head):
    out = raw(live, head)
    assert out.startswith(b"HTTP/1.1 400"), (name, out[:80])
    assert out.count(b"HTTP/1.1 ") == 1, f"{name}: a second answer on the connection (smuggled request)"
    assert all(h in out.lower() for h in SECURITY_HEADERS), name


def test_a_pipelined_partial_request_is_on_the_header_clock(live):
    t0 = time.monotonic()
    out = raw(live, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 12", wait_s=20)
    assert out.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in out
    assert time.monotonic() - t0 < 12, "the second request was not under the 3-s header deadline"
    assert all(h in out.split(b"HTTP/1.1 408")[1].lower() for h in SECURITY_HEADERS)


@pytest.mark.parametrize("fn_index", [99, -1])
def test_an_unknown_event_is_a_404(live, fn_index):
    body = {"data": [TEXT], "fn_index": fn_index, "session_hash": "edge-unknown", "event_data": None,
            "trigger_id": None}
    r = httpx.post(f"{live.url}/gradio_api/queue/join", json=body, timeout=10)
    assert r.status_code == 404 and "no such endpoint" in r.text  # ner_app.roads, in front of every Gradio road
    assert "KeyError" not in live.log.read_text(encoding="utf-8", errors="replace")


# ------------------------------------------------------------ item 5: headers

def test_downloads_reflect_no_request_header_and_multi_range_is_the_whole_file(live):
    r = httpx.post(f"{live.url}/gradio_api/upload", files={"files": ("a.txt", TEXT.encode(), "text/plain")},
                   timeout=10)
    (path,) = r.json()
    url = f"{live.url}/gradio_api/file={path}"
    for rng in ("bytes=0-3", "bytes=0-1, 3-4", "bytes=abc", "bytes=9-2"):
        r = httpx.get(url, headers={"Range": rng, "X-Evil": "1", "Set-Cookie": "a=b",
                                    "Location": "https://evil.example/"}, timeout=10)
        assert r.status_code in (200, 416), (rng, r.status_code)
        assert "set-cookie" not in r.headers and "location" not in r.headers and "x-evil" not in r.headers
        if r.status_code == 200:
            assert r.content == TEXT.encode()
        assert len(r.headers.get_list("content-security-policy")) == 1


def test_forwarded_headers_from_an_unnamed_peer_are_ignored(live):
    r = httpx.get(f"{live.url}/config", headers={"X-Forwarded-Host": "evil.example",
                                                 "X-Forwarded-Proto": "https"}, timeout=10)
    assert r.status_code == 200 and "evil.example" not in r.text


def test_a_foreign_host_is_refused(live):
    for host in ("evil.example", "evil.example:7860"):
        r = httpx.get(f"{live.url}/config", headers={"Host": host}, timeout=10)
        assert r.status_code == 400 and "evil.example" not in r.text
        assert all(h.decode() in r.headers for h in SECURITY_HEADERS)
    assert httpx.get(f"http://localhost:{live.port}/healthz", timeout=10).status_code == 200


def test_an_upload_from_a_foreign_origin_is_refused(live):
    with http() as c:
        assert upload(c, live.url, b"x", headers={"Origin": "https://evil.example"}).status_code == 403
        assert upload(c, live.url, b"x", headers={"Origin": "null"}).status_code == 403
        assert upload(c, live.url, b"x", headers={"Origin": live.url}).status_code == 200


def test_trusted_proxy_settings():
    assert Settings().allowed_host_names() == ("127.0.0.1", "localhost", "::1", "[::1]")
    assert Settings(host="0.0.0.0").allowed_host_names() == ("*",)
    s = Settings.from_env({"NER_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1", "NER_ALLOWED_HOSTS": "*.hf.space"})
    assert s.trusted_proxies == ("10.0.0.0/8", "127.0.0.1") and s.allowed_host_names() == ("*.hf.space",)
    with pytest.raises(ValueError, match="NER_TRUSTED_PROXIES"):
        Settings.from_env({"NER_TRUSTED_PROXIES": "a b"})


# ------------------------------------------------------------ items 8, 11, 12: per client

def test_one_client_over_its_stream_bound_gets_429_while_others_are_served(live):
    socks = []
    try:
        for i in range(20):
            s = live.connect(HOSTILE)
            s.sendall(f"GET /gradio_api/heartbeat/edge{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            socks.append(s)
        time.sleep(1)
        answers = []
        for s in socks:
            s.settimeout(0.5)
            try:
                answers.append(s.recv(64).split(b"\r\n")[0])
            except TimeoutError:
                answers.append(b"")
        assert sum(a.startswith(b"HTTP/1.1 429") for a in answers) == 20 - 8, answers
        served(live)
        with http() as c, c.stream("GET", f"{live.url}/gradio_api/heartbeat/other") as r:
            assert r.status_code == 200
    finally:
        for s in socks:
            s.close()


def test_an_event_stream_ends_after_its_lifetime(live):
    t0 = time.monotonic()
    with http(timeout=30) as c, c.stream("GET", f"{live.url}/gradio_api/heartbeat/lifetime") as r:
        assert r.status_code == 200
        for _ in r.iter_bytes():
            pass
    assert 5 < time.monotonic() - t0 < 20


def test_one_client_over_its_request_bound_gets_429(live):
    body = json.dumps({"text": "张" * 10}).encode()
    head = (f"POST /api/v1/ner HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    socks = []
    try:
        for _ in range(12):  # headers only: each holds a request slot until its body timeout
            s = live.connect(HOSTILE)
            s.sendall(head)
            socks.append(s)
        time.sleep(1)
        with http(HOSTILE) as c:
            r = c.post(f"{live.url}/api/v1/ner", json={"text": "张三"})
            assert r.status_code == 429 and "NER_CLIENT_MAX_REQUESTS" in r.text and r.headers["retry-after"]
        served(live)
    finally:
        for s in socks:
            s.close()


def test_the_queue_holds_per_client(live):
    with http(HOSTILE) as c, ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: c.post(f"{live.url}/gradio_api/call/extract",
                                               json={"data": [TEXT * 200]}).status_code, range(30)))
    assert set(codes) <= {200, 429} and 429 in codes, codes  # (the toy model ends jobs fast: some were done)
    with http() as c:
        r = c.post(f"{live.url}/gradio_api/call/extract", json={"data": [TEXT]})
        assert r.status_code == 200
    served(live)


# ------------------------------------------------------------ items 3, 13: files

def test_stalled_uploads_claim_nothing_and_a_real_upload_succeeds(live):
    head = (b"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
            b"boundary=b\r\nContent-Length: 850000\r\n\r\n")
    socks = []
    try:
        for _ in range(8):  # 8 x 850,000 declared: more than the 3,000,000-byte cache
            s = live.connect(HOSTILE)
            s.sendall(head)
            socks.append(s)
        time.sleep(0.5)
        with http() as c:
            r = upload(c, live.url, TEXT.encode())
            assert r.status_code == 200, r.text
    finally:
        for s in socks:
            s.close()


def test_an_upload_of_many_files_is_refused(live):
    with http() as c:
        r = upload(c, live.url, b"", n=20)
        assert r.status_code == 413 and "NER_UPLOAD_MAX_FILES" in r.text


def test_one_client_cannot_take_the_others_cache_space(live):
    with http(HOSTILE) as c:
        codes = [upload(c, live.url, b"x" * 300_000).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429, codes
    with http() as c:
        assert upload(c, live.url, b"y" * 300_000).status_code == 200


def test_file_area_counts_files_and_clients(tmp_path):
    area = FileArea(tmp_path, ttl_s=60, max_bytes=10_000, max_files=3, client_bytes=4000)
    area.claim(100, files=2, client="a")
    with pytest.raises(CacheFull):
        area.claim(0, files=2, client="b")
    area.claim(3900, client="a")
    with pytest.raises(ClientFull):
        area.claim(1, client="a")
    assert area.claim(3000, client="b") == 3000


def test_file_area_checks_without_walking(tmp_path, monkeypatch):
    area = FileArea(tmp_path, ttl_s=60, max_bytes=10_000)
    area.claim(1)  # the first claim walks once
    walks = []
    monkeypatch.setattr(area, "sweep", lambda: walks.append(1) or (0, 0))
    for _ in range(100):
        with area.reserve(10):
            pass
    assert walks == []


# ------------------------------------------------------------ item 4: sessions

def test_session_rule_in_process():
    import datetime

    from gradio.state_holder import StateHolder

    from ner_app import gradio_edge

    class Blocks:
        _queue = None
        blocks: dict = {}

    holder = StateHolder()
    holder.blocks = Blocks()
    gradio_edge.bound_sessions(holder, ttl_s=100, closed_ttl_s=5, capacity=10)
    now = datetime.datetime.now()
    for sid, idle in (("open-tab", 50), ("gone", 6), ("fresh", 1), ("old", 200)):
        holder.session_data[sid] = gradio_edge.LeanSessionState.__new__(gradio_edge.LeanSessionState)
        holder.session_data[sid].state_data, holder.session_data[sid]._state_ttl = {}, {}
        holder.session_data[sid].blocks_config = type("C", (), {"blocks": {}})()
        holder.session_data[sid].is_closed = False
        holder.time_last_used[sid] = now - datetime.timedelta(seconds=idle)
    gradio_edge.TABS.opened("open-tab")
    gradio_edge.TABS.opened("old")
    try:
        holder.delete_all_expired_state()
    finally:
        gradio_edge.TABS.closed("open-tab")
        gradio_edge.TABS.closed("old")
    assert sorted(holder.session_data) == ["fresh", "open-tab"]


# ------------------------------------------------------------ item 7: the gate stops between turns

def test_the_gate_drops_a_gone_clients_work_at_its_next_turn():
    from ner_app.gate import CANCELLED, CallCancelled, EngineGate

    class Slow:
        name, labels = "slow", ["O"]
        calls = 0

        def recognize_batch(self, texts):
            Slow.calls += 1
            time.sleep(0.2)
            return [[] for _ in texts]

    gate = EngineGate(Slow(), slots=1, chunk_chars=10)
    gone = threading.Event()
    CANCELLED.set(gone)
    threading.Timer(0.3, gone.set).start()
    with pytest.raises(CallCancelled):
        gate.recognize_batch(["张" * 10] * 20)
    assert Slow.calls <= 3
    CANCELLED.set(None)


def test_no_gradio_leftovers_in_the_temp_folder(live):
    assert not (live.cache / "vibe_edit_history").exists()
    assert "Set changed size" not in live.log.read_text(encoding="utf-8", errors="replace")


def test_the_gate_serves_clients_in_turn():
    from ner_app.clients import CLIENT
    from ner_app.gate import EngineGate

    order: list[str] = []
    release = threading.Event()

    class Engine:
        name, labels = "order", ["O"]

        def recognize_batch(self, texts):
            release.wait(10)  # the first turn runs until every call is in line
            order.append(texts[0][0])
            return [[] for _ in texts]

    gate = EngineGate(Engine(), slots=1)

    def call(client: str, text: str) -> None:
        CLIENT.set(client)
        gate.recognize_batch([text])

    def lined_up(client: str, n: int) -> None:
        deadline = time.monotonic() + 10
        while len(gate._waiting.get(client, ())) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    threads = [threading.Thread(target=call, args=(HOSTILE, "甲")) for _ in range(6)]
    for th in threads:
        th.start()
    lined_up(HOSTILE, 5)  # one turn running, five waiting
    other = threading.Thread(target=call, args=(OTHER, "乙"))
    other.start()
    lined_up(OTHER, 1)
    release.set()
    for th in [*threads, other]:
        th.join(10)
    assert order.index("乙") == 1, order  # right after the busy client's running turn


def _client_seen(settings: Settings, peer: str, headers: list) -> tuple[str | None, list]:
    """The client address and the headers the app behind the guard sees, for a GET from ``peer``."""
    import asyncio

    from ner_app.clients import CLIENT
    from ner_app.guard import Guard

    seen: list = []

    async def app(scope, receive, send):
        seen.extend([CLIENT.get(), scope["headers"]])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message):
        pass

    scope = {"type": "http", "path": "/healthz", "method": "GET", "client": (peer, 5000), "scheme": "http",
             "headers": [(b"host", b"127.0.0.1"), *headers]}
    asyncio.run(asyncio.wait_for(Guard(app, settings)(scope, receive, send), 5))
    return seen[0], seen[1]


def test_x_forwarded_for_names_the_client_only_from_a_named_proxy():
    fwd = [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-host", b"evil.example")]
    client, headers = _client_seen(Settings(trusted_proxies=("127.0.0.1",)), "127.0.0.1", fwd)
    assert client == "203.0.113.9" and (b"x-forwarded-host", b"evil.example") in headers
    client, headers = _client_seen(Settings(trusted_proxies=("10.0.0.0/8",)), "127.0.0.1", fwd)
    assert client == "127.0.0.1" and not any(k.startswith(b"x-forwarded") for k, _ in headers)
    client, _ = _client_seen(Settings(), "127.0.0.1", fwd)
    assert client == "127.0.0.1"


def test_the_queue_cap_holds_exactly_while_validators_run():
    """Gradio checks its queue's size before it awaits the event's validator: concurrent joins overshot the
    cap.  Bounded, the cap holds exactly, and one client gets at most its own bound."""
    import asyncio
    from types import SimpleNamespace

    from fastapi import HTTPException

    from ner_app.gradio_edge import bound_queue

    class Queue:
        max_size = 10
        event_queue_per_concurrency_id: dict = {}

        def __init__(self):
            self.events = []

        def __len__(self):
            return len(self.events)

        async def push(self, body, request, username):
            await asyncio.sleep(0.05)  # the validator
            self.events.append(request)
            return True, "id", "success"

    async def run():
        queue = Queue()
        bound_queue(queue, per_client=4)
        def request(host):
            return SimpleNamespace(client=SimpleNamespace(host=host))

        async def join(host):
            try:
                return (await queue.push(None, request(host), None))[2]
            except HTTPException as exc:
                return exc.status_code

        hostile = await asyncio.gather(*(join("h") for _ in range(8)))
        others = await asyncio.gather(*(join(f"o{k}") for k in range(12)))
        return queue, hostile, others

    queue, hostile, others = asyncio.run(run())
    assert hostile.count("success") == 4 and hostile.count(429) == 4
    assert len(queue) == 10 and others.count("queue_full") == 6


def test_one_client_leaves_a_slot_for_the_others():
    from ner_app.clients import CLIENT
    from ner_app.gate import EngineGate

    release, ran = threading.Event(), []

    class Engine:
        name, labels = "slots", ["O"]

        def recognize_batch(self, texts):
            ran.append(texts[0])
            if texts[0] == "甲":
                release.wait(10)
            return [[] for _ in texts]

    gate = EngineGate(Engine(), slots=2)

    def call(client: str, text: str) -> None:
        CLIENT.set(client)
        gate.recognize_batch([text])

    busy = [threading.Thread(target=call, args=(HOSTILE, "甲")) for _ in range(3)]
    for th in busy:
        th.start()
    time.sleep(0.3)
    assert ran == ["甲"]  # the busy client holds one slot of two
    other = threading.Thread(target=call, args=(OTHER, "乙"))
    other.start()
    other.join(5)
    assert not other.is_alive() and ran == ["甲", "乙"]
    release.set()
    for th in busy:
        th.join(10)
