"""The command-line arguments the commands share, each written once: ``--model``, ``--threads``, and every option
whose default is a config dataclass's field (:func:`add_fields`); ``--data`` is
:func:`ner.training.corpora.add_data_argument` (the corpora's folder belongs to training).

A command passes its environment in (``os.environ``): the commands are the entry points that read it.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any


def add_model(ap: argparse.ArgumentParser, env: Mapping[str, str] | None = None, *, default: str | None = None,
              help: str | None = None) -> None:
    """``--model``: a model directory (or a ModelScope id where the command takes one); its default is
    ``$NER_MODEL`` when ``env`` is given, else ``default`` (None: the embedded model)."""
    value = (env.get("NER_MODEL") if env is not None else None) or default
    where = "$NER_MODEL or " if env is not None else ""
    ap.add_argument("--model", default=value,
                    help=help or f"model directory (default: {where}{default or 'the embedded model'})")


def add_threads(ap: argparse.ArgumentParser, default: int | None = None, help: str | None = None) -> None:
    """``--threads``: threads of one engine or training process (None: the library's default, the cores up to 4)."""
    ap.add_argument("--threads", type=int, default=default,
                    help=help or f"threads (default: {default if default is not None else 'the cores, at most 4'})")


def add_fields(ap: argparse.ArgumentParser, config: type, names: tuple[str, ...] | list[str],
               helps: Mapping[str, str] | None = None) -> None:
    """One ``--option`` per field of the dataclass ``config`` in ``names`` (``max_len`` -> ``--max-len``), its
    default and type taken from the field, so the command line and the config never disagree."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    for name in names:
        field = fields[name]
        default: Any = field.default
        if default is dataclasses.MISSING:
            raise ValueError(f"{config.__name__}.{name} has no default to offer on the command line")
        flag = "--" + name.replace("_", "-")
        helps = helps or {}
        if isinstance(default, bool):
            ap.add_argument(flag, action="store_true", help=helps.get(name))
        else:
            ap.add_argument(flag, type=type(default), default=default,
                            help=(helps.get(name, "") + f" (default: {default})").strip())
