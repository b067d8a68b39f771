"""A tiny, fully deterministic model directory for tests: each character has a fixed tag.

The ONNX graph is one Gather from a (vocab, tags) score table, so what the
engine returns depends only on tokenizing, windowing, decoding and offsets —
exactly what these tests check.  No torch needed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LABELS = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC", "ORG") for p in "BIES"]
#: character -> tag; every other character is O
CHAR_TAGS = {"张": "B-PER", "三": "E-PER", "北": "B-LOC", "京": "E-LOC", "上": "B-LOC", "海": "E-LOC",
             "清": "B-ORG", "华": "I-ORG", "大": "I-ORG", "学": "E-ORG", "汉": "S-LOC"}
FILLER = "在任职期间曾赴参加国际人工智能会议的时候我们都很高兴地看到了新的发展"
CHARS = sorted(set("".join(CHAR_TAGS) + FILLER + "。，！？；、：") | set("abcdefghijklmnopqrstuvwxyz0123456789"))


def build(path: Path, max_length: int = 32) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CHARS + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    table = np.zeros((len(vocab), len(LABELS)), dtype=np.float32)
    table[:, 0] = 1.0
    for i, tok in enumerate(vocab):
        if tok in CHAR_TAGS:
            table[i, LABELS.index(CHAR_TAGS[tok])] = 5.0
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["emissions"], axis=0)],
        "toy",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("emissions", TensorProto.FLOAT, ["batch", "seq", len(LABELS)])],
        [numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path / "model.onnx")
    k = len(LABELS)
    np.savez(path / "crf.npz", transitions=np.zeros((k, k), np.float32), start=np.zeros(k, np.float32),
             end=np.zeros(k, np.float32))
    (path / "config.json").write_text(json.dumps({
        "format": "ner-onnx/1", "name": "toy", "labels": LABELS, "scheme": "BIOES", "max_length": max_length,
        "model_file": "model.onnx", "fp32_file": "model.onnx", "vocab_size": len(vocab),
        "tokenizer": {"nfkc": True, "lowercase": True, "split": "char"},
    }), encoding="utf-8")
    return path
