"""Training-time augmentation: mention replacement keeps offsets exact, [UNK] masking keeps padding and features aligned."""
import random

import pytest

from ner.training.augment import augment, mention_pools, replace_mentions
from ner.training.corpora import Example


def test_replaced_mentions_keep_exact_offsets_and_types():
    ex = Example("张三在北京清华大学任职。", [(0, 2, "PER"), (3, 5, "LOC"), (5, 9, "ORG")])
    pools = {"PER": ["Tim Cook"], "LOC": ["杭州"], "ORG": ["字节跳动公司"]}
    out = replace_mentions(ex, pools, random.Random(0))
    assert out.text == "Tim Cook在杭州字节跳动公司任职。"
    assert [(out.text[s:e], t) for s, e, t in out.spans] == [("Tim Cook", "PER"), ("杭州", "LOC"), ("字节跳动公司", "ORG")]


def test_augment_draws_from_gold_mentions_of_the_same_type():
    gold = [Example("李明在上海工作。", [(0, 2, "PER"), (3, 5, "LOC")]),
            Example("王芳去了南京。", [(0, 2, "PER"), (4, 6, "LOC")]),
            Example("今天下雨。", [])]
    pools = mention_pools(gold)
    assert pools == {"PER": ["李明", "王芳"], "LOC": ["上海", "南京"]}
    out = augment(gold, 50, seed=1)
    assert len(out) == 50
    for ex in out:
        assert ex.spans and all(ex.text[s:e] in pools[t] for s, e, t in ex.spans)


def test_unknown_masking_spares_padding_and_clears_bigrams_and_lexicon():
    torch = pytest.importorskip("torch")
    from ner.training.batches import mask_unknown

    ids = torch.arange(1, 21).reshape(2, 10)
    big, lex, lengths = ids + 100, torch.ones(2, 10, 4), torch.tensor([10, 6])
    mask = torch.arange(10)[None] < lengths[:, None]
    new_ids, new_big, new_lex, _ = mask_unknown((ids, big, lex, lengths), mask, 0.5, 1, torch.Generator().manual_seed(0))
    hit = (new_ids == 1) & (ids != 1)
    assert hit.any() and not hit[1, 6:].any()                 # padding never masked
    assert (new_big[hit] == 0).all() and (new_lex[hit] == 0).all()
    assert (new_big[:, :-1][hit[:, 1:]] == 0).all()           # the bigram ending at a masked token is unknown too
    assert (new_ids[~hit] == ids[~hit]).all()
