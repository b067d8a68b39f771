"""Composition augmentation: the patterns today's text writes and the corpora rarely show.

New sentences are built from gold ones by rewriting one mention, so the context stays real:

- ``place_org``: an ORG becomes ``地名 + 机构名 + 总部/门店/工厂/...`` (杭州 + 阿里巴巴 + 总部) or
  ``机构名 + 地名 + 工厂/门店`` (特斯拉 + 上海 + 超级工厂): the place and the organisation come apart
  and the generic head stays outside both;
- ``org_title_person``: a PER becomes ``机构名 + 职务 + 人名`` (英伟达 + CEO + 黄仁勋, 微软 + CEO + Satya
  Nadella): the title stays outside the PER, the organisation is its own ORG;
- ``latin``: mentions swapped for names in Latin script (people ``Tim Cook``, brands ``OpenAI``);
- ``company`` (with a list from :mod:`ner.training.brands`): a gold ORG swapped for a company of today
  (字节跳动, 拼多多, 蜜雪冰城);
- ``account``: ``@`` before a person (``@易烊千玺``: the ``@`` stays outside) and government or media
  accounts written ``@成都发布`` (an ORG, not a place).

Pools come from the gold mentions, the mined names of :mod:`ner.training.silver` (today's
companies and people) and the small Latin-script lists below.
"""
from __future__ import annotations

import random
from pathlib import Path

from .augment import mention_pools
from .corpora import Example
from .lexicon import mined_names

#: Generic heads written after an organisation (and a place): never part of an entity.
PLACE_HEADS = ("总部", "门店", "工厂", "酒店", "办公室", "研发中心", "旗舰店", "园区", "总部大楼", "体验店", "仓库", "分部")
ORG_PLACE_HEADS = ("超级工厂", "工厂", "门店", "旗舰店", "研发中心", "办公室", "体验店", "基地", "数据中心")
TITLES = ("CEO", "创始人", "董事长", "总裁", "总经理", "CTO", "副总裁", "首席执行官", "发言人", "联合创始人",
          "创始人兼CEO", "董事长兼总裁", "首席科学家", "CFO", "掌门人", "高管", "总监")
#: Accounts of cities' government, police and media, written after a place on Weibo.
ACCOUNT_HEADS = ("发布", "公安", "日报", "交警", "消防", "文旅", "晚报", "卫健委", "气象")
#: People and brands written in Latin script in Chinese text (a seed list; the corpora have almost none).
LATIN_PER = ("Tim Cook", "Elon Musk", "Satya Nadella", "Sam Altman", "Jensen Huang", "Mark Zuckerberg",
             "Sundar Pichai", "Jeff Bezos", "Bill Gates", "Warren Buffett", "Taylor Swift", "Lisa Su",
             "Andy Jassy", "Greg Brockman", "Demis Hassabis", "Yann LeCun", "Geoffrey Hinton", "Andrew Ng",
             "Dario Amodei", "Pat Gelsinger", "Marc Benioff", "Reed Hastings", "Brian Chesky", "Larry Page",
             "Sergey Brin", "Steve Jobs", "Arvind Krishna", "Shou Zi Chew", "Lei Jun", "Jack Ma", "Pony Ma",
             "Robin Li", "Cristiano Ronaldo", "Lionel Messi", "LeBron James", "Emma Watson", "Joe Biden",
             "Donald Trump", "Kamala Harris", "Emmanuel Macron", "Olaf Scholz", "Justin Trudeau")
LATIN_ORG = ("OpenAI", "Temu", "TikTok", "SHEIN", "Apple", "Google", "Microsoft", "Nvidia", "NVIDIA", "Tesla",
             "Amazon", "Meta", "Netflix", "Intel", "AMD", "Qualcomm", "Samsung", "Sony", "IBM", "Oracle", "Uber",
             "Airbnb", "SpaceX", "Anthropic", "DeepMind", "ByteDance", "Alibaba", "Tencent", "Huawei", "Xiaomi",
             "Lenovo", "BYD", "NIO", "Zara", "Nike", "Adidas", "IKEA", "Costco", "Walmart", "Starbucks", "Disney",
             "Pfizer", "Moderna", "Boeing", "Airbus", "Toyota", "Honda", "BMW", "Volkswagen", "Ferrari", "Uniqlo",
             "Nintendo", "Spotify", "Zoom", "Salesforce", "Adobe", "Cisco", "Dell", "HP", "ASML", "TSMC", "Arm",
             "Canon", "Panasonic", "LVMH", "Gucci", "Prada", "Hermès", "Lululemon", "Coca-Cola", "PepsiCo")


def _pools(examples: list[Example], mined: dict[str, list[str]]) -> dict[str, list[str]]:
    """Mentions by type: gold mentions of 2-8 characters, then the mined names (counted twice: today's names)."""
    gold = mention_pools(examples)
    out = {label: [m for m in gold.get(label, []) if 2 <= len(m) <= 8] for label in ("PER", "LOC", "ORG")}
    for label, names in mined.items():
        out.setdefault(label, []).extend(names * 2)
    return out


def mined_by_type(path: Path | None) -> dict[str, list[str]]:
    """A mined-names file (see :mod:`ner.training.silver`) as names by type; none when there is no file."""
    out: dict[str, list[str]] = {}
    if path is None or not Path(path).is_file():
        return out
    for name, label in mined_names(path):
        out.setdefault(label, []).append(name)
    return out


def rewrite(ex: Example, target: tuple[int, int, str], pieces: list[tuple[str, str | None]]) -> Example:
    """``ex`` with the mention ``target`` replaced by ``pieces`` (text, label or None), offsets rebuilt."""
    s0, e0, _ = target
    shift = sum(len(t) for t, _ in pieces) - (e0 - s0)
    spans = [(s if s < s0 else s + shift, e if e <= s0 else e + shift, lab) for s, e, lab in ex.spans if (s, e, lab) != target]
    at = s0
    for text, label in pieces:
        if label:
            spans.append((at, at + len(text), label))
        at += len(text)
    return Example(ex.text[:s0] + "".join(t for t, _ in pieces) + ex.text[e0:], sorted(spans))


def _short_places(pools: dict[str, list[str]]) -> list[str]:
    return [p for p in pools.get("LOC", []) if 2 <= len(p) <= 4] or ["北京"]


def compose(examples: list[Example], n: int, seed: int, mined_path: Path | None = None,
            companies: list[str] | None = None) -> list[Example]:
    """``n`` new sentences, an even mix of the patterns of the module doc (the fifth, ``company``, only with
    ``companies``: today's company names from :mod:`ner.training.brands` in place of a gold ORG)."""
    rng = random.Random(seed)
    pools = _pools(examples, mined_by_type(mined_path))
    places = _short_places(pools)
    orgs = [o for o in pools["ORG"] if 2 <= len(o) <= 6] or ["腾讯"]
    if companies:  # today's companies take half of the organisation draws
        orgs = orgs + list(companies) * max(1, len(orgs) // len(companies))
    people = pools["PER"] or ["张三"]
    by_label: dict[str, list[Example]] = {"PER": [], "ORG": []}
    for ex in examples:
        for label in by_label:
            if any(lab == label for _, _, lab in ex.spans) and len(ex.text) <= 100:
                by_label[label].append(ex)
    if not by_label["PER"] or not by_label["ORG"]:
        return []

    def pick(label: str) -> tuple[Example, tuple[int, int, str]]:
        ex = rng.choice(by_label[label])
        return ex, rng.choice([sp for sp in ex.spans if sp[2] == label])

    def latin_org() -> str:
        return rng.choice(LATIN_ORG)

    out = []
    kinds = 5 if companies else 4
    for i in range(n):
        kind = i % kinds
        if kind == 0:  # place + organisation + head, or organisation + place + head
            ex, sp = pick("ORG")
            org = latin_org() if rng.random() < 0.15 else rng.choice(orgs)
            if rng.random() < 0.7:
                pieces = [(rng.choice(places), "LOC"), (org, "ORG"), (rng.choice(PLACE_HEADS), None)]
            else:
                pieces = [(org, "ORG"), (rng.choice(places), "LOC"), (rng.choice(ORG_PLACE_HEADS), None)]
        elif kind == 1:  # organisation + title + person
            ex, sp = pick("PER")
            latin = rng.random() < 0.3
            org = latin_org() if latin and rng.random() < 0.5 else rng.choice(orgs)
            person = rng.choice(LATIN_PER) if latin else rng.choice(people)
            title = rng.choice(TITLES)
            before = " " if org.isascii() and title.isascii() else ""
            after = " " if person.isascii() and title.isascii() else ""
            pieces = [(org, "ORG"), (before + title + after, None), (person, "PER")]
        elif kind == 2:  # Latin-script names in place of a person or an organisation
            if rng.random() < 0.5:
                ex, sp = pick("PER")
                pieces = [(rng.choice(LATIN_PER), "PER")]
            else:
                ex, sp = pick("ORG")
                pieces = [(latin_org(), "ORG")]
            if rng.random() < 0.5:  # Latin words in Chinese text are often set off by spaces
                pieces = [(" ", None)] + pieces + [(" ", None)]
        elif kind == 4 and companies:  # a company of today in place of a gold organisation
            ex, sp = pick("ORG")
            pieces = [(rng.choice(companies), "ORG")]
        else:  # @accounts
            ex, sp = pick("PER")
            if rng.random() < 0.6:
                pieces = [("@", None), (rng.choice(people), "PER")]
            else:
                pieces = [("@", None), (rng.choice(places) + rng.choice(ACCOUNT_HEADS), "ORG")]
        out.append(rewrite(ex, sp, pieces))
    return out
