"""Issue 15 as an attacker on the network would try it, on loopback only: file paths and URLs sent as
uploads, a request that would freeze the event loop, stalled clients, lone surrogates, CSV formulas,
an upload flood, one request holding the engine, CORS, headers and shutdown.

One real server (``python app.py`` on the toy model, its cache in a temporary folder) serves the
attacks; two more are stopped with SIGTERM.  Every flood and stall is bounded in count and time and
closes what it opens.
"""
from __future__ import annotations

import csv
import io
import json
import os
import select
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import httpx
import pytest
from server_util import ROOT, free_port, running_server

import ner
from ner import csvout
from ner.outputs import render
from ner_app.config import Settings
from ner_app.service import NerService

CACHE_CAP = 2_000_000
#: the module server: a small cache cap, short timeouts (each still far above what a normal client needs)
SERVER_ENV = {"NER_CACHE_MAX_BYTES": str(CACHE_CAP), "NER_HEADER_TIMEOUT": "4", "NER_BODY_TIMEOUT": "4"}
TEXT = "张三在北京清华大学任职。"
#: the attacker's loopback address in tests of per-client bounds (the other clients use 127.0.0.1)
HOSTILE = "127.0.0.2"
LEAKS = ("Traceback", 'File "', ".py", "/work", "/tmp", "/etc", "gradio 6", gr.__version__)


@dataclass
class Live:
    url: str
    cache: Path  # GRADIO_TEMP_DIR given to the server; its own folder is made inside
    log: Path

    def files(self) -> dict[str, int]:
        return {str(p): p.stat().st_size for p in self.cache.rglob("*") if p.is_file()}

    def cache_bytes(self) -> int:
        return sum(self.files().values())

    def fn_index(self, api_name: str) -> int:
        deps = httpx.get(f"{self.url}/config", timeout=10).json()["dependencies"]
        return next(d["id"] for d in deps if d.get("api_name") == api_name)


@pytest.fixture(scope="module")
def live(toy_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("gradio-cache")
    log = tmp_path_factory.mktemp("log") / "server.log"
    with running_server(toy_dir, env={**SERVER_ENV, "GRADIO_TEMP_DIR": str(cache)}, log_path=log) as (url, _):
        yield Live(url, cache, log)


def responsive(url: str) -> None:
    """The server answers /healthz and a REST call within 1 s each."""
    assert httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    r = httpx.post(f"{url}/api/v1/ner", json={"text": "张三"}, timeout=1)
    assert r.status_code == 200 and r.json()["entities"][0]["text"] == "张三"


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def call(url: str, api_name: str, data: list, timeout: float = 30) -> tuple[int, str, dict | list | None]:
    """A Gradio ``/call/<api_name>`` request as any HTTP client sends it: ``(status, body, result or None)``."""
    r = httpx.post(f"{url}/gradio_api/call/{api_name}", json={"data": data}, timeout=timeout)
    if r.status_code != 200:
        return r.status_code, r.text, None
    return r.status_code, r.text, sse_result(f"{url}/gradio_api/call/{api_name}/{r.json()['event_id']}", timeout)


def call_raw(url: str, api_name: str, body: bytes) -> tuple[int, str, dict | list | None]:
    """Like :func:`call` with the JSON body as given (lone surrogates escaped the way JavaScript sends them)."""
    r = httpx.post(f"{url}/gradio_api/call/{api_name}", content=body, headers={"content-type": "application/json"},
                   timeout=30)
    if r.status_code != 200:
        return r.status_code, r.text, None
    return r.status_code, r.text, sse_result(f"{url}/gradio_api/call/{api_name}/{r.json()['event_id']}", 30)


def sse_result(url: str, timeout: float):
    event = None
    with httpx.stream("GET", url, timeout=timeout) as s:
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line[5:])
                return {"event": event, "data": data}
    return None


def page_call(live: Live, api_name: str, data: list, session: str) -> dict:
    """What the page does: join the queue with the event's ``fn_index``, read the session's event stream."""
    r = httpx.post(f"{live.url}/gradio_api/queue/join", timeout=30,
                   json={"data": data, "fn_index": live.fn_index(api_name), "session_hash": session,
                         "event_data": None, "trigger_id": None})
    if r.status_code != 200:
        return {"status": r.status_code, "body": r.text}
    with httpx.stream("GET", f"{live.url}/gradio_api/queue/data", params={"session_hash": session},
                      timeout=30) as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg["msg"] == "process_completed":
                    return {"status": 200, **msg}
    raise AssertionError("the event stream ended without a result")


def upload(url: str, name: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{url}/gradio_api/upload", files={"files": (name, data, "text/plain")}, timeout=30)


# ------------------------------------------------------------ 1, 2: file endpoints take only Gradio's own uploads

def client_paths() -> list[str]:
    closed = free_port()  # nothing listens there: even a fetch that slipped through would stay on loopback
    return ["requirements.txt", str(ROOT / "requirements.txt"), "ner/../requirements.txt", "/etc/passwd",
            "../../../../../../etc/passwd", "/dev/zero", "/dev/urandom", "/proc/self/environ", "/",
            f"http://127.0.0.1:{closed}/requirements.txt", f"http://localhost:{closed}/x.txt",
            "file:///etc/passwd", "", "\x00"]


def test_file_endpoints_refuse_client_given_paths_and_copy_nothing(live):
    secret = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    before = live.files()
    attacks = [(endpoint, path) for path in client_paths() for endpoint in ("analyze_file", "extract", "recognize")]

    def attack(item):
        endpoint, path = item
        return endpoint, path, call(live.url, endpoint, [file_data(path)], timeout=10)

    with ThreadPoolExecutor(8) as pool:
        running = [pool.submit(attack, a) for a in attacks]
        while not all(f.done() for f in running):  # responsive while the attacks come in
            responsive(live.url)
        results = [f.result() for f in running]
    for endpoint, path, (status, body, result) in results:
        assert result is None
        if endpoint in ("extract", "recognize"):  # the one request check answers first: a file is not a text
            assert (status, json.loads(body)["error"]) == (422, "text must be a string, not an object"), body
        else:
            assert status == 400, (endpoint, path, status, body)
            assert "只接受通过本页面上传的文件" in json.loads(body)["detail"]
        assert "root:" not in body and "gradio>=" not in body and secret not in body
        if path.strip("\x00"):
            assert path not in body  # the refusal does not tell whether a path exists
    assert live.files() == before, "a refused path was copied into the cache"
    responsive(live.url)


def test_the_page_protocol_refuses_client_given_paths_too(live):
    before = live.files()
    for path in ("requirements.txt", "/dev/zero", "../../etc/passwd"):
        out = page_call(live, "analyze_file", [file_data(path)], session=f"attacker-{abs(hash(path))}")
        assert out["status"] == 400 and "只接受通过本页面上传的文件" in out["body"]
        # a text endpoint without a validator refuses inside the queue, still before any copy
        out = page_call(live, "analyze", [file_data(path)], session=f"attacker2-{abs(hash(path))}")
        assert out.get("success") is False and "只接受通过本页面上传的文件" in json.dumps(out, ensure_ascii=False)
    assert live.files() == before
    responsive(live.url)


def test_dev_zero_does_not_freeze_the_server(live):
    with ThreadPoolExecutor(6) as pool:
        running = [pool.submit(call, live.url, "analyze_file", [file_data("/dev/zero")], 10) for _ in range(6)]
        while not all(f.done() for f in running):
            responsive(live.url)
        assert [f.result()[0] for f in running] == [400] * 6
    responsive(live.url)


@pytest.mark.parametrize("path", ["requirements.txt", "/etc/passwd", "/proc/self/environ", "..%2F..%2Fetc%2Fpasswd"])
def test_file_route_serves_nothing_outside_the_cache(live, path):
    r = httpx.get(f"{live.url}/gradio_api/file={path}", timeout=5)
    assert r.status_code == 403 and "root:" not in r.text and "gradio" not in r.text.lower().replace("gradio_api", "")


def test_file_route_never_fetches_urls(live):
    closed = free_port()
    for target in (f"http://127.0.0.1:{closed}/x.txt", f"https://localhost:{closed}/x.txt", f"//127.0.0.1:{closed}/x"):
        r = httpx.get(f"{live.url}/gradio_api/file={target}", timeout=5)
        assert r.status_code == 403 and "never fetched" in r.json()["error"]


@pytest.mark.parametrize("route", ["/gradio_api/proxy=http://127.0.0.1:1/x", "/gradio_api/deep_link?session_hash=x",
                                   "/gradio_api/process_recording", "/gradio_api/stream/x", "/monitoring",
                                   "/gradio_api/vibe-code", "/gradio_api/component_server",
                                   "/gradio_api/run-history/records"])
def test_unused_gradio_routes_are_gone(live, route):
    method = "POST" if route.endswith(("recording", "server")) else "GET"
    r = httpx.request(method, f"{live.url}{route}", timeout=5)
    assert r.status_code == 404 and r.json() == {"error": "no such route"}


def test_a_real_upload_is_read_once_then_deleted(live):
    r = upload(live.url, "news.txt", TEXT.encode("utf-8"))
    assert r.status_code == 200
    (path,) = r.json()
    assert Path(path).is_file() and Path(path).is_relative_to(live.cache)
    status, body, result = call(live.url, "analyze_file", [file_data(path)])
    assert status == 200 and result["event"] == "complete", body
    shown, highlight = result["data"][0], result["data"][1]
    assert shown == TEXT
    assert [(t["token"], t["class_or_confidence"]) for t in highlight if t["class_or_confidence"]][:3] == [
        ("张三", "PER"), ("北京", "LOC"), ("清华大学", "ORG")]
    assert not Path(path).exists(), "the upload stays on disk after it was read"
    status, body, _ = call(live.url, "analyze_file", [file_data(path)])  # the same reference again
    assert status == 400 and "已过期或已被处理" in json.loads(body)["detail"]


def test_an_upload_that_is_not_txt_is_refused(live):
    (path,) = upload(live.url, "x.exe", b"MZ\x90\x00").json()
    status, body, _ = call(live.url, "analyze_file", [file_data(path)])
    assert status == 400 and "Invalid file type" in body and "Traceback" not in body


# ------------------------------------------------------------ 3: stalled clients hold no slot

def _through_guard(headers: list, parts: list[bytes], app=None) -> tuple[int, int]:
    """``(status, messages read)`` of a POST whose body comes in ``parts``, through the guard in process
    (a 100-byte limit, 1,000 bytes drained at most); a receive past the last part would hang: it fails."""
    import asyncio

    from ner_app.guard import Guard

    settings = Settings(max_body_bytes=100, discard_bytes=1000, body_timeout_s=5)
    body = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    read, sent = [0], []

    async def receive():
        if not body:
            raise AssertionError("the guard waited for bytes after the last part")
        read[0] += 1
        return body.pop(0)

    async def send(message):
        sent.append(message)

    async def reading_app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass

    scope = {"type": "http", "path": "/api/v1/ner", "method": "POST", "headers": headers}
    asyncio.run(asyncio.wait_for(Guard(app or reading_app, settings)(scope, receive, send), 5))
    return sent[0]["status"], read[0]


def test_the_guard_reads_an_oversize_body_before_its_413_so_the_client_can_read_it():
    declared = [(b"content-length", b"500")]
    assert _through_guard(declared, [b"x" * 100] * 5) == (413, 5)  # read whole, then answered: no reset
    assert _through_guard([*declared, (b"expect", b"100-continue")], [b"x" * 100] * 5) == (413, 0)
    assert _through_guard([(b"content-length", b"5000")], [b"x" * 1000] * 5) == (413, 0)  # over the drain bound
    assert _through_guard([], [b"x" * 60] * 5) == (413, 5)  # chunked: the rest is drained after the limit
    assert _through_guard([], [b"x" * 60, b"x" * 60]) == (413, 2)  # the limit crossed by the last part: no wait


def test_64_stalled_bodies_do_not_lock_out_a_normal_client(live):
    stalled, slow_headers = [], []
    try:
        for _ in range(64):  # as many as NER_QUEUE_SIZE: before the fix, every REST slot
            # from another loopback address: the server bounds each client address (issue 26)
            s = socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1])), timeout=10,
                                         source_address=(HOSTILE, 0))
            s.sendall(b"POST /api/v1/ner HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{\"text\": \"")
            stalled.append(s)
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", int(live.url.rsplit(":", 1)[1])), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.")
            slow_headers.append(s)
        for _ in range(5):
            r = httpx.post(f"{live.url}/api/v1/ner", json={"text": TEXT}, timeout=2)
            assert r.status_code == 200 and r.json()["entities"][0]["text"] == "张三"
            assert httpx.get(f"{live.url}/healthz", timeout=2).status_code == 200
        status, _, result = call(live.url, "extract", [TEXT], timeout=2)
        assert status == 200 and result["data"][0]["entities"][0]["text"] == "张三"
        readable, _, _ = select.select(stalled + slow_headers, [], [], 0)
        # the attacker's connections past its own bound (NER_CLIENT_MAX_REQUESTS) were answered 429 at once;
        # the rest still stall
        over = [_read_all(s) for s in readable]
        assert all(a.startswith(b"HTTP/1.1 429") for a in over), {a[:40] for a in over}
        assert len(stalled) - len(over) >= Settings().client_max_requests, "the stall was over too early"
        # then the stalled clients are answered and let go: 408 once the body (or header) timeout is over
        answers = [_read_all(s) for s in stalled + slow_headers if s not in readable]
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), {a[:40] for a in answers}
        assert b"did not arrive within" in answers[0] and b"headers took too long" in answers[-1]
    finally:
        for s in stalled + slow_headers:
            s.close()
    responsive(live.url)


def _read_all(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


# ------------------------------------------------------------ 4: lone surrogates are read as U+FFFD, never a 500

SURROGATE_JSON = '"\\ud800\\u5f20\\u4e09\\u5728\\u5317\\u4eac"'  # "\ud800张三在北京" as JavaScript sends it
WELL_FORMED = "\ufffd张三在北京"


def test_surrogates_through_rest_single_and_batch(live):
    headers = {"content-type": "application/json"}
    r = httpx.post(f"{live.url}/api/v1/ner", content=f'{{"text": {SURROGATE_JSON}}}', headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert [(e["text"], e["start"], e["end"]) for e in r.json()["entities"]] == [("张三", 1, 3), ("北京", 4, 6)]
    body = f'{{"texts": ["上海", {SURROGATE_JSON}, "\\udfff", "\\ud83d\\ude00\\ud83d北京"]}}'
    r = httpx.post(f"{live.url}/api/v1/ner", content=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    got = [[(e["text"], e["start"]) for e in res["entities"]] for res in r.json()["results"]]
    assert got == [[("上海", 0)], [("张三", 1), ("北京", 4)], [], [("北京", 2)]]


def test_surrogates_through_both_client_endpoints(live):
    status, body, result = call_raw(live.url, "extract", f'{{"data": [{SURROGATE_JSON}]}}'.encode())
    assert status == 200 and result["event"] == "complete", body
    assert [(e["text"], e["start"], e["end"]) for e in result["data"][0]["entities"]] == [("张三", 1, 3), ("北京", 4, 6)]
    status, body, result = call_raw(live.url, "recognize", f'{{"data": [{SURROGATE_JSON}]}}'.encode())
    assert status == 200 and result["event"] == "complete", body
    tokens = result["data"][0]
    assert "".join(t["token"] for t in tokens) == WELL_FORMED
    assert [(t["token"], t["class_or_confidence"]) for t in tokens if t["class_or_confidence"]] == [
        ("张三", "PER"), ("北京", "LOC")]


def test_surrogates_through_the_page(live):
    r = httpx.post(f"{live.url}/gradio_api/queue/join", timeout=30, headers={"content-type": "application/json"},
                   content=(f'{{"data": [{SURROGATE_JSON}], "fn_index": {live.fn_index("analyze")}, '
                            f'"session_hash": "page-surrogate", "event_data": null, "trigger_id": null}}').encode())
    assert r.status_code == 200
    with httpx.stream("GET", f"{live.url}/gradio_api/queue/data", params={"session_hash": "page-surrogate"},
                      timeout=30) as s:
        msg = next(m for m in (json.loads(line[5:]) for line in s.iter_lines() if line.startswith("data:"))
                   if m["msg"] == "process_completed")
    assert msg["success"], msg
    highlight, table = msg["output"]["data"][0], msg["output"]["data"][1]
    assert "".join(t["token"] for t in highlight) == WELL_FORMED
    assert [row[:4] for row in table["data"]] == [["张三", "PER", 1, 3], ["北京", "LOC", 4, 6]]


def test_surrogates_in_the_ui_handlers(toy, tmp_path):
    service = NerService(toy, Settings(), export_dir=tmp_path)
    highlight, rows, *_ = service.analyze("\ud800张三在北京\udc00")
    assert highlight["text"] == "\ufffd张三在北京\ufffd" and [r[:4] for r in rows["data"]][0] == ["张三", "PER", 1, 3]
    (extracted,) = service.extract_entities(["\ud800张三", "北京"])
    assert [e["start"] for e in extracted[0]["entities"]] == [1] and extracted[1]["entities"][0]["text"] == "北京"


from conftest import ARGS as CHROMIUM_ARGS  # noqa: E402
from conftest import CHROMIUM  # noqa: E402


class _ChromiumTab:
    def __init__(self, url: str):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        self.page = self._browser.new_page()
        self.page.goto(url, wait_until="domcontentloaded")
        self.page.locator("#input-text textarea").wait_for(timeout=30_000)

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_surrogates_typed_into_the_page_in_chromium(live):
    tab = _ChromiumTab(live.url)
    try:
        # what a script that cuts an emoji in half leaves in the box
        tab.page.evaluate("""() => { const t = document.querySelector('#input-text textarea');
            t.value = '\\ud83d张三在北京'; t.dispatchEvent(new Event('input', {bubbles: true})); }""")
        tab.page.locator("#run").click()
        tab.page.wait_for_function("""() => Array.from(document.querySelectorAll('#highlight .textfield .text'))
            .map(s => s.textContent).join('').includes('北京')""", timeout=30_000)
        spelled = tab.page.evaluate("""() => Array.from(document.querySelectorAll('#highlight .textfield .text'))
            .map(s => s.textContent).join('')""")
        assert spelled.replace(" ", "") == WELL_FORMED
        assert "Traceback" not in tab.page.content()
    finally:
        tab.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_a_file_uploaded_through_the_page_is_analysed_in_chromium(live, tmp_path):
    path = tmp_path / "big5.txt"
    text = ENCODED["big5"][0]
    path.write_bytes(text.encode("big5"))
    tab = _ChromiumTab(live.url)
    try:
        tab.page.locator("#upload input[type=file]").set_input_files(str(path))
        tab.page.wait_for_function("t => document.querySelector('#input-text textarea').value === t", arg=text,
                                   timeout=30_000)
        tab.page.wait_for_function("""() => Array.from(document.querySelectorAll('#highlight .textfield .text'))
            .map(s => s.textContent).join('').includes('北京')""", timeout=30_000)
        assert "Traceback" not in tab.page.content()
    finally:
        tab.close()


# ------------------------------------------------------------ 5: CSV cells are never formulas

@pytest.mark.parametrize("cell", ["=cmd|'/C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\x00x"])
def test_csv_cells_starting_like_a_formula_are_neutralised(cell):
    out = render("csv", cell, [ner.Entity(0, len(cell), "PER", cell, 0.5)], "m", ["PER"])
    row = next(csv.DictReader(io.StringIO(out, newline="")))
    assert row["text"] == "'" + cell
    assert row["score"] == "0.5" and row["start"] == "0"  # numbers stay numbers


def test_csv_download_neutralised_json_download_unchanged(toy, tmp_path):
    class Formulas:
        name, labels = "formulas", toy.labels

        def recognize_batch(self, texts):
            return [[ner.Entity(len("记者"), len("记者=cmd|'/C calc'!A0"), "PER", "=cmd|'/C calc'!A0", 0.9)]]

    text = "记者=cmd|'/C calc'!A0说"
    _, _, _, json_path, csv_path = NerService(Formulas(), Settings(), export_dir=tmp_path).analyze(text)
    assert json.loads(Path(json_path).read_text(encoding="utf-8"))["entities"][0]["text"] == "=cmd|'/C calc'!A0"
    assert "\n'=cmd|'/C calc'!A0," in Path(csv_path).read_text(encoding="utf-8-sig")
    assert csvout.safe_cell("张三") == "张三" and csvout.safe_cell(-1) == -1


# ------------------------------------------------------------ 6: disk

def test_files_expire_and_the_cache_stays_under_its_cap(tmp_path):
    from ner_app.files import CacheFull, FileArea

    area = FileArea(tmp_path, ttl_s=60, max_bytes=1000)
    old = tmp_path / "a" / "old.txt"
    old.parent.mkdir()
    old.write_bytes(b"x" * 600)
    os.utime(old, (time.time() - 120, time.time() - 120))
    (tmp_path / "new.txt").write_bytes(b"y" * 300)
    with area.reserve(700):  # room once the expired file and its folder are gone
        assert not old.exists() and not old.parent.exists()
        with pytest.raises(CacheFull):
            area.claim(1)
    assert area.claim(700) == 700
    area.release(700)
    area.remove()
    assert not tmp_path.exists()


def test_gradio_deletes_its_files_after_the_time_to_live(toy):
    from ner_app.layout import build_demo

    demo = build_demo(NerService(toy, Settings(file_ttl_s=300)))
    assert demo.delete_cache == (60, 300)


def test_an_upload_flood_stays_under_the_cache_cap(live):
    """Last of the server tests on purpose: it leaves the cache full (until the time-to-live)."""
    statuses = []
    for i in range(40):
        data = (f"{i:04d}" + "张三在北京参加会议。" * 6000).encode("utf-8")[:150_000]
        r = upload(live.url, f"flood{i}.txt", data)
        statuses.append(r.status_code)
        assert live.cache_bytes() <= CACHE_CAP
        if r.status_code == 507:
            assert "暂存空间已满" in r.json()["error"]
    assert set(statuses) == {200, 507} and statuses.index(507) >= 5
    assert upload(live.url, "big.txt", b"x" * 2_000_000).status_code == 413
    responsive(live.url)
    # with the cache (nearly) full an analysis is still answered
    status, body, result = call(live.url, "analyze", [TEXT])
    assert status == 200 and result["event"] == "complete", body


def test_downloads_that_do_not_fit_are_skipped_with_a_warning(toy, tmp_path):
    from ner_app.files import FileArea

    service = NerService(toy, Settings(), files=FileArea(tmp_path, ttl_s=60, max_bytes=100))
    with pytest.warns(UserWarning, match="暂存空间已满"):
        highlight, rows, _, json_path, csv_path = service.analyze(TEXT)
    assert (json_path, csv_path) == (None, None) and rows["data"][0][0] == "张三"
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


# ------------------------------------------------------------ 7: one request cannot hold the engine

def test_rest_total_characters_and_answer_size_are_capped():
    from fastapi.testclient import TestClient

    from ner_app.rest import create_api

    class Dense:
        name, labels = "dense", ["O", "S-PER"]

        def recognize_batch(self, texts):
            return [[ner.Entity(i, i + 1, "PER", t[i], 1.0) for i in range(len(t))] for t in texts]

    settings = Settings.from_env({"NER_MAX_CHARS": "50", "NER_MAX_REQUEST_CHARS": "100",
                                  "NER_MAX_RESPONSE_BYTES": "3000"})
    with TestClient(create_api(Dense(), settings)) as tc:
        r = tc.post("/api/v1/ner", json={"texts": ["张" * 40] * 3})
        assert r.status_code == 413 and "120 characters in all" in r.json()["error"] and "100" in r.json()["error"]
        r = tc.post("/api/v1/ner", json={"texts": ["张" * 40, "李" * 40]})
        assert r.status_code == 413 and "the answer would be" in r.json()["error"]
        assert tc.post("/api/v1/ner", json={"texts": ["张" * 5] * 2}).status_code == 200


def test_a_long_batch_does_not_starve_a_short_request():
    from ner_app.gate import EngineGate

    calls, first_turn = [], threading.Event()

    class Slow:
        name, labels = "slow", ["O"]

        def recognize_batch(self, texts):
            calls.append(tuple(texts))
            first_turn.set()
            time.sleep(0.05)
            return [[] for _ in texts]

    gate = EngineGate(Slow(), slots=1, chunk_chars=10)
    big = threading.Thread(target=gate.recognize_batch, args=(["长" * 10] * 8,))
    big.start()
    first_turn.wait(5)
    small = threading.Thread(target=gate.recognize_batch, args=(["短"],))
    small.start()
    big.join(10)
    small.join(10)
    assert len(calls) == 9 and calls.index(("短",)) < 8, calls  # served between two turns of the batch


def test_a_closed_gate_refuses_waiting_calls():
    from ner_app.gate import EngineClosed, EngineGate

    release = threading.Event()

    class Held:
        name, labels = "held", ["O"]

        def recognize_batch(self, texts):
            release.wait(5)
            return [[] for _ in texts]

    gate = EngineGate(Held(), slots=1)
    holder = threading.Thread(target=gate.recognize_batch, args=(["a"],))
    holder.start()
    time.sleep(0.1)
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(_raises(gate.recognize_batch, ["b"])))
    waiter.start()
    time.sleep(0.1)
    gate.close()
    waiter.join(5)
    release.set()
    holder.join(5)
    assert outcome == [EngineClosed]


def _raises(fn, *args):
    try:
        fn(*args)
    except Exception as exc:
        return type(exc)
    return None


def test_rest_total_characters_are_capped_on_the_server(live):
    r = httpx.post(f"{live.url}/api/v1/ner", json={"texts": ["我们" * 50_000] * 3}, timeout=30)
    assert r.status_code == 413 and "per request" in r.json()["error"]
    responsive(live.url)


# ------------------------------------------------------------ 8: headers, CORS, error texts, encodings, shutdown

def test_security_headers_on_every_kind_of_response(live):
    for method, path in [("GET", "/"), ("GET", "/healthz"), ("POST", "/api/v1/ner"), ("GET", "/config"),
                         ("GET", "/gradio_api/info"), ("GET", "/nope"), ("GET", "/gradio_api/file=/etc/passwd")]:
        r = httpx.request(method, f"{live.url}{path}", timeout=10)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["content-security-policy"] == "frame-ancestors 'self'"
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert "server" not in r.headers


@pytest.mark.parametrize("origin", ["http://localhost:9999", "http://127.0.0.1:1", "https://evil.example", "null"])
def test_no_foreign_origin_may_read_answers(live, origin):
    for method, path, kw in [("POST", "/api/v1/ner", {"json": {"text": "张三"}}), ("GET", "/gradio_api/info", {}),
                             ("GET", "/config", {})]:
        r = httpx.request(method, f"{live.url}{path}", headers={"origin": origin}, timeout=10, **kw)
        assert "access-control-allow-origin" not in r.headers, (path, r.headers)
        assert "access-control-allow-credentials" not in r.headers
    pre = httpx.options(f"{live.url}/api/v1/ner", timeout=10,
                        headers={"origin": origin, "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_the_configured_origins_only():
    from fastapi.testclient import TestClient

    from ner_app.rest import create_api

    class Empty:
        name, labels = "empty", ["O"]

        def recognize_batch(self, texts):
            return [[] for _ in texts]

    settings = Settings.from_env({"NER_CORS_ORIGINS": "https://app.example, https://b.example/"})
    assert settings.cors_origins == ("https://app.example", "https://b.example")
    with TestClient(create_api(Empty(), settings)) as tc:
        ok = tc.post("/api/v1/ner", json={"text": "a"}, headers={"origin": "https://b.example"})
        assert ok.headers["access-control-allow-origin"] == "https://b.example"
        assert "access-control-allow-origin" not in tc.post("/api/v1/ner", json={"text": "a"},
                                                            headers={"origin": "https://evil.example"}).headers
    for bad in ("*", "app.example", "https://app.example/path"):
        with pytest.raises(ValueError, match="NER_CORS_ORIGINS"):
            Settings.from_env({"NER_CORS_ORIGINS": bad})


def test_frame_ancestors_setting_replaces_the_legacy_header():
    from ner_app.guard import security_headers

    assert (b"x-frame-options", b"DENY") in security_headers("'none'")
    custom = dict(security_headers("https://studio.example"))
    assert custom[b"content-security-policy"] == b"frame-ancestors https://studio.example"
    assert b"x-frame-options" not in custom


def test_error_texts_name_no_paths_or_versions(live):
    closed = free_port()
    responses = [httpx.post(f"{live.url}/api/v1/ner", content=b"{bad", headers={"content-type": "application/json"}),
                 httpx.post(f"{live.url}/api/v1/ner", json={"texts": ["a"] * 1000}),
                 httpx.get(f"{live.url}/api/v9"),
                 httpx.get(f"{live.url}/gradio_api/file=http://127.0.0.1:{closed}/"),
                 httpx.post(f"{live.url}/gradio_api/call/analyze_file", json={"data": [file_data("/etc/passwd")]})]
    for r in responses:
        assert 400 <= r.status_code < 500
        for leak in LEAKS:
            assert leak not in r.text.replace("/etc/passwd", ""), (r.request.url, leak, r.text)


def test_the_public_model_notice_names_no_paths(monkeypatch, caplog):
    from ner_app import model_source

    def fails(value, cache_dir, roots=()):
        raise ner.HubError("could not download 'a/b' (OSError: [Errno 28] No space left: '/root/.cache/ner/a--b')")

    monkeypatch.setattr(model_source, "resolve_model", fails)
    _, notice = model_source.open_model("a/b")
    assert notice == "the model 'a/b' could not be fetched; the embedded model is used instead."
    assert "/root/.cache" in caplog.text  # the operator still finds the details in the log


def test_settings_of_every_limit_are_read_and_checked():
    s = Settings.from_env({"NER_MAX_REQUEST_CHARS": "300000", "NER_MAX_RESPONSE_BYTES": "1000",
                           "NER_ENGINE_CHUNK_CHARS": "5000", "NER_MAX_UPLOAD_BYTES": "4096",
                           "NER_HEADER_TIMEOUT": "2.5", "NER_BODY_TIMEOUT": "30", "NER_SHUTDOWN_TIMEOUT": "1",
                           "NER_FILE_TTL": "120", "NER_CACHE_MAX_BYTES": "1048576", "NER_FRAME_ANCESTORS": "'none'",
                           "NER_DISCARD_BYTES": "1000"})
    assert (s.max_request_chars, s.max_response_bytes, s.engine_chunk_chars, s.max_upload_bytes) == (
        300_000, 1000, 5000, 4096)
    assert (s.header_timeout_s, s.body_timeout_s, s.shutdown_timeout_s, s.file_ttl_s, s.cache_max_bytes) == (
        2.5, 30.0, 1.0, 120, 1_048_576)
    assert s.frame_ancestors == "'none'" and Settings.from_env({}).cors_origins == ()
    assert s.discard_bytes == 1000
    for name, value in [("NER_HEADER_TIMEOUT", "soon"), ("NER_BODY_TIMEOUT", "-1"), ("NER_FILE_TTL", "0"),
                        ("NER_CACHE_MAX_BYTES", "lots"), ("NER_MAX_REQUEST_CHARS", "10"), ("NER_DISCARD_BYTES", "-5"),
                        ("NER_FRAME_ANCESTORS", "'self'\r\nSet-Cookie: x=1")]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})


ENCODED = {
    "utf-16 with BOM": ("张三在北京清华大学任职期间曾赴上海参加会议。", "utf-16"),
    "utf-16-be with BOM": ("张三在北京清华大学任职。", "utf-16-be"),
    "gb18030": ("张三在北京清华大学任职期间曾赴上海参加会议。", "gb18030"),
    "big5": ("張三在北京清華大學任職期間曾赴上海參加會議。我們都很高興地看到了新的發展。", "big5"),
    "shift-jis": ("山田太郎は東京都に住んでいます。東京で会議が開かれました。", "shift_jis"),
}


@pytest.mark.parametrize("name", list(ENCODED))
def test_uploads_in_other_encodings_are_detected(name):
    from ner.textio import decode_bytes

    text, codec = ENCODED[name]
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    decoded, encoding, _ = decode_bytes(data)
    assert decoded == text, (name, encoding)


def test_an_unsure_encoding_is_a_warning(toy, tmp_path):
    from ner.textio import decode_bytes

    assert decode_bytes("北京".encode("gb18030")) == ("北京", "gb18030", False)
    assert decode_bytes("张三在北京清华大学任职期间曾赴上海参加会议。".encode("gb18030"))[2] is True
    path = tmp_path / "short.txt"
    path.write_bytes("北京".encode("gb18030"))
    with pytest.warns(UserWarning, match="无法确定文件的编码"):
        shown, highlight, *_ = NerService(toy, Settings(), export_dir=tmp_path / "out").analyze_file(str(path))
    assert shown == "北京" and highlight["entities"][0]["entity"] == "LOC"


def test_the_cli_detects_the_encoding_of_its_file(toy_dir, tmp_path):
    import subprocess
    import sys

    path = tmp_path / "u16.txt"
    path.write_bytes("张三在北京".encode("utf-16"))
    out = subprocess.run([sys.executable, "-m", "ner", "--model", str(toy_dir), "--file", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and [e["text"] for e in json.loads(out.stdout)["entities"]] == ["张三", "北京"]
    path.write_bytes("北京".encode("gb18030"))
    out = subprocess.run([sys.executable, "-m", "ner", "--model", str(toy_dir), "--file", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and "uncertain" in out.stderr and "gb18030" in out.stderr


def test_reading_an_upload_refuses_devices_and_oversize(tmp_path):
    from ner_app.files import FileArea, UploadRefused, read_file

    area = FileArea(tmp_path / "area", ttl_s=60, max_bytes=10_000)
    area.root.mkdir()
    inside = area.root / "ok.txt"
    inside.write_bytes(b"abc")
    assert read_file(inside, 10, area) == b"abc"
    for path, reason in [("/dev/zero", "not_received"), (str(ROOT / "requirements.txt"), "not_received"),
                         (str(area.root / ".." / "x"), "not_received"), (str(area.root / "gone.txt"), "missing")]:
        with pytest.raises(UploadRefused) as err:
            read_file(path, 10, area)
        assert err.value.reason == reason
    with pytest.raises(UploadRefused, match="not_file"):
        read_file("/dev/zero", 10)  # without an area: still no device
    with pytest.raises(UploadRefused, match="too_large"):
        read_file(inside, 2, area)
    (area.root / "link.txt").symlink_to(ROOT / "requirements.txt")
    with pytest.raises(UploadRefused):
        read_file(area.root / "link.txt", 10_000, area)


# ------------------------------------------------------------ SIGTERM with a tab open / a stalled client

def _stop(proc) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)
    return time.monotonic() - started


def _leftover_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()]


def test_sigterm_stops_the_server_with_a_tab_open(toy_dir, tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "server.log"
    with running_server(toy_dir, env={"GRADIO_TEMP_DIR": str(cache)}, log_path=log) as (url, proc):
        (path,) = upload(url, "tab.txt", TEXT.encode()).json()
        assert call(url, "analyze_file", [file_data(path)])[2]["event"] == "complete"
        assert call(url, "analyze", [TEXT])[2]["event"] == "complete"  # downloads on disk
        assert _leftover_files(cache)
        streams = _open_tab(url)
        took = _stop(proc)
        for s in streams:
            s.close()
    assert took < 5, f"SIGTERM took {took:.1f} s with a tab open"
    assert _leftover_files(cache) == [], "users' texts stay on disk after SIGTERM"
    assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace")


def _open_tab(url: str) -> list:
    """What an open browser tab holds: a real Chromium page when Debian's chromium is there, and (always)
    the page's heartbeat stream and a kept-alive connection by hand.  Returns things to ``close()``."""
    streams: list = []
    if CHROMIUM.exists():
        streams.append(_ChromiumTab(url))
    client = httpx.Client(timeout=30)
    client.get(f"{url}/")
    streams.append(client)
    started = threading.Event()

    def heartbeat():
        try:
            with httpx.stream("GET", f"{url}/gradio_api/heartbeat/tab-session", timeout=30) as r:
                started.set()
                for _ in r.iter_lines():
                    pass
        except httpx.HTTPError:
            pass

    threading.Thread(target=heartbeat, daemon=True).start()
    assert started.wait(10)
    return streams


def test_sigterm_stops_the_server_with_a_stalled_client(toy_dir, tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "server.log"
    sockets = []
    with running_server(toy_dir, env={"GRADIO_TEMP_DIR": str(cache)}, log_path=log) as (url, proc):
        port = int(url.rsplit(":", 1)[1])
        assert call(url, "analyze", [TEXT])[2]["event"] == "complete"
        for head in (b"POST /api/v1/ner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"text\":",
                     b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                     b"boundary=B\r\nContent-Length: 5000\r\n\r\n--B\r\n",
                     b"GET /healthz HTTP/1.1\r\nHo"):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(head)
            sockets.append(s)
        time.sleep(0.3)
        try:
            took = _stop(proc)
        finally:
            for s in sockets:
                s.close()
    assert took < 5, f"SIGTERM took {took:.1f} s with a stalled client"
    assert _leftover_files(cache) == []
    assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace")


def test_no_traceback_in_the_server_log(live):
    """After every attack above (the module's tests run in order, this one last of those on ``live``)."""
    text = live.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text and "Exception in ASGI application" not in text, text[-3000:]
