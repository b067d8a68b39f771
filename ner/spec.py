"""What a model directory holds, read and checked once: ``config.json`` and the files it names."""
from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .crf import CRF
from .errors import ModelError
from .features import SHAPE_FEATURES, BigramTable, Lexicon
from .tags import SCHEMES, allowed_moves

CONFIG = "config.json"
#: Limits of ``config.json``: its bytes and how deep its objects and lists nest (a real one is 3 deep).
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_DEPTH = 16


@dataclass
class ModelSpec:
    """The parsed ``config.json`` of a model directory."""

    path: Path
    name: str
    labels: list[str]
    scheme: str
    max_length: int
    model_file: str
    fp32_file: str | None
    vocab_file: str = "vocab.txt"
    tokenizer: dict = field(default_factory=dict)
    special_tokens: bool = False
    bigrams_file: str | None = None
    lexicon_file: str | None = None
    crf_file: str | None = "crf.npz"
    vocab_size: int | None = None
    postprocess: dict = field(default_factory=dict)
    display_names: dict = field(default_factory=dict)
    #: the model reads :data:`~ner.features.SHAPE_FEATURES` after its lexicon columns
    shape_features: bool = False
    raw: dict = field(default_factory=dict)

    def file(self, name: str) -> Path:
        """``name`` in the model directory: a regular file inside it (see :func:`model_file`)."""
        return model_file(self.path, name)

    def load_bigrams(self, vocab_size: int) -> BigramTable | None:
        """The bigram key table, or None when the model has no bigram input."""
        if not self.bigrams_file:
            return None
        return _load_table(self, self.bigrams_file, "bigram table", lambda p: BigramTable(np.load(p), vocab_size))

    def load_lexicon(self) -> Lexicon | None:
        """The hashed lexicon, or None when the model has no lexicon input."""
        if not self.lexicon_file:
            return None
        return _load_table(self, self.lexicon_file, "lexicon", Lexicon.load)

    def load_crf(self) -> CRF:
        if not self.crf_file:
            return CRF.uniform(len(self.labels))
        try:
            z = np.load(self.file(self.crf_file))
            crf = CRF(z["transitions"].astype(np.float64), z["start"].astype(np.float64), z["end"].astype(np.float64),
                      allowed_moves(self.labels, self.scheme))
        except ModelError:
            raise ModelError(f"model directory {self.path.name!r} has no CRF transitions ({self.crf_file}). "
                             f"Re-export it with python -m ner.export, or set \"crf_file\": null in config.json "
                             f"to decode without transitions.") from None
        except Exception as exc:
            raise ModelError(f"{self.crf_file} in {self.path.name!r} is unreadable ({type(exc).__name__}); re-export the model.") from None
        k = len(self.labels)
        if not all(np.isfinite(a).all() for a in (crf.transitions, crf.start, crf.end)):
            raise ModelError(f"{self.crf_file} in {self.path.name!r} holds non-finite scores (NaN or infinity); "
                             f"re-export the model.")
        if crf.transitions.shape != (k, k) or crf.start.shape != (k,) or crf.end.shape != (k,):
            raise ModelError(f"{self.crf_file} in {self.path.name!r} is for {crf.start.shape[0]} tags but config.json "
                             f"lists {k} labels; re-export the model.")
        return crf


#: The config.json formats this engine reads.
FORMAT = "ner-onnx/1"
SUPPORTED_FORMATS = (FORMAT,)
_OPTIONAL_FILE = (str, type(None))
#: Every field of config.json: (accepted types, required, default).  Anything else is kept in ``raw`` only.
SCHEMA: dict[str, tuple[tuple[type, ...], bool, object]] = {
    "format": ((str,), True, None),
    "name": ((str,), False, None),
    "labels": ((list,), True, None),
    "scheme": ((str,), True, None),
    "max_length": ((int,), True, None),
    "model_file": ((str,), True, None),
    "fp32_file": (_OPTIONAL_FILE, False, None),
    "vocab_file": ((str,), False, "vocab.txt"),
    "vocab_size": ((int, type(None)), False, None),
    "tokenizer": ((dict,), False, {}),
    "special_tokens": ((bool,), False, False),
    "bigrams_file": (_OPTIONAL_FILE, False, None),
    "lexicon_file": (_OPTIONAL_FILE, False, None),
    "crf_file": (_OPTIONAL_FILE, False, "crf.npz"),
    "postprocess": ((dict,), False, {}),
    "display_names": ((dict,), False, {}),
    "shape_features": ((list, type(None)), False, None),
}
TOKENIZER_SCHEMA = {"nfkc": (bool,), "lowercase": (bool,), "split": (str,)}
SPLITS = ("char", "bert")
FILE_FIELDS = ("model_file", "fp32_file", "vocab_file", "bigrams_file", "lexicon_file", "crf_file")


def model_file(folder: Path, name: str) -> Path:
    """``folder / name`` when it is a regular file inside ``folder``; a symbolic link is followed only when it
    stays inside the folder.  Anything else (missing, a link out of the folder, a device, a FIFO, a folder)
    raises :class:`ModelError` naming the file and the fix."""
    p = folder / name
    try:
        inside = p.resolve().is_relative_to(folder.resolve())
        mode = p.stat().st_mode
    except OSError:
        raise ModelError(f"model directory {folder.name!r} is missing {name!r}. Re-export the model "
                         f"(python -m ner.export ...) or point NER_MODEL at a complete directory.") from None
    if not inside:
        raise ModelError(f"{name} in {folder.name!r} is a link to a file outside the model directory; copy the "
                         f"file itself into the directory (a model reads only its own files).")
    if not stat.S_ISREG(mode):
        raise ModelError(f"{name} in {folder.name!r} is not a regular file (a folder, a device or a FIFO); "
                         f"re-export the model.")
    return p


def _depth(value: object) -> int:
    """How deep lists and objects nest in a parsed JSON value (a scalar: 0), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_CONFIG_DEPTH:
                todo += [(v, level + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _load_table(spec: "ModelSpec", name: str, what: str, load):
    try:
        return load(spec.file(name))
    except ModelError:
        raise
    except Exception as exc:  # numpy raises many kinds for a damaged file
        raise ModelError(f"{name} ({what}) in {spec.path.name!r} is unreadable ({type(exc).__name__}); "
                         f"re-export the model.") from None


def _type_names(types: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true/false", list: "a list", dict: "an object",
             type(None): "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def check_config(cfg: object, where: str = CONFIG) -> dict:
    """Type-check a parsed ``config.json`` against :data:`SCHEMA`; returns it with defaults filled in.

    Raises :class:`ModelError` naming the field, what it holds and what it should hold.
    The one schema for both sides: :func:`read_spec` reads through it and
    :func:`write_config` refuses to write a config that would not read back.
    """
    if not isinstance(cfg, dict):
        raise ModelError(f"{where} must hold a JSON object, not {type(cfg).__name__}; re-export the model.")
    out = dict(cfg)
    for key, (types, required, default) in SCHEMA.items():
        if key not in cfg:
            if required:
                raise ModelError(f"{where} lacks the field {key!r}; re-export the model (python -m ner.export).")
            out[key] = default
            continue
        value = cfg[key]
        # bool is an int in Python: max_length true is not a length
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ModelError(f"{where}: {key!r} must be {_type_names(types)}, not {json.dumps(value)[:60]}; "
                             f"re-export the model.")
    if out["format"] not in SUPPORTED_FORMATS:
        raise ModelError(f"{where}: format {out['format']!r} is not one this version reads ({', '.join(SUPPORTED_FORMATS)}); "
                         f"upgrade the ner package or re-export the model.")
    labels = out["labels"]
    if not labels or not all(isinstance(t, str) and t for t in labels) or len(set(labels)) != len(labels):
        raise ModelError(f"{where}: 'labels' must be a non-empty list of distinct tag strings; re-export the model.")
    if out["scheme"] not in SCHEMES:
        raise ModelError(f"{where}: scheme must be one of {SCHEMES}, not {out['scheme']!r}.")
    for key, types in TOKENIZER_SCHEMA.items():
        value = out["tokenizer"].get(key)
        if value is not None and not isinstance(value, types):
            raise ModelError(f"{where}: tokenizer.{key} must be {_type_names(types)}, not {json.dumps(value)[:60]}.")
    if out["tokenizer"].get("split", "char") not in SPLITS:
        raise ModelError(f"{where}: tokenizer.split must be one of {SPLITS}, not {out['tokenizer']['split']!r}.")
    for key in FILE_FIELDS:
        name = out.get(key)
        if name is not None and (not name or Path(name).name != name or name in (".", "..")):
            raise ModelError(f"{where}: {key} must name a file inside the model directory, not {name!r}.")
    if out["shape_features"] is not None and list(out["shape_features"]) != list(SHAPE_FEATURES):
        raise ModelError(f"{where}: shape_features {json.dumps(out['shape_features'])[:80]} are not the ones this "
                         f"version computes ({', '.join(SHAPE_FEATURES)}); upgrade the ner package.")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in out["display_names"].items()):
        raise ModelError(f"{where}: display_names must map each type to a display name (strings).")
    return out


def read_spec(path: str | Path) -> ModelSpec:
    """Parse and check ``path/config.json``; raises :class:`ModelError` with a fix on any problem."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"model directory {str(path)!r} does not exist. Set NER_MODEL to a model directory "
                         f"(for example models/zh-ner-lite) or leave it unset for the embedded model.")
    if not (path / CONFIG).exists():
        raise ModelError(f"{path.name!r} has no {CONFIG}: it is not a model directory written by python -m ner.export.")
    with open(model_file(path, CONFIG), "rb") as fh:
        data = fh.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ModelError(f"{CONFIG} in {path.name!r} is over {MAX_CONFIG_BYTES:,} bytes: not a config this package "
                         f"wrote; re-export the model.")
    too_deep = ModelError(f"{CONFIG} in {path.name!r} nests objects or lists more than {MAX_CONFIG_DEPTH} deep: "
                          f"not a config this package wrote; re-export the model.")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{CONFIG} in {path.name!r} is not valid JSON ({exc}); re-export the model.") from None
    except RecursionError:
        raise too_deep from None
    if _depth(raw) > MAX_CONFIG_DEPTH:
        raise too_deep
    cfg = check_config(raw, f"{CONFIG} in {path.name!r}")
    spec = ModelSpec(
        path=path, name=cfg["name"] or path.name, labels=list(cfg["labels"]), scheme=cfg["scheme"],
        max_length=cfg["max_length"], model_file=cfg["model_file"], fp32_file=cfg["fp32_file"],
        vocab_file=cfg["vocab_file"], tokenizer=cfg["tokenizer"], special_tokens=cfg["special_tokens"],
        bigrams_file=cfg["bigrams_file"], lexicon_file=cfg["lexicon_file"], crf_file=cfg["crf_file"],
        vocab_size=cfg["vocab_size"], postprocess=cfg["postprocess"], display_names=cfg["display_names"],
        shape_features=bool(cfg["shape_features"]), raw=raw,
    )
    if spec.max_length < 8 + 2 * spec.special_tokens:
        raise ModelError(f"{CONFIG} in {path.name!r}: max_length {spec.max_length} is too small.")
    return spec


def write_config(path: Path, cfg: dict) -> Path:
    """Write ``cfg`` as ``path/config.json`` (with ``format`` set) after checking it reads back."""
    cfg = {"format": FORMAT, **cfg}
    check_config(cfg, f"the {CONFIG} to write")
    out = Path(path) / CONFIG
    out.write_text(json.dumps(cfg, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out
