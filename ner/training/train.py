"""Train the embedded model: char + bigram + lexicon BiLSTM-CRF, on CPU (or a GPU when present).

    python -m ner.train --data ../shared/data --w2v work/w2v --out runs/cbl \
        [--corpora msra cluener weibo boson aishell resume] [--weights aishell=0.5 boson=2] \
        [--lexicons per loc org jieba] [--epochs 8] [--seed 1] [--init models/zh-ner-lite]

Every epoch ends with a score on each corpus's dev split and a checkpoint
(``last.pt``); run the same command again to resume a stopped run.  ``best.pt``
keeps the epoch with the best macro-averaged dev F1.  ``--init`` starts from an
exported model directory (its vocabulary, lexicon and weights) instead of from scratch.
Then ``python -m ner.export --run runs/cbl --out models/NAME`` writes the ONNX model.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ..commands import add_fields
from ..crf import CRF, viterbi
from ..features import SHAPE_FEATURES, BigramTable, Featurizer, Lexicon
from ..tags import tags_to_spans
from ..tokenizer import SPECIAL_TOKENS, TextTokenizer, fold_char
from .batches import collate, encode_examples, make_batches, mask_unknown, sample_epoch
from .corpora import CORPORA, DEFAULT_DATA, Example, add_data_argument, train_dev
from .lexicon import LEXICON_SOURCES, build_lexicon_file
from .scoring import macro, score

log = logging.getLogger(__name__)

TYPES = ("PER", "LOC", "ORG")


def bioes_labels(types: tuple[str, ...] | list[str] = TYPES) -> list[str]:
    """``O`` then ``B-/I-/E-/S-`` of each type, in the order of ``types``."""
    return ["O"] + [f"{p}-{t}" for t in types for p in "BIES"]


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings, as ``python -m ner.train`` takes them (:func:`parse_args`).

    Field names are the command's options; ``train_info.json`` records them under ``args``.
    """

    data: Path = DEFAULT_DATA
    w2v: str = "work/w2v"
    out: Path = Path("runs/cbl")
    corpora: tuple[str, ...] = tuple(CORPORA)
    weights: tuple[str, ...] = ()
    augment: int = 0
    compose: int = 0
    init: Path | None = None
    lexicons: tuple[str, ...] = ("per", "loc", "org", "jieba")
    mined_lexicon: Path | None = None
    companies: Path | None = None
    relexicon: bool = False
    shape: bool = False
    extra: tuple[str, ...] = ()
    assets: Path | None = None
    epochs: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    hidden: int = 256
    dropout: float = 0.3
    dev_size: int = 2000
    max_len: int = 128
    threads: int = 2
    seed: int = 1
    max_steps: int = 0
    unk_rate: float = 0.0


def settings_record(config) -> dict:
    """A config dataclass's fields as JSON values (paths as strings, tuples as lists), in field order:
    what a run's ``train_info.json`` keeps under ``args``."""
    record = {}
    for f in fields(config):
        value = getattr(config, f.name)
        record[f.name] = str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value
    return record


# ---------------------------------------------------------------- assets

def build_vocab(examples: list[Example], w2v_dir: Path | None) -> list[str]:
    """Special tokens, every folded character of the training text and of the pre-trained
    vectors, and ``##`` continuations for ASCII letters and digits (they form WordPiece words)."""
    chars: set[str] = set()
    for ex in examples:
        chars.update(fold_char(c) for c in ex.text if not c.isspace())
    if w2v_dir:
        with open(w2v_dir / "char.vocab", encoding="utf-8") as fh:
            chars.update(line.split("\t")[0] for line in fh if line.strip())
    kept = sorted(c for c in chars if len(c) == 1 and not c.isspace() and c not in SPECIAL_TOKENS)
    ascii_alnum = [c for c in "0123456789abcdefghijklmnopqrstuvwxyz"]
    return list(SPECIAL_TOKENS) + kept + [f"##{c}" for c in ascii_alnum]


def build_assets(out: Path, train: list[Example], cfg: TrainConfig) -> dict:
    """Write vocab.txt, bigrams.npy, lexicon.npz (and the initial vectors) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    w2v = Path(cfg.w2v) if cfg.w2v else None
    vocab = build_vocab(train, w2v)
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = TextTokenizer(out / "vocab.txt")
    info = {"vocab_size": len(vocab)}

    char_init = None
    bigram_keys = np.zeros(0, dtype=np.int64)
    bigram_init = None
    if w2v:
        keys = [ln.split("\t")[0] for ln in open(w2v / "char.vocab", encoding="utf-8") if ln.strip()]
        vecs = np.load(w2v / "char.npy")
        char_init = np.random.default_rng(cfg.seed).normal(0, vecs.std(), (len(vocab), vecs.shape[1])).astype(np.float32)
        char_init[0] = 0
        index = {k: i for i, k in enumerate(keys)}
        for i, t in enumerate(vocab):
            c = t[2:] if t.startswith("##") else t
            if c in index:
                char_init[i] = vecs[index[c]]
        bkeys = [ln.split("\t")[0] for ln in open(w2v / "bigram.vocab", encoding="utf-8") if ln.strip()]
        bvecs = np.load(w2v / "bigram.npy")
        pairs: dict[int, int] = {}
        for j, enc in enumerate(tok.encode_batch(bkeys)):
            if len(enc.ids) == 2 and tok.unk_id not in enc.ids:
                pairs.setdefault(int(enc.ids[0]) * len(vocab) + int(enc.ids[1]), j)
        bigram_keys = np.array(sorted(pairs), dtype=np.int64)
        bigram_init = np.zeros((len(bigram_keys) + 1, bvecs.shape[1]), dtype=np.float32)
        bigram_init[1:] = bvecs[[pairs[int(k)] for k in bigram_keys]]
        np.save(out / "char_init.npy", char_init)
        np.save(out / "bigram_init.npy", bigram_init)
    np.save(out / "bigrams.npy", bigram_keys)
    info["bigrams"] = len(bigram_keys)

    if cfg.lexicons:
        lex = build_lexicon_file(Path(cfg.data), cfg.lexicons, tok, out / "lexicon.npz", cfg.mined_lexicon)
        info["lexicon_entries"] = len(lex.keys)
    return info


# ---------------------------------------------------------------- tensors

def evaluate_items(net, crf_layer, items, labels, torch, batch_size=64) -> dict:
    """Entity-level P/R/F1 of the network on encoded items (token spans, exact span and type)."""
    net.eval()
    crf = CRF(crf_layer.transitions.detach().double().numpy(), crf_layer.start.detach().double().numpy(),
              crf_layer.end.detach().double().numpy())
    gold, pred = [], []
    with torch.no_grad():
        for idx in make_batches(items, batch_size, random.Random(0), False):
            inputs, _, _ = collate(items, idx, torch)
            paths = viterbi(net(*inputs).numpy(), inputs[3].numpy(), crf)
            for r, i in enumerate(idx):
                n = len(items[i][0])
                pred.append(tags_to_spans([labels[k] for k in paths[r, :n]], "BIOES"))
                gold.append(tags_to_spans([labels[k] for k in items[i][3]], "BIOES"))
    net.train()
    return score(gold, pred)


def train_epoch(net, crf, opt, sched, params, items, *, batch_size: int, rng: random.Random, device, torch,
                max_steps: int = 0, step: int = 0, augment=None, on_batch=None) -> tuple[float, int]:
    """One pass over ``items`` in shuffled length-bucketed batches; returns ``(mean loss, step)``.

    ``step`` counts batches across epochs (``max_steps`` stops there); ``augment(inputs, mask)``
    may rewrite each batch's inputs (``[UNK]`` masking); ``on_batch(i, mean loss, tokens so far)``
    is called after each batch (logging, a progress bar).
    """
    running, tokens, done = 0.0, 0, 0
    for bi, idx in enumerate(make_batches(items, batch_size, rng, True)):
        inputs, tags, mask = collate(items, idx, torch)
        if augment is not None:
            inputs = augment(inputs, mask)
        inputs = [x.to(device) for x in inputs]
        loss = crf.nll(net(*inputs), tags.to(device), mask.to(device))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        running += loss.item()
        tokens += int(mask.sum())
        step += 1
        done += 1
        if on_batch is not None:
            on_batch(bi, running / done, tokens)
        if max_steps and step >= max_steps:
            break
    return running / max(1, done), step


def save_checkpoint(path: Path, net, crf, torch, opt=None, sched=None, **state) -> None:
    """The weights (and the optimizer's state when given) plus ``state`` (epoch, best, history...)."""
    ck = {"net": net.state_dict(), "crf": crf.state_dict()}
    if opt is not None:
        ck.update({"opt": opt.state_dict(), "sched": sched.state_dict()})
    torch.save({**ck, **state}, path)


def load_checkpoint(path: Path, net, crf, torch, opt=None, sched=None, device="cpu") -> dict:
    """Restore what :func:`save_checkpoint` wrote; returns the whole checkpoint."""
    ck = torch.load(path, map_location=device, weights_only=False)  # our own checkpoint
    net.load_state_dict(ck["net"])
    crf.load_state_dict(ck["crf"])
    if opt is not None:
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
    return ck


def dev_report(net, crf_layer, dev_sets: dict, labels, torch) -> dict:
    """Each corpus's dev P/R/F1 and their macro-average (``f1`` is the macro F1 used for selection)."""
    per = {name: evaluate_items(net, crf_layer, items, labels, torch) for name, items in dev_sets.items() if items}
    out: dict = macro(per)
    out["sets"] = {name: r["f1"] for name, r in per.items()}
    return out


def parse_weights(pairs: Sequence[str], corpora: Sequence[str]) -> dict[str, float]:
    """``["boson=2", "aishell=0.5"]`` -> ``{"boson": 2.0, "aishell": 0.5}``; unknown names are an error."""
    weights = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in corpora and name not in ("extra", "augment", "compose"):
            raise SystemExit(f"error: --weights {pair!r}: expected CORPUS=W with CORPUS one of "
                             f"{list(corpora) + ['extra', 'augment', 'compose']}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise SystemExit(f"error: --weights {pair!r}: {value!r} is not a number") from None
        if weights[name] < 0:
            raise SystemExit(f"error: --weights {pair!r}: a weight cannot be negative")
    return weights


# ---------------------------------------------------------------- main

def parse_args(argv=None) -> TrainConfig:
    """The command line as a :class:`TrainConfig`."""
    ap = argparse.ArgumentParser(prog="python -m ner.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap, os.environ)
    ap.add_argument("--w2v", default="work/w2v", help="pre-trained vectors from `python -m ner.training.pretrain` ('' for none)")
    ap.add_argument("--out", type=Path, default=Path("runs/cbl"))
    ap.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA),
                    help="annotated corpora to train on (boson is research-use only: leave it out for other uses)")
    ap.add_argument("--weights", nargs="*", default=[], metavar="CORPUS=W",
                    help="per-corpus sampling weight per epoch (2 = twice per epoch, 0.5 = a random half)")
    ap.add_argument("--augment", type=int, default=0, metavar="N",
                    help="add N mention-replacement sentences (gold sentences with their entities swapped)")
    ap.add_argument("--compose", type=int, default=0, metavar="N",
                    help="add N composition sentences (place + organisation + 总部, organisation + title + person, "
                         "Latin-script names, @accounts: ner.training.compose)")
    ap.add_argument("--companies", type=Path,
                    help="today's company names (`python -m ner.training.brands`) for --compose's company pattern")
    ap.add_argument("--init", type=Path, help="warm start from an exported model directory (e.g. models/zh-ner-lite)")
    ap.add_argument("--lexicons", nargs="*", default=["per", "loc", "org", "jieba"], choices=LEXICON_SOURCES,
                    help="lexicon feature sources; corp (company short names, noisy) is a feature type of its own")
    ap.add_argument("--mined-lexicon", type=Path,
                    help="names mined from raw text (`python -m ner.training.silver`), added to the lexicon features")
    ap.add_argument("--relexicon", action="store_true",
                    help="with --init: rebuild the lexicon from --lexicons/--mined-lexicon instead of the model's")
    ap.add_argument("--extra", nargs="*", default=[], help="more training data: jsonl from `python -m ner.training.selftrain`")
    ap.add_argument("--shape", action="store_true",
                    help="read the shape features (Latin case, digits, spaces; ner.features.SHAPE_FEATURES) "
                         "after the lexicon's; with --init, their weights start at zero")
    ap.add_argument("--assets", type=Path, help="reuse the vocabulary, bigrams and lexicon of an earlier run's assets/")
    add_fields(ap, TrainConfig, ("epochs", "batch_size", "lr", "hidden", "dropout", "dev_size", "max_len", "threads",
                                 "seed", "max_steps", "unk_rate"),
               {"max_steps": "stop after this many steps (smoke tests)",
                "unk_rate": "share of training tokens replaced by [UNK], so unknown characters do not disturb "
                            "neighbours"})
    args = ap.parse_args(argv)
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(args).items()}
    return TrainConfig(**values)


def train_model(cfg: TrainConfig) -> Path:
    """Train (or resume) the run in ``cfg.out``; returns that directory (``best.pt``, ``train_info.json``)."""
    torch = require("torch", "Training")
    from .net import CRFLayer, TaggerNet

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    t0 = time.time()

    weights = parse_weights(cfg.weights, cfg.corpora)
    by_corpus, devs = {}, {}
    for name in cfg.corpora:
        by_corpus[name], devs[name] = train_dev(name, cfg.data)
    for path in cfg.extra:  # e.g. self-training data from `python -m ner.training.selftrain`
        from .selftrain import read_extra
        by_corpus[f"extra:{Path(path).name}"] = read_extra(path)
    if cfg.augment:
        from .augment import augment as mention_replacement
        gold = [ex for exs in by_corpus.values() for ex in exs]
        by_corpus["augment"] = mention_replacement(gold, cfg.augment, cfg.seed, cfg.data)
    if cfg.compose:
        from .compose import compose
        gold = [ex for name, exs in by_corpus.items() if name in CORPORA for ex in exs]
        from .brands import read_companies
        by_corpus["compose"] = compose(gold, cfg.compose, cfg.seed, cfg.mined_lexicon, read_companies(cfg.companies))
    train = [ex for exs in by_corpus.values() for ex in exs]
    dev = [ex for exs in devs.values() for ex in exs]

    assets = cfg.out / "assets"
    info_path = cfg.out / "train_info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
    else:
        if cfg.init:  # the inputs of an exported model: its vocabulary, bigram keys and lexicon
            from .warmstart import copy_assets
            info = copy_assets(cfg.init, assets)
            if cfg.relexicon:  # same vocabulary, a new lexicon (more sources, a new feature type)
                lex = build_lexicon_file(Path(cfg.data), cfg.lexicons, TextTokenizer(assets / "vocab.txt"),
                                         assets / "lexicon.npz", cfg.mined_lexicon)
                info["lexicon_entries"] = len(lex.keys)
        elif cfg.assets:  # same inputs as an earlier model: its vectors, vocabulary and lexicon
            import shutil
            shutil.copytree(cfg.assets, assets, dirs_exist_ok=True)
            info = {k: v for k, v in json.loads((cfg.assets.parent / "train_info.json").read_text()).items()
                    if k in ("vocab_size", "bigrams", "lexicon_entries")}
        else:
            info = build_assets(assets, train, cfg)
        if cfg.mined_lexicon:  # kept beside the run's other inputs; the export ships it with the model
            import shutil
            shutil.copy(cfg.mined_lexicon, assets / "mined_names.tsv")
        info.update({"args": settings_record(cfg),
                     "train_sentences": len(train), "dev_sentences": len(dev),
                     "train_chars": sum(len(e.text) for e in train)})
        info_path.write_text(json.dumps(info, indent=1))
    labels = bioes_labels()
    label_index = {t: i for i, t in enumerate(labels)}
    tok = TextTokenizer(assets / "vocab.txt")
    lexicon = Lexicon.load(assets / "lexicon.npz") if (assets / "lexicon.npz").exists() else None
    bigrams = BigramTable(np.load(assets / "bigrams.npy"), len(tok))
    feats = Featurizer(bigrams if len(bigrams) > 1 else None, lexicon, shape=cfg.shape)
    if cfg.shape:  # the export writes them into config.json, so the recognizer computes them too
        info["shape_features"] = list(SHAPE_FEATURES)
        info_path.write_text(json.dumps(info, indent=1))
    items_by_corpus = {name: encode_examples(exs, tok, feats, label_index, cfg.max_len)
                       for name, exs in by_corpus.items()}
    dev_sets = {name: encode_examples(exs, tok, feats, label_index, cfg.max_len) for name, exs in devs.items()}
    train_items = [it for name, its in items_by_corpus.items() for it in its]
    dev_items = [it for its in dev_sets.values() for it in its]
    log.info("assets ready in %.0fs: %s; %d train / %d dev chunks", time.time() - t0,
             {k: v for k, v in info.items() if k != "args"}, len(train_items), len(dev_items))

    bigram_init = np.load(assets / "bigram_init.npy") if (assets / "bigram_init.npy").exists() else None
    if cfg.init and bigram_init is None and len(bigrams) > 1:
        bigram_init = np.zeros((len(bigrams), 50), np.float32)  # shape only; the weights come from --init
    net = TaggerNet(len(tok), len(labels), n_bigrams=len(bigrams) if bigram_init is not None else 0,
                    bigram_dim=bigram_init.shape[1] if bigram_init is not None else 50,
                    lexicon_dim=feats.lexicon_width, hidden=cfg.hidden, dropout=cfg.dropout,
                    shape_dim=len(SHAPE_FEATURES) if cfg.shape else 0)
    if (assets / "char_init.npy").exists():
        net.char.weight.data.copy_(torch.from_numpy(np.load(assets / "char_init.npy")))
    if bigram_init is not None and net.bigram is not None:
        net.bigram.weight.data.copy_(torch.from_numpy(bigram_init))
        net.bigram.weight.requires_grad_(False)  # frozen: unseen bigrams keep their raw-text meaning
    crf = CRFLayer(len(labels))
    if cfg.init:
        from .warmstart import load_into
        log.info("warm start from %s: %s", cfg.init, load_into(net, crf, cfg.init))
    net.to(device)
    crf.to(device)
    params = [p for p in list(net.parameters()) + list(crf.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    epoch_size = sum(round(weights.get(name.split(":")[0], 1.0) * len(its)) for name, its in items_by_corpus.items())
    steps_per_epoch = (epoch_size + cfg.batch_size - 1) // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1 - s / max(1, total)))

    start_epoch, best, history = 0, -1.0, []
    last = cfg.out / "last.pt"
    if last.exists():
        ck = load_checkpoint(last, net, crf, torch, opt, sched, device)
        start_epoch, best, history = ck["epoch"], ck["best"], ck["history"]
        log.info("resumed after epoch %d (best dev F1 %.4f)", start_epoch, best)
    elif cfg.init:
        log.info("dev before training: %s", dev_report(net, crf, dev_sets, labels, torch))

    step = 0
    for epoch in range(start_epoch, cfg.epochs):
        t_epoch = time.time()
        erng = random.Random(cfg.seed * 1000 + epoch)
        torch.manual_seed(cfg.seed * 1000 + epoch)
        unk_rng = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        epoch_items = sample_epoch(items_by_corpus, weights, erng)

        def augment(inputs, mask, unk_rng=unk_rng):
            return mask_unknown(inputs, mask, cfg.unk_rate, tok.unk_id, unk_rng)

        def log_batch(bi, loss, tokens, epoch=epoch, t_epoch=t_epoch):
            if bi % 200 == 0:
                log.info("epoch %d step %d/%d loss %.3f  %.0f tok/s", epoch + 1, bi, steps_per_epoch,
                         loss, tokens / (time.time() - t_epoch))

        _, step = train_epoch(net, crf, opt, sched, params, epoch_items, batch_size=cfg.batch_size, rng=erng,
                              device=device, torch=torch, max_steps=cfg.max_steps, step=step,
                              augment=augment if cfg.unk_rate else None, on_batch=log_batch)
        score = dev_report(net.cpu(), crf.cpu(), dev_sets, labels, torch)
        net.to(device)
        crf.to(device)
        history.append({"epoch": epoch + 1, "dev": score, "seconds": round(time.time() - t_epoch, 1)})
        log.info("epoch %d done in %.0fs: dev %s", epoch + 1, time.time() - t_epoch, score)
        if score["f1"] > best:
            best = score["f1"]
            save_checkpoint(cfg.out / "best.pt", net, crf, torch, epoch=epoch + 1, dev=score)
        save_checkpoint(last, net, crf, torch, opt, sched, epoch=epoch + 1, best=best, history=history)
        if cfg.max_steps and step >= cfg.max_steps:
            break
    info = json.loads(info_path.read_text())
    info.update({"history": history, "best_dev_f1": best, "labels": labels, "scheme": "BIOES",
                 "max_length": cfg.max_len, "hidden": cfg.hidden,
                 "hardware": f"{device}, {torch.get_num_threads()} threads, {os.cpu_count()} cores",
                 "train_seconds": sum(h["seconds"] for h in history)})
    info_path.write_text(json.dumps(info, indent=1))
    log.info("done: best dev F1 %.4f", best)
    return cfg.out


def main(argv=None) -> None:
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train_model(cfg)


if __name__ == "__main__":
    main()
