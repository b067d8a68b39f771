"""The Gradio app in-process: the page builds without launching, and each handler returns the right values."""
from __future__ import annotations

import csv
import json
import re

import gradio as gr
import pytest

from ner.outputs import count_by_type
from ner_app import view
from ner_app.config import Settings
from ner_app.page import Prefs
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


def token_spans(tokens: list[tuple[str, str | None]]) -> list[tuple[str, str, int]]:
    """The marked tokens of ``/recognize``'s value with their start offsets."""
    out, at = [], 0
    for token, label in tokens:
        if label:
            out.append((token, label, at))
        at += len(token)
    return out


def test_build_demo_returns_blocks_without_launching(service):
    from ner_app.layout import build_demo

    demo = build_demo(service)
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
    assert rows["headers"] == ["实体", "类型", "起始", "结束", "置信度"]  # in the visitor's language (Chinese here)
    assert [(r[0], r[1], r[2], r[3]) for r in rows["data"]] == [(t, k, s, s + len(t)) for t, k, s in EXPECTED]
    assert all(0.0 <= r[4] <= 1.0 for r in rows["data"])
    assert "stat-card" in counts


def test_counts_per_type_include_types_with_no_entity(service, toy):
    assert count_by_type(toy.recognize(TEXT), service.types) == {"PER": 1, "LOC": 2, "ORG": 1}
    assert count_by_type(toy.recognize("汉"), service.types) == {"PER": 0, "LOC": 1, "ORG": 0}


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
    (highlights,) = service.highlight_entities(texts)
    assert [token_spans(h) for h in highlights] == [[("张三", "PER", 0)], [], [("上海", "LOC", len("我在"))]]
    assert highlights == [[("张三", "PER")], [], [("我在", None), ("上海", "LOC")]]  # no empty token
    (extracted,) = service.extract_entities(texts)
    assert extracted[2] == {"entities": [{"text": "上海", "type": "LOC", "start": 2, "end": 4,
                                          "score": extracted[2]["entities"][0]["score"], "source": "model"}]}


def test_recognize_tokens_are_never_empty_and_join_to_the_text(service):
    text = "张三李四在北京"
    (tokens,) = service.highlight_entities([text])[0]
    assert "".join(t for t, _ in tokens) == text and all(t for t, _ in tokens)


PARAMS = ("text", "min_score", "types", "offsets")


def verdict(validation: list[list[dict]]) -> tuple[bool, str, str | None]:
    """The validator's verdict on one request: valid, the message and the parameter it is reported against
    (what gradio_client shows on a 422: "- types: ...")."""
    bad = [(PARAMS[k], column[0]["message"]) for k, column in enumerate(validation) if not column[0]["is_valid"]]
    assert len(bad) <= 1
    return (True, "", None) if not bad else (False, bad[0][1], bad[0][0])


def test_validator_refuses_only_bad_requests(toy, tmp_path):
    service = NerService(toy, Settings(max_chars=5), export_dir=tmp_path)
    assert verdict(service.validate_call(["张三"])) == (True, "", None)
    ok, message, field = verdict(service.validate_call(["张三在北京任职"]))
    assert not ok and "at most 5" in message and field == "text"


@pytest.mark.parametrize(("args", "field", "words"), [
    ((None,), "text", "not null"), ((["张三", "李四"],), "text", "not a list; send one text per call"),
    ((123,), "text", "text must be a string, not a number"),
    (("张三", 1.5), "min_score", "min_score must be a number from 0 to 1"),
    (("张三", 0.5, ["PER", "FOO"]), "types", '"FOO" is not a type'),
    (("张三", 0.5, "PER"), "types", "types must be a list"), (("张三", 0.5, None, "bytes"), "offsets", "offsets must be one of"),
])
def test_validator_reports_each_bad_parameter_against_it(service, args, field, words):
    columns = [[a] for a in args]
    ok, message, at = verdict(service.validate_call(*columns))
    assert not ok and words in message and at == field


def test_api_filters_and_utf16_offsets(service):
    text = "😀张三在北京清华大学任职期间曾赴上海参加会议。"
    (everything,) = service.extract_entities([text])
    assert [e["text"] for e in everything[0]["entities"]] == ["张三", "北京", "清华大学", "上海"]
    (only_loc,) = service.extract_entities([text], [0.0], [["LOC"]], ["utf16"])
    assert [(e["text"], e["start"]) for e in only_loc[0]["entities"]] == [("北京", len("😀张三在") + 1),
                                                                         ("上海", text.index("上海") + 1)]
    threshold = sorted(e["score"] for e in everything[0]["entities"])[1]
    (confident,) = service.extract_entities([text], [threshold])
    assert [e for e in everything[0]["entities"] if e["score"] >= threshold] == confident[0]["entities"]
    above = max(e["score"] for e in everything[0]["entities"]) + 0.0001
    assert service.extract_entities([text], [above])[0][0]["entities"] == []
    (tokens,) = service.highlight_entities([text], [0.0], [["PER"]])
    assert [label for _, label in tokens[0] if label] == ["PER"]


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
    from ner_app.gate import EngineGate

    gate = EngineGate(toy, slots=1)
    assert gate.name == toy.name and gate.labels == toy.labels
    assert gate.recognize("北京") == toy.recognize("北京")
    assert gate.recognize_batch(["北京", "上海"]) == toy.recognize_batch(["北京", "上海"])


# ------------------------------------------------------------ the model's labels, dictionaries, filters, downloads

class _Products:
    """An engine whose model has a type beyond the seed three, with a Chinese name in its card."""

    name = "products"
    labels = ["O", "B-PER", "I-PER", "B-PRODUCT", "I-PRODUCT", "B-TIME", "I-TIME"]
    entity_types = ["PER", "PRODUCT", "TIME"]
    display_names = {"PRODUCT": "产品"}

    def recognize_batch(self, texts, dictionary=None):
        from ner import Entity

        found = [[Entity(t.index("小米14"), t.index("小米14") + 4, "PRODUCT", "小米14", 0.8)] if "小米14" in t else []
                 for t in texts]
        return [dictionary.apply(t, f) if dictionary else f for t, f in zip(texts, found)]


def test_page_follows_the_model_labels(tmp_path):
    service = NerService(_Products(), Settings(), export_dir=tmp_path)
    assert service.types == ["PER", "PRODUCT", "TIME"]
    assert service.colors["PER"] == "#FF5E5E" and len(set(service.colors.values())) == 3
    assert service.names == {"PER": "人名", "PRODUCT": "产品", "TIME": "TIME"}
    highlight, rows, counts, json_path, _ = service.analyze("我买了小米14。")
    assert spans(highlight) == [("小米14", "PRODUCT", len("我买了"))]
    assert 'data-type="PRODUCT"' in counts and "产品" in counts and 'data-type="TIME"' in counts
    assert json.loads(open(json_path, encoding="utf-8").read())["counts"] == {"PER": 0, "PRODUCT": 1, "TIME": 0}


def test_many_types_get_distinct_colours():
    types = ["PER", "LOC", "ORG"] + [f"T{i}" for i in range(30)]
    colors = view.color_map(types)
    assert len(set(colors.values())) == len(types)
    assert [colors[t] for t in ("PER", "LOC", "ORG")] == ["#FF5E5E", "#00FFFF", "#FFFF00"]
    for c in colors.values():  # the dark text drawn on each colour passes WCAG AA (contrast at least 4.5)
        assert contrast(c, "#05050a") >= 4.5, c


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#RRGGBB`` colours."""
    def luminance(c: str) -> float:
        r, g, b = ((v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4)
                   for v in (int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_a_visitors_dictionary_applies_to_their_page_only(service):
    text = "我在字节跳动工作，张三也在。"
    mine = service.set_dictionary("字节跳动\tORG\n-张三\tPER", Prefs())
    highlight, *_, shown = service.analyze_page(text, mine)
    assert spans(highlight) == [("字节跳动", "ORG", len("我在"))]
    assert [e.source for e in shown.entities] == ["dictionary"]
    others, *_ = service.analyze_page(text, Prefs())
    assert ("张三", "PER", len("我在字节跳动工作，")) in spans(others)
    assert all(s[0] != "字节跳动" for s in spans(others))


@pytest.mark.parametrize(("lines", "words"), [
    ("字节跳动\tORG\n坏行没有类型", "第 2 行"), ("字节跳动\tFOO", "不是当前模型的类型"),
    ("甲\tORG\n甲\tPER", "第 2 行"), ("\n".join(f"词{i}\tORG" for i in range(1001)), "上限 1,000 条")])
def test_dictionary_errors_name_the_line(service, lines, words):
    with pytest.raises(gr.Error) as err:
        service.set_dictionary(lines, Prefs())
    assert words in err.value.message and CHINESE.search(err.value.message)


@pytest.mark.parametrize("lines", ["字节跳动 ORG", "字节跳动,ORG", "字节跳动：机构名", "字节跳动 ORG  # 公司"])
def test_a_dictionary_typed_with_a_keyboard_forces_the_entity(service, lines):
    highlight, *_ = service.analyze_page("我在字节跳动工作。", service.set_dictionary(lines, Prefs()))
    assert spans(highlight) == [("字节跳动", "ORG", len("我在"))]


def test_rest_reads_the_dictionary_with_the_same_parser():
    from ner_app.request import Refused, RequestChecks

    names = {"PER": "人名", "LOC": "地名", "ORG": "机构名"}
    checks = RequestChecks(Settings(), list(names), names)
    options = checks.options({"dictionary": ["字节跳动：机构名", "-星巴克 PER  # 误报"]})
    assert options.dictionary.forced == {"字节跳动": ("ORG", 1)}
    assert options.dictionary.blocked == {("星巴克", "PER"): 2}
    with pytest.raises(Refused, match="line 2: .*no type") as refused:
        checks.options({"dictionary": ["字节跳动 ORG", "星巴克"]})
    assert (refused.value.status, refused.value.field) == (422, "dictionary")


def test_dictionary_messages_are_escaped_and_whole(service):
    with pytest.raises(gr.Error) as err:
        service.set_dictionary("<b>坏行</b>", Prefs())
    message = err.value.message
    assert "<" not in message and "&lt;b&gt;坏行&lt;/b&gt;" in message
    assert message.endswith("。") and "字节跳动 ORG" in message and "-星巴克 PER" in message


def test_filters_redraw_the_last_result_without_the_model(service, tmp_path):
    *_, shown = service.analyze_page(TEXT, Prefs())
    class NoEngine:  # the filters must not call the engine
        name, labels = service.engine.name, service.engine.labels

        def recognize_batch(self, texts, **options):
            raise AssertionError("the model ran again")

    service.engine = NoEngine()
    prefs, highlight, rows, counts, json_path, csv_path, *annotations = service.set_filters(0.0, ["LOC"], Prefs(),
                                                                                          shown)
    assert prefs.types == ("LOC",) and [s[0] for s in spans(highlight)] == ["北京", "上海"]
    assert [r[0] for r in rows["data"]] == ["北京", "上海"]
    assert [e["text"] for e in json.loads(open(json_path, encoding="utf-8").read())["entities"]] == ["北京", "上海"]
    assert '<span class="stat-num">2</span><span class="stat-type"><span class="i18n-zh" lang="zh">合计' in counts
    _, highlight, rows, *_ = service.set_filters(1.0, ["PER", "LOC", "ORG"], prefs, shown)
    assert rows["data"] == [] and highlight["entities"] == []


def test_annotation_downloads_read_back_as_the_same_spans(service):
    from ner import formats

    text = TEXT + "\n\n我在上海。"
    highlight, _, _, _, _, doccano, label_studio, conll, shown = service.analyze_page(text, Prefs())
    want = [(e.start, e.end, e.label) for e in shown.entities]
    # every annotation format: one record per non-blank line, offsets per line (as `python -m ner --format`)
    for path, fmt in ((doccano, "doccano"), (label_studio, "label-studio"), (conll, "conll")):
        lines = formats.read(path, fmt)
        assert [ex.text for ex in lines] == [TEXT, "我在上海。"]
        assert [ex.spans for ex in lines] == [[s for s in want if s[1] <= len(TEXT)],
                                              [(s - len(TEXT) - 2, e - len(TEXT) - 2, t) for s, e, t in want
                                               if s > len(TEXT)]]
    assert [p.rsplit("/", 1)[-1] for p in (doccano, label_studio, conll)] == [
        "entities-doccano.jsonl", "entities-label-studio-tasks.json", "entities-conll-bio.txt"]


def test_live_mode_answers_only_short_texts_when_on(toy, tmp_path):
    service = NerService(toy, Settings(live_max_chars=len(TEXT)), export_dir=tmp_path)
    off = service.analyze_live(TEXT, False, Prefs())
    assert all(isinstance(x, dict) and x.get("__type__") == "update" for x in off)
    highlight, *_, shown = service.analyze_live(TEXT, True, Prefs())
    assert spans(highlight) == EXPECTED


def test_live_mode_over_its_limit_clears_the_result_and_says_why(toy, tmp_path):
    service = NerService(toy, Settings(live_max_chars=len(TEXT)), export_dir=tmp_path)
    *_, shown = service.analyze_live(TEXT, True, Prefs())
    assert shown is not None
    highlight, rows, counts, *downloads, cleared = service.analyze_live(TEXT + "。", True, Prefs(), shown)
    assert highlight is None and rows["data"] == [] and downloads == [None] * 5 and cleared is None
    assert f"{len(TEXT):,} 字以内" in counts and f"{len(TEXT) + 1:,} 字" in counts and "开始侦测" in counts


def test_an_error_clears_the_result(service):
    highlight, rows, _counts, *downloads, shown = service.cleared()
    assert highlight is None and rows["data"] == [] and shown is None and downloads == [None] * 5


@pytest.mark.parametrize("header, lang", [(None, "zh"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("zh-TW", "zh"),
                                          ("en-US,en;q=0.9", "en"), ("fr-FR,fr;q=0.9", "en"), ("*", "zh")])
def test_the_visitors_language_comes_from_accept_language(header, lang):
    from ner_app.i18n import language

    assert language(header) == lang


def test_handlers_answer_in_the_visitors_language(service):
    from types import SimpleNamespace

    from ner_app.i18n import localized

    english = SimpleNamespace(headers={"accept-language": "en-US,en;q=0.9"})
    set_dictionary = localized(service.set_dictionary)
    with pytest.raises(gr.Error) as err:
        set_dictionary("字节跳动", Prefs(), request=english)
    assert not CHINESE.search(err.value.title) and "字节跳动 ORG" in err.value.message
    assert not CHINESE.search(err.value.message.replace("字节跳动", "").replace("星巴克", ""))
    with pytest.raises(gr.Error) as err:
        set_dictionary("字节跳动", Prefs(), request=None)  # no header: Chinese
    assert CHINESE.search(err.value.title)
    *_, counts, _json, _csv, _doccano, _ls, _conll, _shown = localized(service.analyze_page)("张三", Prefs())
    assert '<span class="i18n-en" lang="en">Total</span>' in counts  # server-drawn HTML holds both


def test_localized_handlers_ask_gradio_for_the_request(service):
    import inspect

    from gradio.utils import get_type_hints

    from ner_app.i18n import localized

    handler = localized(service.analyze_live)
    assert list(inspect.signature(handler).parameters) == ["text", "live", "prefs", "shown", "request"]
    assert get_type_hints(handler)["request"] is gr.Request
