"""The APIs of the real server (``python app.py`` on the toy model): Gradio client endpoints and REST routes."""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from server_util import run_app

from ner_app.config import Settings
from ner_app.rest import create_api

TEXT = "张三在北京清华大学任职期间曾赴上海参加会议。"
EXPECTED = [{"text": "张三", "type": "PER", "start": 0, "end": 2, "source": "model"},
            {"text": "北京", "type": "LOC", "start": len("张三在"), "end": len("张三在北京"), "source": "model"},
            {"text": "清华大学", "type": "ORG", "start": len("张三在北京"), "end": len("张三在北京清华大学"),
             "source": "model"},
            {"text": "上海", "type": "LOC", "start": len("张三在北京清华大学任职期间曾赴"),
             "end": len("张三在北京清华大学任职期间曾赴上海"), "source": "model"}]
LIMITS = Settings()


def without_scores(entities: list[dict]) -> list[dict]:
    assert all(0.0 <= e["score"] <= 1.0 for e in entities)
    return [{k: v for k, v in e.items() if k != "score"} for e in entities]


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
    assert "".join(t["token"] for t in tokens) == TEXT and all(t["token"] for t in tokens)  # no empty token
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
            {"text": "张三", "type": "PER", "start": i, "end": i + 2, "source": "model"},
            {"text": "上海", "type": "LOC", "start": i + 3, "end": i + 5, "source": "model"}]


def test_gradio_extract_refuses_over_limit_text(client, server_url):
    # 413 on every road, as REST: gradio_client shows the status (it reads a message only from a 422)
    with pytest.raises(Exception, match="413"):
        client.predict("张" * (LIMITS.max_chars + 1), api_name="/extract")
    r = httpx.post(f"{server_url}/gradio_api/call/extract", json={"data": ["张" * (LIMITS.max_chars + 1)]})
    assert r.status_code == 413 and f"at most {LIMITS.max_chars} per text" in r.json()["error"]


@pytest.mark.parametrize("api_name", ["/extract", "/recognize"])
@pytest.mark.parametrize(("value", "words"), [
    (None, "- text: text must be a string, not null"), (["张三", "李四"], "not a list; send one text per call"),
    (123, "- text: text must be a string, not a number")])
def test_gradio_client_gets_a_clear_message(client, api_name, value, words):
    with pytest.raises(Exception, match=re.escape(words)):
        client.predict(value, api_name=api_name)


def test_gradio_extract_parameters(client):
    text = "😀" + TEXT
    result = client.predict(text, 0.0, ["LOC"], "utf16", api_name="/extract")
    # UTF-16 offsets: the emoji counts two code units, as in JavaScript
    assert [(e["text"], e["start"]) for e in result["entities"]] == [
        ("北京", 2 + len("张三在")), ("上海", 2 + len("张三在北京清华大学任职期间曾赴"))]
    assert client.predict(text, 1.0, api_name="/extract") == {"entities": []}
    tokens = client.predict(TEXT, 0.0, ["PER"], api_name="/recognize")
    assert [t["token"] for t in tokens if t["class_or_confidence"]] == ["张三"]


def test_view_api_documents_the_parameters(client):
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    params = {p["parameter_name"]: p for p in info["/extract"]["parameters"]}
    assert list(params) == ["text", "min_score", "types", "offsets"]
    assert params["types"]["parameter_has_default"] and params["offsets"]["parameter_default"] == "code-points"
    assert "JavaScript" in params["offsets"]["python_type"]["description"] + json.dumps(params["offsets"])
    # the API panel shows each endpoint's description: it points to the REST API too
    assert "/api/v1/ner" in json.dumps(info["/extract"]) and "/api/v1/ner" in json.dumps(info["/recognize"])
    assert set(info) == {"/extract", "/recognize"}


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
        [{"text": "上海", "type": "LOC", "start": 0, "end": 2, "source": "model"}], [], EXPECTED]


def test_rest_long_text_is_not_truncated(server_url):
    text = "我们都很高兴地看到了新的发展。" * 2000 + "汉"
    r = post(server_url, json={"text": text})
    assert r.status_code == 200
    assert without_scores(r.json()["entities"]) == [{"text": "汉", "type": "LOC", "start": len(text) - 1,
                                                     "end": len(text), "source": "model"}]


@pytest.mark.parametrize("body, status, words", [
    (b'{"text": "unterminated', 400, "JSON"),
    (b"[1, 2]", 400, "object"),
    (b"{}", 400, "text"),
    (b'{"txt": "x"}', 400, "text"),
    (b'{"text": null}', 422, "null"),
    (b'{"text": 42}', 422, "string"),
    (b'{"text": ["a"]}', 422, "string"),
    (b'{"text": "a", "texts": ["b"]}', 400, "exactly one"),
    (b'{"texts": "abc"}', 422, "list"),
    (b'{"texts": ["a", 3]}', 422, "texts[1]"),
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
                {"text": "张三", "type": "PER", "start": i, "end": i + 2, "source": "model"},
                {"text": "北京", "type": "LOC", "start": i + 3, "end": i + 5, "source": "model"}]


def test_openapi_docs_are_served(server_url):
    spec = httpx.get(f"{server_url}/openapi.json").json()
    assert {"/api/v1/ner", "/healthz"} <= set(spec["paths"])
    docs = httpx.get(f"{server_url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Swagger UI comes from this server, not a CDN: every script and stylesheet is a local path
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        assert httpx.get(server_url + asset).status_code == 200


def test_rest_dictionary_applies_to_that_request_only(server_url):
    text = "我在字节跳动和星巴克工作。"
    r = post(server_url, json={"text": text, "dictionary": ["字节跳动\tORG", "星巴克\tORG"]})
    assert r.status_code == 200, r.text
    found = [(e["text"], e["type"], e["source"]) for e in r.json()["entities"]]
    assert ("字节跳动", "ORG", "dictionary") in found and ("星巴克", "ORG", "dictionary") in found
    plain = post(server_url, json={"text": text}).json()["entities"]
    assert all(e["source"] == "model" for e in plain)
    blocked = post(server_url, json={"text": TEXT, "dictionary": ["-张三\tPER"]}).json()["entities"]
    assert without_scores(blocked) == EXPECTED[1:]


@pytest.mark.parametrize(("extra", "status", "words"), [
    ({"dictionary": "字节跳动\tORG"}, 422, "list of strings"), ({"dictionary": ["字节跳动"]}, 422, "line 1"),
    ({"dictionary": ["字节跳动\tFOO"]}, 422, "not one of the model's types"),
    ({"dictionary": [f"词{i}\tORG" for i in range(LIMITS.max_dict_entries + 1)]}, 413, "entries"),
    ({"min_score": 2}, 422, "min_score"), ({"types": ["FOO"]}, 422, "not a type"),
    ({"offsets": "bytes"}, 422, "offsets")])
def test_rest_bad_options_get_a_json_error(server_url, extra, status, words):
    error = assert_clean_error(post(server_url, json={"text": TEXT, **extra}), status)
    assert words in error


def test_rest_filters_and_utf16_offsets(server_url):
    r = post(server_url, json={"texts": ["😀" + TEXT, TEXT], "types": ["PER", "ORG"], "offsets": "utf16"})
    first, second = (x["entities"] for x in r.json()["results"])
    assert [(e["text"], e["start"], e["end"]) for e in first] == [("张三", 2, 4), ("清华大学", 2 + len("张三在北京"),
                                                                   2 + len("张三在北京清华大学"))]
    assert [e["text"] for e in second] == ["张三", "清华大学"]
    assert post(server_url, json={"text": TEXT, "min_score": 1}).json() == {"entities": []}


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
    done = run_app({"NER_MODEL": str(tmp_path / "no-such-model")}, timeout=60, inherit=True)
    assert done.returncode == 2
    assert "no-such-model" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_port_is_a_plain_message_and_exit_code_2(toy_dir):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_app({"NER_MODEL": str(toy_dir), "NER_MODEL_ROOTS": str(toy_dir.parent),
                        "GRADIO_SERVER_PORT": str(port)}, inherit=True)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr and "GRADIO_SERVER_PORT" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and "serving on" not in proc.stderr


def test_the_operators_user_dictionary_applies_to_every_request(toy_dir, tmp_path):
    from gradio_client import Client
    from server_util import running_server

    path = tmp_path / "user.dict"
    path.write_text("# the operator's entries\n字节跳动\tORG\n-张三\tPER\n", encoding="utf-8")
    text = "张三在字节跳动工作。"
    with running_server(toy_dir, env={"NER_USER_DICT": str(path)}) as (url, _proc):
        rest = post(url, json={"text": text}).json()["entities"]
        assert [(e["text"], e["type"], e["source"]) for e in rest] == [("字节跳动", "ORG", "dictionary")]
        extracted = Client(url, verbose=False).predict(text, api_name="/extract")["entities"]
        assert [(e["text"], e["source"]) for e in extracted] == [("字节跳动", "dictionary")]


def test_a_bad_user_dictionary_stops_the_server_naming_the_line(toy_dir, tmp_path):
    path = tmp_path / "user.dict"
    path.write_text("字节跳动\tORG\n没有类型的一行\n", encoding="utf-8")
    proc = run_app({"NER_MODEL": str(toy_dir), "NER_MODEL_ROOTS": str(toy_dir.parent), "NER_USER_DICT": str(path)},
                   inherit=True)
    assert proc.returncode == 2
    assert f"{path}:2" in proc.stderr and "no type" in proc.stderr and "Traceback" not in proc.stderr


def test_docs_are_themed_bilingual_tagged_and_every_example_runs(toy):
    from ner_app.rest import swagger_ui_folder

    css = (Path(__file__).resolve().parent.parent / "assets" / "docs.css").read_text(encoding="utf-8")
    with TestClient(create_api(toy, Settings(), docs_assets=swagger_ui_folder(), docs_css=css)) as tc:
        docs = tc.get("/docs").text
        assert "<style>" in docs and "#07080f" in docs and '"tryItOutEnabled": true' in docs
        spec = tc.get("/openapi.json").json()
        assert "中文命名实体识别" in spec["info"]["description"] and "Chinese named-entity" in spec["info"]["description"]
        assert [t["name"] for t in spec["tags"]] == ["识别 · recognition", "状态 · health"]
        assert spec["paths"]["/api/v1/ner"]["post"]["tags"] == ["识别 · recognition"]
        assert spec["paths"]["/healthz"]["get"]["tags"] == ["状态 · health"]
        examples = spec["paths"]["/api/v1/ner"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        assert len(examples) >= 4
        for name, example in examples.items():  # what "Try it out" sends
            answer = tc.post("/api/v1/ner", json=example["value"])
            assert answer.status_code == 200, (name, answer.text)
        forced = tc.post("/api/v1/ner", json=examples["dictionary"]["value"]).json()["entities"]
        assert ("字节跳动", "dictionary") in [(e["text"], e["source"]) for e in forced]
