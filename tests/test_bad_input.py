"""Odd and hostile input through every entry point: the UI handler, /recognize, /extract, REST and the CLI.

Each gets a correct result or a clear error, and the server keeps serving afterwards.
"""
import json
import subprocess
import sys

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from conftest import ROOT
from ner_app.config import Settings

LIMITS = Settings.from_env({})

ODD_TEXTS = {
    "empty": "",
    "whitespace": " \n\t\u3000 ",
    "nul and controls": "\x00张三\x01在\x1b北京\x7f",
    "script": "<script>alert(1)</script>张三",
    "html": '<img src=x onerror="alert(1)">上海',
    "rtl and bidi": "مرحبا 张三 \u202e北京\u202c שלום",
    "combining": "e\u0301\u0301 张三 北\u0300京",
    "emoji and astral": "🇨🇳👨‍👩‍👧张三𠀀北京🙂",
    "long line without punctuation": "我们都很高兴地看到了新的发展" * 700 + "上海",
}


def rest(url, **kw):
    return httpx.post(f"{url}/api/v1/ner", timeout=120, **kw)


def expected_with_library(toy, text):
    return [e.to_dict() for e in toy.recognize(text)]


def strip_scores(entities):
    return [{k: v for k, v in e.items() if k != "score"} for e in entities]


@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


@pytest.mark.parametrize("name", list(ODD_TEXTS))
def test_odd_text_through_rest_extract_and_recognize(server_url, client, toy, name):
    text = ODD_TEXTS[name]
    want = strip_scores(expected_with_library(toy, text))
    r = rest(server_url, json={"text": text})
    assert r.status_code == 200
    assert strip_scores(r.json()["entities"]) == want
    assert strip_scores(client.predict(text, api_name="/extract")["entities"]) == want
    tokens = client.predict(text, api_name="/recognize")
    marked = [(t["token"], t["class_or_confidence"]) for t in tokens if t["class_or_confidence"]]
    assert marked == [(e["text"], e["type"]) for e in want]
    for e in want:
        assert text[e["start"] : e["end"]] == e["text"]


@pytest.mark.parametrize("name", [n for n in ODD_TEXTS if ODD_TEXTS[n].strip()])
def test_odd_text_through_the_ui_handler(toy, name):
    from ner_app.service import NerService

    service = NerService(toy, LIMITS)
    highlight, rows, _counts, json_path, _csv = service.analyze(ODD_TEXTS[name])
    exported = json.loads(open(json_path, encoding="utf-8").read())
    assert [e["text"] for e in exported["entities"]] == [e.text for e in toy.recognize(ODD_TEXTS[name])]
    assert len(rows["data"]) == len(exported["entities"])


def test_ui_handler_refuses_empty_and_over_limit(toy):
    from ner_app.service import NerService

    service = NerService(toy, LIMITS)
    for text in ("", "  \n", None):
        with pytest.raises(gr.Error):
            service.analyze(text)
    with pytest.raises(gr.Error, match="太长"):
        service.analyze("张" * (LIMITS.max_chars + 1))


def test_one_megabyte_through_rest_is_413_and_the_server_lives(server_url):
    text = "张三在北京。" * 60_000  # 1 MB of UTF-8, far over the character limit
    r = rest(server_url, json={"text": text})
    assert r.status_code == 413 and "error" in r.json()
    assert rest(server_url, json={"text": "张三"}).status_code == 200


def test_deeply_nested_json_is_a_clean_400(server_url):
    body = b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = rest(server_url, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "Traceback" not in r.text and "/" not in r.json()["error"].replace("/api/v1/ner", "")
    assert rest(server_url, json={"text": "北京"}).json()["entities"][0]["text"] == "北京"


def test_null_and_non_string_through_extract(client, server_url):
    with pytest.raises(Exception, match="text must be a string, not null"):
        client.predict(None, api_name="/extract")
    # a number is refused as REST refuses it (it used to be read as the text "42", quietly without entities)
    with pytest.raises(Exception, match="text must be a string, not a number"):
        client.predict(42, api_name="/extract")
    assert httpx.get(f"{server_url}/healthz").status_code == 200


def test_cli_reads_invalid_utf8_and_empty_input(toy_dir):
    env = {"PATH": "/usr/bin:/bin", "NER_MODEL": str(toy_dir)}
    run = lambda data: subprocess.run([sys.executable, "-m", "ner", "--model", str(toy_dir)], input=data,  # noqa: E731
                                      capture_output=True, cwd=ROOT, env=env, timeout=60)
    out = run(b"\xff\xfe\xfa\xe5\xbc\xa0\xe4\xb8\x89\xe5\x9c\xa8\xe5\x8c\x97\xe4\xba\xac")  # bad bytes + 张三在北京
    assert out.returncode == 0
    got = json.loads(out.stdout)["entities"]
    assert [e["text"] for e in got] == ["张三", "北京"]
    empty = run(b"   \n")
    assert empty.returncode == 0 and json.loads(empty.stdout)["entities"] == []


def test_cli_missing_file_is_a_clean_error(toy_dir, tmp_path):
    out = subprocess.run([sys.executable, "-m", "ner", "--model", str(toy_dir), "--file", str(tmp_path / "nope.txt")],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "cannot read" in out.stderr and "Traceback" not in out.stderr


class _FailsOnBoom:
    """A recognizer that fails on any text containing "boom", like an engine bug on one input."""

    name = "flaky"
    labels = ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]

    def __init__(self, real):
        self.real = real

    def recognize(self, text):
        if "boom" in text:
            raise RuntimeError("engine exploded at /secret/path")
        return self.real.recognize(text)

    def recognize_batch(self, texts):
        return [self.recognize(t) for t in texts]


def test_engine_failure_on_one_text_spares_its_batch_mates(toy):
    from ner_app.service import NerService

    service = NerService(_FailsOnBoom(toy), LIMITS)
    (results,) = service.extract_entities(["张三在北京", "boom", "上海"])
    assert [e["text"] for e in results[0]["entities"]] == ["张三", "北京"]
    assert results[1] == {"entities": [], "error": "recognition failed inside the engine"}
    assert [e["text"] for e in results[2]["entities"]] == ["上海"]
    (highlights,) = service.highlight_entities(["boom", "上海"])
    assert len(highlights) == 2


def test_rest_answers_busy_when_every_slot_is_taken(toy):
    import threading
    import time

    from fastapi.testclient import TestClient

    from ner_app.rest import create_api

    release = threading.Event()

    class Slow:
        name = "slow"
        labels = toy.labels

        def recognize_batch(self, texts):
            release.wait(10)
            return [[] for _ in texts]

    settings = Settings.from_env({"NER_QUEUE_SIZE": "1"})
    with TestClient(create_api(Slow(), settings)) as tc:
        first = threading.Thread(target=lambda: tc.post("/api/v1/ner", json={"text": "a"}))
        first.start()
        time.sleep(0.3)
        for _ in range(100):  # wait until the first request holds the only slot
            r = tc.post("/api/v1/ner", json={"text": "b"})
            if r.status_code == 503:
                break
        release.set()
        first.join()
        assert r.status_code == 503 and "busy" in r.json()["error"] and r.headers["retry-after"] == "1"
        assert tc.post("/api/v1/ner", json={"text": "c"}).status_code == 200
