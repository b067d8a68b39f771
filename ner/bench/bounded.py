"""Work bounded by the input (issue 26): hostile texts beside a plain text of the same length, in one process.

    python -m ner.bench.bounded [--model DIR] [--chars 50000] [--rounds 2]

Cases, each timed ``--rounds`` times interleaved (the median is printed) with the
process's peak RSS (``ru_maxrss``) before and after:

* ``plain``: ordinary text (the project's samples repeated) of ``--chars`` characters;
* ``run``: ``"张" * chars`` without a dictionary;
* ``dictionary bomb``: the same run with the 300 nested entries 张, 张张, ... as PER
  (every overlapping match of them is 15 million candidates at 50,000 characters);
* ``plain x2`` and ``U+FDFA x2``: ``2 * chars`` characters of plain text and of U+FDFA
  (which NFKC expands 18-fold).

Each line: the case, its characters, the median seconds, the ratio to the plain
text of its length, the peak RSS and how far the case raised it (MiB).  Run it with
``nice``; note the load average beside the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cases(chars: int):
    from ..dictionary import Dictionary
    from ..samples import EXAMPLES

    plain = "".join(EXAMPLES)
    plain = (plain * (2 * chars // len(plain) + 1))
    bomb = Dictionary.parse("".join("张" * k + "\tPER\n" for k in range(1, 301)), "bomb")
    return [("plain", plain[:chars], None, None), ("run", "张" * chars, None, "plain"),
            ("dictionary bomb", "张" * chars, bomb, "plain"), ("plain x2", plain[: 2 * chars], None, None),
            ("U+FDFA x2", "\ufdfa" * (2 * chars), None, "plain x2")]


def main(argv=None) -> None:
    import ner

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get("NER_MODEL") or None)
    ap.add_argument("--chars", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="one JSON line per case")
    args = ap.parse_args(argv)
    rec = ner.load(args.model)
    rec.recognize("张三在北京。")
    todo = cases(args.chars)
    times: dict[str, list[float]] = {name: [] for name, *_ in todo}
    rss: dict[str, tuple[float, float]] = {}
    found: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, text, dictionary, _base in todo:
            before = peak_mib()
            t0 = time.perf_counter()
            found[name] = len(rec.recognize(text, dictionary=dictionary))
            times[name].append(time.perf_counter() - t0)
            rss.setdefault(name, (before, peak_mib()))
    for name, text, _dictionary, base in todo:
        seconds = statistics.median(times[name])
        ratio = seconds / statistics.median(times[base]) if base else 1.0
        row = {"case": name, "chars": len(text), "seconds": round(seconds, 3), "ratio": round(ratio, 2),
               "entities": found[name], "peak_rss_mib": round(rss[name][1]),
               "peak_rise_mib": round(rss[name][1] - rss[name][0])}
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(f"{name:16} {len(text):>8,} chars  {seconds:7.3f} s  x{ratio:5.2f}  {found[name]:>6} entities  "
                  f"peak RSS {rss[name][1]:6.0f} MiB (+{rss[name][1] - rss[name][0]:.0f} in its first round)")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
