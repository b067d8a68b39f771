"""Fine-tune the embedded model on your own annotations, with your own types, on CPU.

    python -m ner.finetune --train mine.jsonl [--dev dev.jsonl] --out models/mine \\
        [--from models/zh-ner-lite] [--epochs 30] [--patience 3] [--display-names PRODUCT=产品]

``--train``/``--dev`` are in any format of :mod:`ner.formats` (CoNLL BIO/BIOES,
doccano JSONL, Label Studio JSON, CLUENER JSON lines), detected from the content; the label
set is whatever they use.  Training starts from ``--from`` (its vocabulary, lexicon,
embeddings and BiLSTM encoder); the emission and CRF layers are new when the types differ
from the model's (tags both share start from the model's), reused when they are the same.
Without ``--dev`` a fixed-seed tenth of the training file is held out.  Each epoch ends with
a dev score and a checkpoint in ``OUT.run/``; run the same command again to resume.  Training
stops early when dev F1 has not improved for ``--patience`` epochs, and the best epoch is
exported to ``OUT``: INT8 ONNX, config.json with the labels (and display names), a model card
with the dev scores per type.  ``NER_MODEL=OUT python app.py`` serves it.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from . import EMBEDDED_MODEL, formats
from .commands import add_fields
from .errors import FormatError, ModelError
from .training.finetune import FinetuneConfig, TrainedRun, train_run

log = logging.getLogger(__name__)

#: Chinese names shown for common types when ``--display-names`` does not give one.
DISPLAY_NAMES = {"PER": "人名", "LOC": "地名", "ORG": "机构名", "GPE": "地缘政治实体", "PRODUCT": "产品",
                 "TIME": "时间", "DATE": "日期", "MONEY": "金额", "TITLE": "职位", "EVENT": "事件",
                 "name": "人名", "address": "地址", "company": "公司", "government": "政府机构",
                 "organization": "组织机构", "position": "职位", "scene": "景点", "book": "书名",
                 "movie": "电影", "game": "游戏"}


def parse_args(argv=None) -> FinetuneConfig:
    """The command line as a :class:`ner.training.finetune.FinetuneConfig`."""
    ap = argparse.ArgumentParser(prog="python -m ner.finetune", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, required=True, help="annotated training file (any supported format)")
    ap.add_argument("--dev", type=Path, help="annotated dev file; default: a fixed-seed part of --train")
    ap.add_argument("--out", type=Path, required=True, help="the model directory to write")
    ap.add_argument("--from", dest="base", type=Path, default=EMBEDDED_MODEL,
                    help="the exported model to start from (default: the embedded model)")
    ap.add_argument("--format", choices=formats.ANNOTATION_FORMATS, help="the files' format (default: detected)")
    ap.add_argument("--run", type=Path, help="checkpoints and training state (default: OUT.run)")
    ap.add_argument("--name", help="the model's name (default: the --out folder's name)")
    ap.add_argument("--display-names", nargs="*", default=[], metavar="TYPE=NAME",
                    help="names to show for types, e.g. PRODUCT=产品 (common types have defaults)")
    add_fields(ap, FinetuneConfig, ("epochs", "patience", "dev_fraction", "batch_size", "lr", "dropout", "max_len",
                                    "threads", "seed", "max_steps", "no_progress"),
               {"patience": "stop after this many epochs without a better dev F1",
                "dev_fraction": "share of --train held out without --dev",
                "max_steps": "stop after this many steps in all (smoke tests)", "no_progress": "no progress bar"})
    args = ap.parse_args(argv)
    for flag in ("epochs", "patience", "batch_size", "max_len", "threads"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1")
    if not 0 < args.dev_fraction < 1:
        ap.error("--dev-fraction must be between 0 and 1")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(args).items()}
    return FinetuneConfig(**values)


def parse_display_names(pairs: tuple[str, ...] | list[str], types: list[str]) -> dict[str, str]:
    """``["PRODUCT=产品"]`` over the defaults, for the types the model has."""
    names = {t: DISPLAY_NAMES[t] for t in types if t in DISPLAY_NAMES}
    for pair in pairs:
        typ, sep, name = pair.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"error: --display-names {pair!r}: expected TYPE=NAME")
        if typ not in types:
            raise SystemExit(f"error: --display-names {pair!r}: the data has no type {typ!r} ({', '.join(types)})")
        names[typ] = name.strip()
    return names


def finetune(cfg: FinetuneConfig) -> Path:
    """Train (or resume) and export; returns the model directory."""
    t0 = time.time()
    out = export_finetuned(train_run(cfg), cfg)
    log.info("wrote %s in %.0fs", out, time.time() - t0)
    return out


def export_finetuned(trained: TrainedRun, cfg: FinetuneConfig) -> Path:
    """The best epoch as a complete model directory: INT8 ONNX, config, card with dev scores per type."""
    from .export.card import render_finetuned
    from .export.embedded import export_run
    from .recognizer import Recognizer
    from .training.evaluate import evaluate_examples

    out = cfg.out
    made = {k: trained.info[k] for k in ("from", "reused_output", "dev_source", "best_epoch") if k in trained.info}
    names = parse_display_names(cfg.display_names, trained.types)
    # the INT8 graph is what ships; the run's best.pt rebuilds the FP32 one
    export_run(trained.path, out, name=cfg.name or out.name, display_names=names, keep_fp32=False, extra_meta=made)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    scores = {"dev_int8": evaluate_examples(trained.dev, Recognizer(out))}
    (out / "scores.json").write_text(json.dumps(scores, indent=1, ensure_ascii=False) + "\n")
    (out / "README.md").write_text(render_finetuned(config, scores, command_line(cfg)), encoding="utf-8")
    return out


def command_line(cfg: FinetuneConfig) -> str:
    """The ``python -m ner.finetune`` command that ``cfg`` stands for (for the card)."""
    parts = ["python -m ner.finetune", "--train", str(cfg.train)]
    if cfg.dev:
        parts += ["--dev", str(cfg.dev)]
    parts += ["--out", str(cfg.out), "--from", str(cfg.base), "--epochs", str(cfg.epochs),
              "--patience", str(cfg.patience)]
    if cfg.display_names:
        parts += ["--display-names", *cfg.display_names]
    return " ".join(shlex.quote(p) if i else p for i, p in enumerate(parts))


def main(argv=None) -> None:
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        out = finetune(cfg)
    except (FormatError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(out)


if __name__ == "__main__":
    main()
