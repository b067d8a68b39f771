"""config.json is one checked schema: every field type-checked on read, the same check before every write."""
import json
import shutil

import numpy as np
import pytest

import ner
from ner.errors import ModelError
from ner.spec import FORMAT, SCHEMA, check_config, read_spec, write_config


@pytest.fixture
def model_copy(toy_dir, tmp_path):
    out = tmp_path / "m"
    shutil.copytree(toy_dir, out)
    return out


def edit_config(path, **changes):
    cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is ...:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    (path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")


@pytest.mark.parametrize("field, value", [
    ("labels", "O B-PER"), ("scheme", 3), ("max_length", "128"), ("max_length", True), ("model_file", None),
    ("tokenizer", "char"), ("special_tokens", "no"), ("vocab_size", 1.5), ("postprocess", []),
    ("crf_file", 7), ("display_names", ["人名"]),
])
def test_a_mistyped_field_is_named_in_the_error(model_copy, field, value):
    edit_config(model_copy, **{field: value})
    with pytest.raises(ModelError, match=repr(field)):
        read_spec(model_copy)


def test_tokenizer_fields_are_checked_too(model_copy):
    edit_config(model_copy, tokenizer={"nfkc": "yes"})
    with pytest.raises(ModelError, match="tokenizer.nfkc"):
        read_spec(model_copy)
    edit_config(model_copy, tokenizer={"split": "words"})
    with pytest.raises(ModelError, match="tokenizer.split"):
        read_spec(model_copy)


def test_the_format_version_is_checked(model_copy):
    edit_config(model_copy, format="ner-onnx/9")
    with pytest.raises(ModelError, match="ner-onnx/9.*upgrade"):
        read_spec(model_copy)
    edit_config(model_copy, format=...)
    with pytest.raises(ModelError, match="'format'"):
        read_spec(model_copy)


@pytest.mark.parametrize("name", ["../model.onnx", "/etc/passwd", "sub/model.onnx", ".."])
def test_file_fields_stay_inside_the_model_directory(model_copy, name):
    edit_config(model_copy, model_file=name)
    with pytest.raises(ModelError, match="inside the model directory"):
        read_spec(model_copy)


def test_labels_must_be_distinct_strings(model_copy):
    edit_config(model_copy, labels=["O", "O"])
    with pytest.raises(ModelError, match="distinct"):
        read_spec(model_copy)


def test_non_finite_transitions_are_refused_at_load(model_copy):
    k = len(read_spec(model_copy).labels)
    trans = np.zeros((k, k), np.float32)
    trans[1, 2] = np.nan
    np.savez(model_copy / "crf.npz", transitions=trans, start=np.zeros(k, np.float32), end=np.zeros(k, np.float32))
    with pytest.raises(ModelError, match="non-finite"):
        ner.Recognizer(model_copy)


def test_a_corrupt_lexicon_is_a_model_error(model_copy):
    (model_copy / "lexicon.npz").write_bytes(b"not a zip file")
    edit_config(model_copy, lexicon_file="lexicon.npz")
    with pytest.raises(ModelError, match="lexicon.*unreadable"):
        ner.Recognizer(model_copy)


def test_write_config_sets_the_format_and_refuses_what_would_not_read_back(tmp_path, toy_dir):
    cfg = {k: v for k, v in json.loads((toy_dir / "config.json").read_text()).items() if k != "format"}
    write_config(tmp_path, cfg)
    assert json.loads((tmp_path / "config.json").read_text())["format"] == FORMAT
    with pytest.raises(ModelError, match="'max_length'"):
        write_config(tmp_path, {**cfg, "max_length": "long"})


def test_every_required_field_is_required(toy_dir):
    cfg = json.loads((toy_dir / "config.json").read_text())
    for key, (_, required, _) in SCHEMA.items():
        if required:
            with pytest.raises(ModelError, match=repr(key)):
                check_config({k: v for k, v in cfg.items() if k != key})
    assert check_config(cfg)["crf_file"] == "crf.npz"  # defaults filled in


def test_a_config_nested_50000_deep_or_too_large_is_refused(model_copy):
    (model_copy / "config.json").write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(ModelError, match="config.json in 'm' nests .* more than 16 deep.*re-export"):
        ner.Recognizer(model_copy)
    (model_copy / "config.json").write_text('{"a": [' + "[" * 500 + "]" * 500 + "]}")
    with pytest.raises(ModelError, match="more than 16 deep"):
        ner.Recognizer(model_copy)
    (model_copy / "config.json").write_text(" " * (2 << 20) + "{}")
    with pytest.raises(ModelError, match="over 1,048,576 bytes"):
        ner.Recognizer(model_copy)
