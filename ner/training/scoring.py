"""Entity-level scoring, the one place P/R/F1 is computed: exact span and type, overall and per type."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..tags import Span


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    """Precision, recall and F1 (rounded to 4 decimals) with the gold count as ``support``."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": n_gold}


def score(gold: Iterable[Iterable[Span]], predicted: Iterable[Iterable[Span]]) -> dict:
    """P/R/F1 overall and per type from each sentence's gold and predicted ``(start, end, label)`` spans."""
    tp: Counter = Counter()
    n_pred: Counter = Counter()
    n_gold: Counter = Counter()
    for g_spans, p_spans in zip(gold, predicted):
        g, p = set(g_spans), set(p_spans)
        n_gold.update(s[2] for s in g)
        n_pred.update(s[2] for s in p)
        tp.update(s[2] for s in g & p)
    out = prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    out["per_type"] = {t: prf(tp[t], n_pred[t], n_gold[t]) for t in sorted(set(n_gold) | set(n_pred))}
    return out


def macro(results: dict[str, dict]) -> dict:
    """The unweighted mean of each set's precision, recall and F1."""
    n = len(results) or 1
    return {k: round(sum(r[k] for r in results.values()) / n, 4) for k in ("precision", "recall", "f1")}
