"""Export the embedded model's training run, or RaNER, to a model directory: ONNX emissions + CRF + INT8 copy.

    python -m ner.export --run runs/cbl --out models/zh-ner-lite        # the embedded model
    python -m ner.export --modelscope damo/nlp_raner_named-entity-recognition_chinese-base-news \
        --out models/raner-base [--no-quantize]                          # RaNER (needs the hub)

Either way the output directory has the same layout (config.json, model.onnx,
model.int8.onnx, vocab.txt, crf.npz, README.md), so ``ner.load(dir)`` needs no
special case.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from .._optional import require
from ..spec import write_config
from .onnx_export import export_onnx, save_crf
from .quantize import quantize

log = logging.getLogger(__name__)

#: Generic words that begin organisation names built on a place (上海人民出版社, 赞比亚国防部).
GENERIC_ORG_PREFIXES = ["省", "市", "县", "区", "州", "第", "总", "国", "驻"]


def _rebuild_lexicon(info: dict, assets: Path, out: Path, data_dir: Path) -> None:
    """Rebuild lexicon.npz with the split rule's extra bits; the feature bits must not change."""
    from ..features import Lexicon, feature_mask
    from ..tokenizer import TextTokenizer
    from ..training.lexicon import build_lexicon_file

    sources = info["args"].get("lexicons") or []
    mined = assets / "mined_names.tsv" if (assets / "mined_names.tsv").exists() else info["args"].get("mined_lexicon")
    new = build_lexicon_file(data_dir, sources, TextTokenizer(assets / "vocab.txt"), out / "lexicon.npz",
                             Path(mined) if mined else None)
    old = Lexicon.load(assets / "lexicon.npz")
    mask = feature_mask(len(old.types))
    if not (old.types == new.types and np.array_equal(old.keys, new.keys)
            and np.array_equal(old.bits & mask, new.bits & mask)):
        raise RuntimeError("rebuilt lexicon differs from the one the model was trained with; check --data")


def export_run(run: Path, out: Path, *, quantize_int8: bool = True, name: str | None = None,
               data_dir: Path | None = None, quantize_lstm: bool = False,
               display_names: dict[str, str] | None = None, keep_fp32: bool = True,
               extra_meta: dict | None = None) -> Path:
    """The embedded model: ``run`` is a ``python -m ner.train`` (or ``ner.finetune``) output directory.

    The labels come from the run's ``train_info.json``; ``display_names`` (type -> a name to show,
    such as ``{"PER": "人名"}``) go into config.json for the app.  ``keep_fp32=False`` ships the INT8
    graph alone (``fp32_file`` null; the run's ``best.pt`` rebuilds the FP32 one); ``extra_meta`` adds
    facts about how the model was made to config.json's ``training``.  config.json is written once, last.
    """
    if not keep_fp32 and not quantize_int8:
        raise ValueError("keep_fp32=False needs quantize_int8=True: the FP32 graph is then the only one")
    torch = require("torch", "Exporting the embedded model", extra="export")
    from ..training.net import AnchoredTagger, TaggerNet

    info = json.loads((run / "train_info.json").read_text())
    assets = run / "assets"
    out.mkdir(parents=True, exist_ok=True)
    ck = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    state = ck["net"]
    vocab_size, char_dim = state["char.weight"].shape
    n_bigrams, bigram_dim = state["bigram.weight"].shape if "bigram.weight" in state else (0, 50)
    lexicon_dim = state["fwd.weight_ih_l0"].shape[1] - char_dim - (bigram_dim if n_bigrams else 0)
    labels = info["labels"]
    shape_features = info.get("shape_features")
    net = TaggerNet(vocab_size, len(labels), char_dim=char_dim, n_bigrams=n_bigrams, bigram_dim=bigram_dim,
                    lexicon_dim=lexicon_dim, hidden=state["fwd.weight_hh_l0"].shape[1],
                    shape_dim=len(shape_features or []))
    net.load_state_dict(state)
    b, t = 2, 7
    example = (torch.randint(1, vocab_size, (b, t)), torch.randint(0, max(1, n_bigrams), (b, t)),
               torch.rand(b, t, lexicon_dim), torch.tensor([t, t - 2]))
    names = ["input_ids", "bigram_ids", "lexicon", "lengths"]
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "bigram_ids": {0: "batch", 1: "seq"},
           "lexicon": {0: "batch", 1: "seq"}, "lengths": {0: "batch"}, "emissions": {0: "batch", 1: "seq"}}
    export_onnx(AnchoredTagger(net, anchor_inputs=quantize_lstm), example, names, dyn, out / "model.onnx")
    crf = ck["crf"]
    save_crf(out, crf["transitions"].numpy(), crf["start"].numpy(), crf["end"].numpy())
    for f in ("vocab.txt", "bigrams.npy", "lexicon.npz", "mined_names.tsv"):  # mined names ship as text, with sources
        if (assets / f).exists():
            shutil.copy(assets / f, out / f)
    if lexicon_dim and data_dir:
        _rebuild_lexicon(info, assets, out, Path(data_dir))
    if quantize_int8:
        # LSTMs stay FP32 unless asked: ONNX Runtime's quantized LSTM makes a text's scores
        # depend on its batch-mates (see AnchoredTagger)
        quantize(out / "model.onnx", out / "model.int8.onnx",
                 op_types=["MatMul", "Gemm", "Gather"] + (["LSTM"] if quantize_lstm else []))
    cfg = {
        "name": name or run.name, "format": "ner-onnx/1", "architecture": "char+bigram+lexicon BiLSTM-CRF",
        "labels": labels, "scheme": "BIOES", "max_length": info.get("max_length", 128),
        "model_file": "model.int8.onnx" if quantize_int8 else "model.onnx",
        "fp32_file": "model.onnx" if keep_fp32 else None,
        "vocab_file": "vocab.txt", "vocab_size": int(vocab_size),
        "tokenizer": {"nfkc": True, "lowercase": True, "split": "char"}, "special_tokens": False,
        "bigrams_file": "bigrams.npy" if n_bigrams else None,
        "lexicon_file": "lexicon.npz" if lexicon_dim > len(shape_features or []) else None, "crf_file": "crf.npz",
        "shape_features": shape_features or None,
        # the LOC/ORG split rule reads lexicon bits for those two types: only for a model that has both;
        # a model that reads shapes never decodes an entity across a space between scripts
        "postprocess": ({"split_loc_org": {"generic_prefixes": GENERIC_ORG_PREFIXES, "min_rest": 3}}
                        if lexicon_dim > len(shape_features or []) and {"B-LOC", "B-ORG"} <= set(labels) else {})
        | ({"script_space": True} if shape_features else {}),
        "parameters": int(sum(v.numel() for v in state.values())),
        "training": {k: info[k] for k in ("args", "train_sentences", "dev_sentences", "train_chars", "best_dev_f1",
                                          "hardware", "train_seconds", "history") if k in info} | (extra_meta or {}),
    }
    if display_names:
        cfg["display_names"] = {t: display_names[t] for t in dict.fromkeys(lab.partition("-")[2] for lab in labels)
                                if t in display_names}
    if not keep_fp32:
        (out / "model.onnx").unlink()
    write_config(out, cfg)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", type=Path, help="a `python -m ner.train` output directory")
    src.add_argument("--modelscope", help="a ModelScope model id or an already downloaded directory")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--no-quantize", action="store_true", help="keep FP32 only; ner.load() then uses it")
    ap.add_argument("--name")
    ap.add_argument("--data", type=Path, help="corpora folder: rebuild the lexicon with the split rule's bits")
    ap.add_argument("--quantize-lstm", action="store_true",
                    help="also quantize the LSTMs: faster, but a text's scores then depend slightly on its batch-mates")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.run:
        path = export_run(args.run, args.out, quantize_int8=not args.no_quantize, name=args.name,
                          data_dir=args.data, quantize_lstm=args.quantize_lstm)
    else:
        from .raner import export_modelscope
        path = export_modelscope(args.modelscope, args.out, quantize_int8=not args.no_quantize, name=args.name)
    print(path)


if __name__ == "__main__":
    main()
