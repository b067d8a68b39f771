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
import hashlib
import json
import logging
import os
import random
import sys
import time
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
from .train import bioes_labels, evaluate_items, load_checkpoint, save_checkpoint, train_epoch

log = logging.getLogger(__name__)

#: Chinese names shown for common types when ``--display-names`` does not give one.
DISPLAY_NAMES = {"PER": "人名", "LOC": "地名", "ORG": "机构名", "GPE": "地缘政治实体", "PRODUCT": "产品",
                 "TIME": "时间", "DATE": "日期", "MONEY": "金额", "TITLE": "职位", "EVENT": "事件",
                 "name": "人名", "address": "地址", "company": "公司", "government": "政府机构",
                 "organization": "组织机构", "position": "职位", "scene": "景点", "book": "书名",
                 "movie": "电影", "game": "游戏"}


def parse_args(argv=None) -> argparse.Namespace:
    import ner

    ap = argparse.ArgumentParser(prog="python -m ner.finetune", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, required=True, help="annotated training file (any supported format)")
    ap.add_argument("--dev", type=Path, help="annotated dev file; default: a fixed-seed part of --train")
    ap.add_argument("--out", type=Path, required=True, help="the model directory to write")
    ap.add_argument("--from", dest="base", type=Path, default=ner.EMBEDDED_MODEL,
                    help="the exported model to start from (default: the embedded model)")
    ap.add_argument("--format", choices=formats.FORMATS, help="the files' format (default: detected)")
    ap.add_argument("--run", type=Path, help="checkpoints and training state (default: OUT.run)")
    ap.add_argument("--name", help="the model's name (default: the --out folder's name)")
    ap.add_argument("--display-names", nargs="*", default=[], metavar="TYPE=NAME",
                    help="names to show for types, e.g. PRODUCT=产品 (common types have defaults)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=3, help="stop after this many epochs without a better dev F1")
    ap.add_argument("--dev-fraction", type=float, default=0.1, help="share of --train held out without --dev")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in all (smoke tests)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    for flag in ("epochs", "patience", "batch_size", "max_len", "threads"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1")
    if not 0 < args.dev_fraction < 1:
        ap.error("--dev-fraction must be between 0 and 1")
    return args


def display_names(pairs: list[str], types: list[str]) -> dict[str, str]:
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


def _fingerprint(*paths: Path | None) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p else b"-")
    return h.hexdigest()[:16]


def read_data(args) -> tuple[list[Example], list[Example], str]:
    """``(train, dev, where dev comes from)``, nested or overlapping spans reduced to the first."""
    train = formats.read(args.train, args.format)
    if args.dev:
        dev, source = formats.read(args.dev, args.format), str(args.dev)
    else:
        n_dev = max(1, round(args.dev_fraction * len(train)))
        if len(train) < 2:
            raise FormatError(f"{args.train}: {len(train)} sentence(s): too few to hold out a dev part; give --dev")
        train, dev = hold_out(train, n_dev, DEV_SEED)
        source = f"{n_dev} sentences of {args.train.name} held out (seed {DEV_SEED})"
    if not any(ex.spans for ex in train):
        raise FormatError(f"{args.train}: no annotated entity in the training part")
    fix = [Example(ex.text, formats.drop_overlaps(ex.spans)) for ex in train]
    return fix, [Example(ex.text, formats.drop_overlaps(ex.spans)) for ex in dev], source


def finetune(args: argparse.Namespace) -> Path:
    """Train (or resume) and export; returns the model directory."""
    torch = require("torch", "Fine-tuning")
    from ..spec import read_spec
    from .net import CRFLayer, TaggerNet
    from .warmstart import copy_assets, load_into, net_shape

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    t0 = time.time()
    base = read_spec(args.base)
    base_types = list(dict.fromkeys(lab.partition("-")[2] for lab in base.labels if lab != "O"))
    train, dev, dev_source = read_data(args)
    types = formats.labels_of(train + dev)
    reuse = set(types) == set(base_types) and base.scheme == "BIOES"
    labels = list(base.labels) if reuse else bioes_labels(types)
    label_index = {t: i for i, t in enumerate(labels)}

    run = args.run or Path(str(args.out) + ".run")
    assets, info_path, last = run / "assets", run / "train_info.json", run / "last.pt"
    fingerprint = _fingerprint(args.train, args.dev)
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("fingerprint") != fingerprint or info.get("labels") != labels:
            raise SystemExit(f"error: {run} holds a run on other data or labels; remove it or give another --out/--run")
    else:
        info = copy_assets(args.base, assets)
        info.update({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                     "from": str(args.base), "reused_output": reuse, "labels": labels, "scheme": "BIOES",
                     "max_length": args.max_len, "fingerprint": fingerprint, "dev_source": dev_source,
                     "train_sentences": len(train), "dev_sentences": len(dev),
                     "train_chars": sum(len(e.text) for e in train)})
        info_path.write_text(json.dumps(info, indent=1, ensure_ascii=False))

    tok = TextTokenizer(assets / "vocab.txt")
    lexicon = Lexicon.load(assets / "lexicon.npz") if (assets / "lexicon.npz").exists() else None
    bigrams = BigramTable(np.load(assets / "bigrams.npy"), len(tok)) if (assets / "bigrams.npy").exists() else None
    feats = Featurizer(bigrams if bigrams is not None and len(bigrams) > 1 else None, lexicon)
    train_items = encode_examples(train, tok, feats, label_index, args.max_len)
    dev_items = encode_examples(dev, tok, feats, label_index, args.max_len)

    shape = net_shape(args.base)
    if shape["vocab_size"] != len(tok):
        raise ModelError(f"{args.base}: its vocabulary and its ONNX graph disagree; re-export it")
    net = TaggerNet(shape["vocab_size"], len(labels), char_dim=shape["char_dim"], n_bigrams=shape["n_bigrams"],
                    bigram_dim=shape["bigram_dim"], lexicon_dim=shape["lexicon_dim"], hidden=shape["hidden"],
                    dropout=args.dropout)
    crf = CRFLayer(len(labels))
    loaded = load_into(net, crf, args.base, reuse_output=reuse, labels=labels)
    if net.bigram is not None:
        net.bigram.weight.requires_grad_(False)  # frozen, as in training: unseen bigrams keep their meaning
    params = [p for p in list(net.parameters()) + list(crf.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.lr)
    steps_per_epoch = (len(train_items) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1 - s / max(1, total)))
    log.info("%d train / %d dev sentences, types %s; from %s: %s", len(train), len(dev), types, args.base, loaded)

    state: dict[str, Any] = {"epoch": 0, "best": -1.0, "best_epoch": 0, "history": [], "stale": 0, "step": 0}
    if last.exists():
        ck = load_checkpoint(last, net, crf, torch, opt, sched)
        state.update({k: ck[k] for k in state if k in ck})
        log.info("resumed after epoch %d (best dev F1 %.4f)", state["epoch"], state["best"])
    tqdm = require("tqdm", "The fine-tuning progress bar").tqdm
    while (state["epoch"] < args.epochs and state["stale"] < args.patience
           and not (args.max_steps and state["step"] >= args.max_steps)):
        epoch, t_epoch = state["epoch"], time.time()
        rng = random.Random(args.seed * 1000 + epoch)
        torch.manual_seed(args.seed * 1000 + epoch)
        with tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch",
                  disable=args.no_progress, file=sys.stderr, leave=False) as bar:
            def progress(bi, loss, tokens, bar=bar):
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

            loss, state["step"] = train_epoch(net, crf, opt, sched, params, train_items, batch_size=args.batch_size,
                                              rng=rng, device="cpu", torch=torch, max_steps=args.max_steps,
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
    out = export(run, args, info, types, dev)
    log.info("wrote %s in %.0fs", out, time.time() - t0)
    return out


def export(run: Path, args, info: dict, types: list[str], dev: list[Example]) -> Path:
    """The best epoch as a complete model directory: INT8 ONNX, config, card with dev scores per type."""
    from ..export.card import render_finetuned
    from ..export.embedded import export_run
    from ..recognizer import Recognizer
    from ..spec import write_config
    from .evaluate import evaluate_examples

    out = args.out
    names = display_names(args.display_names, types)
    export_run(run, out, name=args.name or out.name, display_names=names)
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    cfg["training"].update({k: info[k] for k in ("from", "reused_output", "dev_source", "best_epoch") if k in info})
    fp32 = out / cfg["fp32_file"]
    fp32.unlink()  # the INT8 graph is what ships; the run's best.pt rebuilds the FP32 one
    cfg["fp32_file"] = None
    write_config(out, cfg)
    scores = {"dev_int8": evaluate_examples(dev, Recognizer(out))}
    (out / "scores.json").write_text(json.dumps(scores, indent=1, ensure_ascii=False) + "\n")
    command = command_line(args)
    (out / "README.md").write_text(render_finetuned(cfg, scores, command), encoding="utf-8")
    return out


def command_line(args) -> str:
    """The ``python -m ner.finetune`` command that ``args`` stand for (for the card)."""
    import shlex

    parts = ["python -m ner.finetune", "--train", str(args.train)]
    if args.dev:
        parts += ["--dev", str(args.dev)]
    parts += ["--out", str(args.out), "--from", str(args.base), "--epochs", str(args.epochs),
              "--patience", str(args.patience)]
    if args.display_names:
        parts += ["--display-names", *args.display_names]
    return " ".join(shlex.quote(p) if i else p for i, p in enumerate(parts))


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        out = finetune(args)
    except (FormatError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(out)


if __name__ == "__main__":
    main()
