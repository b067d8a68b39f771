"""What a model directory holds, read and checked once: ``config.json`` and the files it names."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .crf import CRF
from .errors import ModelError
from .tags import SCHEMES

CONFIG = "config.json"


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
    raw: dict = field(default_factory=dict)

    def file(self, name: str) -> Path:
        p = self.path / name
        if not p.is_file():
            raise ModelError(f"model directory {self.path.name!r} is missing {name!r}. "
                             f"Re-export the model (python -m ner.export ...) or point NER_MODEL at a complete directory.")
        return p

    def load_crf(self) -> CRF:
        if not self.crf_file:
            return CRF.uniform(len(self.labels))
        try:
            z = np.load(self.file(self.crf_file))
            crf = CRF(z["transitions"].astype(np.float64), z["start"].astype(np.float64), z["end"].astype(np.float64))
        except ModelError:
            raise ModelError(f"model directory {self.path.name!r} has no CRF transitions ({self.crf_file}). "
                             f"Re-export it with python -m ner.export, or set \"crf_file\": null in config.json "
                             f"to decode without transitions.") from None
        except Exception as exc:
            raise ModelError(f"{self.crf_file} in {self.path.name!r} is unreadable ({type(exc).__name__}); re-export the model.") from None
        k = len(self.labels)
        if crf.transitions.shape != (k, k) or crf.start.shape != (k,) or crf.end.shape != (k,):
            raise ModelError(f"{self.crf_file} in {self.path.name!r} is for {crf.start.shape[0]} tags but config.json "
                             f"lists {k} labels; re-export the model.")
        return crf


def read_spec(path: str | Path) -> ModelSpec:
    """Parse and check ``path/config.json``; raises :class:`ModelError` with a fix on any problem."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"model directory {str(path)!r} does not exist. Set NER_MODEL to a model directory "
                         f"(for example models/zh-ner-lite) or leave it unset for the embedded model.")
    cfg_path = path / CONFIG
    if not cfg_path.is_file():
        raise ModelError(f"{path.name!r} has no {CONFIG}: it is not a model directory written by python -m ner.export.")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{CONFIG} in {path.name!r} is not valid JSON ({exc}); re-export the model.") from None
    try:
        spec = ModelSpec(
            path=path, name=cfg.get("name", path.name), labels=list(cfg["labels"]), scheme=cfg["scheme"],
            max_length=int(cfg["max_length"]), model_file=cfg["model_file"], fp32_file=cfg.get("fp32_file"),
            vocab_file=cfg.get("vocab_file", "vocab.txt"), tokenizer=cfg.get("tokenizer", {}),
            special_tokens=bool(cfg.get("special_tokens", False)), bigrams_file=cfg.get("bigrams_file"),
            lexicon_file=cfg.get("lexicon_file"), crf_file=cfg.get("crf_file", "crf.npz"),
            vocab_size=cfg.get("vocab_size"), postprocess=cfg.get("postprocess", {}), raw=cfg,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{CONFIG} in {path.name!r} lacks or mistypes {exc}; re-export the model.") from None
    if spec.scheme not in SCHEMES:
        raise ModelError(f"{CONFIG} in {path.name!r}: scheme must be one of {SCHEMES}, not {spec.scheme!r}.")
    if spec.max_length < 8 + 2 * spec.special_tokens:
        raise ModelError(f"{CONFIG} in {path.name!r}: max_length {spec.max_length} is too small.")
    return spec


def write_config(path: Path, cfg: dict) -> Path:
    out = Path(path) / CONFIG
    out.write_text(json.dumps(cfg, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out
