"""Annotation formats: export -> import returns the same spans for every format and label set; clear errors."""
import json
import subprocess
import sys

import pytest

import ner
from ner import formats, outputs
from ner.training.corpora import Example

CLUENER_TYPES = ["address", "book", "company", "game", "government", "movie", "name", "organization",
                 "position", "scene"]


def examples(labels):
    """Sentences with spans of each label, next to emoji, Latin text and spaces."""
    text = "😀张三买了iPhone 15，在北京 看《三体》。"
    spans_at = [(text.index("张三"), text.index("张三") + 2), (text.index("iPhone"), text.index("iPhone") + 9),
                (text.index("北京"), text.index("北京") + 2), (text.index("三体"), text.index("三体") + 2)]
    out = []
    for k in range(0, len(labels), len(spans_at)):
        chunk = labels[k : k + len(spans_at)]
        out.append(Example(text, [(s, e, lab) for (s, e), lab in zip(spans_at, chunk)]))
    out.append(Example("没有实体的句子。", []))
    out.append(Example("王", [(0, 1, labels[0])]))  # a one-character entity (S- in BIOES)
    return out


@pytest.mark.parametrize("fmt, options", [("conll", {"scheme": "BIO"}), ("conll", {"scheme": "BIOES"}),
                                          ("doccano", {}), ("label-studio", {"kind": "predictions"}),
                                          ("label-studio", {"kind": "annotations"}), ("cluener", {})])
@pytest.mark.parametrize("labels", [["PER", "PRODUCT", "LOC", "TIME"], CLUENER_TYPES], ids=["custom", "cluener"])
def test_round_trip_returns_the_same_spans(tmp_path, fmt, options, labels):
    exs = examples(labels)
    path = formats.write(tmp_path / "data.txt", exs, fmt, **options)
    assert formats.detect_text(path.read_text(encoding="utf-8"), path.name) == fmt
    back = formats.read(path)  # format detected from the content
    assert [(ex.text, ex.spans) for ex in back] == [(ex.text, sorted(ex.spans)) for ex in exs]
    assert formats.labels_of(back) == sorted(set(labels))


def test_cluener_ends_are_inclusive_and_readers_agree_with_the_corpus_reader(tmp_path):
    line = {"text": "浙商银行叶老桂", "label": {"company": {"浙商银行": [[0, 3]]}, "name": {"叶老桂": [[4, 6]]}}}
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    (ex,) = formats.read(path)
    assert ex.spans == [(0, len("浙商银行"), "company"), (len("浙商银行"), len("浙商银行叶老桂"), "name")]
    from ner.training.corpora import read_cluener
    assert read_cluener(path)[0].spans == [(0, 4, "ORG"), (4, 7, "PER")]


def test_doccano_entities_form_and_label_studio_first_live_annotation(tmp_path):
    d = tmp_path / "d.jsonl"
    d.write_text(json.dumps({"id": 1, "text": "张三在北京",
                             "entities": [{"id": 7, "start_offset": 3, "end_offset": 5, "label": "LOC"}]}) + "\n")
    assert formats.read(d)[0].spans == [(3, 5, "LOC")]
    task = {"data": {"text": "张三在北京"},
            "annotations": [{"was_cancelled": True, "result": []},
                            {"result": [{"type": "labels", "value": {"start": 0, "end": 2, "labels": ["PER"]}},
                                        {"type": "choices", "value": {"choices": ["ok"]}}]}],
            "predictions": [{"result": [{"type": "labels", "value": {"start": 3, "end": 5, "labels": ["LOC"]}}]}]}
    ls = tmp_path / "ls.json"
    ls.write_text(json.dumps([task]))
    assert formats.read(ls)[0].spans == [(0, 2, "PER")]


def test_conll_reads_bmes_and_crlf_and_space_characters(tmp_path):
    path = tmp_path / "x.conll"
    path.write_bytes("张\tB-PER\r\n三\tE-PER\r\n \tO\r\n北\tB-LOC\r\n京\tI-LOC\r\n\r\n汉\tS-LOC\r\n".encode())
    assert [(e.text, e.spans) for e in formats.read(path)] == [("张三 北京", [(0, 2, "PER"), (3, 5, "LOC")]),
                                                                ("汉", [(0, 1, "LOC")])]


@pytest.mark.parametrize("name, content, line, words", [
    ("a.conll", "张\tB-PER\n三\tX-PER\n", 1, "not a tag"),
    ("b.conll", "张\tB-PER\n三\n\n", 2, "expected CHARACTER<TAB>TAG"),
    ("c.jsonl", '{"text": "张三", "label": [[0, 2, "PER"]]}\n{"text": "张三", "label": [[0, 9, "PER"]]}\n', 2,
     "outside the text"),
    ("d.jsonl", '{"text": "张三", "label": [[0, 2, "PER"]]}\n{"text": "张三", "label": [[0, 2]]}\n', 2,
     r"\[start, end, \"TYPE\"\]"),
    ("e.jsonl", '{"text": "张三", "label": [[0, 2, "PER"]]}\n{"text": "张三"\n', 2, "not JSON"),
    ("f.json", '[\n {"data": {"text": "张三"}, "annotations": [{"result": [\n'
               '  {"type": "labels", "value": {"start": 0, "end": 2, "text": "张", "labels": ["PER"]}}]}]},\n'
               ' {"data": {"text": "李四"}}\n]', 2, "the result says"),
    ("g.json", '[\n {"data": {"text": "张三"}},\n {"data": {"text": "李四"}, "annotations": [{"result": [\n'
               '  {"type": "labels", "value": {"start": 0, "end": 2, "labels": ["PER"]}}]}]\n]', 5, "not JSON"),
    ("h.jsonl", '{"text": "张三", "label": {"name": {"张三": [[0, 0]]}}}\n', 1, "inclusive"),
])
def test_malformed_files_name_the_line(tmp_path, name, content, line, words):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ner.FormatError, match=rf"{name}:{line}\b.*{words}"):
        formats.read(path)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "gbk.conll"
    path.write_bytes("张\tB-PER\n".encode() + "三\tI-PER\n".encode("gb18030"))
    with pytest.raises(ner.FormatError, match="gbk.conll:2: not UTF-8"):
        formats.read(path)


def test_cli_writes_every_format_and_it_reads_back(toy_dir, tmp_path):
    text = "张三在北京清华大学😀\n\n上海汉\n"
    for fmt in ("doccano", "label-studio", "conll"):
        out = subprocess.run([sys.executable, "-m", "ner", "--model", str(toy_dir), "--format", fmt],
                             input=text.encode(), capture_output=True, check=True).stdout.decode()
        back = formats.loads(out, where=fmt)
        rec = ner.load(toy_dir)
        found = rec.recognize(text)
        # one record per non-blank line, holding the entities of the whole text: the page's download exactly
        assert out == outputs.render(fmt, text, found, rec.name, rec.entity_types)
        assert [ex.text for ex in back] == ["张三在北京清华大学😀", "上海汉"]
        assert [(ex.text, ex.spans) for ex in back] == [(ex.text, ex.spans) for ex in outputs.line_examples(text, found)]
        assert sum(len(ex.spans) for ex in back) == len(found)  # no entity crosses a line break here
    default = subprocess.run([sys.executable, "-m", "ner", "--model", str(toy_dir), "北京"], capture_output=True,
                             check=True).stdout.decode()
    assert json.loads(default)["entities"][0]["type"] == "LOC"  # JSON stays the default


def test_finetune_cli_reports_a_malformed_file_without_traceback(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "张三", "label": [[0, 2, "PER"]]}\n{"text": 1}\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "ner.finetune", "--train", str(path), "--out", str(tmp_path / "m")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f'error: {path}:2: no "text" string'
    assert "Traceback" not in proc.stderr
