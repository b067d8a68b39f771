"""The embedded model: the seed sentence, the CLI, batching, and (with the corpora) its scores."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ner
from conftest import ROOT
from ner.samples import EXAMPLES, SEED

pytestmark = pytest.mark.skipif(not (ner.EMBEDDED_MODEL / "config.json").is_file(),
                                reason="the embedded model is not in models/ yet")


@pytest.fixture(scope="module")
def rec():
    return ner.load(ner.EMBEDDED_MODEL)


def triples(entities):
    return [(e.text, e.label, e.start, e.end) for e in entities]


def test_seed_sentence(rec):
    assert triples(rec.recognize(SEED)) == [
        ("张三", "PER", 0, len("张三")),
        ("北京", "LOC", len("张三在"), len("张三在北京")),
        ("清华大学", "ORG", len("张三在北京"), len("张三在北京清华大学")),
        ("上海", "LOC", len("张三在北京清华大学任职期间，曾赴"), len("张三在北京清华大学任职期间，曾赴上海")),
    ]


def test_cli_prints_the_seed_entities():
    out = subprocess.run([sys.executable, "-m", "ner", SEED], capture_output=True, text=True, cwd=ROOT,
                         check=True, env={"PATH": "/usr/bin:/bin", "NER_MODEL": str(ner.EMBEDDED_MODEL)})
    got = [(e["text"], e["type"], e["start"], e["end"]) for e in json.loads(out.stdout)["entities"]]
    assert got == triples(ner.load(ner.EMBEDDED_MODEL).recognize(SEED))
    assert ("清华大学", "ORG", 5, 9) in got


def test_cli_reads_stdin_and_files(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("李明在上海工作。", encoding="utf-8")
    by_file = subprocess.run([sys.executable, "-m", "ner", "--file", str(f)], capture_output=True, text=True,
                             cwd=ROOT, check=True)
    by_stdin = subprocess.run([sys.executable, "-m", "ner"], input="李明在上海工作。", capture_output=True,
                              text=True, cwd=ROOT, check=True)
    assert json.loads(by_file.stdout) == json.loads(by_stdin.stdout)
    assert {e["text"] for e in json.loads(by_file.stdout)["entities"]} >= {"上海"}


def test_scores_are_model_probabilities(rec):
    scores = [e.score for t in EXAMPLES for e in rec.recognize(t)]
    assert all(0 < s <= 1 for s in scores)
    assert len(set(round(s, 3) for s in scores)) > 3, "scores must vary with the model's confidence"


def test_batch_equals_single_on_the_real_model(rec):
    texts = EXAMPLES + [t[: 37 * (i + 1)] for i, t in enumerate(EXAMPLES)] + ["", "  "]
    assert rec.recognize_batch(texts) == [rec.recognize(t) for t in texts]


def test_fp32_needs_the_fp32_graph(rec):
    if rec.spec.fp32_file:
        pytest.skip("this model ships its FP32 graph")
    with pytest.raises(ner.ModelError, match="only its INT8 graph"):
        ner.Recognizer(ner.EMBEDDED_MODEL, precision="fp32")


def test_int8_and_fp32_mostly_agree(rec):
    if not rec.spec.fp32_file:
        pytest.skip("the shipped model has no FP32 graph (the model card gives both scores)")
    fp32 = ner.load(ner.EMBEDDED_MODEL, precision="fp32")
    a = {(i, e.start, e.end, e.label) for i, t in enumerate(EXAMPLES) for e in rec.recognize(t)}
    b = {(i, e.start, e.end, e.label) for i, t in enumerate(EXAMPLES) for e in fp32.recognize(t)}
    assert len(a & b) >= 0.9 * max(len(a), len(b))


def test_msra_test_f1(data_dir, rec):
    from ner.training.evaluate import evaluate

    scores = json.loads((ner.EMBEDDED_MODEL / "scores.json").read_text())
    got = evaluate(data_dir / "msra" / "test.tsv", rec)
    assert got["sentences"] == 3442
    # the model card's figure is reproducible
    assert got["f1"] == pytest.approx(scores["msra_test_int8"]["f1"], abs=1e-4)


def test_a_model_name_loads_the_packaged_model_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ner.model_dir("zh-ner-lite") == ner.EMBEDDED_MODEL
    assert ner.model_dir("no-such-model") == Path("no-such-model")
    (tmp_path / "zh-ner-lite").mkdir()  # a directory of that name here wins: paths mean what they say
    assert ner.model_dir("zh-ner-lite") == Path("zh-ner-lite")


def test_a_missing_corpus_says_where_it_looked_and_how_to_point_at_it(tmp_path):
    from ner.training.corpora import load_corpus

    with pytest.raises(FileNotFoundError, match=rf"msra/test.tsv is not in {tmp_path}; pass --data DIR .* NER_DATA"):
        load_corpus("msra-test", tmp_path)
