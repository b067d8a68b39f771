"""User-dictionary figures: load time of 100,000 entries and the time matching adds to recognition.

    python -m ner.bench.dictionary [--entries 100000] [--repeats 200] [--model DIR]
    python -m ner.bench.dictionary --lexicon-experiment [--data ../shared/data]

The first prints the seconds to read and build a dictionary of ``--entries`` entries
(random 2-6 character CJK words, plus 1,000 words of the benchmark text so that matches
happen) and the median latency of recognizing 500 characters with and without it.

``--lexicon-experiment`` measures whether feeding dictionary entries into the model's
lexicon features (instead of, or besides, forcing them) helps in contexts the entries
were not seen in: the dictionary holds the gold mentions of Weibo train, and Weibo dev
is scored with the model alone, with the entries as lexicon features only, forced, and both.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from ..commands import add_model


#: real word lists when the corpora folder is there: company short names and person names
LEXICON_SOURCES = (("lexicon/org_company_short_wainshine.txt", "ORG"), ("lexicon/per.txt", "PER"))
COMMON = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 3500))


def synthetic_entries(n: int, text: str, data: Path | None, seed: int = 0) -> tuple[list[str], str]:
    """``n`` dictionary lines and where they come from: 1,000 words of ``text`` (so matches happen),
    then real names from the word lists under ``data`` or, without them, random 2-6 character words
    over 3,500 CJK characters."""
    rng = random.Random(seed)
    types = ("PER", "LOC", "ORG")
    lines = {}
    for _ in range(1000):
        a = rng.randrange(len(text) - 6)
        word = text[a : a + rng.randint(2, 5)].strip()
        if len(word) >= 2 and not any(c in "，。、；：！？\n" for c in word):
            lines[word] = f"{word}\t{rng.choice(types)}"
    per_source = (n - len(lines)) // len(LEXICON_SOURCES) + 1
    if data and all((data / f).is_file() for f, _ in LEXICON_SOURCES):
        for f, typ in LEXICON_SOURCES:
            with open(data / f, encoding="utf-8") as fh:
                words = [w for w in (ln.split()[0] for ln in fh if ln.strip()) if w not in lines][:per_source]
            lines.update((w, f"{w}\t{typ}") for w in words)
        source = " + ".join(f for f, _ in LEXICON_SOURCES)
    else:
        source = "random words over 3,500 CJK characters"
    while len(lines) < n:
        word = "".join(rng.choice(COMMON) for _ in range(rng.randint(2, 6)))
        lines.setdefault(word, f"{word}\t{rng.choice(types)}")
    return list(lines.values())[:n], source


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def speed(model: str | None, n: int, repeats: int, data: Path | None) -> None:
    import ner
    from ner.samples import text_of_length

    text = text_of_length(500)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dict.txt"
        entries, source = synthetic_entries(n, text, data)
        path.write_text("\n".join(entries) + "\n", encoding="utf-8")
        loads, cpu = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            d = ner.Dictionary.load(path)
            loads.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    rec = ner.load(model)
    with_dict = rec.with_dictionary(d)
    for _ in range(10):
        rec.recognize(text)
        with_dict.recognize(text)
    base, dicted = [], []
    for _ in range(5):  # interleaved rounds: a busy moment of the machine hits both alike
        base.append(median_ms(lambda: rec.recognize(text), repeats // 5))
        dicted.append(median_ms(lambda: with_dict.recognize(text), repeats // 5))
    model_ents = rec.recognize(text)
    apply_ms = median_ms(lambda: d.apply(text, model_ents), repeats)
    b, w = statistics.median(base), statistics.median(dicted)
    print(f"dictionary: {len(d):,} entries ({source}); load + build (median of 3): {statistics.median(loads):.3f} s "
          f"wall, {statistics.median(cpu):.3f} s CPU")
    print(f"matches in the 500-character text: {len(d.matches(text))}")
    print(f"recognize 500 characters: {b:.2f} ms without, {w:.2f} ms with the dictionary ({100 * (w / b - 1):+.1f}%); "
          f"Dictionary.apply alone {apply_ms:.3f} ms ({100 * apply_ms / b:.1f}% of recognition)")


def lexicon_experiment(model: str | None, data: Path) -> None:
    """Weibo dev F1: model alone, entries as lexicon features, forced, and both (see the module doc)."""
    import copy

    import numpy as np

    import ner
    from ner.features import TYPE_BITS, Featurizer, Lexicon, build_lexicon
    from ner.training.corpora import read_bio_tsv
    from ner.training.evaluate import evaluate_examples

    rec = ner.load(model)
    if rec.featurize.lexicon is None:
        print(f"{rec.name} has no lexicon inputs: nothing to measure")
        return
    train = read_bio_tsv(data / "weibo" / "train.tsv", weibo=True)
    dev = read_bio_tsv(data / "weibo" / "dev.tsv", weibo=True)
    entries = {ex.text[s:e]: t for ex in train for s, e, t in ex.spans if e - s >= 2}
    d = ner.Dictionary.parse("\n".join(f"{w}\t{t}" for w, t in entries.items()), "weibo-train-mentions")
    unseen_ctx = sum(1 for ex in dev for s, e, _ in ex.spans if ex.text[s:e] in entries)

    old = rec.featurize.lexicon
    tok = rec.tokenizer
    extra = build_lexicon({w: TYPE_BITS[t] for w, t in entries.items()}, tok.vocab, list(old.types),
                          lambda w: [int(i) for i in tok.encode(w).ids])
    merged: dict[int, int] = {}
    for lex in (old, extra):
        for k, b in zip(lex.keys.tolist(), lex.bits.tolist()):
            merged[k] = merged.get(k, 0) | b
    keys = np.fromiter(merged, dtype=np.uint64, count=len(merged))
    bits = np.fromiter(merged.values(), dtype=np.uint8, count=len(merged))
    # the lengths only bound the window sizes searched: their union
    lex = Lexicon(keys, bits, np.asarray(sorted(set(old.lengths) | set(extra.lengths)), np.int16), old.types)
    with_lex = copy.copy(rec)
    with_lex.featurize = Featurizer(rec.featurize.bigrams, lex)
    rows = {"model alone": evaluate_examples(dev, rec),
            "entries as lexicon features": evaluate_examples(dev, with_lex),
            "entries forced": evaluate_examples(dev, rec.with_dictionary(d)),
            "lexicon features + forced": evaluate_examples(dev, with_lex.with_dictionary(d))}
    print(f"Weibo dev ({len(dev)} sentences; {unseen_ctx} gold mentions are Weibo-train entries seen in new "
          f"contexts); dictionary: {len(d):,} Weibo-train mentions")
    for name, r in rows.items():
        print(f"{name:<30} P {100 * r['precision']:.2f}  R {100 * r['recall']:.2f}  F1 {100 * r['f1']:.2f}")


def main(argv=None) -> None:
    from ner.training.corpora import add_data_argument

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model(ap, os.environ)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--lexicon-experiment", action="store_true")
    add_data_argument(ap, os.environ)
    args = ap.parse_args(argv)
    if args.lexicon_experiment:
        lexicon_experiment(args.model, args.data)
    else:
        speed(args.model, args.entries, args.repeats, args.data)


if __name__ == "__main__":
    main()
