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
  accounts written ``@成都发布`` (an ORG, not a place), platforms and media (``@小红书``, ``@人民日报``),
  often followed by a space; a city's account also without the ``@`` (成都发布今天通报…);
- ``product`` (with the product list, ``lists/products.txt``): an organisation followed by what it sells
  (微软的Azure, 苹果iPhone 16 Pro, 华为Mate 60): the organisation is an ORG, the product no entity;
- ``shop_title``: a shop's product title, brand (Chinese, Latin or both: 戴森 Dyson, Apple/苹果) + model
  + specs + colour + store (官方旗舰店, 京东自营, 深圳发货), its pieces set apart by spaces that no entity
  crosses;
- ``facility``: an organisation followed by a facility or a particle (小米 + 科技园, 连米哈游都…): only the
  organisation is an entity.

Pools come from the gold mentions, the mined names of :mod:`ner.training.silver` (today's
companies and people) and the small Latin-script lists below.
"""
from __future__ import annotations

import random
from pathlib import Path

from .augment import mention_pools
from .corpora import Example
from .lexicon import BRANDS, PRODUCTS, mined_names, read_names

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

#: Chinese and Latin names of one brand, as shop titles write them side by side.  (The pairs of the probe
#: sentences, ner/bench/probes.jsonl, are left out on purpose: the probes test what carries over.)
BRAND_PAIRS = (("华为", "HUAWEI"), ("小米", "Xiaomi"), ("苹果", "Apple"), ("联想", "Lenovo"), ("阿迪达斯", "adidas"),
               ("安踏", "ANTA"), ("李宁", "LI-NING"), ("格力", "GREE"), ("飞利浦", "Philips"), ("松下", "Panasonic"),
               ("佳能", "Canon"), ("尼康", "Nikon"), ("罗技", "Logitech"), ("雷蛇", "Razer"), ("华硕", "ASUS"),
               ("宏碁", "Acer"), ("戴尔", "Dell"), ("惠普", "HP"), ("绿联", "UGREEN"), ("九阳", "Joyoung"),
               ("苏泊尔", "SUPOR"), ("博世", "BOSCH"), ("西门子", "SIEMENS"), ("优衣库", "UNIQLO"), ("宜家", "IKEA"),
               ("乐高", "LEGO"), ("任天堂", "Nintendo"), ("倍思", "Baseus"), ("漫步者", "EDIFIER"), ("科沃斯", "ECOVACS"),
               ("追觅", "Dreame"), ("雅诗兰黛", "Estee Lauder"), ("兰蔻", "Lancome"), ("欧莱雅", "L'Oreal"),
               ("美赞臣", "MeadJohnson"), ("雀巢", "Nestle"), ("特斯拉", "Tesla"), ("比亚迪", "BYD"), ("荣耀", "HONOR"),
               ("一加", "OnePlus"), ("魅族", "Meizu"), ("海信", "Hisense"), ("TCL", "TCL"), ("创维", "Skyworth"))
#: Platforms, apps and media whose accounts are written after an @ (ORG).
PLATFORMS = ("小红书", "哔哩哔哩", "B站", "抖音", "快手", "知乎", "淘宝", "天猫", "京东", "拼多多", "美团", "饿了么", "携程",
             "大众点评", "得物", "闲鱼", "唯品会", "网易云音乐", "喜马拉雅", "爱奇艺", "优酷", "腾讯视频", "芒果TV", "虎扑",
             "豆瓣", "盒马", "滴滴出行", "高德地图", "懂车帝", "汽车之家", "猫眼电影", "飞猪旅行", "去哪儿网", "人民日报",
             "新华社", "澎湃新闻", "财新网", "新京报", "环球时报", "中国日报", "南方周末", "界面新闻", "36氪", "虎嗅",
             "第一财经", "光明日报", "中国新闻网", "红星新闻", "封面新闻", "极目新闻", "北京日报", "观察者网", "凤凰网")
#: What follows an organisation's name without being part of it.
FACILITY_HEADS = ("科技园", "产业园", "园区", "大厦", "总部", "基地", "工厂", "门店", "展厅", "食堂", "办公楼", "体验店")
PARTICLES = (("连", "都"), ("", "都"), ("", "也"), ("就连", "也"), ("", "还"))
#: Model suffixes and specs of products and shop titles.
EDITIONS = ("", "", " Pro", " Max", " Pro Max", " Ultra", " Plus", " mini", " Air", " SE", " Lite", "s", " 2", " 3")
SPECS = ("12GB+256GB", "16GB+512GB", "8GB+128GB", "256GB", "1TB", "65W", "120W", "5000mAh", "1.5匹", "10公斤",
         "14英寸", "27英寸", "4K", "WiFi6", "500ml", "2kg", "42码", "XL")
COLOURS = ("黑色", "白色", "星光色", "深空灰", "雅川青", "钛灰", "冰川蓝", "曜石黑", "月光银", "玫瑰金", "原色钛金属")
GOODS = ("无线蓝牙耳机", "降噪耳机", "扫地机器人", "吸尘器", "吹风机", "笔记本电脑", "游戏本", "平板电脑", "智能手表",
         "运动鞋", "跑步鞋", "羽绒服", "洗衣机", "冰箱", "空调", "电饭煲", "豆浆机", "充电器", "数据线", "机械键盘",
         "鼠标", "显示器", "投影仪", "面霜", "口红", "奶粉", "咖啡机", "电动牙刷", "手机壳", "无人机", "相机")
SELLERS = ("官方旗舰店", "官方正品", "自营旗舰店", "官方店", "正品保障", "包邮", "现货速发", "国行正品", "全国联保")


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


def _product_name(rng: random.Random, products: list[str]) -> str:
    """A product as text writes it: a name from the list, often with a number and an edition (Mate 60 Pro)."""
    name = rng.choice(products)
    if name.isascii() and rng.random() < 0.6:
        name += rng.choice((" ", "")) + str(rng.choice((2, 3, 4, 5, 7, 8, 11, 12, 14, 15, 16, 17, 60, 70, 100, 300)))
    return name + (rng.choice(EDITIONS) if name.isascii() else "")


def shop_title(rng: random.Random, places: list[str], products: list[str]) -> Example:
    """A shop's product title: brand pieces, model, specs, colour, seller, each set apart by spaces."""
    zh, latin = rng.choice(BRAND_PAIRS)
    form = rng.random()
    if form < 0.35:
        pieces: list[tuple[str, str | None]] = [(zh, "ORG"), (" ", None), (latin, "ORG")]
    elif form < 0.5:
        pieces = [(latin, "ORG"), ("/", None), (zh, "ORG")]
    elif form < 0.6 and latin.replace("-", "").isalpha():
        pieces = [(latin, "ORG"), (zh, "ORG")]
    elif form < 0.7:
        pieces = [(latin, "ORG")]
    else:
        pieces = [(zh, "ORG")]
    glue = rng.choice(("", " ")) if not pieces[-1][0].isascii() else " "
    pieces.append((glue + (_product_name(rng, products) if rng.random() < 0.6 else rng.choice(GOODS)), None))
    for part in rng.sample([rng.choice(SPECS), rng.choice(COLOURS), rng.choice(GOODS)], rng.randint(1, 3)):
        pieces.append((" " + part, None))
    seller = rng.random()
    if seller < 0.3:
        pieces += [(" ", None), (zh, "ORG"), (rng.choice(("官方旗舰店", "旗舰店", "官方店", "京东自营旗舰店")), None)]
    elif seller < 0.45:
        pieces += [(" ", None), (rng.choice(("京东", "天猫")), "ORG"), (rng.choice(("自营", "超市", "旗舰店")), None)]
    elif seller < 0.6:
        pieces += [(" ", None), (rng.choice(places), "LOC"), ("发货", None)]
    else:
        pieces.append((" " + rng.choice(SELLERS), None))
    return _joined(pieces)


def _joined(pieces: list[tuple[str, str | None]]) -> Example:
    text, spans, at = "", [], 0
    for piece, label in pieces:
        if label:
            spans.append((at, at + len(piece), label))
        text += piece
        at += len(piece)
    return Example(text, spans)


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

    brands = read_names(BRANDS) if BRANDS.is_file() else list(LATIN_ORG)
    latin_brands = [b for b in brands if b.isascii()] or list(LATIN_ORG)
    products = read_names(PRODUCTS) if PRODUCTS.is_file() else ["iPhone"]
    brand_orgs = orgs + [b for b in brands if not b.isascii()] + [zh for zh, _ in BRAND_PAIRS]

    def latin_org() -> str:
        return rng.choice(latin_brands) if rng.random() < 0.6 else rng.choice(LATIN_ORG)

    out = []
    # the first kinds as before (their shares unchanged when the new ones are off); then product, shop title,
    # facility and platform accounts
    kinds = (["place_org", "org_title_person", "latin", "account"] + (["company"] if companies else [])
             + ["product", "shop_title", "facility", "platform"])
    for i in range(n):
        name = kinds[i % len(kinds)]
        kind = ["place_org", "org_title_person", "latin", "account", "company"].index(name) if name in (
            "place_org", "org_title_person", "latin", "account", "company") else -1
        if name == "shop_title":
            out.append(shop_title(rng, places, products))
            continue
        if name == "product":  # an organisation, then what it sells (no entity)
            ex, sp = pick("ORG")
            org = rng.choice(brand_orgs) if rng.random() < 0.7 else latin_org()
            between = rng.choice(("的", "", "", " ")) if not org.isascii() else rng.choice((" ", "的", ""))
            pieces = [(org, "ORG"), (between + _product_name(rng, products), None)]
            out.append(rewrite(ex, sp, pieces))
            continue
        if name == "facility":  # an organisation, then a facility or a particle: only the organisation is one
            ex, sp = pick("ORG")
            org = rng.choice(brand_orgs)
            if rng.random() < 0.6:
                pieces = [(org, "ORG"), (rng.choice(FACILITY_HEADS), None)]
            else:
                before, after = rng.choice(PARTICLES)
                pieces = ([(before, None)] if before else []) + [(org, "ORG"), (after, None)]
            out.append(rewrite(ex, sp, pieces))
            continue
        if name == "platform":  # @ + a platform or media account (ORG), often with a space after it
            ex, sp = pick(rng.choice(("PER", "ORG")))
            account = rng.choice(PLATFORMS) if rng.random() < 0.7 else rng.choice(places) + rng.choice(ACCOUNT_HEADS)
            if rng.random() < 0.2 and account not in PLATFORMS:
                pieces = [(account, "ORG")]  # 成都发布今天通报…: the account without its @
            else:
                pieces = [("@", None), (account, "ORG")] + ([(" ", None)] if rng.random() < 0.5 else [])
            out.append(rewrite(ex, sp, pieces))
            continue
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
