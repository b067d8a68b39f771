"""The Gradio app in-process: the page builds without launching, and each handler returns the right values."""
from __future__ import annotations

import csv
import json
import re

import gradio as gr
import pytest

from ner_app import view
from ner_app.config import Settings
from ner_app.service import NerService

TEXT = "张三在北京清华大学任职期间曾赴上海参加会议。"
#: what the toy model finds in TEXT: (text, type, start)
EXPECTED = [("张三", "PER", 0), ("北京", "LOC", len("张三在")), ("清华大学", "ORG", len("张三在北京")),
            ("上海", "LOC", len("张三在北京清华大学任职期间曾赴"))]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def service(toy, tmp_path):
    return NerService(toy, Settings(), export_dir=tmp_path / "exports")


def spans(highlight: dict) -> list[tuple[str, str, int]]:
    return [(highlight["text"][e["start"]:e["end"]], e["entity"], e["start"]) for e in highlight["entities"]]


def test_build_demo_returns_blocks_without_launching(service):
    import app

    demo = app.build_demo(service)
    assert isinstance(demo, gr.Blocks)
    assert not demo.is_running
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    for name in ("recognize", "extract"):
        assert fns[name].batch and fns[name].max_batch_size == 16
    assert demo._queue.max_size == Settings().queue_size


def test_queue_size_and_limits_come_from_the_environment():
    s = Settings.from_env({"NER_QUEUE_SIZE": "8", "NER_MAX_CHARS": "500", "NER_MAX_TEXTS": "3",
                           "GRADIO_SERVER_PORT": "8123", "NER_MODEL": "/models/x"})
    assert (s.queue_size, s.max_chars, s.max_texts, s.port, s.model) == (8, 500, 3, 8123, "/models/x")
    assert s.max_body_bytes >= 6 * 500
    with pytest.raises(ValueError, match="NER_MAX_CHARS"):
        Settings.from_env({"NER_MAX_CHARS": "lots"})


def test_analyze_highlights_whole_entity_spans(service):
    highlight, rows, counts, json_path, csv_path = service.analyze(TEXT)
    assert highlight["text"] == TEXT
    assert spans(highlight) == EXPECTED
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(t, k, s, s + len(t)) for t, k, s in EXPECTED]
    assert all(0.0 <= r[4] <= 1.0 for r in rows)
    assert "stat-card" in counts


def test_counts_per_type_include_types_with_no_entity(service, toy):
    assert view.count_by_type(toy.recognize(TEXT), service.types) == {"PER": 1, "LOC": 2, "ORG": 1}
    assert view.count_by_type(toy.recognize("汉"), service.types) == {"PER": 0, "LOC": 1, "ORG": 0}


def test_colors_are_the_fixed_neon_ones(service):
    assert service.colors == {"PER": "#FF5E5E", "LOC": "#00FFFF", "ORG": "#FFFF00"}
    css = view.highlight_css(service.colors, "highlight")
    assert '#highlight [style*="rgba(255, 94, 94, 0.5)"]' in css and "rgb(255, 94, 94)" in css


@pytest.mark.parametrize("text", ["", "   \n ", None])
def test_empty_input_is_a_chinese_error(service, text):
    with pytest.raises(gr.Error) as err:
        service.analyze(text)
    assert CHINESE.search(err.value.message)


def test_over_limit_input_is_refused_not_truncated(toy, tmp_path):
    service = NerService(toy, Settings(max_chars=len(TEXT)), export_dir=tmp_path)
    assert spans(service.analyze(TEXT)[0]) == EXPECTED
    with pytest.raises(gr.Error) as err:
        service.analyze(TEXT + "。")
    assert CHINESE.search(err.value.message) and f"{len(TEXT):,}" in err.value.message


def test_engine_failure_is_a_short_message_without_traceback(toy, tmp_path):
    class Broken:
        name, labels = toy.name, toy.labels

        def recognize_batch(self, texts):
            raise RuntimeError("boom in /secret/path/model.onnx")

    with pytest.raises(gr.Error) as err:
        NerService(Broken(), Settings(), export_dir=tmp_path).analyze(TEXT)
    assert CHINESE.search(err.value.message)
    assert "boom" not in err.value.message and "/" not in err.value.message


def test_exports_hold_every_entity(service, toy):
    _, _, _, json_path, csv_path = service.analyze(TEXT)
    expected = [e.to_dict() for e in toy.recognize(TEXT)]
    data = json.loads(open(json_path, encoding="utf-8").read())
    assert data["text"] == TEXT and data["model"] == toy.name
    assert data["entities"] == expected
    assert data["counts"] == {"PER": 1, "LOC": 2, "ORG": 1}
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["text"], r["type"], int(r["start"]), int(r["end"])) for r in rows] == \
        [(d["text"], d["type"], d["start"], d["end"]) for d in expected]
    assert [float(r["score"]) for r in rows] == [d["score"] for d in expected]


def test_upload_utf8_file_is_read_whole(service, tmp_path):
    # far longer than the toy model's 32-token window: the text is windowed, never cut
    filler = "我们都很高兴地看到了新的发展。" * 400
    text = TEXT + filler + "汉"
    path = tmp_path / "long.txt"
    path.write_text(text, encoding="utf-8")
    shown, highlight, rows, *_ = service.analyze_file(str(path))
    assert shown == text
    assert spans(highlight) == EXPECTED + [("汉", "LOC", len(text) - 1)]


def test_upload_gb18030_file_is_decoded(service, tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(TEXT.encode("gb18030"))
    shown, highlight, *_ = service.analyze_file(str(path))
    assert shown == TEXT and spans(highlight) == EXPECTED


def test_undecodable_bytes_are_replaced_with_a_warning(service, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("张三".encode() + b"\xff\xfe\xfd" + "在北京".encode())
    with pytest.warns(UserWarning, match="编码"):
        shown, highlight, *_ = service.analyze_file(str(path))
    assert shown.startswith("张三") and "\ufffd" in shown
    assert [s[:2] for s in spans(highlight)] == [("张三", "PER"), ("北京", "LOC")]


def test_missing_upload_is_a_chinese_error(service):
    with pytest.raises(gr.Error) as err:
        service.analyze_file(None)
    assert CHINESE.search(err.value.message)


def test_batched_api_functions_answer_each_text(service):
    texts = ["张三", "", "我在上海"]
    (highlights,) = service.recognize_batch(texts)
    assert [spans(h) for h in highlights] == [[("张三", "PER", 0)], [], [("上海", "LOC", len("我在"))]]
    (extracted,) = service.extract_batch(texts)
    assert extracted[2] == {"entities": [{"text": "上海", "type": "LOC", "start": 2, "end": 4,
                                          "score": extracted[2]["entities"][0]["score"], "source": "model"}]}


def test_validator_refuses_only_bad_requests(toy, tmp_path):
    service = NerService(toy, Settings(max_chars=5), export_dir=tmp_path)
    assert service.validate_batch(["张三"]) == (["张三"],)
    with pytest.raises(gr.Error, match="at most 5"):
        service.validate_batch(["张三在北京任职"])


def test_decode_text_prefers_utf8_then_gb18030():
    assert view.decode_text("北京".encode("utf-8-sig")) == ("北京", "utf-8")
    assert view.decode_text("北京".encode("gb18030")) == ("北京", "gb18030")


def test_header_escapes_the_model_name():
    html = view.header_html("T", "<b>x</b>", {"PER": "#FF5E5E"})
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_server_binds_loopback_unless_told_otherwise():
    assert Settings.from_env({}).host == "127.0.0.1"
    assert Settings.from_env({}).port == 7860
    assert Settings.from_env({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"}).host == "0.0.0.0"


def test_bad_settings_name_the_variable():
    import pytest

    with pytest.raises(ValueError, match="NER_MAX_CHARS"):
        Settings.from_env({"NER_MAX_CHARS": "lots"})
    with pytest.raises(ValueError, match="NER_ENGINE_SLOTS"):
        Settings.from_env({"NER_ENGINE_SLOTS": "0"})


def test_engine_gate_passes_calls_through(toy):
    from ner_app.service import EngineGate

    gate = EngineGate(toy, slots=1)
    assert gate.name == toy.name and gate.labels == toy.labels
    assert gate.recognize("北京") == toy.recognize("北京")
    assert gate.recognize_batch(["北京", "上海"]) == toy.recognize_batch(["北京", "上海"])
