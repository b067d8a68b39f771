"""Brand and organisation names of today's text, in Latin script and beside it, for the lexicon and composition.

    npm pack simple-icons && tar xzf simple-icons-*.tgz     # the brand list: data CC0-1.0
    python -m ner.training.latin --icons package/data/simple-icons.json --data ../shared/data \\
        --out ner/training/lists/brands.tsv

``simple-icons`` (an npm package; its data is CC0-1.0) names 3,470 brands: companies, platforms, products
and software alike (GitHub, DeepSeek, Bilibili, Python, iPhone...).  A name is kept when the modern raw
text (:data:`ner.training.pretrain.MODERN`) writes it at least ``--min-count`` times as a whole word,
near a company cue word (:data:`ner.training.brands.COMPANY_CUES`) at least ``--min-cue-share`` of the
time, not more often near a product cue (:data:`PRODUCT_CUES`) than near a company cue, and it is not
in the hand-written product list (``lists/products.txt``).  Each kept name is written
``name<TAB>count<TAB>source``; the seed list of :mod:`ner.training.compose` joins it as ``hand``.
The file feeds the CORP lexicon type (``--lexicons ... brand``) and composition.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from collections import Counter
from pathlib import Path

from .._optional import require
from .brands import COMPANY_CUES, CUE_WINDOW
from .corpora import default_data
from .lexicon import BRANDS, PRODUCTS, read_names
from .pretrain import MODERN, source_lines

log = logging.getLogger(__name__)

#: Words written near a product's name: versions, models, using and installing it.
#: Names the counts keep that are common words, products, software or currencies here (reviewed by hand).
NOT_BRANDS = frozenset("""Magic Turbo smart Tower Bob BAT i3 SST MEGA Express Shadow NOW Circle Orange Wish Planet Rich NBB
    Make XRP Polygon Origin Spectrum Solana Ripple Cardano Terraform Snowflake Arc Aqua Dash Boost Wire Discover ROS Qt
    FFmpeg WordPress PSP Threads Messenger Craftsman arXiv ROG Lucid Shell Decentraland Mastodon ANA""".split())
PRODUCT_CUES = ("版本", "新版", "更新", "下载", "安装", "升级", "型号", "系列", "新款", "机型", "手机", "电脑",
                "大模型", "功能", "系统", "游戏", "插件", "软件", "订阅", "会员", "玩家", "代码", "编程")


def icon_names(path: Path) -> set[str]:
    """Every title, ``aka`` alias and Chinese localised name of the simple-icons data file."""
    names: set[str] = set()
    for icon in json.loads(Path(path).read_text(encoding="utf-8")):
        names.add(icon["title"])
        aliases = icon.get("aliases") or {}
        names.update(aliases.get("aka") or [])
        names.update(v for k, v in (aliases.get("loc") or {}).items() if k.startswith("zh"))
    return {n.strip() for n in names if len(n.strip()) >= 2 and " " not in n.strip()}


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def count_in_raw(names: set[str], data_dir: Path, sources: list[str]) -> tuple[Counter, Counter, Counter]:
    """How often the raw text writes each name as a whole word, and near company / product cues."""
    ahocorasick = require("ahocorasick", "Counting brand names")
    automaton = ahocorasick.Automaton()
    for name in names:
        automaton.add_word(name, name)
    automaton.make_automaton()
    counts: Counter = Counter()
    company: Counter = Counter()
    product: Counter = Counter()
    for source in sources:
        for line in source_lines(data_dir, source):
            for end, name in automaton.iter_long(line):
                start = end - len(name) + 1
                if name.isascii() and ((start and _is_ascii_alnum(line[start - 1]))
                                       or (end + 1 < len(line) and _is_ascii_alnum(line[end + 1]))):
                    continue  # part of a longer Latin word (Meta in Metaverse)
                counts[name] += 1
                near = line[max(0, start - CUE_WINDOW) : end + 1 + CUE_WINDOW]
                company[name] += any(cue in near for cue in COMPANY_CUES)
                product[name] += any(cue in near for cue in PRODUCT_CUES)
    return counts, company, product


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--icons", type=Path, required=True, help="simple-icons' data/simple-icons.json")
    ap.add_argument("--data", type=Path, default=default_data(os.environ.get("NER_DATA")))
    ap.add_argument("--out", type=Path, default=BRANDS)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--min-cue-share", type=float, default=0.1)
    ap.add_argument("--exclude", nargs="*", default=[], choices=MODERN, help="modern raw sources to leave out")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from .compose import LATIN_ORG

    products = set(read_names(PRODUCTS))
    candidates = {n for n in icon_names(args.icons) if n not in products and n not in NOT_BRANDS}
    counts, company, product = count_in_raw(candidates, args.data, [s for s in MODERN if s not in args.exclude])
    kept = {n: c for n, c in counts.items()
            if c >= args.min_count and company[n] >= args.min_cue_share * c and product[n] <= company[n]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(f"# brand and organisation names: simple-icons titles (data CC0-1.0) written at least {args.min_count} "
                 f"times in modern raw text, near a company cue at least {args.min_cue_share:.0%} of the time and not more "
                 f"often near a product cue; 'hand' = ner.training.compose.LATIN_ORG\n")
        for name, n in sorted(kept.items(), key=lambda kv: -kv[1]):
            fh.write(f"{name}\t{n}\tsimple-icons\n")
        for name in LATIN_ORG:
            if name not in kept and name not in products:
                fh.write(f"{name}\t{counts.get(name, 0)}\thand\n")
    log.info("%d of %d simple-icons names kept (%d written at all) -> %s", len(kept), len(candidates), len(counts),
             args.out)


if __name__ == "__main__":
    main()
