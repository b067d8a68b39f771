"""The APIs of the real server (``python app.py`` on the toy model): Gradio client endpoints and REST routes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from server_util import ROOT

from ner_app.config import Settings
from ner_app.rest import create_api

TEXT = "张三在北京清华大学任职期间曾赴上海参加会议。"
EXPECTED = [{"text": "张三", "type": "PER", "start": 0, "end": 2},
            {"text": "北京", "type": "LOC", "start": len("张三在"), "end": len("张三在北京")},
            {"text": "清华大学", "type": "ORG", "start": len("张三在北京"), "end": len("张三在北京清华大学")},
            {"text": "上海", "type": "LOC", "start": len("张三在北京清华大学任职期间曾赴"),
             "end": len("张三在北京清华大学任职期间曾赴上海")}]
LIMITS = Settings()


def without_scores(entities: list[dict]) -> list[dict]:
    assert all(0.0 <= e["score"] <= 1.0 and e["source"] in ("model", "dictionary") for e in entities)
    return [{k: v for k, v in e.items() if k not in ("score", "source")} for e in entities]


def assert_clean_error(response: httpx.Response, status: int) -> str:
    """A JSON ``{"error": message}`` with the status, and nothing of the server's insides in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    for leak in ("Traceback", 'File "', ".py", "/work", "/tmp"):
        assert leak not in response.text
    return body["error"]


@pytest.fixture(scope="module")
def client(server_url):
    from gradio_client import Client

    return Client(server_url, verbose=False)


def post(url: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/ner", timeout=30, **kwargs)


# ------------------------------------------------------------ Gradio client endpoints

def test_gradio_recognize_returns_highlighted_tokens(client):
    tokens = client.predict(TEXT, api_name="/recognize")
    assert "".join(t["token"] for t in tokens) == TEXT
    marked = [(t["token"], t["class_or_confidence"]) for t in tokens if t["class_or_confidence"]]
    assert marked == [(e["text"], e["type"]) for e in EXPECTED]


def test_gradio_extract_returns_entities(client):
    result = client.predict(TEXT, api_name="/extract")
    assert set(result) == {"entities"}
    assert without_scores(result["entities"]) == EXPECTED


def test_gradio_extract_concurrent_calls_are_answered_separately(client):
    texts = ["我" * i + "张三在上海" for i in range(12)]
    jobs = [client.submit(t, api_name="/extract") for t in texts]
    for i, job in enumerate(jobs):
        assert without_scores(job.result(timeout=60)["entities"]) == [
            {"text": "张三", "type": "PER", "start": i, "end": i + 2},
            {"text": "上海", "type": "LOC", "start": i + 3, "end": i + 5}]


def test_gradio_extract_refuses_over_limit_text(client):
    with pytest.raises(Exception, match="400"):
        client.predict("张" * (LIMITS.max_chars + 1), api_name="/extract")


# ------------------------------------------------------------ REST

def test_healthz_names_the_model(server_url):
    r = httpx.get(f"{server_url}/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "model": "toy"}


def test_rest_single_text(server_url):
    r = post(server_url, json={"text": TEXT})
    assert r.status_code == 200
    assert set(r.json()) == {"entities"}
    assert without_scores(r.json()["entities"]) == EXPECTED


def test_rest_batch_keeps_order_and_empty_texts(server_url):
    r = post(server_url, json={"texts": ["上海", "", TEXT]})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [without_scores(x["entities"]) for x in results] == [
        [{"text": "上海", "type": "LOC", "start": 0, "end": 2}], [], EXPECTED]


def test_rest_long_text_is_not_truncated(server_url):
    text = "我们都很高兴地看到了新的发展。" * 2000 + "汉"
    r = post(server_url, json={"text": text})
    assert r.status_code == 200
    assert without_scores(r.json()["entities"]) == [{"text": "汉", "type": "LOC", "start": len(text) - 1,
                                                     "end": len(text)}]


@pytest.mark.parametrize("body, status, words", [
    (b'{"text": "unterminated', 400, "JSON"),
    (b"[1, 2]", 400, "object"),
    (b"{}", 400, "text"),
    (b'{"txt": "x"}', 400, "text"),
    (b'{"text": null}', 400, "null"),
    (b'{"text": 42}', 400, "string"),
    (b'{"text": ["a"]}', 400, "string"),
    (b'{"text": "a", "texts": ["b"]}', 400, "exactly one"),
    (b'{"texts": "abc"}', 400, "list"),
    (b'{"texts": ["a", 3]}', 400, "texts[1]"),
    (b"\xff\xfe not utf-8", 400, "JSON"),
])
def test_rest_bad_requests_get_a_json_error(server_url, body, status, words):
    error = assert_clean_error(post(server_url, content=body, headers={"content-type": "application/json"}), status)
    assert words in error


def test_rest_wrong_content_type_is_415(server_url):
    error = assert_clean_error(post(server_url, content=b"text=abc",
                                    headers={"content-type": "application/x-www-form-urlencoded"}), 415)
    assert "application/json" in error


def test_rest_over_limit_text_is_413(server_url):
    assert "characters" in assert_clean_error(post(server_url, json={"text": "张" * (LIMITS.max_chars + 1)}), 413)


def test_rest_too_many_texts_is_413(server_url):
    assert "at most" in assert_clean_error(post(server_url, json={"texts": ["a"] * (LIMITS.max_texts + 1)}), 413)


def test_rest_oversized_body_is_refused_before_reading(server_url):
    body = json.dumps({"text": "a" * (LIMITS.max_body_bytes + 1)}).encode()
    assert "bytes" in assert_clean_error(post(server_url, content=body,
                                              headers={"content-type": "application/json"}), 413)


def test_rest_oversized_chunked_body_is_cut_off(server_url):
    chunk = b" " * 65536
    chunks = iter([b'{"text": "'] + [chunk] * (LIMITS.max_body_bytes // len(chunk) + 2) + [b'"}'])
    assert "bytes" in assert_clean_error(post(server_url, content=chunks,
                                              headers={"content-type": "application/json"}), 413)


def test_rest_wrong_method_and_unknown_route_are_json(server_url):
    r = httpx.get(f"{server_url}/api/v1/ner")
    assert "POST" in assert_clean_error(r, 405) and r.headers["allow"] == "POST"
    assert_clean_error(httpx.post(f"{server_url}/api/v2/nothing", json={"text": "a"}), 404)


def test_rest_concurrent_clients_each_get_their_own_entities(server_url):
    def call(i: int):
        text = "我" * i + "张三在北京"
        return i, post(server_url, json={"text": text})

    with ThreadPoolExecutor(12) as pool:
        for i, r in pool.map(call, range(12)):
            assert r.status_code == 200
            assert without_scores(r.json()["entities"]) == [
                {"text": "张三", "type": "PER", "start": i, "end": i + 2},
                {"text": "北京", "type": "LOC", "start": i + 3, "end": i + 5}]


def test_openapi_docs_are_served(server_url):
    spec = httpx.get(f"{server_url}/openapi.json").json()
    assert {"/api/v1/ner", "/healthz"} <= set(spec["paths"])
    docs = httpx.get(f"{server_url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_page_is_served_with_title(server_url):
    r = httpx.get(server_url + "/")
    assert r.status_code == 200 and "AI 智能实体侦测服务" in r.text


# ------------------------------------------------------------ engine failure (in-process)

class _Flaky:
    """Fails on texts containing "boom", like an engine bug would."""

    name = "flaky"
    labels = ["O", "S-PER"]

    def recognize_batch(self, texts):
        if any("boom" in t for t in texts):
            raise RuntimeError("engine exploded at /secret/model/path.onnx")
        return [[] for _ in texts]


def test_engine_exception_is_500_json_and_the_server_keeps_serving():
    with TestClient(create_api(_Flaky(), Settings()), raise_server_exceptions=False) as tc:
        error = assert_clean_error(tc.post("/api/v1/ner", json={"text": "boom"}), 500)
        assert "exploded" not in error
        assert tc.post("/api/v1/ner", json={"text": "fine"}).json() == {"entities": []}
        assert tc.get("/healthz").json() == {"status": "ok", "model": "flaky"}


def test_unusable_model_stops_the_server_with_a_plain_message(tmp_path):
    env = {**os.environ, "NER_MODEL": str(tmp_path / "no-such-model"), "GRADIO_SERVER_PORT": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "app.py")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "no-such-model" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
