"""ModelScope RaNER (BERT + linear + CRF) checkpoints -> a ``ner`` model directory.

    python -m ner.export --modelscope damo/nlp_raner_named-entity-recognition_chinese-base-news --out models/raner-base

The checkpoint layout follows ModelScope's ``ModelForTokenClassificationWithCRF``
(``modelscope/models/nlp/task_models/token_classification.py``) with the
``TransformersCRFHead`` of ``modelscope/models/nlp/heads/crf_head.py``::

    encoder.embeddings.word_embeddings.weight ... encoder.encoder.layer.N.* [encoder.pooler.*]
    head.linear.{weight,bias}                       (num_labels, hidden), (num_labels,)
    head.crf.{start_transitions,end_transitions,transitions}

Older checkpoints store the head without the ``head.`` prefix (``linear.weight``,
``crf.transitions``); ModelScope adds it on load, and so does the detection here.
Only the encoder and the linear layer go into the ONNX graph; the CRF is saved
to ``crf.npz`` and decoded by :mod:`ner.crf`.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .._optional import require
from ..errors import ModelError
from ..spec import write_config
from .modelscope import MODEL_ID, RANER_ID, download

log = logging.getLogger(__name__)

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
CRF_PARTS = ("start_transitions", "end_transitions", "transitions")
#: Entity types as some label maps spell them (MSRA's NR/NS/NT) -> this project's.
TYPE_ALIASES = {"PER": "PER", "PERSON": "PER", "NR": "PER", "LOC": "LOC", "LOCATION": "LOC", "NS": "LOC",
                "ORG": "ORG", "ORGANIZATION": "ORG", "NT": "ORG"}
WEIGHT_FILES = ("pytorch_model.bin", "model.bin")


# ---------------------------------------------------------------- checkpoint


@dataclass(frozen=True)
class Layout:
    """Where the parts of a RaNER checkpoint sit, found from its keys."""

    encoder_prefix: str   # "encoder." (or "" for a bare BERT state dict)
    linear_prefix: str    # "head.linear." or "linear."
    crf_prefix: str       # "head.crf." or "crf."
    num_labels: int
    hidden: int


def read_state_dict(model_dir: Path) -> tuple[dict, Path]:
    """The state dict of ``model_dir`` and the file it came from.

    ``*.safetensors`` is preferred; otherwise ``pytorch_model.bin`` / ``*.pt`` is
    read with ``torch.load(weights_only=True)``, which refuses pickled code.
    """
    torch = require("torch", "Reading a ModelScope checkpoint", extra="export")
    model_dir = Path(model_dir)
    safetensors = sorted(model_dir.glob("*.safetensors"))
    if safetensors:
        st = require("safetensors.torch", "Reading a .safetensors checkpoint")
        state = {}
        for f in safetensors:  # sharded checkpoints are several files of disjoint keys
            state.update(st.load_file(str(f), device="cpu"))
        return state, safetensors[0]
    candidates = [model_dir / f for f in WEIGHT_FILES if (model_dir / f).is_file()] + sorted(model_dir.glob("*.pt"))
    if not candidates:
        found = sorted(p.name for p in model_dir.iterdir()) if model_dir.is_dir() else []
        raise ModelError(f"{str(model_dir)!r} holds no checkpoint (*.safetensors, pytorch_model.bin or *.pt); "
                         f"it has {found}. Download the complete model.")
    try:
        state = torch.load(candidates[0], map_location="cpu", weights_only=True)
    except Exception as exc:  # an unpickling refusal or a corrupt file; both mean: do not use it
        raise ModelError(f"{candidates[0]} cannot be loaded as plain tensors ({type(exc).__name__}: {exc}). "
                         f"Only weights-only checkpoints are read; re-download the model.") from None
    for key in ("state_dict", "model", "module"):  # trainer checkpoints nest the weights
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelError(f"{candidates[0]} does not hold a state dict but a {type(state).__name__}.")
    return state, candidates[0]


def _key_listing(state: dict) -> str:
    """Every key with its shape, except that the many per-layer keys are summarised."""
    layer = re.compile(r"^(.*encoder\.layer\.)(\d+)\.")
    shown: list[str] = []
    layers: dict[str, set[int]] = {}
    for k in sorted(state):
        m = layer.match(k)
        if m:
            layers.setdefault(m.group(1), set()).add(int(m.group(2)))
            if m.group(2) != "0":
                continue
        shown.append(f"{k} {tuple(getattr(state[k], 'shape', ()))}")
    for prefix, idx in layers.items():
        shown.append(f"(the same keys for {prefix}1..{max(idx)})" if len(idx) > 1 else "")
    return "\n  ".join(s for s in shown if s)


def find_layout(state: dict) -> Layout:
    """Locate the BERT encoder, the emission layer and the CRF among the keys of ``state``.

    Raises :class:`ModelError` listing the keys when a part is missing or ambiguous.
    """
    emb = [k for k in state if k.endswith(WORD_EMBEDDINGS)]
    if len(emb) != 1:
        raise ModelError(f"expected one '*{WORD_EMBEDDINGS}' key (the BERT encoder) in the checkpoint, found "
                         f"{len(emb)}; its keys are:\n  {_key_listing(state)}")
    encoder_prefix = emb[0][: -len(WORD_EMBEDDINGS)]
    hidden = int(state[emb[0]].shape[1])
    in_encoder = (lambda k: k.startswith(encoder_prefix)) if encoder_prefix else (lambda k: False)
    crf_prefixes = {k[: -len(part)] for k in state for part in CRF_PARTS
                    if k.endswith("crf." + part) and not in_encoder(k)}
    if len(crf_prefixes) != 1 or not all(p + part in state for p in crf_prefixes for part in CRF_PARTS):
        prefix = next(iter(crf_prefixes)) if len(crf_prefixes) == 1 else "head.crf."
        problem = (f"several CRFs under {sorted(crf_prefixes)}" if len(crf_prefixes) > 1 else
                   "missing " + ", ".join(prefix + part for part in CRF_PARTS if prefix + part not in state))
        raise ModelError(f"the checkpoint has no complete CRF ({problem}; ModelScope's TransformersCRFHead saves "
                         f"{', '.join('head.crf.' + p for p in CRF_PARTS)}). Its keys are:\n  {_key_listing(state)}")
    crf_prefix = crf_prefixes.pop()
    num_labels = int(state[crf_prefix + "transitions"].shape[0])
    linear = [k[: -len("weight")] for k, v in state.items()
              if k.endswith(".weight") and not in_encoder(k)
              and getattr(v, "ndim", 0) == 2 and tuple(v.shape) == (num_labels, hidden)
              and k[: -len("weight")] + "bias" in state]
    if len(linear) != 1:
        raise ModelError(f"expected one emission layer (a ({num_labels}, {hidden}) '*.weight' with its '*.bias' "
                         f"outside the encoder, e.g. head.linear.weight), found {linear or 'none'}; "
                         f"its keys are:\n  {_key_listing(state)}")
    shapes = (tuple(state[crf_prefix + "start_transitions"].shape), tuple(state[crf_prefix + "end_transitions"].shape),
              tuple(state[crf_prefix + "transitions"].shape))
    if shapes != ((num_labels,), (num_labels,), (num_labels, num_labels)):
        raise ModelError(f"CRF tensors under {crf_prefix!r} have inconsistent shapes {shapes}.")
    return Layout(encoder_prefix, linear[0], crf_prefix, num_labels, hidden)


# ---------------------------------------------------------------- labels and config


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON ({exc}).") from None


def _label2id(model_dir: Path) -> dict[str, int] | None:
    """The label map, searched where ModelScope's ``parse_label_mapping`` searches."""
    mapping = _read_json(model_dir / "label_mapping.json")
    if mapping:
        return {str(k): int(v) for k, v in mapping.items()}
    sources = []
    conf = _read_json(model_dir / "configuration.json") or {}
    for section in ("model", "preprocessor"):
        if isinstance(conf.get(section), dict):
            sources.append(conf[section])
    sources.append(_read_json(model_dir / "config.json") or {})
    for src in sources:
        if isinstance(src.get("label2id"), dict) and src["label2id"]:
            return {str(k): int(v) for k, v in src["label2id"].items()}
        if isinstance(src.get("id2label"), dict) and src["id2label"]:
            return {str(v): int(k) for k, v in src["id2label"].items()}
    return None


def normalise_label(label: str) -> str:
    """``"s-loc"``, ``"S_LOC"``, ``"M-NS"`` -> ``"S-LOC"``, ``"S-LOC"``, ``"I-LOC"``; ``"O"`` stays."""
    raw = label.strip()
    if raw.upper() == "O":
        return "O"
    m = re.fullmatch(r"([BIMES])[-_]([A-Za-z]+)", raw, re.IGNORECASE) or \
        re.fullmatch(r"([A-Za-z]+)[-_]([BIMES])", raw, re.IGNORECASE)
    if not m:
        raise ModelError(f"label {label!r} is not a B/I/E/S tag (like 'B-LOC') or 'O'.")
    prefix, kind = (m.group(1), m.group(2)) if len(m.group(1)) == 1 else (m.group(2), m.group(1))
    prefix = {"M": "I"}.get(prefix.upper(), prefix.upper())
    kind = TYPE_ALIASES.get(kind.upper(), kind.upper())
    return f"{prefix}-{kind}"


def read_labels(model_dir: Path, num_labels: int) -> tuple[list[str], str]:
    """Labels in emission-column order and their scheme ("BIOES" or "BIO")."""
    label2id = _label2id(Path(model_dir))
    if not label2id:
        raise ModelError(f"{str(model_dir)!r} has no label map (label_mapping.json, or label2id/id2label in "
                         f"configuration.json or config.json).")
    ids = sorted(label2id.values())
    if ids != list(range(num_labels)):
        raise ModelError(f"the label map has ids {ids} but the emission layer has {num_labels} outputs; "
                         f"expected ids 0..{num_labels - 1}.")
    labels = [normalise_label(name) for name, _ in sorted(label2id.items(), key=lambda kv: kv[1])]
    if len(set(labels)) != len(labels):
        raise ModelError(f"labels {labels} repeat after normalisation.")
    prefixes = {lab[0] for lab in labels if lab != "O"}
    scheme = "BIOES" if prefixes & {"E", "S"} else "BIO"
    return labels, scheme


def bert_config(model_dir: Path, state: dict, layout: Layout):
    """A ``transformers.BertConfig`` from ``config.json``, checked against the tensor shapes."""
    transformers = require("transformers", "Building the RaNER encoder", extra="export")
    p = layout.encoder_prefix
    vocab, hidden = state[p + WORD_EMBEDDINGS].shape
    layers = {int(m.group(1)) for k in state if (m := re.match(re.escape(p) + r"encoder\.layer\.(\d+)\.", k))}
    inferred = {
        "vocab_size": int(vocab), "hidden_size": int(hidden), "num_hidden_layers": len(layers),
        "max_position_embeddings": int(state[p + "embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(state[p + "embeddings.token_type_embeddings.weight"].shape[0]),
        "intermediate_size": int(state[f"{p}encoder.layer.0.intermediate.dense.weight"].shape[0]),
    }
    raw = _read_json(Path(model_dir) / "config.json")
    if raw is None:
        log.warning("no config.json: inferring the BERT shape from the tensors, %d attention heads assumed",
                    hidden // 64)
        raw = dict(inferred, num_attention_heads=max(1, int(hidden) // 64))
    model_type = raw.get("model_type", "bert")
    if model_type not in ("bert", "structbert"):
        log.warning("config.json says model_type=%r; building it as BERT (same tensor layout required)", model_type)
    keep = {k: v for k, v in raw.items() if k not in ("architectures", "auto_map", "model_type", "transformers_version",
                                                      "id2label", "label2id", "torch_dtype", "dtype")}
    cfg = transformers.BertConfig(**keep)
    wrong = {k: (getattr(cfg, k), v) for k, v in inferred.items() if getattr(cfg, k) != v}
    if wrong:
        raise ModelError(f"config.json disagrees with the checkpoint tensors (config, tensors): {wrong}.")
    if getattr(cfg, "position_embedding_type", "absolute") != "absolute":
        raise ModelError(f"position_embedding_type {cfg.position_embedding_type!r} is not supported; only 'absolute'.")
    return cfg


# ---------------------------------------------------------------- torch model


def build_torch_model(model_dir: str | Path):
    """The emission network of a downloaded RaNER directory as a torch module, plus what else it holds.

    Returns ``(module, info)``: ``module(input_ids, attention_mask, token_type_ids)``
    gives emissions ``(batch, seq, num_labels)``; ``info`` has ``labels``, ``scheme``,
    ``crf`` (transitions, start, end as numpy), ``layout``, ``config``, ``checkpoint``
    and ``parameters``.
    """
    torch = require("torch", "Exporting a ModelScope model", extra="export")
    transformers = require("transformers", "Exporting a ModelScope model", extra="export")
    model_dir = Path(model_dir)
    state, ckpt = read_state_dict(model_dir)
    # TF-style LayerNorm names, as ModelScope's loader also accepts them
    state = {k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias"): v
             for k, v in state.items()}
    log.info("checkpoint %s: %d tensors:\n  %s", ckpt.name, len(state), _key_listing(state))
    layout = find_layout(state)
    log.info("layout: encoder %r, emissions %r, CRF %r, %d labels, hidden %d", layout.encoder_prefix,
             layout.linear_prefix, layout.crf_prefix, layout.num_labels, layout.hidden)
    labels, scheme = read_labels(model_dir, layout.num_labels)
    cfg = bert_config(model_dir, state, layout)
    cfg._attn_implementation = "eager"  # plain MatMul/Softmax: traces the same on every exporter version
    encoder = transformers.BertModel(cfg, add_pooling_layer=False)
    p = layout.encoder_prefix
    head = (layout.linear_prefix, layout.crf_prefix)
    enc_state = {k[len(p):]: v for k, v in state.items() if k.startswith(p) and not k.startswith(head)}
    expected = set(encoder.state_dict())
    # the pooler is unused for tagging; position_ids / token_type_ids are buffers, not weights
    ignorable = re.compile(r"^(pooler\.|embeddings\.(position_ids|token_type_ids)$)")
    unexpected = sorted(k for k in enc_state if k not in expected and not ignorable.match(k))
    missing = sorted(expected - set(enc_state))
    if unexpected or missing:
        raise ModelError(f"encoder weights under {p!r} do not fit BertModel: missing {missing}, unexpected "
                         f"{unexpected}; its keys are:\n  {_key_listing(state)}")
    encoder.load_state_dict({k: v for k, v in enc_state.items() if k in expected}, strict=True)
    linear = torch.nn.Linear(layout.hidden, layout.num_labels)
    linear.load_state_dict({"weight": state[layout.linear_prefix + "weight"],
                            "bias": state[layout.linear_prefix + "bias"]})

    class Emissions(torch.nn.Module):  # type: ignore[name-defined]
        """BERT + linear: token ids -> emission scores, the part of RaNER that runs in ONNX."""

        def __init__(self):
            super().__init__()
            self.encoder, self.linear = encoder, linear

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            return self.linear(hidden)

    module = Emissions().eval()
    crf = {part: state[layout.crf_prefix + part].detach().float().numpy() for part in CRF_PARTS}
    parameters = sum(t.numel() for t in module.parameters()) + sum(v.size for v in crf.values())
    info = {"labels": labels, "scheme": scheme, "layout": layout, "config": cfg, "checkpoint": ckpt,
            "crf": crf, "parameters": int(parameters)}
    return module, info


# ---------------------------------------------------------------- export


def export_modelscope(source: str | Path, out: str | Path, *, quantize_int8: bool = True, name: str | None = None,
                      download_dir: str | Path | None = None) -> Path:
    """Export a RaNER model (a ModelScope id, or a directory it was downloaded to) into ``out``.

    ``out`` gets ``model.onnx`` (emissions, dynamic batch and sequence axes),
    ``model.int8.onnx`` unless ``quantize_int8`` is false, ``crf.npz``,
    ``vocab.txt``, ``config.json`` (written last, so a half-finished export is
    never loadable) and a ``README.md`` model card.  Returns ``out``.
    """
    torch = require("torch", "Exporting a ModelScope model", extra="export")
    from .onnx_export import export_onnx, save_crf
    from .quantize import quantize
    from ..tokenizer import read_vocab

    source_dir = Path(source)
    if source_dir.is_dir():
        model_id = _configured_id(source_dir)  # None: a local copy that does not say which id it is
    elif MODEL_ID.match(str(source)) and ".." not in str(source):
        model_id = str(source)
        source_dir = download(model_id, download_dir)
    else:
        raise ValueError(f"{str(source)!r} is neither a directory nor a ModelScope model id (owner/name).")
    started = time.monotonic()
    module, info = build_torch_model(source_dir)
    cfg = info["config"]
    vocab_src = source_dir / "vocab.txt"
    if not vocab_src.is_file():
        raise ModelError(f"{str(source_dir)!r} has no vocab.txt; the tokenizer needs it.")
    vocab = read_vocab(vocab_src)
    if max(vocab.values()) >= cfg.vocab_size:
        raise ModelError(f"vocab.txt has ids up to {max(vocab.values())} but the embeddings have "
                         f"{cfg.vocab_size} rows: it is not this model's vocabulary.")
    for tok in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
        if tok not in vocab:
            raise ModelError(f"vocab.txt lacks {tok}; it is not a BERT vocabulary.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").unlink(missing_ok=True)

    b, t = 2, 9
    ids = torch.randint(len(vocab) // 2, len(vocab), (b, t))
    mask = torch.ones(b, t, dtype=torch.long)
    mask[1, t - 3:] = 0  # a padded row, so the mask path is traced
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dyn = {n: {0: "batch", 1: "seq"} for n in names + ["emissions"]}
    with warnings.catch_warnings():
        # Benign here, and checked by tests/test_raner_export.py on other batch sizes, lengths and padding:
        # transformers' mask code compares shapes that stay equal for every input, and the position-id
        # slice indexes with non-negative values only.
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean")
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        export_onnx(module, (ids, mask, torch.zeros_like(ids)), names, dyn, out / "model.onnx")
    crf = info["crf"]
    # ModelScope's CRF scores tag i followed by tag j as transitions[i, j] (crf_head.py: score.unsqueeze(2)
    # + transitions + emissions.unsqueeze(1), max over dim 1), which is ner.crf's convention too.
    save_crf(out, crf["transitions"], crf["start_transitions"], crf["end_transitions"])
    shutil.copy(vocab_src, out / "vocab.txt")
    if quantize_int8:
        quantize(out / "model.onnx", out / "model.int8.onnx")
    else:
        (out / "model.int8.onnx").unlink(missing_ok=True)
    lower = _do_lower_case(source_dir)
    layout = info["layout"]
    config = {
        "name": name or out.name, "format": "ner-onnx/1",
        "architecture": f"BERT ({cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}) + linear + CRF (RaNER)",
        "labels": info["labels"], "scheme": info["scheme"], "max_length": int(cfg.max_position_embeddings),
        "model_file": "model.int8.onnx" if quantize_int8 else "model.onnx", "fp32_file": "model.onnx",
        "vocab_file": "vocab.txt", "vocab_size": len(vocab),
        "tokenizer": {"nfkc": False, "lowercase": lower, "split": "bert"}, "special_tokens": True,
        "bigrams_file": None, "lexicon_file": None, "crf_file": "crf.npz", "postprocess": {},
        "parameters": info["parameters"],
        "source": {"modelscope_id": model_id, "directory": source_dir.name, "checkpoint": info["checkpoint"].name,
                   "keys": {"encoder": layout.encoder_prefix, "emissions": layout.linear_prefix,
                            "crf": layout.crf_prefix}},
        "export": {"exporter": "torch.onnx.export (TorchScript, opset 17)", "torch": torch.__version__,
                   "quantization": "onnxruntime quantize_dynamic, QInt8 weights" if quantize_int8 else None,
                   "seconds": round(time.monotonic() - started, 1)},
    }
    (out / "README.md").write_text(_model_card(config, cfg), encoding="utf-8")
    write_config(out, config)
    log.info("exported %s -> %s", model_id or source_dir, out)
    return out


def _configured_id(model_dir: Path) -> str | None:
    conf = _read_json(model_dir / "configuration.json")
    if not isinstance(conf, dict):
        return None
    model = conf.get("model")
    mid = conf.get("model_id") or (model.get("model_id") if isinstance(model, dict) else None)
    return mid if isinstance(mid, str) else None


def _do_lower_case(model_dir: Path) -> bool:
    for f in ("tokenizer_config.json", "config.json"):
        d = _read_json(model_dir / f) or {}
        if "do_lower_case" in d:
            return bool(d["do_lower_case"])
    return True


def _model_card(config: dict, cfg) -> str:
    mid = config["source"]["modelscope_id"]
    src = (f"ModelScope `{mid}`" if mid else f"a local ModelScope download in `{config['source']['directory']}` "
           f"(the directory does not record its id; RaNER is `{RANER_ID}`)")
    files = ["config.json", "model.onnx", "vocab.txt", "crf.npz", "README.md"]
    if config["model_file"] != "model.onnx":
        files[2:2] = ["model.int8.onnx", "model.int8.onnx.json"]
    return f"""# {config['name']}

RaNER Chinese named-entity recognizer (PER / LOC / ORG, {config['scheme']} tags), exported from
{src} for ONNX Runtime on CPU.

## Architecture

- Encoder: BERT, {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, {cfg.num_attention_heads} heads,
  intermediate {cfg.intermediate_size}, vocabulary {cfg.vocab_size}, at most {cfg.max_position_embeddings} positions.
- Emissions: one linear layer to {len(config['labels'])} tags: {', '.join(config['labels'])}.
- CRF: start / end / transition scores (`crf.npz`), decoded outside the graph by `ner.crf.viterbi`.
- Parameters: {config['parameters']:,}.

## How it was exported

`python -m ner.export --modelscope {mid or '<dir>'} --out <dir>`: the checkpoint was read as plain tensors
(`{config['source']['checkpoint']}`, no unpickling of code), the encoder loaded strictly into
`transformers.BertModel`, encoder + linear traced with {config['export']['exporter']} with dynamic batch
and sequence axes (no padding to {config['max_length']}), and the CRF saved beside it.
INT8: {config['export']['quantization'] or 'not made (--no-quantize)'}.
The engine adds [CLS]/[SEP], cuts text longer than {config['max_length'] - 2} tokens into windows at
sentence ends, and decodes every WordPiece (ModelScope decodes only the first piece of a split Latin word;
Chinese characters are one token each, so Chinese text is unaffected).

## Files

{chr(10).join(f'- `{f}`' for f in files)}

## Licence and reported scores

Apache-2.0, per the model's ModelScope page. The publisher reports F1 96.69 on MSRA
(reported by the publisher, not measured here).
"""
