"""Fine-tuning's training half: an exported model trained further on your annotations, with your types.

:func:`train_run` reads the files, starts from the model (``--from``), trains with a dev score and a
checkpoint per epoch in the run directory (``OUT.run/``, resumable), stops early, and returns the run;
the command ``python -m ner.finetune`` (:mod:`ner.finetune`) then exports its best epoch.  This module
never exports: export depends on training, not the reverse.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ..errors import FormatError, ModelError
from ..features import BigramTable, Featurizer, Lexicon
from ..tokenizer import TextTokenizer
from .. import formats
from .batches import encode_examples
from .corpora import DEV_SEED, Example, hold_out
from .train import bioes_labels, evaluate_items, load_checkpoint, save_checkpoint, settings_record, train_epoch

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    """One fine-tuning run's settings, as ``python -m ner.finetune`` takes them (:func:`ner.finetune.parse_args`).

    Field names are the command's options (``base`` is ``--from``); ``train_info.json`` records them.
    """

    train: Path
    dev: Path | None = None
    out: Path
    base: Path
    format: str | None = None
    run: Path | None = None
    name: str | None = None
    display_names: tuple[str, ...] = ()
    epochs: int = 30
    patience: int = 3
    dev_fraction: float = 0.1
    batch_size: int = 32
    lr: float = 2e-3
    dropout: float = 0.3
    max_len: int = 128
    threads: int = 2
    seed: int = 1
    max_steps: int = 0
    no_progress: bool = False

    @property
    def run_dir(self) -> Path:
        """Checkpoints and training state: ``--run``, or ``OUT.run`` beside the model directory."""
        return self.run or Path(str(self.out) + ".run")


@dataclass(frozen=True)
class TrainedRun:
    """What the export needs of a finished run: its directory, its ``train_info.json``, the types, the dev part."""

    path: Path
    info: dict
    types: list[str]
    dev: list[Example]


def _fingerprint(*paths: Path | None) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p else b"-")
    return h.hexdigest()[:16]


def read_data(cfg: FinetuneConfig) -> tuple[list[Example], list[Example], str]:
    """``(train, dev, where dev comes from)``, nested or overlapping spans reduced to the first."""
    train = formats.read(cfg.train, cfg.format)
    if cfg.dev:
        dev, source = formats.read(cfg.dev, cfg.format), str(cfg.dev)
    else:
        n_dev = max(1, round(cfg.dev_fraction * len(train)))
        if len(train) < 2:
            raise FormatError(f"{cfg.train}: {len(train)} sentence(s): too few to hold out a dev part; give --dev")
        train, dev = hold_out(train, n_dev, DEV_SEED)
        source = f"{n_dev} sentences of {cfg.train.name} held out (seed {DEV_SEED})"
    if not any(ex.spans for ex in train):
        raise FormatError(f"{cfg.train}: no annotated entity in the training part")
    fix = [Example(ex.text, formats.drop_overlaps(ex.spans)) for ex in train]
    return fix, [Example(ex.text, formats.drop_overlaps(ex.spans)) for ex in dev], source


def train_run(cfg: FinetuneConfig) -> TrainedRun:
    """Train (or resume) the run of ``cfg``; the run, ready for export (its ``best.pt`` is the best epoch)."""
    torch = require("torch", "Fine-tuning")
    from ..spec import read_spec
    from .net import CRFLayer, TaggerNet
    from .warmstart import copy_assets, load_into, net_shape

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    t0 = time.time()
    base = read_spec(cfg.base)
    base_types = list(dict.fromkeys(lab.partition("-")[2] for lab in base.labels if lab != "O"))
    train, dev, dev_source = read_data(cfg)
    types = formats.labels_of(train + dev)
    reuse = set(types) == set(base_types) and base.scheme == "BIOES"
    labels = list(base.labels) if reuse else bioes_labels(types)
    label_index = {t: i for i, t in enumerate(labels)}

    run = cfg.run_dir
    assets, info_path, last = run / "assets", run / "train_info.json", run / "last.pt"
    fingerprint = _fingerprint(cfg.train, cfg.dev)
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("fingerprint") != fingerprint or info.get("labels") != labels:
            raise SystemExit(f"error: {run} holds a run on other data or labels; remove it or give another --out/--run")
    else:
        info = copy_assets(cfg.base, assets)
        info.update({"args": settings_record(cfg),
                     "from": str(cfg.base), "reused_output": reuse, "labels": labels, "scheme": "BIOES",
                     "max_length": cfg.max_len, "fingerprint": fingerprint, "dev_source": dev_source,
                     "train_sentences": len(train), "dev_sentences": len(dev),
                     "train_chars": sum(len(e.text) for e in train)})
        info_path.write_text(json.dumps(info, indent=1, ensure_ascii=False))

    tok = TextTokenizer(assets / "vocab.txt")
    lexicon = Lexicon.load(assets / "lexicon.npz") if (assets / "lexicon.npz").exists() else None
    bigrams = BigramTable(np.load(assets / "bigrams.npy"), len(tok)) if (assets / "bigrams.npy").exists() else None
    feats = Featurizer(bigrams if bigrams is not None and len(bigrams) > 1 else None, lexicon,
                       shape=bool(info.get("shape_features")))
    train_items = encode_examples(train, tok, feats, label_index, cfg.max_len)
    dev_items = encode_examples(dev, tok, feats, label_index, cfg.max_len)

    shape = net_shape(cfg.base)
    if shape["vocab_size"] != len(tok):
        raise ModelError(f"{cfg.base}: its vocabulary and its ONNX graph disagree; re-export it")
    net = TaggerNet(shape["vocab_size"], len(labels), char_dim=shape["char_dim"], n_bigrams=shape["n_bigrams"],
                    bigram_dim=shape["bigram_dim"], lexicon_dim=shape["lexicon_dim"], hidden=shape["hidden"],
                    dropout=cfg.dropout, shape_dim=shape["shape_dim"])
    crf = CRFLayer(len(labels))
    loaded = load_into(net, crf, cfg.base, reuse_output=reuse, labels=labels)
    if net.bigram is not None:
        net.bigram.weight.requires_grad_(False)  # frozen, as in training: unseen bigrams keep their meaning
    params = [p for p in list(net.parameters()) + list(crf.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    steps_per_epoch = (len(train_items) + cfg.batch_size - 1) // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1 - s / max(1, total)))
    log.info("%d train / %d dev sentences, types %s; from %s: %s", len(train), len(dev), types, cfg.base, loaded)

    state: dict[str, Any] = {"epoch": 0, "best": -1.0, "best_epoch": 0, "history": [], "stale": 0, "step": 0}
    if last.exists():
        ck = load_checkpoint(last, net, crf, torch, opt, sched)
        state.update({k: ck[k] for k in state if k in ck})
        log.info("resumed after epoch %d (best dev F1 %.4f)", state["epoch"], state["best"])
    tqdm = require("tqdm", "The fine-tuning progress bar").tqdm
    while (state["epoch"] < cfg.epochs and state["stale"] < cfg.patience
           and not (cfg.max_steps and state["step"] >= cfg.max_steps)):
        epoch, t_epoch = state["epoch"], time.time()
        rng = random.Random(cfg.seed * 1000 + epoch)
        torch.manual_seed(cfg.seed * 1000 + epoch)
        with tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                  disable=cfg.no_progress, file=sys.stderr, leave=False) as bar:
            def progress(bi, loss, tokens, bar=bar):
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

            loss, state["step"] = train_epoch(net, crf, opt, sched, params, train_items, batch_size=cfg.batch_size,
                                              rng=rng, device="cpu", torch=torch, max_steps=cfg.max_steps,
                                              step=state["step"], on_batch=progress)
        dev_score = evaluate_items(net, crf, dev_items, labels, torch)
        state["epoch"] = epoch + 1
        state["history"].append({"epoch": epoch + 1, "loss": round(loss, 4), "dev": dev_score,
                                 "seconds": round(time.time() - t_epoch, 1)})
        if dev_score["f1"] > state["best"]:
            state.update(best=dev_score["f1"], best_epoch=epoch + 1, stale=0)
            save_checkpoint(run / "best.pt", net, crf, torch, epoch=epoch + 1, dev=dev_score)
        else:
            state["stale"] += 1
        save_checkpoint(last, net, crf, torch, opt, sched, **state)
        log.info("epoch %d: loss %.3f, dev F1 %.4f (best %.4f at epoch %d), %.0fs", epoch + 1, loss, dev_score["f1"],
                 state["best"], state["best_epoch"], time.time() - t_epoch)
    if not (run / "best.pt").exists():
        raise SystemExit("error: no epoch finished; raise --max-steps or --epochs")

    info = json.loads(info_path.read_text())
    info.update({"history": state["history"], "best_dev_f1": state["best"], "best_epoch": state["best_epoch"],
                 "hardware": f"cpu, {torch.get_num_threads()} threads, {os.cpu_count()} cores",
                 "train_seconds": round(sum(h["seconds"] for h in state["history"]), 1)})
    info_path.write_text(json.dumps(info, indent=1, ensure_ascii=False))
    log.info("trained in %.0fs", time.time() - t0)
    return TrainedRun(run, info, types, dev)
