"""The CRF decode alone: the compiled kernel against the numpy reference, interleaved, on real emissions.

    python -m ner.bench.decode [--model DIR] [--lengths 100 500 5000] [--repeats 200] [--rounds 5] [--json]

Emissions are the model's own for a text of each length (all its windows, as one
``recognize`` call decodes them).  Besides the model's tag set, a 41-tag set (O and
ten BIOES types, CLUENER's size) is made by copying the PER/LOC/ORG columns and
transitions cyclically, with a little noise, so the cost per tag count shows without
a second model.  Each figure is the median over ``--rounds`` rounds of the median
call; ``numpy/c`` is the speed-up, ``dense/pruned`` what skipping the moves the tag
scheme forbids gains in the compiled Viterbi (about 1 from ``ner.crf.PRUNE_BELOW`` tags
on, where it visits every move in a vectorised loop instead).  Every measured pair is
first checked to give the same paths and the same scores to 6 decimals.
"""
from __future__ import annotations

from . import median_ms, run_micro
import statistics
from functools import partial

import numpy as np


def widened(em: np.ndarray, crf, types: int = 10):
    """Emissions and a CRF of ``1 + 4 * types`` BIOES tags, each type a copy of one of the model's first three."""
    from ner.crf import CRF
    from ner.tags import allowed_moves

    idx = np.array([0] + [1 + 4 * (t % 3) + k for t in range(types) for k in range(4)])
    rng = np.random.default_rng(0)
    em2 = em[..., idx] + rng.normal(size=em.shape[:-1] + (len(idx),)) * 0.3
    labels = ["O"] + [f"{p}-T{t}" for t in range(types) for p in "BIES"]
    wide = CRF(crf.transitions[np.ix_(idx, idx)], crf.start[idx], crf.end[idx], allowed_moves(labels, "BIOES"))
    return em2, wide, np.array([lab != "O" for lab in labels])


def measure(model: str | None, lengths: list[int], repeats: int, rounds: int) -> list[dict]:
    import ner
    from ner.crf import CRF, KERNEL, decode, decode_numpy
    from ner.samples import text_of_length

    if KERNEL != "c":
        raise SystemExit("error: ner._crfkernel is not built here; build it with `pip install -e .` or "
                         "`python setup.py build_ext --inplace`")
    rec = ner.load(model)
    results = []
    for n in lengths:
        encs, windows = rec.preprocess([text_of_length(n)])
        em, lens = rec.forward(encs, windows)
        sets = {len(rec.labels): (em, rec.crf, ~rec.codes.outside)}
        if rec.spec.scheme == "BIOES" and rec.labels[:13] == ["O"] + [f"{p}-{t}" for t in ("PER", "LOC", "ORG")
                                                                      for p in "BIES"]:
            e41, crf41, want41 = widened(em, rec.crf)
            sets[41] = (e41, crf41, want41)
        for k, (e, crf, want) in sets.items():
            dense = CRF(crf.transitions, crf.start, crf.end)
            p1, q1 = decode(e, lens, crf, want)
            p2, q2 = decode_numpy(e, lens, crf, want)
            if not ((p1 == p2).all() and np.array_equal(np.round(q1, 6), np.round(q2, 6))):
                raise SystemExit(f"error: the compiled decode differs from numpy at {n} characters, {k} tags")
            calls = {"numpy": partial(decode_numpy, e, lens, crf, want), "c": partial(decode, e, lens, crf, want),
                     "c_dense": partial(decode, e, lens, dense, want)}
            per: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(rounds):
                for name, call in calls.items():
                    per[name].append(median_ms(call, repeats if name != "numpy" else max(1, repeats // 5)))
            ms = {name: statistics.median(v) for name, v in per.items()}
            results.append({"chars": n, "tags": k, "windows": len(lens), "numpy_ms": round(ms["numpy"], 3),
                            "c_ms": round(ms["c"], 4), "c_dense_ms": round(ms["c_dense"], 4),
                            "numpy/c": round(ms["numpy"] / ms["c"], 1),
                            "dense/pruned": round(ms["c_dense"] / ms["c"], 2)})
    return results


def show(r: dict) -> None:
    print(f"{r['chars']:>5} chars, {r['tags']} tags, {r['windows']} window(s): numpy {r['numpy_ms']:.3f} ms, "
          f"compiled {r['c_ms']:.4f} ms (x{r['numpy/c']} faster), all moves visited {r['c_dense_ms']:.4f} ms "
          f"(x{r['dense/pruned']})")


def main(argv=None) -> None:
    run_micro(__doc__, [100, 500, 5000], measure, show, argv)

if __name__ == "__main__":
    main()
