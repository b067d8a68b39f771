"""The one-pass decoders, numpy (``decode_numpy``) and compiled (``decode``), against the reference
``viterbi``/``marginals``, brute force and each other; and the fallback when the extension is missing."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ner.crf
from ner.crf import CRF, decode, decode_numpy, marginals, viterbi
from ner.tags import allowed_moves, spans_to_tags
from tests.test_decode import brute_force

ROOT = Path(__file__).resolve().parent.parent
compiled = pytest.mark.skipif(ner.crf.KERNEL != "c", reason="ner._crfkernel is not built here (no compiler?)")
DECODERS = [pytest.param(decode_numpy, id="numpy"), pytest.param(decode, id="compiled", marks=compiled)]


def reference(em, lengths, crf, wanted):
    """What ``decode`` must give: the reference path, and the reference marginal of its tag where wanted."""
    paths = viterbi(em, lengths, crf)
    probs = marginals(em, lengths, crf)
    tag = np.maximum(paths, 0)
    chosen = np.take_along_axis(probs, tag[:, :, None], 2)[:, :, 0]
    return paths, np.where((paths >= 0) & wanted[tag], chosen, 0.0)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("seed", range(60))
def test_decode_equals_the_reference_on_random_matrices(decoder, seed):
    rng = np.random.default_rng(seed)
    k, batch, seq = int(rng.integers(2, 8)), int(rng.integers(1, 7)), int(rng.integers(1, 40))
    em = rng.normal(size=(batch, seq, k)) * 4
    lengths = rng.integers(1, seq + 1, size=batch)
    crf = CRF(rng.normal(size=(k, k)) * 2, rng.normal(size=k), rng.normal(size=k))
    wanted = rng.random(k) < 0.6
    paths, probs = decoder(em, lengths, crf, wanted)
    ref_paths, ref_probs = reference(em, lengths, crf, wanted)
    assert (paths == ref_paths).all()
    np.testing.assert_allclose(probs, ref_probs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("decoder", DECODERS)
def test_decode_on_a_hand_written_matrix(decoder):
    # tags O, B, I: the transition O -> I is forbidden, so the strong I at t=1 must pull a B before it
    crf = CRF(np.array([[0.0, 0.0, -1e4], [0.0, -1e4, 0.0], [0.0, 0.0, 0.0]]), np.array([0.0, 0.0, -1e4]),
              np.zeros(3))
    em = np.array([[[1.0, 0.9, 0.0], [0.0, 0.0, 3.0], [2.0, 0.0, 0.0]]])
    paths, probs = decoder(em, [3], crf, np.array([False, True, True]))
    assert paths[0].tolist() == [1, 2, 0]
    scores = brute_force(em[0], crf, 3)
    z = sum(np.exp(s) for s in scores.values())
    p_b0 = sum(np.exp(s) for p, s in scores.items() if p[0] == 1) / z
    p_i1 = sum(np.exp(s) for p, s in scores.items() if p[1] == 2) / z
    np.testing.assert_allclose(probs[0], [p_b0, p_i1, 0.0], rtol=1e-9)


@pytest.mark.parametrize("decoder", DECODERS)
def test_padding_rows_and_marginals_only_where_wanted(decoder):
    rng = np.random.default_rng(3)
    crf = CRF(rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4))
    em = rng.normal(size=(1, 5, 4))
    padded = np.concatenate([em, rng.normal(size=(1, 3, 4)) * 100], axis=1)
    alone, p_alone = decoder(em, [5], crf)
    batch = np.concatenate([padded, rng.normal(size=(1, 8, 4))])
    both, p_both = decoder(batch, [5, 8], crf)
    assert (both[0, :5] == alone[0]).all() and (both[0, 5:] == -1).all()
    np.testing.assert_allclose(p_both[0, :5], p_alone[0], rtol=1e-12)
    assert (p_both[0, 5:] == 0).all()
    none = decoder(em, [5], crf, np.zeros(4, dtype=bool))[1]
    assert (none == 0).all()


@pytest.mark.parametrize("decoder", DECODERS)
def test_decode_of_nothing(decoder):
    paths, probs = decoder(np.zeros((0, 0, 3)), np.zeros(0, dtype=np.int64), CRF.uniform(3))
    assert paths.shape == (0, 0) and probs.shape == (0, 0)
    paths, probs = decoder(np.zeros((2, 4, 3)), np.array([0, 0]), CRF.uniform(3))
    assert (paths == -1).all() and (probs == 0).all()


def bioes(types):
    return ["O"] + [f"{p}-{t}" for t in types for p in "BIES"]


LABELS = bioes(("PER", "LOC", "ORG", "GPE", "PRODUCT"))


def bioes_crf(rng, labels, forbidden):
    """Learned-looking BIOES transitions: allowed moves near 0, the others at ``forbidden`` (+ noise)."""
    allowed = allowed_moves(labels, "BIOES")
    k = len(labels)
    trans = np.where(allowed, rng.normal(size=(k, k)), forbidden + rng.normal(size=(k, k)))
    return CRF(trans, rng.normal(size=k), rng.normal(size=k), allowed)


@compiled
@pytest.mark.parametrize("labels", [bioes(("PER", "LOC", "ORG")), bioes([f"T{i}" for i in range(10)])],
                         ids=["13 tags, pruned", "41 tags, vectorised"])
@pytest.mark.parametrize("forbidden", [-1e4, -15.0, -5.0, 0.0])
@pytest.mark.parametrize("seed", range(8))
def test_compiled_equals_numpy_exactly_with_the_scheme_s_allowed_moves(labels, forbidden, seed):
    """Whatever the scores of the moves the scheme forbids, pruning by them changes no path, bit for bit."""
    assert (len(labels) < ner.crf.PRUNE_BELOW) == (len(labels) == 13)
    rng = np.random.default_rng(seed)
    crf = bioes_crf(rng, labels, forbidden)
    batch, seq = 5, 130
    em = rng.normal(size=(batch, seq, len(labels))) * rng.choice([1.0, 5.0, 20.0])
    lengths = np.array([seq, 1, 0, 77, 128])
    wanted = np.array([lab != "O" for lab in labels])
    paths, probs = decode(em, lengths, crf, wanted)
    ref_paths, ref_probs = decode_numpy(em, lengths, crf, wanted)
    assert (paths == ref_paths).all()
    np.testing.assert_allclose(probs, ref_probs, rtol=1e-12, atol=1e-15)
    assert np.array_equal(np.round(probs, 6), np.round(ref_probs, 6))


@compiled
@pytest.mark.parametrize("pruned", [True, False])
@pytest.mark.parametrize("seed", range(20))
def test_compiled_breaks_ties_as_numpy_does(pruned, seed):
    """Small integer scores make many equal sums: the first (lowest) tag must win each tie, in both."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9)) if pruned else int(rng.integers(2, 30))
    crf = CRF(rng.integers(-2, 2, size=(k, k)).astype(float), rng.integers(-1, 1, size=k).astype(float),
              rng.integers(-1, 1, size=k).astype(float), rng.random((k, k)) < 0.5 if pruned else None)
    em = rng.integers(-2, 3, size=(3, 25, k)).astype(float)
    lengths = np.array([25, 13, 2])
    paths, probs = decode(em, lengths, crf)
    ref_paths, ref_probs = decode_numpy(em, lengths, crf)
    assert (paths == ref_paths).all()
    np.testing.assert_allclose(probs, ref_probs, rtol=1e-12)


@compiled
def test_compiled_matches_brute_force():
    rng = np.random.default_rng(11)
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    crf = bioes_crf(rng, labels, -3.0)
    em = rng.normal(size=(1, 6, 5)) * 2
    paths, probs = decode(em, [6], crf)
    scores = brute_force(em[0], crf, 6)
    best = max(scores, key=scores.get)
    assert tuple(paths[0]) == best
    z = sum(np.exp(s) for s in scores.values())
    expected = [sum(np.exp(s) for p, s in scores.items() if p[t] == best[t]) / z for t in range(6)]
    np.testing.assert_allclose(probs[0], expected, rtol=1e-9)


@compiled
def test_inputs_the_kernel_leaves_to_the_reference():
    """Non-finite emissions and lengths past the matrix go to decode_numpy, which answers as it always did."""
    rng = np.random.default_rng(5)
    crf = CRF(rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3))
    em = rng.normal(size=(2, 4, 3))
    em[1, 2, 1] = np.nan
    paths, probs = decode(em, [4, 4], crf)
    ref_paths, ref_probs = decode_numpy(em, [4, 4], crf)
    assert (paths == ref_paths).all()
    np.testing.assert_array_equal(probs, ref_probs)
    with pytest.raises(IndexError):
        decode(em, [4, 9], crf)


def test_allowed_moves_accept_every_well_formed_sequence():
    allowed = allowed_moves(LABELS, "BIOES")
    index = {lab: i for i, lab in enumerate(LABELS)}
    tags = spans_to_tags([(0, 3, "PER"), (3, 4, "LOC"), (6, 8, "ORG"), (8, 9, "ORG")], 10, "BIOES")
    path = [index[t] for t in tags]
    assert all(allowed[a, b] for a, b in zip(path, path[1:]))
    assert not allowed[index["O"], index["I-PER"]] and not allowed[index["B-PER"], index["I-LOC"]]
    assert not allowed[index["B-PER"], index["S-PER"]] and not allowed[index["I-PER"], index["O"]]
    bio = ["O", "B-PER", "I-PER"]
    assert allowed_moves(bio, "BIO").tolist() == [[True, True, False], [True, True, True], [True, True, True]]


def _run(code: str, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


RECOGNIZE = ("import json, ner, ner.crf\n"
             "ents = ner.recognize('张三在北京清华大学任职，李四去了上海浦东新区的华为公司。')\n"
             "print(json.dumps({'kernel': ner.crf.KERNEL, 'entities': [repr(e) for e in ents]}))")


@pytest.mark.slow
def test_the_app_runs_without_the_compiled_kernel():
    """Where the extension could not be built (its import fails), the numpy reference gives the same entities."""
    blocked = _run("import sys\nsys.modules['ner._crfkernel'] = None\n" + RECOGNIZE)
    by_env = _run(RECOGNIZE, NER_CRF_KERNEL="numpy")
    assert blocked["kernel"] == by_env["kernel"] == "numpy"
    assert blocked["entities"] and blocked["entities"] == by_env["entities"]
    if ner.crf.KERNEL == "c":
        assert _run(RECOGNIZE) == {"kernel": "c", "entities": blocked["entities"]}
