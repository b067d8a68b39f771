"""Fine-tuning on a small file with a new type (PRODUCT): a complete model directory that ner.load serves."""
import json
import subprocess
import sys

import pytest

import ner
from finetune_util import HELD_OUT, finetuned_product_model

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def product_model(tmp_path_factory):
    return finetuned_product_model(tmp_path_factory.mktemp("finetune"))


def test_new_type_is_recognized_in_an_unseen_sentence(product_model):
    rec = ner.load(product_model)
    assert rec.entity_types == ["LOC", "PER", "PRODUCT"]
    found = [(e.text, e.label) for e in rec.recognize(HELD_OUT)]
    assert ("小米14", "PRODUCT") in found


def test_model_directory_is_complete(product_model):
    cfg = json.loads((product_model / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_file"] == "model.int8.onnx" and cfg["fp32_file"] is None
    assert {"B-PRODUCT", "E-PRODUCT", "S-PRODUCT", "B-PER", "B-LOC"} <= set(cfg["labels"])
    assert "B-ORG" not in cfg["labels"]
    assert cfg["display_names"] == {"LOC": "地名", "PER": "人名", "PRODUCT": "产品"}
    assert "split_loc_org" not in cfg["postprocess"]  # the LOC/ORG split rule needs both types
    # a base model that reads shape features passes them on, and with them the script-space rule (issue 28)
    assert cfg["postprocess"].get("script_space") == bool(cfg.get("shape_features"))
    assert cfg["training"]["reused_output"] is False
    scores = json.loads((product_model / "scores.json").read_text())["dev_int8"]
    assert set(scores["per_type"]) == {"LOC", "PER", "PRODUCT"}
    assert scores["per_type"]["PRODUCT"]["f1"] > 0.5
    card = (product_model / "README.md").read_text(encoding="utf-8")
    assert "| PRODUCT | 产品 |" in card and "python -m ner.finetune --train" in card


def test_rerunning_the_command_resumes_without_training_again(product_model, tmp_path):
    train = product_model.parent / "products.jsonl"
    before = (product_model.parent / "product-model.run" / "last.pt").stat().st_mtime_ns
    proc = subprocess.run([sys.executable, "-m", "ner.finetune", "--train", str(train), "--out", str(product_model),
                           "--epochs", "3", "--patience", "3", "--no-progress", "--display-names", "PRODUCT=产品"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "resumed after epoch 3" in proc.stderr
    assert (product_model.parent / "product-model.run" / "last.pt").stat().st_mtime_ns == before
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "张三在北京", "label": [[0, 2, "PER"]]}\n' * 3, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "ner.finetune", "--train", str(other), "--out", str(product_model)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "holds a run on other data" in proc.stderr


def test_warm_start_reuses_shared_tags():
    torch = pytest.importorskip("torch")
    from ner.training.net import CRFLayer, TaggerNet
    from ner.training.warmstart import load_into, net_shape

    shape = net_shape(ner.EMBEDDED_MODEL)
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-PRODUCT", "I-PRODUCT", "E-PRODUCT", "S-PRODUCT"]
    net, crf = TaggerNet(num_tags=len(labels), **shape), CRFLayer(len(labels))
    fresh = net.out.weight[5].clone()
    loaded = load_into(net, crf, ner.EMBEDDED_MODEL, reuse_output=False, labels=labels)
    assert loaded["shared_tags"] == labels[:5]
    base, base_crf = TaggerNet(num_tags=13, **shape), CRFLayer(13)
    load_into(base, base_crf, ner.EMBEDDED_MODEL)
    spec = ner.read_spec(ner.EMBEDDED_MODEL)
    i = spec.labels.index("B-PER")
    assert torch.equal(net.out.weight[1], base.out.weight[i])
    assert torch.equal(net.out.weight[5], fresh)  # the new type starts fresh
    assert crf.transitions[1, 2] == base_crf.transitions[i, spec.labels.index("I-PER")]
