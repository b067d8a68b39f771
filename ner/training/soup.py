"""Weight averaging ("model soup", Wortsman et al. 2022) of two models fine-tuned from the same start.

    python -m ner.training.soup models/zh-ner-lite runs/m1/onnx --alpha 0.5 --out runs/soup

Both inputs are exported model directories with the same vocabulary, features and
labels (one warm-started from the other).  The output is a training-run directory
(``best.pt``, ``assets/``, ``train_info.json``) for ``python -m ner.export --run``:
``alpha`` weights the second model, ``1 - alpha`` the first.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from .._optional import require
from ..spec import read_spec
from .warmstart import copy_assets, load_into

log = logging.getLogger(__name__)


def _net_for(model_dir: Path, torch):
    from .net import CRFLayer, TaggerNet
    from ..features import Lexicon

    spec = read_spec(model_dir)
    cfg = spec.raw
    n_bigrams = len(__import__("numpy").load(spec.file(spec.bigrams_file))) + 1 if spec.bigrams_file else 0
    lexicon_dim = Lexicon.load(spec.file(spec.lexicon_file)).n_features if spec.lexicon_file else 0
    hidden = cfg.get("training", {}).get("args", {}).get("hidden", 192)
    net = TaggerNet(cfg["vocab_size"], len(spec.labels), n_bigrams=n_bigrams, lexicon_dim=lexicon_dim, hidden=hidden)
    crf = CRFLayer(len(spec.labels))
    load_into(net, crf, model_dir)
    return net, crf, spec


def soup(first: Path, second: Path, alpha: float, out: Path) -> Path:
    """Write ``(1 - alpha) * first + alpha * second`` as a training run in ``out``."""
    torch = require("torch", "Averaging model weights")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], not {alpha}")
    net_a, crf_a, spec_a = _net_for(first, torch)
    net_b, crf_b, spec_b = _net_for(second, torch)
    if spec_a.labels != spec_b.labels or spec_a.raw.get("vocab_size") != spec_b.raw.get("vocab_size"):
        raise ValueError("the two models differ in labels or vocabulary: only models from the same start average")
    mix = {}
    for part_a, part_b, name in ((net_a, net_b, "net"), (crf_a, crf_b, "crf")):
        sb = part_b.state_dict()
        mix[name] = {k: (1 - alpha) * v + alpha * sb[k] for k, v in part_a.state_dict().items()}
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(second, out / "assets")
    torch.save({**mix, "epoch": 0, "dev": None}, out / "best.pt")
    info = dict(spec_b.raw.get("training", {}))
    info.update({"labels": spec_b.labels, "scheme": spec_b.scheme, "max_length": spec_b.max_length,
                 "soup": {"first": str(first), "second": str(second), "alpha": alpha}})
    info.setdefault("args", {}).setdefault("lexicons", ["per", "loc", "org", "jieba"])
    (out / "train_info.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of the second model")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(soup(args.first, args.second, args.alpha, args.out))


if __name__ == "__main__":
    main()
