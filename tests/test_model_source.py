"""Where NER_MODEL may point, and what the app does when the model cannot be had."""
import time

import httpx
import pytest

import ner
from conftest import ROOT
from server_util import run_app, running_server

needs_embedded = pytest.mark.skipif(not (ner.EMBEDDED_MODEL / "config.json").is_file(),
                                    reason="the embedded model is not in models/ yet")


@needs_embedded
def test_unreachable_hub_falls_back_to_the_embedded_model_quickly():
    # the hub address points at a closed loopback port: no traffic leaves the machine
    started = time.monotonic()
    env = {"MODELSCOPE_DOMAIN": "127.0.0.1", "NER_CACHE": str(ROOT / "artifacts" / "cache")}
    with running_server("damo/nlp_raner_named-entity-recognition_chinese-base-news", env=env) as (url, _):
        assert time.monotonic() - started < 30
        health = httpx.get(f"{url}/healthz").json()
        assert health["model"] == ner.load(ner.EMBEDDED_MODEL).name
        assert "unreachable" in health["notice"] and "embedded model" in health["notice"]
        r = httpx.post(f"{url}/api/v1/ner", json={"text": "李明在上海工作。"})
        assert r.status_code == 200 and any(e["text"] == "上海" for e in r.json()["entities"])
        assert "所选模型不可用" in httpx.get(url).text or "notice" in health


@pytest.mark.parametrize("value, words", [
    ("http://example.com/model.onnx", "URL"),
    ("/etc", "neither a model directory"),
    ("../../etc/passwd", ".."),
])
def test_bad_model_values_stop_the_app_with_a_message(value, words):
    proc = run_app({"NER_MODEL": value, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_broken_model_directory_stops_the_app_with_a_message(toy_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(toy_dir, broken)
    (broken / "crf.npz").unlink()
    proc = run_app({"NER_MODEL": str(broken), "NER_MODEL_ROOTS": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert "no CRF transitions" in proc.stderr and "Traceback" not in proc.stderr
