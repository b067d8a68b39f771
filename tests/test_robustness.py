"""Odd and hostile input, and broken model directories: correct answers or clear errors."""
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ner
from conftest import check_contract
from ner.errors import ModelError

ODD = [
    "\x00张三\x00在\x01北京\x7f",                         # NUL and control characters
    "<script>alert(1)</script>张三在北京",                # markup is just text
    "مرحبا 张三 שלום 北京\u202e上海\u202c",               # right-to-left text and bidi controls
    "北\u0301京 e\u0301 张\u200d三",                       # combining marks, zero-width joiner
    "🇨🇳张三👨‍👩‍👧‍👦北京𠀀𪚥上海🙂",                            # emoji sequences, astral CJK
    "\ufeff张三\ufffd北京\uf8ff",                          # BOM, replacement char, private use
    "张" * 3 + "\n" * 50 + "北京",                         # many newlines
    "ＡＢＣ１２３　张三，北京。",                          # full-width forms
]


@pytest.mark.parametrize("text", ODD)
def test_odd_text_keeps_the_contract(toy, text):
    ents = toy.recognize(text)
    check_contract(text, ents)
    assert {"张三", "北京"} & {e.text for e in ents} or "北\u0301京" in text


def test_offsets_are_code_points(toy):
    text = "🙂张三"
    (e,) = toy.recognize(text)
    # Python code points: the emoji is one position (a JavaScript string would count two UTF-16 units)
    assert (e.start, e.end) == (1, 3)


def test_ten_thousand_characters_without_punctuation(toy):
    text = ("我们都很高兴地看到了新的发展" * 800)[:10_000] + "北京"
    ents = toy.recognize(text)
    check_contract(text, ents)
    assert ents[-1].text == "北京" and ents[-1].end == len(text)


def test_one_megabyte_of_text(toy):
    text = "张三在北京参加会议。" * 35_000  # ~350k characters, ~1 MB of UTF-8
    assert len(text.encode("utf-8")) >= 1_000_000
    ents = toy.recognize(text)
    assert len(ents) == 70_000
    check_contract(text, ents[:50])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
       | st.text(alphabet="张三北京上海清华大学在。，！ \n\tab1１😀", max_size=300))
def test_any_string_keeps_the_contract(toy, text):
    check_contract(text, toy.recognize(text))


@pytest.mark.skipif(not (ner.EMBEDDED_MODEL / "config.json").is_file(), reason="no embedded model yet")
@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=120)
       | st.text(alphabet="张三李四北京上海清华大学中国人民银行在和的。，！ \n😀ａ", max_size=200))
def test_any_string_keeps_the_contract_on_the_real_model(text):
    check_contract(text, ner.load(ner.EMBEDDED_MODEL).recognize(text))


# ------------------------------------------------------------ broken model directories

@pytest.fixture
def broken(toy_dir, tmp_path):
    path = tmp_path / "model"
    shutil.copytree(toy_dir, path)
    return path


def test_missing_directory(tmp_path):
    with pytest.raises(ModelError, match="does not exist.*NER_MODEL"):
        ner.Recognizer(tmp_path / "nope")


def test_missing_model_file(broken):
    (broken / "model.onnx").unlink()
    with pytest.raises(ModelError, match="missing 'model.onnx'.*ner.export"):
        ner.Recognizer(broken)


def test_corrupt_model_file(broken):
    (broken / "model.onnx").write_bytes(b"\x08\x01garbage" * 100)
    with pytest.raises(ModelError, match="corrupt or not an ONNX model"):
        ner.Recognizer(broken)


def test_vocab_that_does_not_match(broken):
    with open(broken / "vocab.txt", "a", encoding="utf-8") as fh:
        fh.write("额\n外\n")
    with pytest.raises(ModelError, match="does not match the model"):
        ner.Recognizer(broken)


def test_vocab_larger_than_the_embedding_without_declared_size(broken):
    import json

    cfg = json.loads((broken / "config.json").read_text())
    cfg.pop("vocab_size")
    (broken / "config.json").write_text(json.dumps(cfg))
    with open(broken / "vocab.txt", "a", encoding="utf-8") as fh:
        fh.write("额\n外\n")
    with pytest.raises(ModelError, match="vocab.txt does not match the model"):
        ner.Recognizer(broken)


def test_missing_transitions(broken):
    (broken / "crf.npz").unlink()
    with pytest.raises(ModelError, match="no CRF transitions.*ner.export"):
        ner.Recognizer(broken)


def test_corrupt_config(broken):
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        ner.Recognizer(broken)


def test_no_pickles_are_loaded(broken):
    import numpy as np

    k = 13
    np.savez(broken / "crf.npz", transitions=np.array([object()] * k * k, dtype=object).reshape(k, k),
             start=np.zeros(k), end=np.zeros(k))
    with pytest.raises(ModelError, match="unreadable"):
        ner.Recognizer(broken)


# ------------------------------------------------------------ work bounded by the input (issue 26)

def test_a_text_nfkc_would_grow_many_times_costs_at_most_three_tokens_a_character(toy):
    """U+FDFA is 18 characters after NFKC: 100,000 of them were 19x the time of plain text.  Such a text is
    folded character by character (the same length, the same offsets); ``python -m ner.bench.bounded`` times it."""
    from ner.tokenizer import MAX_GROWTH

    tok = toy.tokenizer
    text = "张三在北京。" + "\ufdfa" * 1000 + "上海"
    enc = tok.encode(text)
    assert len(enc.ids) <= MAX_GROWTH * len(text)
    assert enc.ends.max() == len(text)
    check_contract(text, toy.recognize(text))
    assert {"张三", "北京", "上海"} <= {e.text for e in toy.recognize(text)}


def test_ordinary_expansions_are_tokenized_as_before(toy):
    tok = toy.tokenizer
    for text in ("他说……真的吗", "第Ⅷ届大会⑽", "张三说\ufdfa，" + "在北京开会。" * 3, "株式会社㍿"):
        assert tok.bounded(text) == text
        assert tok.encode(text).ids.tolist() == tok._from_encoding(tok._tok.encode(text, add_special_tokens=False)) \
            .ids.tolist()


# ------------------------------------------------------------ the command line's input (issue 27)

def _cli(*args, stdin=None):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-m", "ner", *args], cwd=root, stdin=stdin, capture_output=True,
                          text=True, timeout=20)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_cli_refuses_a_device_as_file_at_once(device):
    run = _cli("--file", device)
    assert run.returncode == 2 and "not a regular file" in run.stderr and "Traceback" not in run.stderr


def test_cli_reads_stdin_and_files_up_to_a_limit(tmp_path):
    with open("/dev/zero", "rb") as zero:
        run = _cli("--max-bytes", "100000", stdin=zero)
    assert run.returncode == 2 and "stdin holds more than 100,000 bytes" in run.stderr
    big = tmp_path / "big.txt"
    big.write_text("张三在北京。" * 100, encoding="utf-8")
    run = _cli("--file", str(big), "--max-bytes", "1000")
    assert run.returncode == 2 and "more than 1,000 bytes" in run.stderr and "--max-bytes" in run.stderr


def test_nan_weights_are_refused_at_load_naming_the_file(broken):
    """A NaN anywhere in the weights (here one row of the toy's score table, a character no probe holds; in an
    LSTM, finite scores that mean nothing) is found at load."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(broken / "model.onnx"))
    (table,) = model.graph.initializer
    values = numpy_helper.to_array(table).copy()
    values[-3, :] = np.nan
    table.CopyFrom(numpy_helper.from_array(values, table.name))
    onnx.save(model, str(broken / "model.onnx"))
    with pytest.raises(ModelError, match=r"model.onnx in 'model' holds weights that are NaN.*\(table\).*Re-export"):
        ner.Recognizer(broken)


def test_model_files_must_be_regular_files_inside_the_folder(broken, tmp_path):
    (broken / "vocab.txt").rename(tmp_path / "vocab.txt")
    (broken / "vocab.txt").symlink_to(tmp_path / "vocab.txt")
    with pytest.raises(ModelError, match="vocab.txt in 'model' is a link to a file outside the model directory"):
        ner.Recognizer(broken)
    (broken / "vocab.txt").unlink()
    (broken / "vocab.txt").symlink_to("/etc/passwd")
    with pytest.raises(ModelError, match="outside the model directory"):
        ner.Recognizer(broken)
    (broken / "vocab.txt").unlink()
    (broken / "inner.txt").write_bytes((tmp_path / "vocab.txt").read_bytes())
    (broken / "vocab.txt").symlink_to("inner.txt")  # a link inside the folder is followed
    assert ner.Recognizer(broken).recognize("张三")
    (broken / "vocab.txt").unlink()
    (broken / "vocab.txt").mkdir()
    with pytest.raises(ModelError, match="not a regular file"):
        ner.Recognizer(broken)
