"""Chinese named-entity recognition (PER, LOC, ORG) on CPU with ONNX Runtime.

    >>> import ner
    >>> ner.recognize("张三在北京清华大学任职。")
    [Entity(start=0, end=2, label='PER', text='张三', score=...), ...]

``ner.load(model=None, **options)`` returns a cached, thread-safe
:class:`Recognizer` for a model directory: by default the embedded model
shipped in ``models/``.  The library reads no environment variable: the
commands and the app read ``$NER_MODEL`` (and ``$NER_THREADS``) and pass them in.
"""
from __future__ import annotations

import threading
from pathlib import Path

from .dictionary import Dictionary
from .entity import Entity
from .errors import FormatError, HubError, HubUnavailable, ModelError, NerError
from .recognizer import Recognizer
from .spec import read_spec

__all__ = ["Entity", "Dictionary", "NerError", "ModelError", "HubError", "HubUnavailable", "FormatError", "read_spec", "Recognizer", "load", "recognize", "recognize_batch", "model_dir",
           "EMBEDDED_MODEL"]

def _embedded_model() -> Path:
    """Inside the installed package (``ner/models``), else at the top of the source tree (``models/``)."""
    here = Path(__file__).resolve().parent
    packaged = here / "models" / "zh-ner-lite"
    return packaged if (packaged / "config.json").is_file() else here.parent / "models" / "zh-ner-lite"


#: The model the project trains and ships.
EMBEDDED_MODEL = _embedded_model()

_cache: dict[tuple, Recognizer] = {}
_lock = threading.Lock()


def model_dir(model: str | Path) -> Path:
    """The directory of ``model``: a directory that exists (relative to the working directory), else a bare
    name such as ``"zh-ner-lite"``: the packaged model of that name, from any directory; else ``model`` as it
    is (loading it then says it does not exist)."""
    path = Path(model)
    if path.is_dir() or len(path.parts) != 1:
        return path
    if path.name == EMBEDDED_MODEL.name:
        return EMBEDDED_MODEL
    beside = EMBEDDED_MODEL.parent / path.name  # another model shipped beside it (models/ of a checkout)
    return beside if (beside / "config.json").is_file() else path


def load(model: str | Path | None = None, *, dictionary: str | Path | Dictionary | None = None,
         **options) -> Recognizer:
    """A shared :class:`Recognizer` for ``model`` (a directory, or a packaged model's name such as
    ``"zh-ner-lite"``: :func:`model_dir`), built once per (model, options).

    Options: ``precision`` ("int8" or "fp32"), ``providers`` (ONNX Runtime
    providers, CPU by default), ``threads``, ``optimization``, ``batch_size``.
    ``dictionary``: a user dictionary (a path or a :class:`Dictionary`, see
    :mod:`ner.dictionary`) applied to every call; it shares the session of the
    recognizer without it, so one model is loaded once.
    """
    path = model_dir(model) if model is not None else EMBEDDED_MODEL
    key: tuple = (str(path.resolve()),
                  tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())))
    if isinstance(dictionary, Dictionary):  # an object the caller holds: not cached here
        return load(path, **options).with_dictionary(dictionary)
    if dictionary is not None:
        base = load(path, **options)
        key += (str(Path(dictionary).resolve()),)
        with _lock:
            if key not in _cache:
                _cache[key] = base.with_dictionary(dictionary)
            return _cache[key]
    with _lock:
        rec = _cache.get(key)
        if rec is None:
            rec = _cache[key] = Recognizer(path, **options)
        return rec


def recognize(text: str) -> list[Entity]:
    """Entities of ``text`` with the default model."""
    return load().recognize(text)


def recognize_batch(texts: list[str]) -> list[list[Entity]]:
    """Entities of each text with the default model."""
    return load().recognize_batch(texts)
