"""Hand-checked probe sentences of today's text: exact-match rate per sentence kind, and entity P/R/F1.

    python -m ner.bench.probes [--model DIR] [--file FILE] [--precision int8|fp32] [--json] [--show-failures]

``probes.jsonl`` (beside this module) holds one JSON object a line:
``{"kind", "text", "entities": [{"text", "label", "start", "end"}]}`` with half-open offsets in
code points, ``text[start:end] == entity text``.  A sentence matches when the model's set of
``(start, end, label)`` equals the expected set exactly; the entity-level figures come from
:func:`ner.training.scoring.score`.  ``--json`` prints one object: ``model``, ``precision_mode``,
``file``, ``sentences``, ``exact``, ``exact_match``, ``kinds`` (each with ``sentences``, ``exact``,
``exact_match``), ``entities`` (P/R/F1 overall and ``per_type``) and ``failures`` (each with
``kind``, ``text``, ``expected``, ``predicted``).

Kinds: ``page`` (the app's five examples in :mod:`ner.samples` and the sentences of issue 10's
"Why"; the bar wants all of them right), ``company``, ``foreign_latin``, ``place_org``,
``org_with_place``, ``social``, ``news``, ``resume``, ``transcript``, ``product_page``,
``mixed_script``, ``emoji_unknown``.

How the file is annotated (MSRA's guideline, the project's, with the choices it leaves open):

- PER: a person's name in any script (蒂姆·库克, Tim Cook).  Titles, roles and honorifics stay
  outside (CEO蒂姆·库克 -> 蒂姆·库克, 李女士 -> 李, 王老师 -> 王, 王总 -> 王, 李阿姨 -> 李).  The familiar
  prefixes 小/老/阿 make a nickname and stay inside (小王, 老李, 阿强), as Boson and Weibo tag them
  (MSRA and AISHELL tag the surname alone: the training data disagree here).
- LOC: countries and regions (中国, 美国, 京津冀, 长江经济带), provinces, cities, districts, each
  administrative level its own span (杭州市 + 西湖区, 上海市 + 浦东新区), streets, scenic spots and
  neighbourhoods (宽窄巷子, 春熙路, 三里屯, 洪崖洞).  A place inside an event name is still a place
  (巴黎奥运会 -> 巴黎, #成都美食# -> 成都).
- ORG: companies, institutions, government bodies, media, teams (中国队).  A place written before an
  organisation whose own name does not hold it is split off (北京清华大学 -> 北京 + 清华大学,
  深圳腾讯总部 -> 深圳 + 腾讯, 特斯拉上海超级工厂 -> 特斯拉 + 上海, 美国微软公司 -> 美国 + 微软公司);
  where the place is part of the official name the organisation stays whole (北京大学, 上海人民出版社,
  中国人民银行, 杭州市人民政府, 深圳市大疆创新科技有限公司), as do branches and schools of one
  (中国建设银行上海分行, 武汉大学计算机学院).  A suffix written onto the name stays in it (Apple公司,
  阿里巴巴集团, MSRA's 微软公司); a generic head alone (公司, 总部, 超级工厂, 旗舰店) is no entity.
- Apps, platforms and brands: ORG when the name is also a company's (美团, 抖音, 淘宝, 小米, 李宁 on a
  product page, 农夫山泉); products, models and services are not entities (iPhone, Copilot, ChatGPT,
  鸿蒙, Osmo Pocket 3, Apple Store).  Nominal mentions (老板, 记者, 中心) are not entities.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..tags import Span
from ..training.scoring import score
from ..commands import add_model

#: The probe file shipped with the package.
PROBES = Path(__file__).resolve().with_name("probes.jsonl")
LABELS = ("PER", "LOC", "ORG")


@dataclass(frozen=True)
class Probe:
    """One hand-checked sentence: its kind, its text and the expected ``(start, end, label)`` spans."""

    kind: str
    text: str
    spans: frozenset[Span]


def read_probes(path: str | Path = PROBES) -> list[Probe]:
    """The probes of a JSON-lines file; a ``ValueError`` names the line of any bad entity or field."""
    probes = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                kind, text, entities = obj["kind"], obj["text"], obj["entities"]
                spans = frozenset((e["start"], e["end"], e["label"]) for e in entities)
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a probe object ({exc}); expected "
                                 f'{{"kind", "text", "entities": [{{"text", "label", "start", "end"}}]}}') from None
            for e in entities:
                if e["label"] not in LABELS:
                    raise ValueError(f"{path}:{n}: label {e['label']!r} is not one of {LABELS}")
                if not (0 <= e["start"] < e["end"] <= len(text)) or text[e["start"] : e["end"]] != e["text"]:
                    raise ValueError(f"{path}:{n}: {e['text']!r} is not at [{e['start']}, {e['end']}) of {text!r}")
            if len(spans) != len(entities):
                raise ValueError(f"{path}:{n}: an entity is listed twice")
            probes.append(Probe(kind, text, spans))
    return probes


def _entities(text: str, spans) -> list[dict]:
    return [{"text": text[s:e], "label": t, "start": s, "end": e} for s, e, t in sorted(spans)]


def run(recognizer, probes: list[Probe], batch_size: int = 32) -> dict:
    """Exact-match rate per kind and overall, entity P/R/F1 and the mismatched sentences."""
    predicted: list[frozenset[Span]] = []
    for i in range(0, len(probes), batch_size):
        for ents in recognizer.recognize_batch([p.text for p in probes[i : i + batch_size]]):
            predicted.append(frozenset((e.start, e.end, e.label) for e in ents))
    total: Counter = Counter()
    exact: Counter = Counter()
    failures = []
    for p, got in zip(probes, predicted):
        total[p.kind] += 1
        if got == p.spans:
            exact[p.kind] += 1
        else:
            failures.append({"kind": p.kind, "text": p.text, "expected": _entities(p.text, p.spans),
                             "predicted": _entities(p.text, got)})
    kinds = {k: {"sentences": n, "exact": exact[k], "exact_match": round(exact[k] / n, 4)} for k, n in total.items()}
    n_all, n_exact = sum(total.values()), sum(exact.values())
    return {"sentences": n_all, "exact": n_exact, "exact_match": round(n_exact / n_all, 4) if n_all else 0.0,
            "kinds": kinds, "entities": score([p.spans for p in probes], predicted), "failures": failures}


def _print_report(res: dict, show_failures: bool) -> None:
    print(f"model {res['model']} ({res['precision_mode']}), {res['sentences']} sentences from {res['file']}")
    print(f"{'kind':<16}{'sentences':>10}{'exact':>7}{'rate':>9}")
    for kind, k in res["kinds"].items():
        print(f"{kind:<16}{k['sentences']:>10}{k['exact']:>7}{k['exact_match']:>9.1%}")
    print(f"{'overall':<16}{res['sentences']:>10}{res['exact']:>7}{res['exact_match']:>9.1%}")
    ent = res["entities"]
    types = ", ".join(f"{t} {v['f1']:.4f}" for t, v in ent["per_type"].items())
    print(f"entities: P {ent['precision']:.4f} R {ent['recall']:.4f} F1 {ent['f1']:.4f} (F1 by type: {types})")
    if show_failures:
        def fmt(es):
            return " ".join(f"{e['text']}/{e['label']}@{e['start']}" for e in es) or "(none)"
        for f in res["failures"]:
            print(f"\n[{f['kind']}] {f['text']}\n  expected:  {fmt(f['expected'])}\n  predicted: {fmt(f['predicted'])}")


def main(argv=None) -> None:
    import ner

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model(ap, os.environ)
    ap.add_argument("--file", type=Path, default=PROBES, help="probe file (default: the shipped probes.jsonl)")
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--show-failures", action="store_true", help="list each mismatched sentence")
    args = ap.parse_args(argv)
    try:
        probes = read_probes(args.file)
    except (OSError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    rec = ner.load(args.model, precision=args.precision)
    res = {"model": rec.name, "precision_mode": args.precision, "file": str(args.file), **run(rec, probes)}
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
    else:
        _print_report(res, args.show_failures)


if __name__ == "__main__":
    main()
