"""Today's company and brand names for augmentation: short names from the company lexicon that modern text uses often.

    python -m ner.training.brands --data ../shared/data --out work/companies.tsv [--min-count 20]

``lexicon/org_company_short_wainshine.txt`` (267k short names, Apache-2.0) holds 字节跳动, 拼多多
and 小红书 but also common words and people; an entry is kept when the modern raw text
(:data:`ner.training.pretrain.MODERN`) writes it at least ``--min-count`` times, jieba does not know it as a
frequent word (英雄, 明星: jieba's own tags are unreliable, its frequencies are not) and the person and place
lexicons do not hold it (特朗普, 马斯克).  Writes
``name<TAB>count<TAB>source`` lines, which ``python -m ner.train --companies`` feeds to the composition
augmentation (:mod:`ner.training.compose`): gold sentences with an ORG swapped for one of these names.
"""
from __future__ import annotations

import argparse
import logging
import os
from collections import Counter
from pathlib import Path

from .._optional import require
from .corpora import add_data_argument
from .lexicon import LEXICON_FILES
from .pretrain import MODERN, source_lines

log = logging.getLogger(__name__)


def common_words(max_freq: int = 300) -> set[str]:
    """Words jieba counts more than ``max_freq`` times (a company name that frequent is a common word too)."""
    jieba = require("jieba", "The jieba dictionary")
    out = set()
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) > max_freq:
                out.add(parts[0])
    return out


def names_of_other_types(data_dir: Path) -> set[str]:
    """Entries of the person and place lexicons."""
    out: set[str] = set()
    for key in ("per", "loc"):
        with open(Path(data_dir) / "lexicon" / LEXICON_FILES[key][0], encoding="utf-8") as fh:
            out.update(line.strip() for line in fh)
    return out


#: Words written near a company's name (a name mostly seen near none of them is rarely a company: 进一步, 官宣).
COMPANY_CUES = ("公司", "集团", "旗下", "创始人", "CEO", "董事长", "总裁", "股价", "上市", "市值", "财报", "门店",
                "品牌", "平台", "App", "APP", "用户", "员工", "投资", "收购", "融资", "官方", "发布", "推出", "营收")
CUE_WINDOW = 8


def frequent_companies(data_dir: Path, sources: list[str], min_count: int = 20, min_cue_share: float = 0.15,
                       max_neighbour_share: float = 0.4, lengths: tuple[int, int] = (2, 6)) -> Counter:
    """How often modern raw text writes each company short name of ``lengths`` characters that is not a common
    word, for names written near a company cue (:data:`COMPANY_CUES`) at least ``min_cue_share`` of the time
    and not a fragment of a longer word (no character before or after it in more than ``max_neighbour_share``
    of its occurrences)."""
    ahocorasick = require("ahocorasick", "Counting lexicon entries")
    skip = common_words() | names_of_other_types(data_dir)
    fname = LEXICON_FILES["corp"][0]
    automaton = ahocorasick.Automaton()
    with open(Path(data_dir) / "lexicon" / fname, encoding="utf-8") as fh:
        for line in fh:
            name = line.strip()
            if lengths[0] <= len(name) <= lengths[1] and name not in skip and not any(c.isdigit() for c in name):
                automaton.add_word(name, name)
    automaton.make_automaton()
    counts: Counter = Counter()
    cued: Counter = Counter()
    left: dict[str, Counter] = {}
    right: dict[str, Counter] = {}
    for source in sources:
        for line in source_lines(data_dir, source):
            for end, name in automaton.iter_long(line):
                start = end - len(name) + 1
                counts[name] += 1
                left.setdefault(name, Counter())[line[start - 1] if start else "^"] += 1
                right.setdefault(name, Counter())[line[end + 1] if end + 1 < len(line) else "$"] += 1
                near = line[max(0, start - CUE_WINDOW) : end + 1 + CUE_WINDOW]
                if any(cue in near for cue in COMPANY_CUES):
                    cued[name] += 1

    def fragment(name: str) -> bool:  # 亿美(元), (官)方通(报), 旗舰(店): one neighbour most of the time
        n = counts[name]
        return max(left[name].values()) > max_neighbour_share * n or max(right[name].values()) > max_neighbour_share * n

    return Counter({name: n for name, n in counts.items()
                    if n >= min_count and cued[name] >= min_cue_share * n and not fragment(name)})


def read_companies(path: Path | None) -> list[str]:
    """The names of a file written by this command (empty without one)."""
    if path is None:
        return []
    with open(path, encoding="utf-8") as fh:
        return [line.split("\t")[0] for line in fh if line.strip() and not line.startswith("#")]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap, os.environ)
    ap.add_argument("--out", type=Path, default=Path("work/companies.tsv"))
    ap.add_argument("--min-count", type=int, default=20)
    ap.add_argument("--min-cue-share", type=float, default=0.15,
                    help="share of a name's occurrences that must have a company cue word within 8 characters")
    ap.add_argument("--exclude", nargs="*", default=[], choices=MODERN, help="modern raw sources to leave out")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sources = [s for s in MODERN if s not in args.exclude]
    counts = frequent_companies(args.data, sources, args.min_count, args.min_cue_share)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"# company short names (lexicon/{LEXICON_FILES['corp'][0]}) written at least {args.min_count} times "
                 f"in modern raw text ({', '.join(sources)}), near a company cue word at least {args.min_cue_share:.0%} of the "
                 f"time; frequent jieba words and person/place lexicon entries left out\n")
        for name, n in counts.most_common():
            fh.write(f"{name}\t{n}\tcorp-lexicon+raw-frequency\n")
    log.info("%d company names written to %s", len(counts), args.out)


if __name__ == "__main__":
    main()
