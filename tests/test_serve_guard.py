"""The same hostile requests to ``python app.py`` and to Ray Serve replicas of the REST API get the same answers:
Serve's proxy has the app's guard (body limits and timeouts, the readable 413, the header deadline) and the
replicas build the app with the same functions.  Loopback only, free ports, every probe bounded in time."""
from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import RAY_ENV
from server_util import running_server

#: Default limits (the timeouts are the tests' 4 s, as in RAY_ENV): one text, one body, texts per request.
MAX_CHARS, MAX_BODY, MAX_TEXTS = 100_000, 8 * 1024 * 1024, 64
#: 64 texts of 96,000 characters (about 18 MB): an oversize body a real client sends whole.
BIG = json.dumps({"texts": ["长" * 96_000] * MAX_TEXTS}, ensure_ascii=False).encode("utf-8")
SECURITY_HEADERS = ("x-content-type-options", "referrer-policy", "content-security-policy")


def raw(url: str, head: bytes, body: bytes = b"", wait_s: float = 15.0) -> tuple[int, bytes, str]:
    """Send ``head`` and ``body`` on a fresh connection, then read until the server closes it:
    ``(status, body, how it ended)`` where the end is "closed" or "reset"."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as s:
        try:
            s.sendall(head + body)
        except ConnectionResetError:  # the server closed with our bytes unread: the client never sees an answer
            return 0, b"", "reset"
        data, end = b"", "closed"
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                end = "reset"
                break
            except TimeoutError:
                end = "open"
                break
            if not chunk:
                break
            data += chunk
    head_part, _, payload = data.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ")[1]) if head_part.startswith(b"HTTP/1.1 ") else 0
    return status, payload, end


def post_head(length: int, ctype: str = "application/json", extra: str = "") -> bytes:
    return (f"POST /api/v1/ner HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def answer(r: httpx.Response) -> tuple[int, object]:
    missing = [h for h in SECURITY_HEADERS if h not in r.headers]
    try:
        body = r.json()
    except ValueError:
        body = r.text
    return r.status_code, body if not missing else ("missing headers", missing)


def probes(url: str) -> dict[str, tuple]:
    """Every hostile request, sent at once (the slow ones wait out the 4-s timeouts side by side)."""
    def chunked():
        for k in range(0, len(BIG), 1 << 20):
            yield BIG[k:k + (1 << 20)]

    def post(**kw):
        with httpx.Client(timeout=60) as c:
            return answer(c.post(f"{url}/api/v1/ner", **kw))

    jobs = {
        "stalled body": lambda: raw(url, post_head(100), b'{"text": "'),
        "half-sent headers": lambda: raw(url, b"POST /api/v1/ner HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
        "oversize body, declared, sent whole": lambda: raw(url, post_head(len(BIG)), BIG, wait_s=60),
        "oversize body, Expect: 100-continue": lambda: raw(url, post_head(len(BIG), extra="Expect: 100-continue\r\n")),
        "oversize body, chunked": lambda: post(content=chunked(), headers={"content-type": "application/json"}),
        "oversize body, httpx": lambda: post(content=BIG, headers={"content-type": "application/json"}),
        "over-limit text": lambda: post(json={"text": "长" * (MAX_CHARS + 1)}),
        "too many texts": lambda: post(json={"texts": ["张三"] * (MAX_TEXTS + 1)}),
        "wrong content type": lambda: post(content=b'{"text": "x"}', headers={"content-type": "text/plain"}),
        "no content type": lambda: post(content=b'{"text": "x"}'),
        "not JSON": lambda: post(content=b"{", headers={"content-type": "application/json"}),
        "a number for text": lambda: post(json={"text": 42}),
        "lone surrogate": lambda: post(content='{"text": "\\ud800张三在北京"}'.encode(),
                                       headers={"content-type": "application/json"}),
        "lone surrogate in a batch": lambda: post(content='{"texts": ["北京\\udfff", "\\ud83d"]}'.encode(),
                                                  headers={"content-type": "application/json"}),
        "GET on the POST route": lambda: answer(httpx.get(f"{url}/api/v1/ner", timeout=30)),
        "unknown API route": lambda: answer(httpx.post(f"{url}/api/v2/ner", json={}, timeout=30)),
        "Gradio proxy route": lambda: answer(httpx.get(f"{url}/gradio_api/proxy=http://127.0.0.1:1/x", timeout=30)),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: fut.result() for name, fut in futures.items()}


@pytest.fixture(scope="module")
def app_answers(toy_dir):
    with running_server(toy_dir, env={k: v for k, v in RAY_ENV.items() if k.startswith("NER_")}) as (url, _):
        return probes(url)


def test_app_answers_hostile_requests_with_readable_errors(app_answers):
    got = app_answers
    assert got["stalled body"][:2] == (408, b'{"error": "the request body did not arrive within 4 seconds"}')
    assert got["half-sent headers"][:2] == (408, b"request headers took too long")
    status, body, end = got["oversize body, declared, sent whole"]
    assert (status, end) == (413, "closed") and b"over the limit of" in body
    assert got["oversize body, Expect: 100-continue"][0] == 413
    assert got["oversize body, chunked"][0] == got["oversize body, httpx"][0] == 413
    assert [got[k][0] for k in ("over-limit text", "too many texts", "wrong content type", "no content type",
                                "not JSON", "a number for text")] == [413, 413, 415, 415, 400, 422]
    assert got["lone surrogate"][0] == got["lone surrogate in a batch"][0] == 200
    assert [got[k][0] for k in ("GET on the POST route", "unknown API route", "Gradio proxy route")] == [405, 404, 404]


def test_ray_serve_answers_them_exactly_like_the_app(app_answers, toy_dir, ray_local, monkeypatch):
    from ray import serve

    from ner.bench.launch import free_port
    from ner_app.serve import NerReplica

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        env = {"NER_MODEL": str(toy_dir), "NER_MODEL_ROOTS": str(toy_dir.parent), "NER_THREADS": "1"}
        serve.run(NerReplica.options(num_replicas=1, ray_actor_options={"num_cpus": 1,
                                                                        "runtime_env": {"env_vars": env}}).bind(),
                  name="ner", route_prefix="/")
        got = probes(f"http://127.0.0.1:{port}")
        held = stalled_flood(f"http://127.0.0.1:{port}")
    finally:
        serve.shutdown()
    print(f"Ray Serve with 64 stalled bodies and 4 half-sent headers open: {held}")  # the figure (pytest -s)
    assert got == app_answers
    assert held["healthz"][0] == 200 and held["rest"][0] == 200, held
    assert held["healthz"][1] < 10 and held["rest"][1] < 10, held  # about 0.01 s on a quiet machine


def stalled_flood(url: str) -> dict:
    """64 connections that send a request's headers and one byte of its 1,000-byte body, and 4 that send half
    their headers, all at once (from four loopback addresses, 16 each: within each client's own bound);
    then ``/healthz`` and a small REST request from another client: ``(status, seconds)`` of each."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    try:
        for k in range(64):
            s = socket.create_connection((host, int(port)), timeout=10, source_address=(f"127.0.0.{2 + k % 4}", 0))
            s.sendall(post_head(1000) + b"{")
            socks.append(s)
        for _ in range(4):
            s = socket.create_connection((host, int(port)), timeout=10, source_address=("127.0.0.6", 0))
            s.sendall(b"POST /api/v1/ner HTTP/1.1\r\nHost: 127.")
            socks.append(s)
        time.sleep(1)
        out = {}
        t0 = time.monotonic()
        out["healthz"] = (httpx.get(f"{url}/healthz", timeout=30).status_code, time.monotonic() - t0)
        t0 = time.monotonic()
        r = httpx.post(f"{url}/api/v1/ner", json={"text": "张三在北京。"}, timeout=30)
        out["rest"] = (r.status_code, time.monotonic() - t0)
        return out
    finally:
        for s in socks:
            s.close()


def test_the_documented_start_command_guards_the_proxy():
    """``serve run ner_app.serve:app`` imports the module before it starts Ray: the proxy inherits the callback."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"}
    out = subprocess.run([sys.executable, "-c", "import os, ner_app.serve as s; "
                          "print(os.environ['RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH'] == s.PROXY_CALLBACK)"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
