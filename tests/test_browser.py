"""The page in headless Chromium: typing, the button, highlight colours, escaping, and a screenshot.

Needs Debian's chromium at /usr/bin/chromium (``apt-get install chromium``); skipped without it.
Screenshots of the toy-model page go to artifacts/; UPDATE_SCREENSHOT=1 also refreshes
assets/screenshot.png from a server running the real model ($NER_MODEL or the embedded one).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import ARGS, CHROMIUM  # noqa: F401  (test_page imports them from here too)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
SEED = "张三在北京清华大学任职期间，曾赴上海参加国际人工智能大会。"
COLORS = {"PER": "rgb(255, 94, 94)", "LOC": "rgb(0, 255, 255)", "ORG": "rgb(255, 255, 0)"}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")

TOKENS_SPELL_JS = """t => Array.from(document.querySelectorAll('#highlight .textfield .text'))
    .map(s => s.textContent).join('') === t.replaceAll('\\n', '')"""
#: the highlighted spans as (text, computed background colour); the label part of a span is not its text
SPANS_JS = """() => Array.from(document.querySelectorAll('#highlight .token-container > span'))
    .filter(s => s.style.backgroundColor)
    .map(s => [s.querySelector('.text').textContent, getComputedStyle(s).backgroundColor])"""




@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", color_scheme="dark")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    page.goto(server_url, wait_until="domcontentloaded")
    page.locator("#input-text textarea").wait_for(timeout=30_000)
    yield page
    context.close()


def download(page, key: str) -> bytes:
    """The bytes a click on the page's download button ``key`` (json, csv, doccano...) saves."""
    with page.expect_download(timeout=30_000) as saved:
        page.locator(f"#download-{key}").click()
    return Path(saved.value.path()).read_bytes()


def detect(page, text: str) -> None:
    page.locator("#input-text textarea").fill(text)
    page.locator("#run").click()
    # the result has arrived when the highlight's tokens spell the whole text
    page.wait_for_function(TOKENS_SPELL_JS, arg=text, timeout=30_000)


def test_seed_sentence_is_highlighted_in_type_colours(page):
    detect(page, SEED)
    spans = page.evaluate(SPANS_JS)
    expected = [("张三", COLORS["PER"]), ("北京", COLORS["LOC"]), ("清华大学", COLORS["ORG"]), ("上海", COLORS["LOC"])]
    # the toy model also tags the 大 of 大会 (it is context-free); the four real entities come first
    assert [tuple(s) for s in spans[:4]] == expected
    assert {color for _, color in spans} <= set(COLORS.values())
    assert page.locator("#highlight").inner_text().replace("\n", "").find("张三") >= 0
    assert page.locator("#entity-table").inner_text().count("清华大学") == 1
    exported = json.loads(download(page, "json"))
    assert [e["text"] for e in exported["entities"][:4]] == ["张三", "北京", "清华大学", "上海"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshot.png"), full_page=True)


def test_markup_typed_in_is_shown_as_text(page):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    detect(page, payload)
    assert page.locator("#highlight .textfield").text_content().replace(" ", "") == payload.replace(" ", "")
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.locator("#highlight img").count() == 0


def test_empty_input_shows_a_chinese_message(page):
    page.locator("#input-text textarea").fill("")
    page.locator("#run").click()
    toast = page.get_by_text("输入框目前是空的")
    toast.first.wait_for(timeout=15_000)
    assert "Traceback" not in page.content()


def test_page_fits_a_phone_screen(browser, server_url):
    context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    page.goto(server_url, wait_until="domcontentloaded")
    page.locator("#input-text textarea").wait_for(timeout=30_000)
    detect(page, SEED)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("#run").bounding_box()["width"] <= 375
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshot-375px.png"), full_page=True)
    context.close()


@pytest.mark.skipif(os.environ.get("UPDATE_SCREENSHOT") != "1", reason="set UPDATE_SCREENSHOT=1 to refresh it")
def test_update_readme_screenshot(browser):
    from server_util import running_server

    from ner.samples import NEWS

    with running_server() as (url, _proc):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", color_scheme="dark")
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#input-text textarea").wait_for(timeout=30_000)
        detect(page, NEWS)
        assert page.evaluate(SPANS_JS), "the model found no entity in the news sample"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "screenshot-model.png"), full_page=True)
        page.screenshot(path=str(ROOT / "assets" / "screenshot.png"), full_page=True)
        context.close()
