"""Issue 28: Latin-script shapes, the space rule between scripts, the PROD lexicon type, products and shop titles."""
import random

import numpy as np
import pytest

from ner.crf import CRF, decode
from ner.features import SHAPE_FEATURES, Featurizer, Lexicon, build_lexicon, shape_features
from ner.postprocess import ScriptSpaceRule, script_space_breaks
from ner.tags import TagCodes
from ner.tokenizer import TextTokenizer
from ner.training.compose import BRAND_PAIRS, compose, shop_title
from ner.training.corpora import Example
from ner.training.lexicon import lexicon_types, read_names, PRODUCTS

pytestmark = pytest.mark.unit
COL = {name: i for i, name in enumerate(SHAPE_FEATURES)}


@pytest.fixture(scope="module")
def tok(toy_dir):
    return TextTokenizer(toy_dir / "vocab.txt")


def columns(tok, text):
    enc = tok.encode(text)
    return enc, shape_features(text, enc.starts, enc.ends)


def test_shape_sees_case_digits_and_the_spaces_the_tokens_lost(tok):
    text = "在IBM 12gb 国际"
    enc, f = columns(tok, text)
    firsts = [text[s] for s in enc.starts]
    assert firsts == ["在", "I", "B", "M", "1", "2", "g", "b", "国", "际"]
    assert f[1:4, COL["all_upper"]].all() and f[1, COL["upper_first"]] and not f[6, COL["upper_first"]]
    assert f[4:6, COL["digit"]].all() and not f[6:8, COL["all_upper"]].any()
    assert f[1, COL["run_begin"]] and f[3, COL["run_end"]] and f[4, COL["run_begin"]] and f[7, COL["run_end"]]
    assert f[4, COL["space_before"]] and f[3, COL["space_after"]] and f[8, COL["space_before"]]
    assert not f[0, COL["latin"]] and not f[9].any()


def test_full_width_letters_read_as_their_half_width_case(tok):
    text = "ＩＢＭ"
    _, f = columns(tok, text)
    assert f[:, COL["all_upper"]].all()


def test_rows_featurized_together_equal_each_row_alone(tok):
    lex = Lexicon(np.zeros(0, np.uint64), np.zeros(0, np.uint8), np.zeros(0, np.int16), ["PER", "LOC", "ORG", "WORD"])
    feat = Featurizer(None, lex, shape=True)
    texts = ["张三 abc", "Tim在北京", "清华"]
    rows, shapes = zip(*[(e.ids, shape_features(t, e.starts, e.ends)) for t, e in ((t, tok.encode(t)) for t in texts)])
    assert feat.lexicon_width == 16 + len(SHAPE_FEATURES)
    for got, row, shape in zip(feat.many(list(rows), list(shapes)), rows, shapes):
        alone = feat(row, shape)
        assert np.array_equal(got["lexicon"], alone["lexicon"])
        assert np.array_equal(got["lexicon"][:, 16:], shape)
    with pytest.raises(ValueError, match="shape"):
        feat(rows[0])


def test_no_entity_is_decoded_across_a_space_between_scripts():
    labels = ["O", "B-ORG", "I-ORG", "E-ORG", "S-ORG"]
    codes = TagCodes(labels, "BIOES")
    rule = ScriptSpaceRule(codes.prefix, "BIOES")
    # tokens: 5 1 2 g b | 官 方  -- the scores want one ORG over all seven
    em = np.full((7, 5), -2.0)
    em[0, 1] = em[1:6, 2] = em[6, 3] = 3.0
    shape = np.zeros((7, len(SHAPE_FEATURES)), np.float32)
    shape[:5, COL["digit"]] = 1
    shape[4, COL["space_after"]] = shape[5, COL["space_before"]] = 1
    breaks = script_space_breaks(shape)
    assert breaks.tolist() == [False, False, False, False, True, False, False]
    crf = CRF(np.zeros((5, 5)), np.zeros(5), np.zeros(5))
    before, _ = decode(em[None].copy(), np.array([7]), crf, ~codes.outside)
    assert codes.spans(before[0]) == [(0, 7, "ORG")]
    rule.apply(em, breaks)
    after, _ = decode(em[None], np.array([7]), crf, ~codes.outside)
    assert all(e <= 5 or s >= 5 for s, e, _ in codes.spans(after[0])), codes.spans(after[0])


def test_latin_words_keep_the_space_of_their_name():
    shape = np.zeros((7, len(SHAPE_FEATURES)), np.float32)
    shape[:, COL["latin"]] = 1  # t i m | c o o k
    shape[2, COL["space_after"]] = 1
    assert not script_space_breaks(shape).any()


def test_products_are_a_sixth_type_after_corp():
    assert lexicon_types(["per", "loc", "org", "jieba", "prod"]) == ["PER", "LOC", "ORG", "WORD", "CORP", "PROD"]
    assert lexicon_types(["per", "brand"])[-1] == "CORP"
    names = read_names(PRODUCTS)
    assert {"iPhone", "ChatGPT", "Azure", "鸿蒙"} <= set(names) and "支付宝" not in names
    vocab = {"[UNK]": 1, "豆": 2, "包": 3}
    types = lexicon_types(["prod"])
    lex = build_lexicon({"豆包": 32}, vocab, types, lambda w: [vocab[c] for c in w])
    feats = Lexicon(lex.keys, lex.bits, np.array([2]), types).features(np.array([2, 3])).reshape(2, 4, 6)
    assert feats[0, 0, 5] == 1 and feats[1, 2, 5] == 1 and feats[:, :, :5].sum() == 0


def test_shop_titles_set_pieces_apart_and_no_entity_crosses_a_space():
    rng = random.Random(0)
    for _ in range(300):
        ex = shop_title(rng, ["深圳", "杭州"], ["iPhone", "Mate", "豆包"])
        assert " " in ex.text and ex.spans
        for s, e, label in ex.spans:
            mention = ex.text[s:e]
            assert mention == mention.strip() and (" " not in mention or mention.isascii()), (ex.text, mention)
            assert label in ("ORG", "LOC")
    assert not {("索尼", "Sony"), ("戴森", "Dyson"), ("三星", "Samsung")} & set(BRAND_PAIRS)  # the probes' own


def test_a_product_after_its_maker_is_no_entity():
    gold = [Example("李明在上海的腾讯工作。", [(0, 2, "PER"), (3, 5, "LOC"), (6, 8, "ORG")]),
            Example("华为发布新机。", [(0, 2, "ORG")])]
    out = compose(gold, 180, seed=1)
    products = set(read_names(PRODUCTS))
    seen = 0
    for ex in out:
        for s, e, label in ex.spans:
            assert ex.text[s:e] not in products or label != "ORG" or ex.text[s:e] in ("Mate",), ex
        seen += any(p in ex.text for p in products if len(p) > 3)
    assert seen >= 20


def test_silver_refilter_drops_product_spans_and_sentences_that_missed_a_latin_brand(tmp_path):
    pytest.importorskip("ahocorasick")
    import json
    from ner.training.silver import company_automaton, refilter

    (tmp_path / "brands.tsv").write_text("# brands\nGitHub\t32\tsimple-icons\nMeta\t701\tsimple-icons\n", encoding="utf-8")
    rows = [{"text": "我在GitHub上看到的", "spans": []},                          # both teachers missed GitHub
            {"text": "Metaverse的概念", "spans": []},                             # Meta inside a longer word
            {"text": "微软的ChatGPT很火", "spans": [[0, 2, "ORG"], [3, 10, "ORG"]]}]  # a product taken for an ORG
    src = tmp_path / "silver.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    kept, dropped = refilter(src, tmp_path / "out.jsonl", company_automaton(tmp_path / "brands.tsv"),
                             frozenset({"ChatGPT"}))
    assert (kept, dropped) == (2, 1)
    out = [json.loads(line) for line in open(tmp_path / "out.jsonl", encoding="utf-8")]
    assert out[0]["text"] == "Metaverse的概念" and out[1]["spans"] == [[0, 2, "ORG"]]


def test_every_training_stage_of_the_rebuild_parses(tmp_path):
    """``python -m ner.training.rebuild`` runs the recipe's commands: each ``ner.train`` line must be one
    the command accepts, with the run directory and the epochs it names."""
    from ner.training.rebuild import stages
    from ner.training.train import parse_args

    found = stages("../shared/data", tmp_path / "work", tmp_path / "runs", None)
    names = [name for name, _, _ in found]
    assert names[0] == "lac venv" and names[-2:] == ["m6", "m6 export"] and len(set(names)) == len(names)
    trains = [cmd[cmd.index("ner.train") + 1 :] for _, _, cmd in found if "ner.train" in cmd]
    assert len(trains) == 9  # the first model, st, st2, m1 ... m6
    for argv in trains:
        cfg = parse_args(argv)
        assert str(cfg.out).startswith(str(tmp_path / "runs")) and cfg.epochs >= 2
    m6 = parse_args(trains[-1])
    assert m6.shape and "prod" in m6.lexicons and "brand" in m6.lexicons and m6.seed == 6
