"""The one table of output formats (ner.outputs): every format's file, per-line cutting, and the page's labels."""
from ner import Entity, formats
from ner.outputs import OUTPUTS, line_examples, render
from ner_app.i18n import STRINGS

TEXT = "张三在北京\n\n上海汉\n"
FOUND = [Entity(0, 2, "PER", "张三", 0.9), Entity(3, 5, "LOC", "北京", 0.8), Entity(7, 9, "LOC", "上海", 0.7)]
TYPES = ["PER", "LOC", "ORG"]


def test_every_output_has_a_label_in_each_language_and_a_page_string():
    for key, out in OUTPUTS.items():
        assert out.label_zh and out.label_en and out.unit in ("text", "line")
        assert STRINGS[f"download_{key}"] == (out.label_zh, out.label_en)


def test_per_line_outputs_cut_the_whole_text_result_at_line_breaks():
    assert [(ex.text, ex.spans) for ex in line_examples(TEXT, FOUND)] == [
        ("张三在北京", [(0, len("张三"), "PER"), (len("张三在"), len("张三在北京"), "LOC")]),
        ("上海汉", [(0, len("上海"), "LOC")])]
    across = [Entity(3, 8, "LOC", TEXT[3:8], 0.5)]  # from the first line into the third: no line holds it
    assert [ex.spans for ex in line_examples(TEXT, across)] == [[], []]


def test_annotation_outputs_read_back_to_the_same_spans():
    want = [(ex.text, ex.spans) for ex in line_examples(TEXT, FOUND)]
    for key in ("doccano", "label-studio", "conll"):
        assert OUTPUTS[key].unit == "line"
        back = formats.loads(render(key, TEXT, FOUND, "m", TYPES), key)
        assert [(ex.text, ex.spans) for ex in back] == want, key


def test_label_studio_keeps_each_entity_score():
    import json

    tasks = json.loads(render("label-studio", TEXT, FOUND, "m", TYPES))
    assert [[r["score"] for r in t["predictions"][0]["result"]] for t in tasks] == [[0.9, 0.8], [0.7]]
    assert all(t["predictions"][0]["model_version"] == "m" for t in tasks)


def test_whole_text_outputs():
    import json

    assert OUTPUTS["json"].unit == OUTPUTS["csv"].unit == "text"
    data = json.loads(render("json", TEXT, FOUND, "m", TYPES))
    assert data["text"] == TEXT and data["counts"] == {"PER": 1, "LOC": 2, "ORG": 0} and len(data["entities"]) == 3
    assert render("csv", TEXT, FOUND, "m", TYPES).splitlines()[0] == "text,type,start,end,score,source"
