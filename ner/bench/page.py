"""The page in Chromium: how long a large result takes to show on a fresh page and right after a short one.

``python -m ner.bench.page`` starts ``python app.py`` on a free loopback port (the embedded model, or
``--model``) and drives Debian's Chromium (``--chromium``, headless) with Playwright.  Each round opens a
fresh page and runs the large text (``--chars`` characters dense in names: about one entity per four
characters), then another fresh page that runs a short sentence first and then the same large text.  A
result has shown when the counts row holds its total and the highlight spells the whole text; the time runs
from the button's click.  Printed: each round's two times, their medians and the ratio of the medians
(issue 29's bar: after a short one within 2x (+2 s) of fresh).  Needs ``pip install -e ".[test]"`` and
``apt-get install chromium``.
"""
from __future__ import annotations

import argparse
import statistics

import httpx

from ner import samples
from ner.bench.launch import running_server

#: Debian's chromium, headless, as the browser tests launch it
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-quic", "--no-first-run", "--disable-sync"]
DENSE = "张三在北京任职，清华大学在上海。"
SHOWN_JS = """([n, t]) => document.querySelector('#counts .stat-total .stat-num')?.textContent === String(n) &&
    Array.from(document.querySelectorAll('#highlight .textfield .text')).map(s => s.textContent).join('')
    === t.replaceAll('\\n', '')"""


def large_text(chars: int) -> str:
    """``chars`` characters of :data:`DENSE` repeated: four entities every 16 characters."""
    return (DENSE * (chars // len(DENSE) + 1))[:chars]


def show(page, text: str, total: int, timeout_s: float) -> float:
    """Seconds from the click on the button until the result of ``text`` (``total`` entities) is shown."""
    page.locator("#input-text textarea").fill(text)
    start = page.evaluate("performance.now()")
    page.locator("#run").click()
    page.wait_for_function(SHOWN_JS, arg=[total, text], timeout=timeout_s * 1000, polling=50)
    return (page.evaluate("performance.now()") - start) / 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ner.bench.page", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a model directory or name for the server (default: the embedded model)")
    ap.add_argument("--chars", type=int, default=5000, help="characters of the large text (default 5000)")
    ap.add_argument("--rounds", type=int, default=3, help="fresh / after-short pairs, interleaved (default 3)")
    ap.add_argument("--chromium", default=CHROMIUM, help=f"the browser (default {CHROMIUM})")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for one result (default 120)")
    args = ap.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit('the page benchmark needs Playwright: pip install -e ".[test]"') from None
    text = large_text(args.chars)
    times: dict[str, list[float]] = {"fresh": [], "after a short one": []}
    with running_server(args.model) as (url, _proc), sync_playwright() as p:
        total = len(httpx.post(f"{url}/api/v1/ner", json={"text": text}, timeout=120).json()["entities"])
        print(f"{len(text)} characters, {total} entities")
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=ARGS)
        for k in range(args.rounds):
            for order in times:
                context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
                page = context.new_page()
                page.goto(url, wait_until="domcontentloaded")
                page.locator("#input-text textarea").wait_for(timeout=60_000)
                if order != "fresh":
                    show(page, samples.SEED, len(httpx.post(f"{url}/api/v1/ner", json={"text": samples.SEED},
                                                            timeout=60).json()["entities"]), args.timeout)
                times[order].append(show(page, text, total, args.timeout))
                context.close()
            print(f"round {k + 1}: " + ", ".join(f"{order} {t[-1]:.2f} s" for order, t in times.items()))
        browser.close()
    fresh, after = (statistics.median(t) for t in times.values())
    print(f"median: fresh {fresh:.2f} s, after a short one {after:.2f} s, ratio {after / fresh:.2f} "
          f"(bar: at most {2 * fresh + 2:.2f} s)")


if __name__ == "__main__":
    main()
