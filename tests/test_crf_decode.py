"""The one-pass decoder ``ner.crf.decode`` against the reference ``viterbi``/``marginals`` and brute force."""
import numpy as np
import pytest

from ner.crf import CRF, decode, marginals, viterbi
from tests.test_decode import brute_force


def reference(em, lengths, crf, wanted):
    """What ``decode`` must give: the reference path, and the reference marginal of its tag where wanted."""
    paths = viterbi(em, lengths, crf)
    probs = marginals(em, lengths, crf)
    tag = np.maximum(paths, 0)
    chosen = np.take_along_axis(probs, tag[:, :, None], 2)[:, :, 0]
    return paths, np.where((paths >= 0) & wanted[tag], chosen, 0.0)


@pytest.mark.parametrize("seed", range(60))
def test_decode_equals_the_reference_on_random_matrices(seed):
    rng = np.random.default_rng(seed)
    k, batch, seq = int(rng.integers(2, 8)), int(rng.integers(1, 7)), int(rng.integers(1, 40))
    em = rng.normal(size=(batch, seq, k)) * 4
    lengths = rng.integers(1, seq + 1, size=batch)
    crf = CRF(rng.normal(size=(k, k)) * 2, rng.normal(size=k), rng.normal(size=k))
    wanted = rng.random(k) < 0.6
    paths, probs = decode(em, lengths, crf, wanted)
    ref_paths, ref_probs = reference(em, lengths, crf, wanted)
    assert (paths == ref_paths).all()
    np.testing.assert_allclose(probs, ref_probs, rtol=1e-12, atol=1e-15)


def test_decode_on_a_hand_written_matrix():
    # tags O, B, I: the transition O -> I is forbidden, so the strong I at t=1 must pull a B before it
    crf = CRF(np.array([[0.0, 0.0, -1e4], [0.0, -1e4, 0.0], [0.0, 0.0, 0.0]]), np.array([0.0, 0.0, -1e4]),
              np.zeros(3))
    em = np.array([[[1.0, 0.9, 0.0], [0.0, 0.0, 3.0], [2.0, 0.0, 0.0]]])
    paths, probs = decode(em, [3], crf, np.array([False, True, True]))
    assert paths[0].tolist() == [1, 2, 0]
    scores = brute_force(em[0], crf, 3)
    z = sum(np.exp(s) for s in scores.values())
    p_b0 = sum(np.exp(s) for p, s in scores.items() if p[0] == 1) / z
    p_i1 = sum(np.exp(s) for p, s in scores.items() if p[1] == 2) / z
    np.testing.assert_allclose(probs[0], [p_b0, p_i1, 0.0], rtol=1e-9)


def test_padding_rows_and_marginals_only_where_wanted():
    rng = np.random.default_rng(3)
    crf = CRF(rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4))
    em = rng.normal(size=(1, 5, 4))
    padded = np.concatenate([em, rng.normal(size=(1, 3, 4)) * 100], axis=1)
    alone, p_alone = decode(em, [5], crf)
    batch = np.concatenate([padded, rng.normal(size=(1, 8, 4))])
    both, p_both = decode(batch, [5, 8], crf)
    assert (both[0, :5] == alone[0]).all() and (both[0, 5:] == -1).all()
    np.testing.assert_allclose(p_both[0, :5], p_alone[0], rtol=1e-12)
    assert (p_both[0, 5:] == 0).all()
    none = decode(em, [5], crf, np.zeros(4, dtype=bool))[1]
    assert (none == 0).all()


def test_decode_of_nothing():
    paths, probs = decode(np.zeros((0, 0, 3)), np.zeros(0, dtype=np.int64), CRF.uniform(3))
    assert paths.shape == (0, 0) and probs.shape == (0, 0)
