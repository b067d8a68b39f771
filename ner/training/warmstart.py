"""Warm start: read an exported model directory's ONNX weights back into a :class:`TaggerNet`.

Fine-tuning and further training begin from the shipped model instead of from
scratch.  INT8 tables and matrices are dequantized (``(q - zero_point) * scale``);
the LSTMs ship in FP32 and come back exactly.  ONNX stores LSTM gates as
``i, o, f, c`` where PyTorch expects ``i, f, g, o``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np


def onnx_weights(model_file: Path) -> dict[str, np.ndarray]:
    """Every initializer of ``model_file`` in FP32, quantized ones dequantized, by base name."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_file)).graph
    raw = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    out = {}
    for name, value in raw.items():
        if name.endswith("_quantized"):
            base = name[: -len("_quantized")]
            scale, zero = raw[base + "_scale"], raw[base + "_zero_point"]
            out[base] = ((value.astype(np.float32) - zero.astype(np.float32)) * scale).astype(np.float32)
        elif not name.endswith(("_scale", "_zero_point")):
            out[name] = value
    lstm = {}
    for node in graph.node:
        if node.op_type == "LSTM":
            which = "bwd" if node.name.startswith("/bwd") else "fwd"
            lstm[which] = [out[n] for n in node.input[1:4]]
    out["lstm"] = lstm
    for node in graph.node:  # the output layer: the MatMul whose weight is a (2*hidden+anchors, tags) matrix
        if node.op_type in ("MatMul", "MatMulInteger") or node.op_type.startswith("DynamicQuantizeMatMul"):
            for name in node.input:
                base = name[: -len("_quantized")] if name.endswith("_quantized") else name
                if base in out and isinstance(out[base], np.ndarray) and out[base].ndim == 2:
                    out["out.weight_t"] = out[base]
    return out


def _gates(w: np.ndarray, hidden: int) -> np.ndarray:
    i, o, f, c = (w[k * hidden : (k + 1) * hidden] for k in range(4))
    return np.concatenate([i, f, c, o])


def net_shape(model_dir: Path) -> dict:
    """The :class:`TaggerNet` keyword arguments that rebuild ``model_dir``'s network (vocab size, dims)."""
    cfg = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    w = onnx_weights(Path(model_dir) / cfg["model_file"])
    vocab_size, char_dim = w["net.char.weight"].shape
    n_bigrams, bigram_dim = w["net.bigram.weight"].shape if "net.bigram.weight" in w else (0, 50)
    hidden = w["lstm"]["fwd"][1].shape[-1]
    lexicon_dim = 0
    if cfg.get("lexicon_file"):
        from ..features import Lexicon
        lexicon_dim = Lexicon.load(Path(model_dir) / cfg["lexicon_file"]).n_features
    shape_dim = len(cfg.get("shape_features") or [])
    return {"vocab_size": int(vocab_size), "char_dim": int(char_dim), "n_bigrams": int(n_bigrams),
            "bigram_dim": int(bigram_dim), "lexicon_dim": lexicon_dim + shape_dim, "hidden": int(hidden),
            "shape_dim": shape_dim}


def _input_columns(W: np.ndarray, net, old_shape: int = 0) -> np.ndarray:
    """``W (4h, inputs)`` of an exported LSTM laid out for ``net``'s inputs.

    When ``net``'s lexicon has another number of feature types (a new CORP or PROD type),
    the old types keep their weights at their new places (the lexicon features are
    ``(position, type)`` flattened) and the new type's columns start at zero.  Shape
    columns (``old_shape`` in the export, ``net.shape_dim`` now) follow the lexicon's:
    kept where both have them, zero where only ``net`` has them.
    """
    base = net.char.embedding_dim + (net.bigram.embedding_dim if net.bigram is not None else 0)
    old_lex = W.shape[1] - base - old_shape
    if old_lex % 4 == 2:  # an anchored export's two constant inputs
        old_lex -= 2
    new_shape = getattr(net, "shape_dim", 0)
    new_lex = net.lexicon_dim - new_shape
    if old_lex == new_lex and old_shape == new_shape:
        return W[:, : base + new_lex + new_shape]
    n_old, n_new = old_lex // 4, new_lex // 4
    out = np.zeros((W.shape[0], base + new_lex + new_shape), dtype=W.dtype)
    out[:, :base] = W[:, :base]
    for pos in range(4):
        for t in range(min(n_old, n_new)):
            out[:, base + pos * n_new + t] = W[:, base + pos * n_old + t]
    both = min(old_shape, new_shape)
    out[:, base + new_lex : base + new_lex + both] = W[:, base + old_lex : base + old_lex + both]
    return out


def load_into(net, crf, model_dir: Path, *, reuse_output: bool = True, labels: list[str] | None = None) -> dict:
    """Copy ``model_dir``'s weights into ``net`` (a TaggerNet of the same shape) and ``crf``.

    ``reuse_output=False`` keeps ``net.out`` and the CRF freshly initialised, for a new label set;
    with ``labels`` (the new tags), the emission rows and transitions of the tags the model
    already has (``B-PER`` when PRODUCT joins PER/LOC/ORG) start from the model's.
    Returns what was loaded, by part.
    """
    import torch

    spec_cfg = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    w = onnx_weights(Path(model_dir) / spec_cfg["model_file"])
    loaded: dict[str, object] = {}
    with torch.no_grad():
        net.char.weight.copy_(torch.from_numpy(w["net.char.weight"]))
        loaded["char"] = tuple(w["net.char.weight"].shape)
        if net.bigram is not None and "net.bigram.weight" in w:
            net.bigram.weight.copy_(torch.from_numpy(w["net.bigram.weight"]))
            loaded["bigram"] = tuple(w["net.bigram.weight"].shape)
        for which in ("fwd", "bwd"):
            lstm = getattr(net, which)
            W, R, B = w["lstm"][which]
            h = lstm.hidden_size
            old_shape = len(spec_cfg.get("shape_features") or [])
            lstm.weight_ih_l0.copy_(torch.from_numpy(_gates(_input_columns(W[0], net, old_shape), h)))
            lstm.weight_hh_l0.copy_(torch.from_numpy(_gates(R[0], h)))
            lstm.bias_ih_l0.copy_(torch.from_numpy(_gates(B[0][: 4 * h], h)))
            lstm.bias_hh_l0.copy_(torch.from_numpy(_gates(B[0][4 * h :], h)))
            loaded[which] = (4 * h, lstm.input_size)
        if reuse_output:
            wt = w["out.weight_t"][: net.out.in_features]
            net.out.weight.copy_(torch.from_numpy(np.ascontiguousarray(wt.T)))
            net.out.bias.copy_(torch.from_numpy(w["out.bias"]))
            crf_file = np.load(Path(model_dir) / spec_cfg["crf_file"])
            crf.transitions.copy_(torch.from_numpy(crf_file["transitions"]))
            crf.start.copy_(torch.from_numpy(crf_file["start"]))
            crf.end.copy_(torch.from_numpy(crf_file["end"]))
            loaded["out"] = tuple(wt.shape)
        elif labels:
            old = {t: i for i, t in enumerate(spec_cfg["labels"])}
            pairs = [(i, old[t]) for i, t in enumerate(labels) if t in old]
            if pairs:
                new_i, old_i = [a for a, _ in pairs], [b for _, b in pairs]
                wt = w["out.weight_t"][: net.out.in_features]
                net.out.weight[new_i] = torch.from_numpy(np.ascontiguousarray(wt.T[old_i]))
                net.out.bias[new_i] = torch.from_numpy(w["out.bias"][old_i])
                crf_file = np.load(Path(model_dir) / spec_cfg["crf_file"])
                ni, oi = torch.tensor(new_i), torch.tensor(old_i)
                crf.transitions[ni[:, None], ni[None, :]] = torch.from_numpy(crf_file["transitions"])[oi[:, None], oi[None, :]]
                crf.start[ni] = torch.from_numpy(crf_file["start"])[oi]
                crf.end[ni] = torch.from_numpy(crf_file["end"])[oi]
                loaded["shared_tags"] = [labels[i] for i in new_i]
    return loaded


def copy_assets(model_dir: Path, assets: Path) -> dict:
    """The model directory's vocabulary, bigram keys and lexicon as a training run's ``assets/``."""
    cfg = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(model_dir) / cfg["vocab_file"], assets / "vocab.txt")
    info = {"vocab_size": cfg["vocab_size"]}
    if cfg.get("shape_features"):
        info["shape_features"] = list(cfg["shape_features"])
    for key, name in (("bigrams_file", "bigrams.npy"), ("lexicon_file", "lexicon.npz")):
        if cfg.get(key):
            shutil.copy(Path(model_dir) / cfg[key], assets / name)
    info["bigrams"] = int(len(np.load(assets / "bigrams.npy"))) if (assets / "bigrams.npy").exists() else 0
    return info
