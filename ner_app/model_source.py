"""Which model the app may load: ``NER_MODEL`` as a directory inside the allowed roots or a ModelScope id,
and the one fallback rule when it cannot be had."""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import ner
from ner import samples
from ner.errors import HubError, HubUnavailable, ModelError
from ner.spec import read_spec

from .config import Settings
from .gate import EngineGate

log = logging.getLogger(__name__)

PROJECT_MODELS = ner.EMBEDDED_MODEL.parent
#: A ModelScope id: ``owner/name``, ASCII word characters, dots and dashes only.
MODEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", re.ASCII)


def export_modelscope(model_id: str, out: Path, **kwargs) -> Path:
    """Download and export ``model_id`` (the export extra); a module attribute so tests can replace it."""
    from ner.export.raner import export_modelscope as export

    return export(model_id, out, **kwargs)


def allowed_roots(cache_dir: str | Path, roots: Sequence[str | Path] = ()) -> list[Path]:
    """The project's ``models/``, ``cache_dir`` and each directory of ``roots`` (``NER_MODEL_ROOTS``, read by
    :class:`ner_app.config.Settings`)."""
    return [Path(r).expanduser().resolve() for r in (PROJECT_MODELS, cache_dir, *roots)]


def cache_name(model_id: str) -> str:
    """``damo/nlp_raner`` -> ``damo--nlp_raner``: one safe directory name per id."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", model_id.replace("/", "--"))


def resolve_model(value: str, cache_dir: str | Path, roots: Sequence[str | Path] = ()) -> Path:
    """The model directory for ``value``: a local directory inside :func:`allowed_roots`, or a
    ModelScope id exported on first use into ``cache_dir/<id with / as -->`` and reused after.

    Raises ``ValueError`` for anything else (URLs, ``..``, paths outside the roots),
    :class:`HubUnavailable` quickly when an id must be fetched and ModelScope is unreachable.
    """
    value = str(value).strip()
    if not value:
        raise ValueError("no model given: pass a model directory or a ModelScope id like 'owner/name'.")
    if "://" in value or value.startswith(("http:", "https:", "file:")):
        raise ValueError(f"{value!r} is a URL; give a ModelScope id like 'owner/name' or a local model directory.")
    if ".." in Path(value).parts or "\0" in value:
        raise ValueError(f"{value!r} contains '..'; give a ModelScope id or a directory inside "
                         f"{[str(r) for r in allowed_roots(cache_dir, roots)]}.")
    allowed = allowed_roots(cache_dir, roots)
    given = Path(value).expanduser()
    candidates = [given] if given.is_absolute() else [given] + [r / given for r in allowed]
    for cand in candidates:
        if cand.is_dir():
            real = cand.resolve()
            if any(real == r or real.is_relative_to(r) for r in allowed):
                return real
    if given.is_absolute() and not given.exists():
        raise ValueError(f"model directory {value!r} does not exist; set NER_MODEL to an exported model directory "
                         f"or a ModelScope id like 'owner/name', or unset it for the embedded model.")
    if given.is_absolute() or not MODEL_ID_PATTERN.match(value):
        raise ValueError(f"{value!r} is neither a model directory inside {[str(r) for r in allowed]} nor a "
                         f"ModelScope id like 'owner/name'. Add its parent to NER_MODEL_ROOTS to allow it.")
    target = Path(cache_dir).expanduser().resolve() / cache_name(value)
    try:
        read_spec(target)
        return target  # exported on an earlier run
    except ModelError:
        pass
    log.info("exporting %s into %s (first use)", value, target)
    return export_modelscope(value, target, download_dir=Path(cache_dir).expanduser() / "modelscope")


def default_cache_dir() -> Path:
    """Where ModelScope models are exported without ``NER_CACHE``: ``~/.cache/ner``."""
    return Path.home() / ".cache" / "ner"


def open_model(value: str | None, cache_dir: str | Path | None = None, *, roots: Sequence[str | Path] = (),
               strict: bool = True, **options) -> tuple[ner.Recognizer, str | None]:
    """The recognizer ``value`` asks for, and a notice when the embedded model stands in for it.

    The one fallback rule: no value means the embedded model; a hub that cannot
    be reached, or a model that cannot be fetched, means the embedded model with
    a plain-language notice.  A bad local directory, a URL or a path outside the
    allowed roots is a configuration error: with ``strict`` (the app) it raises
    ``ValueError`` / :class:`ner.ModelError`, so the app does not start; without
    it the embedded model answers and the notice says why.
    """
    if not value:
        return ner.load(ner.EMBEDDED_MODEL, **options), None
    try:
        path = resolve_model(value, cache_dir or default_cache_dir(), roots)
        return ner.load(path, **options), None
    except HubUnavailable as exc:
        reason = detail = str(exc)
    except (HubError, ImportError) as exc:
        # the notice is public (the page, /healthz): the details, which may name paths, go to the log only
        detail = f"the model {value!r} could not be fetched ({exc})"
        reason = f"the model {value!r} could not be fetched; the embedded model is used instead."
    except (ValueError, ModelError) as exc:
        if strict:
            raise
        reason = detail = f"the model {value!r} could not be used: {exc} The embedded model is used instead."
    log.warning("%s", detail)
    return ner.load(ner.EMBEDDED_MODEL, **options), reason


def load_engine(settings: Settings) -> tuple[EngineGate, str | None]:
    """The engine every server of the app shares out (``python app.py`` and each Ray Serve replica): the model
    of ``NER_MODEL`` with the operator's ``NER_USER_DICT``, warmed with one call (so the first request is as
    fast as the rest) and behind an :class:`EngineGate` of ``NER_ENGINE_SLOTS`` slots; and the fallback notice."""
    options: dict = {"threads": settings.threads} if settings.threads else {}
    recognizer, notice = open_model(settings.model, settings.model_cache, roots=settings.model_roots, **options)
    if settings.user_dict:
        recognizer = recognizer.with_dictionary(settings.user_dict)  # FormatError names the file and line
        log.info("user dictionary %s: %d entries", settings.user_dict, len(recognizer.dictionary or ()))
    recognizer.recognize(samples.SEED)
    return EngineGate(recognizer, slots=settings.engine_slots, chunk_chars=settings.engine_chunk_chars), notice
