"""Reading the annotated corpora into ``(text, spans)`` examples with character offsets.

Corpora live outside the project: ``--data DIR`` of each command, else ``$NER_DATA`` (read by the command,
:func:`default_data`), else the first ``shared/data`` found beside the working directory or the repository
(:data:`DATA_CANDIDATES`); a missing corpus file says where it was looked for.  Types are mapped to PER/LOC/ORG as that folder's README says.
"""
from __future__ import annotations

import argparse
import random
from collections.abc import Mapping
from pathlib import Path

from ..formats import Example

__all__ = ["Example", "CORPORA", "DEFAULT_DATA", "default_data", "add_data_argument", "train_dev", "load_corpus", "read_any"]

#: Where the corpora are looked for, in order: ``../shared/data`` and ``shared/data`` from the working
#: directory, then ``shared/data`` beside the repository (this file is ner/training/corpora.py; in an installed
#: package that is inside the environment, hence the others first).
DATA_CANDIDATES = [Path("..", "shared", "data"), Path("shared", "data"),
                   Path(__file__).resolve().parents[3] / "shared" / "data"]
DEFAULT_DATA = next((p for p in DATA_CANDIDATES if p.is_dir()), DATA_CANDIDATES[0])


def default_data(env_data: str | None = None) -> Path:
    """The commands' ``--data`` default: ``env_data`` (their ``$NER_DATA``) when set, else :data:`DEFAULT_DATA`."""
    return Path(env_data) if env_data else DEFAULT_DATA


def add_data_argument(ap: argparse.ArgumentParser, env: Mapping[str, str], help: str | None = None) -> None:
    """``--data``: the corpora folder, default ``$NER_DATA`` (from the command's ``env``) or :data:`DEFAULT_DATA`;
    the one spelling of the argument every command shares (see :mod:`ner.commands`)."""
    ap.add_argument("--data", type=Path, default=default_data(env.get("NER_DATA")),
                    help=help or "the corpora folder (default: $NER_DATA or ../shared/data)")


def corpus_file(data_dir: Path, relative: str) -> Path:
    """``data_dir / relative``, or ``FileNotFoundError`` saying where the corpora were looked for and how to
    point at them."""
    path = Path(data_dir) / relative
    if path.is_file():
        return path
    looked = (f"{Path(data_dir).resolve()}" if Path(data_dir) != DEFAULT_DATA else
              ", ".join(str(p.resolve()) for p in DATA_CANDIDATES))
    raise FileNotFoundError(f"the corpus file {relative} is not in {looked}; pass --data DIR (the folder holding "
                            f"msra/, weibo/, ...) or set NER_DATA")

WEIBO_MAP = {"PER.NAM": "PER", "ORG.NAM": "ORG", "LOC.NAM": "LOC", "GPE.NAM": "LOC"}
CLUENER_MAP = {"name": "PER", "company": "ORG", "government": "ORG", "organization": "ORG",
               "address": "LOC", "scene": "LOC"}


def _weibo_tag(tag: str) -> str:
    prefix, _, typ = tag.partition("-")
    return f"{prefix}-{WEIBO_MAP[typ]}" if typ in WEIBO_MAP else "O"


def _weibo_char(token: str) -> str:
    """``科0`` -> ``科``: the character without its word-position digit (one character, as the model sees it)."""
    return (token[:-1] if len(token) > 1 else token)[:1] or " "


def read_bio_tsv(path: str | Path, *, weibo: bool = False) -> list[Example]:
    """``char<TAB>tag`` lines, blank line between sentences (see :mod:`ner.formats`).

    ``weibo=True`` strips the word-position digit from each character and maps
    the Weibo types (``.NOM`` mentions become O).
    """
    from ..formats import read_text, loads_conll

    if not weibo:
        return loads_conll(read_text(Path(path)), str(path))
    return loads_conll(read_text(Path(path)), str(path), token_map=_weibo_char,
                       tag_map=_weibo_tag)


def read_cluener(path: str | Path) -> list[Example]:
    """CLUENER2020 jsonl (inclusive end offsets) mapped to PER/LOC/ORG; nested mentions: the first kept."""
    from ..formats import drop_overlaps, read

    return [Example(ex.text, drop_overlaps((s, e, CLUENER_MAP[t]) for s, e, t in ex.spans if t in CLUENER_MAP))
            for ex in read(path, "cluener")]


#: Every corpus by name: its training file, its dev file (``None``: a dev part is held out of
#: training with a fixed seed) and how many sentences that held-out part has.
CORPORA = {
    "msra": ("msra/train.tsv", None, 2000),
    "cluener": ("cluener/train.jsonl", None, 1000),
    "weibo": ("weibo/train.tsv", "weibo/dev.tsv", 0),
    "boson": ("boson/train.tsv", None, 800),
    "aishell": ("aishell/train.tsv", None, 1000),
    "resume": ("resume/train.tsv", "resume/dev.tsv", 0),
}
DEV_SEED = 20261201
#: MSRA keeps the split the first embedded models were trained with, so its dev part stays unseen by them.
DEV_SEEDS = {"msra": 1}


def train_dev(name: str, data_dir: Path = DEFAULT_DATA) -> tuple[list[Example], list[Example]]:
    """``(train, dev)`` of a corpus in :data:`CORPORA`; a held-out dev part never overlaps train."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose from {sorted(CORPORA)}")
    data_dir = Path(data_dir)
    train_file, dev_file, n_dev = CORPORA[name]
    train = read_any(corpus_file(data_dir, train_file))
    if dev_file:
        return train, read_any(corpus_file(data_dir, dev_file))
    return hold_out(train, n_dev, DEV_SEEDS.get(name, DEV_SEED))


def hold_out(examples: list[Example], n_dev: int, seed: int = DEV_SEED) -> tuple[list[Example], list[Example]]:
    """``(rest, held)``: ``n_dev`` examples drawn with a fixed ``seed``, in file order, never in ``rest``."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = set(order[:n_dev])
    return [ex for i, ex in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def load_corpus(name: str, data_dir: Path = DEFAULT_DATA) -> list[Example]:
    """By name: ``msra-test``, or ``CORPUS-train`` / ``CORPUS-dev`` for every corpus in :data:`CORPORA`
    (``weibo-dev`` and ``resume-dev`` are the published dev files, the others held-out parts)."""
    if name == "msra-test":
        return read_bio_tsv(corpus_file(Path(data_dir), "msra/test.tsv"))
    corpus, _, split = name.rpartition("-")
    if corpus not in CORPORA or split not in ("train", "dev"):
        names = ["msra-test"] + [f"{c}-{s}" for c in CORPORA for s in ("train", "dev")]
        raise ValueError(f"unknown corpus {name!r}; choose from {names}")
    train, dev = train_dev(corpus, data_dir)
    return train if split == "train" else dev


def read_any(path: str | Path, data_dir: Path = DEFAULT_DATA) -> list[Example]:
    """A file by its format: Weibo-style ``.tsv`` (detected by its digits), BIO ``.tsv`` or CLUENER ``.jsonl``;
    or a corpus split by name (``boson-dev``, see :func:`load_corpus`) when no such file exists."""
    path = Path(path)
    if not path.exists() and "/" not in str(path) and "-" in str(path):
        return load_corpus(str(path), data_dir)
    if path.suffix == ".jsonl":
        return read_cluener(path)
    with open(path, encoding="utf-8") as fh:
        first = next((ln for ln in fh if ln.strip()), "")
    token = first.split("\t")[0]
    return read_bio_tsv(path, weibo=len(token) > 1 and token[-1].isdigit())
