import itertools

import numpy as np
import pytest

from ner.crf import CRF, marginals, viterbi
from ner.tags import spans_to_tags, tags_to_spans


def brute_force(em, crf, length):
    k = em.shape[-1]
    scores = {}
    for path in itertools.product(range(k), repeat=length):
        s = crf.start[path[0]] + crf.end[path[-1]] + sum(em[t, path[t]] for t in range(length))
        s += sum(crf.transitions[path[t - 1], path[t]] for t in range(1, length))
        scores[path] = s
    return scores


@pytest.mark.parametrize("seed", range(40))
def test_viterbi_and_marginals_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    k, batch, seq = int(rng.integers(2, 5)), 3, int(rng.integers(1, 6))
    em = rng.normal(size=(batch, seq, k)) * 2
    crf = CRF(rng.normal(size=(k, k)), rng.normal(size=k), rng.normal(size=k))
    lengths = rng.integers(1, seq + 1, size=batch)
    paths = viterbi(em, lengths, crf)
    probs = marginals(em, lengths, crf)
    for b in range(batch):
        n = int(lengths[b])
        scores = brute_force(em[b], crf, n)
        best = max(scores, key=scores.get)
        assert tuple(paths[b, :n]) == best
        assert (paths[b, n:] == -1).all()
        weights = {p: np.exp(s) for p, s in scores.items()}
        z = sum(weights.values())
        expected = np.zeros((n, k))
        for p, w in weights.items():
            expected[np.arange(n), p] += w / z
        np.testing.assert_allclose(probs[b, :n], expected, rtol=1e-9, atol=1e-12)
        assert (probs[b, n:] == 0).all()


def test_padding_does_not_change_a_row():
    rng = np.random.default_rng(7)
    crf = CRF(rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4))
    em = rng.normal(size=(1, 5, 4))
    padded = np.concatenate([em, rng.normal(size=(1, 3, 4)) * 100], axis=1)
    assert (viterbi(em, [5], crf)[0] == viterbi(padded, [5], crf)[0, :5]).all()
    np.testing.assert_allclose(marginals(em, [5], crf)[0], marginals(padded, [5], crf)[0, :5])


def test_bio_i_without_b_starts_an_entity():
    assert tags_to_spans(["I-PER", "I-PER", "O"], "BIO") == [(0, 2, "PER")]
    assert tags_to_spans(["B-PER", "I-LOC", "I-LOC"], "BIO") == [(0, 1, "PER"), (1, 3, "LOC")]


def test_entity_at_the_end_is_closed():
    assert tags_to_spans(["O", "B-ORG", "I-ORG"], "BIO") == [(1, 3, "ORG")]
    assert tags_to_spans(["O", "B-ORG", "I-ORG"], "BIOES") == [(1, 3, "ORG")]


def test_single_character_entities():
    assert tags_to_spans(["B-LOC", "B-LOC", "O"], "BIO") == [(0, 1, "LOC"), (1, 2, "LOC")]
    assert tags_to_spans(["S-LOC", "S-PER", "O", "S-ORG"], "BIOES") == [(0, 1, "LOC"), (1, 2, "PER"), (3, 4, "ORG")]


def test_bioes_lenient_cases():
    assert tags_to_spans(["E-PER", "O"], "BIOES") == [(0, 1, "PER")]
    assert tags_to_spans(["B-PER", "I-PER", "E-PER", "I-PER"], "BIOES") == [(0, 3, "PER"), (3, 4, "PER")]
    assert tags_to_spans(["B-PER", "B-PER", "E-PER"], "BIOES") == [(0, 1, "PER"), (1, 3, "PER")]


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_spans_tags_round_trip(scheme):
    spans = [(0, 1, "PER"), (2, 5, "LOC"), (5, 7, "ORG"), (9, 10, "LOC")]
    assert tags_to_spans(spans_to_tags(spans, 10, scheme), scheme) == spans


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="BIOES"):
        tags_to_spans(["O"], "IOB2")


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_tag_codes_match_tags_to_spans(scheme):
    from ner.tags import TagCodes

    labels = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC") for p in ("BI" if scheme == "BIO" else "BIES")]
    codes = TagCodes(labels, scheme)
    rng = np.random.default_rng(5)
    for _ in range(2000):
        path = rng.integers(0, len(labels), int(rng.integers(0, 12)))
        path[rng.random(len(path)) < 0.4] = 0
        assert codes.spans(path) == tags_to_spans([labels[k] for k in path], scheme)
