"""The probe file's integrity and the shape of ``python -m ner.bench.probes`` (no accuracy asserted)."""
import json
from collections import Counter

import pytest

from ner import samples
from ner.bench.probes import LABELS, PROBES, main, read_probes

KINDS = {"page", "company", "foreign_latin", "place_org", "org_with_place", "social", "news", "resume",
         "transcript", "product_page", "mixed_script", "emoji_unknown", "product"}

#: The whole sentences of issue 10's "Why", with what a careful annotator expects of them.
WHY = {
    "马云在杭州阿里巴巴总部发表演讲": {("马云", "PER"), ("杭州", "LOC"), ("阿里巴巴", "ORG")},
    "Tim Cook和马斯克在特斯拉上海超级工厂见面。": {("Tim Cook", "PER"), ("马斯克", "PER"), ("特斯拉", "ORG"),
                                         ("上海", "LOC")},
    "😀张三在北京清华大学任职。": {("张三", "PER"), ("北京", "LOC"), ("清华大学", "ORG")},
}
#: Phrases of "Why" that sit inside sentences written around them: each must come out as these entities.
WHY_PHRASES = {
    "腾讯、阿里巴巴和字节跳动": {("腾讯", "ORG"), ("阿里巴巴", "ORG"), ("字节跳动", "ORG")},
    "星巴克": {("星巴克", "ORG")},
    "马斯克": {("马斯克", "PER")},
    "CEO蒂姆·库克": {("蒂姆·库克", "PER")},
}


@pytest.fixture(scope="module")
def lines():
    with open(PROBES, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def named(obj):
    return {(e["text"], e["label"]) for e in obj["entities"]}


def test_every_entity_sits_at_its_offsets(lines):
    for obj in lines:
        text = obj["text"]
        last_end = 0
        for e in sorted(obj["entities"], key=lambda e: e["start"]):
            assert e["label"] in LABELS, obj
            assert 0 <= e["start"] < e["end"] <= len(text), obj
            assert text[e["start"] : e["end"]] == e["text"], obj
            assert e["start"] >= last_end, f"overlapping entities in {text!r}"
            last_end = e["end"]
    assert len(read_probes()) == len(lines)


def test_every_kind_is_covered(lines):
    counts = Counter(obj["kind"] for obj in lines)
    assert set(counts) == KINDS
    assert min(counts.values()) >= 8, counts
    assert len(lines) >= 115
    texts = [obj["text"] for obj in lines]
    assert len(set(texts)) == len(texts), "a sentence is listed twice"


def test_page_examples_are_probes(lines):
    page = {obj["text"]: obj for obj in lines if obj["kind"] == "page"}
    for text in samples.EXAMPLES:
        assert text in page
    post = named(page[samples.POST])
    assert {("小王", "PER"), ("宽窄巷子", "LOC")} <= post
    mixed = named(page[samples.MIXED])
    assert ("蒂姆·库克", "PER") in mixed and ("Tim Cook", "PER") in mixed
    assert not {t for t, _ in mixed} & {"iPhone", "CEO蒂姆·库克", "Apple Store旗舰店"}


def test_the_page_shows_examples_the_shipped_model_gets_exactly_right(lines):
    import ner

    page = {obj["text"]: obj for obj in lines if obj["kind"] == "page"}
    rec = ner.load()
    for text in samples.PAGE_EXAMPLES:
        expected = {(e["start"], e["end"], e["label"]) for e in page[text]["entities"]}
        assert {(e.start, e.end, e.label) for e in rec.recognize(text)} == expected, text


def test_why_sentences_are_probes(lines):
    page = {obj["text"]: obj for obj in lines if obj["kind"] == "page"}
    for text, expected in WHY.items():
        assert named(page[text]) == expected
    for phrase, expected in WHY_PHRASES.items():
        holders = [obj for text, obj in page.items() if phrase in text and text not in WHY]
        assert any(expected <= named(obj) for obj in holders), phrase


def test_a_misplaced_entity_is_refused_with_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = {"kind": "a", "text": "张三在北京", "entities": [{"text": "张三", "label": "PER", "start": 0, "end": 2}]}
    bad = {"kind": "a", "text": "我在北京", "entities": [{"text": "北京", "label": "LOC", "start": 1, "end": 3}]}
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n" + json.dumps(bad, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: '北京' is not at \[1, 3\)"):
        read_probes(path)


def test_a_label_outside_the_three_types_is_refused(tmp_path):
    path = tmp_path / "bad.jsonl"
    obj = {"kind": "a", "text": "在北京", "entities": [{"text": "北京", "label": "GPE", "start": len("在"), "end": 3}]}
    path.write_text(json.dumps(obj, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="GPE"):
        read_probes(path)


def run_json(capsys, *argv):
    main([*argv, "--json"])
    return json.loads(capsys.readouterr().out)


def test_exact_match_per_kind_on_the_toy_model(toy_dir, tmp_path, capsys):
    # the toy model tags 张三 PER, 北京/上海 LOC, 清华大学 ORG and nothing else
    text = "张三在北京清华大学任职。"
    right = {"kind": "seed", "text": text, "entities": [
        {"text": "张三", "label": "PER", "start": 0, "end": len("张三")},
        {"text": "北京", "label": "LOC", "start": len("张三在"), "end": len("张三在北京")},
        {"text": "清华大学", "label": "ORG", "start": len("张三在北京"), "end": len("张三在北京清华大学")}]}
    wrong = {"kind": "other", "text": "我在上海", "entities": [
        {"text": "上海", "label": "ORG", "start": len("我在"), "end": len("我在上海")}]}
    path = tmp_path / "probes.jsonl"
    path.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in (right, wrong)) + "\n", encoding="utf-8")
    res = run_json(capsys, "--model", str(toy_dir), "--file", str(path))
    assert res["model"] == "toy"
    assert (res["sentences"], res["exact"], res["exact_match"]) == (2, 1, 0.5)
    assert res["kinds"] == {"seed": {"sentences": 1, "exact": 1, "exact_match": 1.0},
                            "other": {"sentences": 1, "exact": 0, "exact_match": 0.0}}
    assert res["entities"]["precision"] == 0.75 and res["entities"]["recall"] == 0.75
    assert res["entities"]["per_type"]["LOC"]["support"] == 1
    (failure,) = res["failures"]
    assert failure["text"] == "我在上海"
    assert failure["expected"] == [{"text": "上海", "label": "ORG", "start": 2, "end": 4}]
    assert failure["predicted"] == [{"text": "上海", "label": "LOC", "start": 2, "end": 4}]


def test_the_shipped_file_runs_on_the_toy_model(toy_dir, capsys):
    res = run_json(capsys, "--model", str(toy_dir))
    n = len(read_probes())
    assert res["sentences"] == n == sum(k["sentences"] for k in res["kinds"].values())
    assert set(res["kinds"]) == KINDS
    assert res["exact"] == sum(k["exact"] for k in res["kinds"].values())
    assert len(res["failures"]) == n - res["exact"]
    assert {"precision", "recall", "f1", "support", "per_type"} <= set(res["entities"])
    assert res["entities"]["support"] == sum(len(p.spans) for p in read_probes())


def test_the_text_report_lists_failures(toy_dir, capsys):
    main(["--model", str(toy_dir), "--show-failures"])
    out = capsys.readouterr().out
    assert "overall" in out and "expected:" in out and "predicted:" in out
