"""A small annotated file with a type the embedded model does not have (PRODUCT), and a model fine-tuned on it.

Shared by the library tests and (later) the app tests: ``finetuned_product_model(tmp)``
writes the file, fine-tunes the embedded model on it for a few epochs and returns the
exported model directory.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

PRODUCTS = ["华为Mate60", "小米14", "iPhone15", "戴森吹风机", "特斯拉Model3", "索尼PS5", "任天堂Switch",
            "大疆无人机", "联想拯救者", "美的空调", "格力空调", "海尔冰箱"]
PEOPLE = ["张伟", "李娜", "王芳", "刘洋", "陈静"]
PLACES = ["北京", "上海", "深圳", "杭州"]
TEMPLATES = ["{p}昨天买了{x}，感觉很好用。", "{p}说{x}的电池不太行。", "这款{x}在{l}卖得很火。",
             "{p}在{l}的商场看到了{x}。", "我想换一台{x}。", "{x}降价了，{p}很高兴。"]
#: a sentence in a template the training file never uses, with a product it does
HELD_OUT = "听说{x}今年又涨价了。".format(x="小米14")


def product_examples(n: int = 240, seed: int = 0) -> list[tuple[str, list[list]]]:
    """``n`` sentences with PER, LOC and PRODUCT spans (doccano's ``[start, end, type]``)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text, spans = "", []
        fill = {"{p}": (rng.choice(PEOPLE), "PER"), "{x}": (rng.choice(PRODUCTS), "PRODUCT"),
                "{l}": (rng.choice(PLACES), "LOC")}
        for part in re.split(r"(\{.\})", rng.choice(TEMPLATES)):
            if part in fill:
                word, typ = fill[part]
                spans.append([len(text), len(text) + len(word), typ])
                part = word
            text += part
        out.append((text, spans))
    return out


def write_product_file(path: Path, n: int = 240) -> Path:
    """The examples as doccano JSONL."""
    path.write_text("".join(json.dumps({"text": t, "label": s}, ensure_ascii=False) + "\n"
                            for t, s in product_examples(n)), encoding="utf-8")
    return path


def finetuned_product_model(tmp: Path, epochs: int = 3) -> Path:
    """Fine-tune the embedded model on :func:`write_product_file` and return the model directory."""
    from ner import finetune

    train = write_product_file(tmp / "products.jsonl")
    out = tmp / "product-model"
    finetune.finetune(finetune.parse_args(["--train", str(train), "--out", str(out), "--epochs", str(epochs),
                                           "--batch-size", "8",
                                           "--patience", str(epochs), "--no-progress",
                                           "--display-names", "PRODUCT=产品"]))
    return out
