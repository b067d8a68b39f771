"""User dictionaries: forced and blocked entries, overlaps with model spans, offsets, file format errors."""
import pytest

import ner
from conftest import check_contract
from ner.dictionary import Dictionary


def spans(entities):
    return [(e.text, e.label, e.source) for e in entities]


def test_forced_entry_is_found_with_its_source(toy):
    d = Dictionary.parse("字节跳动\tORG\n")
    text = "我在字节跳动任职。"
    (e,) = toy.recognize(text, dictionary=d)
    assert (e.start, e.end, e.label, e.source, e.score) == (len("我在"), len("我在字节跳动"), "ORG", "dictionary", 1.0)
    assert e.to_dict()["source"] == "dictionary"
    assert toy.recognize(text) == []  # a per-call dictionary applies to that call only


def test_blocked_entry_removes_that_text_and_type_only(toy):
    text = "北京和上海"
    assert spans(toy.recognize(text, dictionary=Dictionary.parse("-北京\tLOC"))) == [("上海", "LOC", "model")]
    assert len(toy.recognize(text, dictionary=Dictionary.parse("-北京\tPER"))) == 2
    assert spans(toy.recognize(text, dictionary=Dictionary.parse("-北京"))) == [("上海", "LOC", "model")]


def test_forced_entry_wins_over_the_model_spans_it_overlaps(toy):
    text = "张三在上海清华大学"
    assert spans(toy.recognize(text)) == [("张三", "PER", "model"), ("上海", "LOC", "model"),
                                          ("清华大学", "ORG", "model")]
    found = toy.recognize(text, dictionary=Dictionary.parse("海清\tORG"))
    assert spans(found) == [("张三", "PER", "model"), ("海清", "ORG", "dictionary")]
    check_contract(text, found)


def test_longest_then_leftmost_match():
    d = Dictionary.parse("清华\tORG\n清华大学\tORG\n大学城\tLOC\n")
    text = "清华大学城"
    assert [(e.start, e.end) for e in d.matches(text)] == [(0, len("清华大学"))]
    assert [(e.text, e.start) for e in Dictionary.parse("华大\tORG\n清华\tORG").matches(text)] == [("清华", 0)]


def test_entries_next_to_emoji_and_latin_keep_exact_offsets(toy):
    d = Dictionary.parse("字节跳动\tORG\nApple\tORG\n星巴克\tORG\n")
    text = "😀字节跳动ByteDance和Apple👍星巴克🎉，不是Pineapple"
    found = toy.recognize(text, dictionary=d)
    check_contract(text, found)
    assert [(e.text, e.start) for e in found] == [("字节跳动", len("😀")), ("Apple", text.index("Apple")),
                                                   ("星巴克", text.index("星巴克"))]
    assert all(text[e.start : e.end] == e.text for e in found)  # code-point offsets, emoji count as one


def test_recognizer_dictionary_and_per_call_dictionary_stack(toy_dir):
    rec = ner.load(toy_dir, batch_size=4, dictionary=Dictionary.parse("字节跳动\tORG"))
    text = "字节跳动在北京"
    assert spans(rec.recognize(text)) == [("字节跳动", "ORG", "dictionary"), ("北京", "LOC", "model")]
    visitor = Dictionary.parse("-字节跳动\tORG\n-北京\tLOC")
    assert rec.recognize_batch([text, text], dictionary=visitor) == [[], []]
    assert len(rec.recognize(text)) == 2  # the visitor's entries did not stick
    assert rec.session is ner.load(toy_dir, batch_size=4).session  # one model, loaded once


def test_load_takes_a_dictionary_file(toy_dir, tmp_path):
    path = tmp_path / "user.dict"
    path.write_text("\ufeff# 公司\n\n字节跳动\tORG\r\n-北京\tLOC\n", encoding="utf-8")
    rec = ner.load(toy_dir, dictionary=path)
    assert spans(rec.recognize("字节跳动在北京")) == [("字节跳动", "ORG", "dictionary")]


@pytest.mark.parametrize("content, line, words", [
    ("字节跳动\tORG\n字节跳动\n", 2, "no type"),
    ("好\tORG\n字节\tORG\tX\n", 2, "more than one tab"),
    ("苹果\tORG\n苹果\tPER\n", 2, "on line 1"),
    ("# x\n苹果\tB-ORG X\n", 2, "not a type name"),
    ("\tORG\n", 1, "no text"),
])
def test_malformed_dictionary_names_file_and_line(tmp_path, content, line, words):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ner.FormatError, match=rf"bad.txt:{line}: .*{words}"):
        Dictionary.load(path)


def test_not_utf8_and_unknown_type_are_clear_errors(tmp_path, toy):
    path = tmp_path / "gbk.txt"
    path.write_bytes("好\tORG\n字节跳动\tORG\n".encode("gb18030"))
    with pytest.raises(ner.FormatError, match="gbk.txt:1: not UTF-8"):
        Dictionary.load(path)
    with pytest.raises(ner.FormatError, match=r"<dictionary>:2: type .PRODUCT. .*\(PER, LOC, ORG[;)]"):
        toy.recognize("x", dictionary=Dictionary.parse("好\tORG\n苹果\tPRODUCT"))
    with pytest.raises(TypeError):
        toy.recognize("x", dictionary="some/path.txt")  # per call: an object, never a path


def test_many_entries_load(tmp_path):
    # the load time itself is a benchmark figure (python -m ner.bench.dictionary), not asserted here
    path = tmp_path / "big.txt"
    path.write_text("".join(f"公司{i}号\tORG\n" for i in range(100_000)), encoding="utf-8")
    d = Dictionary.load(path)
    assert len(d) == 100_000
    assert [e.text for e in d.matches("在公司99999号和公司7号")] == ["公司99999号", "公司7号"]


@pytest.mark.parametrize("line", ["字节跳动\tORG", "字节跳动 ORG", "字节跳动   ORG", "字节跳动,ORG", "字节跳动，ORG",
                                  "字节跳动:ORG", "字节跳动：ORG", "字节跳动\u3000ORG", "字节跳动：机构名",
                                  "字节跳动 ORG   # a comment", "字节跳动\tORG\t# a comment", "  字节跳动 ， ORG  "])
def test_typed_lines_force_the_entity(toy, line):
    text = "我在字节跳动任职。"
    (e,) = toy.recognize(text, dictionary=Dictionary.parse(line))
    assert (e.text, e.label, e.source, e.start) == ("字节跳动", "ORG", "dictionary", len("我在"))


def test_the_readme_example_parses_with_its_comments(toy):
    d = Dictionary.parse("字节跳动\tORG        # forced: every occurrence of 字节跳动 is an ORG\n"
                         "-星巴克\tPER        # blocked: the model's PER span 星巴克 is removed\n"
                         "-星巴克             # blocked whatever type the model gave it\n")
    assert d.forced == {"字节跳动": ("ORG", 1)}
    assert d.blocked == {("星巴克", "PER"): 2, ("星巴克", None): 3}


def test_a_tab_keeps_spaces_inside_the_text_and_a_hash_inside_a_word_is_text():
    d = Dictionary.parse("Bank of China\tORG\nC# 社区 ORG\nNew York LOC")
    assert d.forced == {"Bank of China": ("ORG", 1), "C# 社区": ("ORG", 2), "New York": ("LOC", 3)}


def test_blocked_entries_take_every_separator_and_chinese_names(toy):
    text = "北京和上海"
    for line in ("-北京 LOC", "-北京，地名", "-北京:LOC", "-北京"):
        assert spans(toy.recognize(text, dictionary=Dictionary.parse(line))) == [("上海", "LOC", "model")], line
    assert len(toy.recognize(text, dictionary=Dictionary.parse("-北京 人名"))) == 2


def test_display_names_resolve_to_types_and_unknown_names_say_which():
    d = Dictionary.parse("苹果 产品\n字节跳动：机构名\n-星巴克 人名")
    resolved = d.resolve(["PER", "ORG", "PRODUCT"], {"PRODUCT": "产品"})
    assert resolved.forced == {"苹果": ("PRODUCT", 1), "字节跳动": ("ORG", 2)}
    assert resolved.blocked == {("星巴克", "PER"): 3}
    with pytest.raises(ner.FormatError) as info:
        d.resolve(["PER", "LOC", "ORG"])
    assert (info.value.line, info.value.kind, info.value.value) == (1, "type", "产品")
    assert "(PER, LOC, ORG; or their names 人名, 地名, 机构名)" in str(info.value)


@pytest.mark.parametrize("content, line, kind, value", [
    ("字节跳动 ORG\n字节跳动\n", 2, "type-missing", "字节跳动"),
    ("苹果 ORG\n苹果 PER\n", 2, "conflict", "苹果"),
    ("好 ORG\n苹果\tB-ORG X\n", 2, "label", "B-ORG X"),
    ("\n\n ，ORG\n", 3, "text", " ，ORG"),
])
def test_format_errors_carry_line_kind_and_value(content, line, kind, value):
    with pytest.raises(ner.FormatError) as info:
        Dictionary.parse(content, "box")
    err = info.value
    assert (err.where, err.line, err.kind, err.value) == ("box", line, kind, value)
    assert str(err) == f"box:{line}: {err.detail}"


def test_format_error_fields_survive_pickling():
    import pickle

    err = pickle.loads(pickle.dumps(ner.FormatError.at("f.txt", 3, "bad", "type", "X")))
    assert (str(err), err.where, err.line, err.kind, err.detail, err.value) == ("f.txt:3: bad", "f.txt", 3, "type",
                                                                                  "bad", "X")


def test_a_type_and_its_chinese_name_are_one_type_not_a_conflict():
    d = Dictionary.parse("字节跳动 ORG\n字节跳动：机构名").resolve(["PER", "LOC", "ORG"])
    assert d.forced == {"字节跳动": ("ORG", 1)}
    with pytest.raises(ner.FormatError, match="forced as 人名 here but as ORG"):
        Dictionary.parse("字节跳动 ORG\n字节跳动 人名")


def _reference(entries, text):
    """Leftmost-longest by brute force: every occurrence, the ASCII-word rule, then the greedy choice."""
    def inside_word(k):
        return 0 < k < len(text) and all(c.isascii() and c.isalnum() for c in text[k - 1 : k + 1])

    found = sorted((k, -len(e), label) for e, label in entries for k in range(len(text))
                   if text.startswith(e, k) and not inside_word(k) and not inside_word(k + len(e)))
    out, free = [], 0
    for k, neg, label in found:
        if k >= free:
            free = k - neg
            out.append((k, free, label))
    return out


def test_matching_equals_the_brute_force_rule_on_random_dictionaries():
    import random

    rng = random.Random(7)
    alphabet = "张三李ab1 -😀"
    for _ in range(400):
        entries = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))): rng.choice(["PER", "ORG"])
                   for _ in range(rng.randint(1, 8))}
        entries = {e: label for e, label in entries.items() if e.strip() and "-" not in e[:1]}
        if not entries:
            continue
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        d = Dictionary(ner.dictionary.DictEntry(e, label) for e, label in entries.items())
        assert [(m.start, m.end, m.label) for m in d.matches(text)] == _reference(entries.items(), text), \
            (entries, text)


def test_a_shorter_entry_inside_a_longer_one_that_does_not_match_is_found():
    # pyahocorasick's iter_long (2.3.1) finds nothing here
    d = Dictionary.parse("知识产权\tORG\n国家知识产权局\tORG\nab\tORG\nabcabd\tORG")
    assert [(e.text, e.start) for e in d.matches("国家知识产权")] == [("知识产权", 2)]
    assert [(e.text, e.start) for e in d.matches("zz abcabd zz ab")] == [("abcabd", 3), ("ab", 13)]


def test_nested_entries_over_a_long_run_cost_work_linear_in_the_text():
    """Issue 26: 300 entries 张, 张张, ... over "张" * 50,000 were 15 million candidate matches (22.9 s, +2 GB);
    ``python -m ner.bench.bounded`` prints the time and memory."""
    d = Dictionary.parse("".join("张" * k + "\tPER\n" for k in range(1, 301)))
    found = d.matches("张" * 50_000)
    assert [e.end - e.start for e in found] == [300] * 166 + [200]
    assert found[-1].end == 50_000
    ascii_bomb = Dictionary.parse("".join("a" * k + "\tORG\n" for k in range(1, 301)))
    assert [(e.start, e.end) for e in ascii_bomb.matches("a" * 50_000)] == []  # never inside a word
    assert [(e.start, e.end) for e in ascii_bomb.matches("a" * 300 + " " + "a" * 299)] == [(0, 300), (301, 600)]
