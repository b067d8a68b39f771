"""RaNER export on a small random checkpoint with ModelScope's file and key layout: offline, CPU, seconds."""
import json
import random
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import ner  # noqa: E402
from ner.export import modelscope, raner  # noqa: E402
from ner_app import model_source  # noqa: E402
from ner_app.config import Settings  # noqa: E402
from ner.tags import tags_to_spans  # noqa: E402
from ner.session import create_session  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: ModelScope-style label map, ids deliberately not in alphabetical order
LABEL2ID = {"O": 0, "B-LOC": 1, "I-LOC": 2, "E-LOC": 3, "S-LOC": 4, "B-ORG": 5, "I-ORG": 6, "E-ORG": 7,
            "S-ORG": 8, "B-PER": 9, "I-PER": 10, "E-PER": 11, "S-PER": 12}
LABELS = [k for k, _ in sorted(LABEL2ID.items(), key=lambda kv: kv[1])]
CHARS = [chr(0x4E00 + i) for i in range(0, 1200, 3)]  # 400 CJK characters
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CHARS + [f"##{c}" for c in CHARS[:100]] + list("abcxyz")
HIDDEN, MAX_POS = 64, 128


def bert_config():
    return transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=HIDDEN, num_hidden_layers=2,
                                   num_attention_heads=2, intermediate_size=128, max_position_embeddings=MAX_POS)


def make_checkpoint(path: Path, *, seed: int = 0, fmt: str = "bin", drop: tuple = ()) -> dict:
    """A random RaNER-shaped model directory: BERT under ``encoder.``, ``head.linear``, ``head.crf``."""
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfg = bert_config()
    encoder = transformers.BertModel(cfg, add_pooling_layer=True)  # ModelScope's backbone keeps its pooler
    k = len(LABELS)
    state = {f"encoder.{name}": t.clone() for name, t in encoder.state_dict().items()}
    state.update({
        "head.linear.weight": torch.randn(k, HIDDEN) * 0.5, "head.linear.bias": torch.randn(k) * 0.5,
        "head.crf.start_transitions": torch.randn(k), "head.crf.end_transitions": torch.randn(k),
        "head.crf.transitions": torch.randn(k, k),
    })
    for key in drop:
        del state[key]
    if fmt == "safetensors":
        from safetensors.torch import save_file
        save_file({n: t.contiguous() for n, t in state.items()}, str(path / "model.safetensors"))
    else:
        torch.save(state, path / "pytorch_model.bin")
    (path / "config.json").write_text(json.dumps(dict(cfg.to_dict(), model_type="bert")), encoding="utf-8")
    (path / "configuration.json").write_text(json.dumps({
        "framework": "pytorch", "task": "named-entity-recognition",
        "model": {"type": "transformer-crf", "encoder": {"type": "bert"}}}), encoding="utf-8")
    (path / "label_mapping.json").write_text(json.dumps(LABEL2ID), encoding="utf-8")
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return state


class Reference(torch.nn.Module):
    """The checkpoint evaluated directly in torch, independently of ner.export.raner."""

    def __init__(self, state):
        super().__init__()
        self.bert = transformers.BertModel(bert_config(), add_pooling_layer=False).eval()
        enc = {k[len("encoder."):]: v for k, v in state.items()
               if k.startswith("encoder.") and not k.startswith("encoder.pooler.")}
        self.bert.load_state_dict(enc)
        self.w, self.b = state["head.linear.weight"], state["head.linear.bias"]
        self.start, self.end = state["head.crf.start_transitions"], state["head.crf.end_transitions"]
        self.trans = state["head.crf.transitions"]

    @torch.no_grad()
    def forward(self, ids, mask):
        h = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        return torch.nn.functional.linear(h, self.w, self.b)

    @torch.no_grad()
    def viterbi(self, em):
        """Best path of one unpadded ``(T, K)`` emission matrix; trans[i, j] scores i -> j."""
        score, back = self.start + em[0], []
        for t in range(1, em.shape[0]):
            best, idx = (score[:, None] + self.trans + em[t][None, :]).max(0)
            score = best
            back.append(idx)
        path = [int((score + self.end).argmax())]
        for idx in reversed(back):
            path.append(int(idx[path[-1]]))
        return path[::-1]

    def entities(self, text):
        ids = torch.tensor([[VOCAB.index("[CLS]")] + [VOCAB.index(c) for c in text] + [VOCAB.index("[SEP]")]])
        em = self(ids, torch.ones_like(ids))[0, 1:-1]
        tags = [LABELS[t] for t in self.viterbi(em)]
        return [(s, e, label, text[s:e]) for s, e, label in tags_to_spans(tags, "BIOES")]


def random_texts(n, seed=1, max_len=120):
    rng = random.Random(seed)
    return ["".join(rng.choice(CHARS) for _ in range(rng.randint(1, max_len))) for _ in range(n)]


def spans(entities):
    return [(e.start, e.end, e.label, e.text) for e in entities]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny tensors: a second thread only waits for the first (and for whatever else the machine runs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def raner_src(tmp_path_factory):
    path = tmp_path_factory.mktemp("raner-src")
    state = make_checkpoint(path)
    return path, state


@pytest.fixture(scope="module")
def exported(raner_src, tmp_path_factory):
    src, _ = raner_src
    return raner.export_modelscope(src, tmp_path_factory.mktemp("out") / "raner-tiny")


@pytest.fixture(scope="module")
def reference(raner_src):
    return Reference(raner_src[1])


# ---------------------------------------------------------------- the exported directory


def test_export_writes_a_complete_model_directory(exported):
    cfg = json.loads((exported / "config.json").read_text(encoding="utf-8"))
    assert cfg["labels"] == LABELS
    assert cfg["scheme"] == "BIOES"
    assert cfg["max_length"] == MAX_POS
    assert cfg["model_file"] == "model.int8.onnx" and cfg["fp32_file"] == "model.onnx"
    assert cfg["vocab_size"] == len(VOCAB)
    assert cfg["tokenizer"] == {"nfkc": False, "lowercase": True, "split": "bert"}
    assert cfg["special_tokens"] is True and cfg["crf_file"] == "crf.npz"
    assert cfg["source"]["keys"] == {"encoder": "encoder.", "emissions": "head.linear.", "crf": "head.crf."}
    for f in ("model.onnx", "model.int8.onnx", "model.int8.onnx.json", "vocab.txt", "crf.npz", "README.md"):
        assert (exported / f).is_file(), f
    card = (exported / "README.md").read_text(encoding="utf-8")
    assert "Apache-2.0" in card and "96.69" in card and "reported by the publisher" in card
    assert f"{cfg['parameters']:,}" in card


def test_crf_is_saved_in_the_engine_convention(exported, raner_src):
    state = raner_src[1]
    z = np.load(exported / "crf.npz")
    np.testing.assert_allclose(z["transitions"], state["head.crf.transitions"].numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(z["start"], state["head.crf.start_transitions"].numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(z["end"], state["head.crf.end_transitions"].numpy(), rtol=0, atol=1e-6)


def test_onnx_emissions_match_torch_on_padded_batches(exported, reference):
    sess = create_session(exported / "model.onnx", threads=1)
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
    rng = np.random.default_rng(0)
    for batch, width in [(1, 3), (4, 37), (3, 126)]:
        lengths = rng.integers(2, width + 1, batch)
        lengths[0] = width
        ids = np.zeros((batch, width), np.int64)
        for r, n in enumerate(lengths):
            ids[r, :n] = rng.integers(5, len(VOCAB), n)
        mask = (np.arange(width)[None] < lengths[:, None]).astype(np.int64)
        (onnx_em,) = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        torch_em = reference(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        assert onnx_em.shape == (batch, width, len(LABELS))
        for r, n in enumerate(lengths):
            np.testing.assert_allclose(onnx_em[r, :n], torch_em[r, :n], rtol=0, atol=1e-4)
            # padding is exact: the row alone gives the same scores
            alone = reference(torch.from_numpy(ids[r : r + 1, :n]), torch.ones(1, n, dtype=torch.long)).numpy()
            np.testing.assert_allclose(onnx_em[r, :n], alone[0], rtol=0, atol=1e-4)


def test_fp32_entities_equal_torch_reference_viterbi(exported, reference):
    texts = random_texts(200)
    rec = ner.Recognizer(exported, precision="fp32", threads=1, batch_size=16)
    got = [spans(ents) for ents in rec.recognize_batch(texts)]
    want = [reference.entities(t) for t in texts]
    assert sum(map(len, want)) > 200  # random weights: the CRF finds plenty of entities to compare
    mismatched = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not mismatched, f"{len(mismatched)} of 200 differ, first: {texts[mismatched[0]]!r}"


def test_int8_entities_agree_with_fp32(exported):
    texts = random_texts(200, seed=2)
    fp32 = ner.Recognizer(exported, precision="fp32", threads=1).recognize_batch(texts)
    int8 = ner.Recognizer(exported, precision="int8", threads=1).recognize_batch(texts)
    assert ner.Recognizer(exported, threads=1).model_path.name == "model.int8.onnx"
    same = total = 0
    for a, b in zip(fp32, int8):
        a, b = set(spans(a)), set(spans(b))
        same += len(a & b)
        total += max(len(a), len(b))
    assert total > 200
    assert same / total >= 0.97, f"INT8 agrees with FP32 on {same}/{total} spans"


def test_no_quantize_leaves_fp32_as_the_model_file(raner_src, tmp_path):
    out = raner.export_modelscope(raner_src[0], tmp_path / "fp32", quantize_int8=False, name="raner-fp32")
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_file"] == "model.onnx" and cfg["name"] == "raner-fp32"
    assert not (out / "model.int8.onnx").exists()
    assert ner.Recognizer(out).model_path.name == "model.onnx"


# ---------------------------------------------------------------- reading checkpoints


def test_safetensors_is_preferred_over_pickle(tmp_path):
    make_checkpoint(tmp_path, seed=3)
    st_state = make_checkpoint(tmp_path, seed=4, fmt="safetensors")  # overwrites the json files, adds safetensors
    assert (tmp_path / "pytorch_model.bin").is_file()
    state, path = raner.read_state_dict(tmp_path)
    assert path.name == "model.safetensors"
    assert torch.equal(state["head.crf.transitions"], st_state["head.crf.transitions"])


def test_unprefixed_head_keys_of_older_checkpoints_are_found(tmp_path):
    state = make_checkpoint(tmp_path)
    for part in ("linear.weight", "linear.bias", "crf.transitions", "crf.start_transitions", "crf.end_transitions"):
        state[part] = state.pop(f"head.{part}")
    layout = raner.find_layout(state)
    assert (layout.encoder_prefix, layout.linear_prefix, layout.crf_prefix) == ("encoder.", "linear.", "crf.")
    assert (layout.num_labels, layout.hidden) == (len(LABELS), HIDDEN)


def test_missing_crf_key_is_a_clear_error(tmp_path):
    make_checkpoint(tmp_path, drop=("head.crf.transitions",))
    with pytest.raises(ner.ModelError) as err:
        raner.export_modelscope(tmp_path, tmp_path / "out")
    msg = str(err.value)
    assert "crf.transitions" in msg and "head.crf.start_transitions" in msg  # says what is missing, lists keys
    assert not (tmp_path / "out" / "config.json").exists()


@pytest.mark.parametrize("raw, label", [("s-loc", "S-LOC"), ("B_ORG", "B-ORG"), ("M-NR", "I-PER"),
                                        ("LOC-E", "E-LOC"), ("O", "O")])
def test_label_names_are_normalised(raw, label):
    assert raner.normalise_label(raw) == label


def test_label_map_from_configuration_json_id2label(tmp_path):
    (tmp_path / "configuration.json").write_text(json.dumps(
        {"model": {"id2label": {str(i): lab.lower() for i, lab in enumerate(LABELS)}}}), encoding="utf-8")
    assert raner.read_labels(tmp_path, len(LABELS)) == (LABELS, "BIOES")
    with pytest.raises(ner.ModelError, match="emission layer has 9 outputs"):
        raner.read_labels(tmp_path, 9)


def test_missing_torch_names_the_extra_to_install(raner_src, tmp_path):
    code = ("import sys\nsys.modules['torch'] = None\nimport ner.export.raner\n"
            "try:\n    ner.export.raner.export_modelscope(sys.argv[1], sys.argv[2])\n"
            "except ImportError as exc:\n    print(exc)\n    sys.exit(0)\nsys.exit(1)\n")
    run = subprocess.run([sys.executable, "-c", code, str(raner_src[0]), str(tmp_path / "out")], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert 'pip install "ai-ner-service[export]"' in run.stdout and "'torch'" in run.stdout


# ---------------------------------------------------------------- which model the app may load


@pytest.fixture
def no_hub(monkeypatch):
    """ModelScope is 'installed' but must not be called, and the hub does not answer."""
    calls = []

    def refuse(*args, **kwargs):
        raise AssertionError("snapshot_download must not run when the hub is unreachable")

    def unreachable(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise OSError("Network is unreachable")

    monkeypatch.setitem(sys.modules, "modelscope", types.SimpleNamespace(snapshot_download=refuse))
    monkeypatch.setattr(modelscope.socket, "create_connection", unreachable)
    return calls


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NER_MODEL_ROOTS", raising=False)
    path = tmp_path / "cache"
    path.mkdir()
    return path


@pytest.mark.parametrize("value", ["http://evil/x", "https://modelscope.cn/models/damo/x", "../../etc",
                                   "damo/../../etc", "models/../../etc", "", "file:///etc/passwd"])
def test_resolve_model_refuses_urls_and_traversal(value, cache):
    with pytest.raises(ValueError):
        model_source.resolve_model(value, cache)


def test_resolve_model_refuses_directories_outside_the_roots(cache, tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere" / "model"
    outside.mkdir(parents=True)
    with pytest.raises(ValueError, match="NER_MODEL_ROOTS"):
        model_source.resolve_model(str(outside), cache)
    with pytest.raises(ValueError):
        model_source.resolve_model("/etc", cache)
    # NER_MODEL_ROOTS, as Settings reads it
    roots = Settings.from_env({"NER_MODEL_ROOTS": str(tmp_path / "elsewhere")}).model_roots
    assert model_source.resolve_model(str(outside), cache, roots) == outside.resolve()


def test_resolve_model_exports_a_modelscope_id_once(cache, monkeypatch, toy_dir):
    import shutil

    calls = []

    def fake_export(source, out, **kwargs):
        calls.append(source)
        shutil.copytree(toy_dir, out)
        return Path(out)

    monkeypatch.setattr(model_source, "export_modelscope", fake_export)
    first = model_source.resolve_model(modelscope.RANER_ID, cache)
    assert first == cache.resolve() / "damo--nlp_raner_named-entity-recognition_chinese-base-news"
    assert model_source.resolve_model(modelscope.RANER_ID, cache) == first
    assert calls == [modelscope.RANER_ID]
    # a directory inside the cache resolves as a local model
    assert model_source.resolve_model(str(first), cache) == first


def test_unreachable_hub_fails_fast(cache, no_hub):
    started = time.monotonic()
    with pytest.raises(modelscope.HubUnavailable, match="unreachable.*embedded model"):
        model_source.resolve_model(modelscope.RANER_ID, cache)
    assert time.monotonic() - started < 10
    assert no_hub and all(timeout is not None and timeout <= 3 for _, timeout in no_hub)


def test_load_or_fallback_uses_the_embedded_model_with_a_message(cache, no_hub, monkeypatch, toy_dir):
    monkeypatch.setattr(ner, "EMBEDDED_MODEL", toy_dir)
    rec, msg = model_source.open_model(modelscope.RANER_ID, cache, strict=False)
    assert rec.name == "toy" and "unreachable" in msg and "embedded model" in msg
    rec, msg = model_source.open_model("http://evil/x", cache, strict=False)
    assert rec.name == "toy" and "'http://evil/x'" in msg
    broken = cache / "broken"
    broken.mkdir()
    rec, msg = model_source.open_model(str(broken), cache, strict=False)
    assert rec.name == "toy" and "config.json" in msg
    rec, msg = model_source.open_model(None, cache, strict=False)
    assert rec.name == "toy" and msg is None


def test_load_or_fallback_loads_an_allowed_export(exported, cache, monkeypatch):
    rec, msg = model_source.open_model(str(exported), cache, roots=[exported.parent], strict=False, precision="fp32")
    assert msg is None and rec.spec.path == exported.resolve()
