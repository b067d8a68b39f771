"""The page as a new user meets it, at 1280 and 390 px with a zh-CN and an en-US browser: a dictionary typed with
the keyboard, live mode over its limit, one language throughout, and (at 390 px) nothing drawn over anything else.

Needs Debian's chromium at /usr/bin/chromium; skipped without it.  Screenshots go to artifacts/.
"""
from __future__ import annotations

import re

import pytest
from test_browser import ARTIFACTS, CHROMIUM, TOKENS_SPELL_JS
from test_page import LARGE, time_result

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")

VIEWS = [("zh-CN", 1280), ("zh-CN", 390), ("en-US", 1280), ("en-US", 390)]
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
#: names that stay as they are in a Chinese page: type codes, file formats, encodings, protocols, the model
TERMS = re.compile(r"\b(PER|LOC|ORG|JSON|JSONL|CSV|doccano|Label Studio|CoNLL|BIO|API|MCP|UTF-8|UTF-16|GB18030|"
                   r"Big5|txt|AI|toy|zh-ner-lite|Tab)\b")
#: what a phone user must be able to touch or read without anything drawn over it
TOUCHABLE = ("#upload .block-label, #upload button, #upload svg, #live label, #run, #download-json, #download-csv, "
             "#download-doccano, #download-label-studio, #download-conll, #min-score .block-title, "
             "#min-score input[type=number], #min-score button, #types label, #types .block-title, "
             "#highlight .block-label, #entity-table .block-label, #entity-table button, #dictionary button.label-wrap, "
             "footer a, footer button")
OVERLAPS_JS = """(selector) => {
    const els = Array.from(document.querySelectorAll(selector)).filter(e => {
        const r = e.getBoundingClientRect(), s = getComputedStyle(e);
        return r.width > 1 && r.height > 1 && s.visibility !== 'hidden' && s.display !== 'none' && s.opacity !== '0';
    });
    const name = e => (e.id ? '#' + e.id : e.tagName.toLowerCase()) + ' ' + (e.innerText || e.getAttribute('aria-label') || '').trim().slice(0, 30)
        + ' in ' + (e.closest('[id]') || {}).id;
    const out = [];
    for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++) {
        const a = els[i], b = els[j];
        if (a.contains(b) || b.contains(a)) continue;
        const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
        const w = Math.min(p.right, q.right) - Math.max(p.left, q.left), h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
        if (w > 1 && h > 1) out.push(name(a) + ' / ' + name(b));
    }
    return out;
}"""


@pytest.fixture(params=VIEWS, ids=[f"{loc}-{w}px" for loc, w in VIEWS])
def view(request, browser, server_url):
    locale, width = request.param
    phone = width < 800
    context = browser.new_context(viewport={"width": width, "height": 844 if phone else 900}, locale=locale,
                                  color_scheme="dark", is_mobile=phone, has_touch=phone,
                                  device_scale_factor=2 if phone else 1)
    page = context.new_page()
    page.goto(server_url, wait_until="domcontentloaded")
    page.locator("#input-text textarea").wait_for(timeout=60_000)
    page.wait_for_function("() => !document.body.innerText.includes('__i18n__')", timeout=30_000)
    page.lang, page.width = locale[:2], width
    yield page
    context.close()


#: the boxes of the result column, each of which must be clear of the others
RESULT_BOXES = "#counts, #downloads, #filters, #highlight, #entity-table, footer"
#: the table's last row once its viewport is scrolled to the end: [first cell, row bottom, viewport bottom, covered cells]
LAST_ROW_JS = """() => { const v = document.querySelector('#entity-table .virtual-table-viewport');
    const rows = Array.from(v.querySelectorAll('.virtual-row, tbody tr')).filter(r => r.innerText.trim());
    const row = rows[rows.length - 1], r = row.getBoundingClientRect(), b = v.getBoundingClientRect();
    // nothing is drawn over any of its cells (Gradio's round "back to top" button was, on a phone)
    const covered = Array.from(row.querySelectorAll('td')).filter(td => {
        const c = td.getBoundingClientRect(), hit = document.elementFromPoint(c.x + c.width / 2, c.y + c.height / 2);
        return !td.contains(hit); }).map(td => td.innerText);
    return [row.innerText.split(/\\s+/)[0], r.bottom, b.top + v.clientHeight, covered]; }"""


def last_table_row(page) -> list:
    """Scroll the table's viewport to the end, as a thumb does until it stops (Gradio's virtual table measures its
    rows as they are drawn, so a long one grows a little after the first flick), and the table into view;
    :data:`LAST_ROW_JS` of what is shown then."""
    end = None
    for _ in range(5):
        table = page.evaluate("""() => { const v = document.querySelector('#entity-table .virtual-table-viewport');
            v.scrollTop = v.scrollHeight; return [v.scrollWidth, v.clientWidth, v.scrollTop]; }""")
        assert table[0] <= table[1] + 1, table  # nothing to scroll sideways
        page.wait_for_timeout(400)
        if table[2] == end:
            break
        end = table[2]
    page.locator("#entity-table .virtual-table-viewport").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    return page.evaluate(LAST_ROW_JS)


def footer_ends_with_a_link(page) -> bool:
    """The footer's last thing shown is its API link, not a divider that divides nothing."""
    shown = page.locator("footer").inner_text().strip()
    return bool(shown) and not shown.endswith("·")


def say(page, zh: str, en: str) -> str:
    return zh if page.lang == "zh" else en


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{page.lang}-{page.width}px.png"), full_page=True)


def spans(page) -> list[tuple[str, str]]:
    return [tuple(x) for x in page.evaluate("""() => Array.from(
        document.querySelectorAll('#highlight .token-container > span')).filter(s => s.style.backgroundColor)
        .map(s => [s.querySelector('.text').textContent, (s.querySelector('.label') || {}).textContent || ''])""")]


def test_a_dictionary_typed_with_the_keyboard_forces_the_entity(view):
    page = view
    page.locator("#dictionary").get_by_text(say(page, "自定义词典", "Custom dictionary")).first.click()
    box = page.locator("#dictionary-text textarea")
    box.click()
    page.keyboard.type("字节跳动 ORG")  # a space, as people type: no Tab needed
    page.keyboard.press("Enter")
    page.keyboard.type("-张三，人名")
    page.locator("#apply-dictionary").click()
    page.get_by_text(say(page, "仅对您本人的侦测生效", "to your own recognitions only")).first.wait_for(timeout=30_000)
    text = "张三在字节跳动工作。"
    page.locator("#input-text textarea").fill(text)
    page.locator("#run").click()
    page.wait_for_function(TOKENS_SPELL_JS, arg=text, timeout=30_000)
    found = [(t, k.strip()) for t, k in spans(page)]
    assert ("字节跳动", "ORG") in found and all(t != "张三" for t, _ in found)
    shot(page, "dictionary")


def test_a_bad_dictionary_line_is_explained_whole(view):
    page = view
    page.locator("#dictionary").get_by_text(say(page, "自定义词典", "Custom dictionary")).first.click()
    page.locator("#dictionary-text textarea").fill("字节跳动")
    page.locator("#apply-dictionary").click()
    message = say(page, "例如「字节跳动 ORG」", "for example “字节跳动 ORG”")
    page.get_by_text(message).first.wait_for(timeout=30_000)
    toast = page.locator(".toast-body").first.inner_text()
    assert say(page, "屏蔽误报写「-文本 类型」", "“-TEXT TYPE”") in toast and "<" not in toast


def test_live_mode_over_its_limit_clears_the_result_and_says_why(view):
    page = view
    page.locator("#live input[type=checkbox]").check()
    box = page.locator("#input-text textarea")
    box.click()
    box.press_sequentially("李明在上海工作。", delay=20)
    page.wait_for_function(TOKENS_SPELL_JS, arg="李明在上海工作。", timeout=30_000)
    box.fill("李明在上海工作。" * 400)  # 3,200 characters: over NER_LIVE_MAX_CHARS (3,000)
    notice = page.locator("#counts .live-limit")
    notice.wait_for(timeout=30_000)
    assert spans(page) == [] and "上海" not in page.locator("#entity-table").inner_text()
    words = notice.inner_text()
    assert say(page, "3,000 字以内", "up to 3,000 characters") in words and "3,200" in words
    assert say(page, "开始侦测", "Detect") in words
    shot(page, "live-limit")


def test_the_page_speaks_one_language(view):
    page = view
    page.locator("#run").click()  # an empty text: an error toast in the page's language
    page.get_by_text(say(page, "输入框目前是空的", "the box is empty")).first.wait_for(timeout=15_000)
    page.locator("#dictionary").get_by_text(say(page, "自定义词典", "Custom dictionary")).first.click()
    page.wait_for_timeout(300)
    shown = page.locator("body").inner_text()
    if page.lang == "zh":
        english = re.findall(r"[A-Za-z]{2,}(?:[ -][A-Za-z]+)*", TERMS.sub(" ", shown))
        assert english == [], english
    else:
        chinese = [line for line in shown.splitlines() if CJK.search(line)]
        assert chinese == [], chinese
    assert footer_ends_with_a_link(page), page.locator("footer").inner_html()[-600:]
    shot(page, "language")


def test_phone_layout_has_nothing_drawn_over_anything_else(view):
    page = view
    if page.width > 400:
        pytest.skip("the phone layout (390 px)")
    text = "张三在北京清华大学任职期间，曾赴上海参加国际人工智能大会。李明在上海工作，王五去了广州。" * 4
    page.locator("#input-text textarea").fill(text)
    page.locator("#run").click()
    page.wait_for_function(TOKENS_SPELL_JS, arg=text, timeout=30_000)
    page.wait_for_timeout(1200)
    assert page.evaluate(OVERLAPS_JS, TOUCHABLE) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    # the result scrolls where a phone user can see it: a scroll bar is drawn, no line is cut in half
    result = page.evaluate("""() => { const t = document.querySelector('#highlight .textfield');
        const s = getComputedStyle(t); return [t.scrollHeight, t.clientHeight, s.overflowY, s.scrollbarWidth]; }""")
    assert result[0] <= result[1] or (result[2] in ("auto", "scroll") and result[3] != "none"), result
    # every row of the table can be scrolled into view, whole, with nothing to scroll sideways
    last = last_table_row(page)
    assert last[0] == spans(page)[-1][0] and last[1] <= last[2] + 1 and last[3] == [], last  # the last entity, whole
    # the footer's API link stays
    assert page.locator("footer .show-api").is_visible() and footer_ends_with_a_link(page)
    # an unticked type chip stays readable: its text contrasts with its background
    page.locator("#types label").first.click()
    page.wait_for_timeout(500)
    colors = page.evaluate("""() => { const l = document.querySelector('#types label');
        const s = getComputedStyle(l); return [s.color, s.backgroundColor]; }""")
    assert contrast(*colors) >= 4.5, colors
    shot(page, "phone")


def contrast(fg: str, bg: str) -> float:
    def luminance(css: str) -> float:
        r, g, b = (int(x) / 255 for x in re.findall(r"[\d.]+", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_phone_after_a_large_result_has_nothing_drawn_over_anything_else(view, server_url):
    """5,000 characters (1,250 entities) after a short text, at 390 px: every box clear of the others, nothing to
    scroll sideways, and the table below the long highlight reachable down to its last row."""
    import httpx

    page = view
    if page.width > 400:
        pytest.skip("the phone layout (390 px)")
    total = len(httpx.post(f"{server_url}/api/v1/ner", json={"text": LARGE}, timeout=60).json()["entities"])
    page.locator("#input-text textarea").fill("张三在北京。")
    page.locator("#run").click()
    page.wait_for_function(TOKENS_SPELL_JS, arg="张三在北京。", timeout=30_000)
    time_result(page, LARGE, total)
    page.wait_for_timeout(1200)  # the smooth scroll to the result
    assert page.evaluate(OVERLAPS_JS, TOUCHABLE) == []
    assert page.evaluate(OVERLAPS_JS, RESULT_BOXES) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    last = last_table_row(page)
    assert last[0] == spans(page)[-1][0] and last[1] <= last[2] + 1 and last[3] == [], last
    # each column's name whole, on one line
    names = page.evaluate("""() => Array.from(document.querySelectorAll('#entity-table th .header')).map(h =>
        [h.innerText, h.getBoundingClientRect().height / parseFloat(getComputedStyle(h).lineHeight),
         h.scrollWidth <= h.parentElement.clientWidth + 1])""")
    assert len(names) == 5 and all(lines < 1.5 and whole for _, lines, whole in names), names
    box = page.locator("#entity-table").bounding_box()
    assert box and box["width"] <= page.width and box["height"] > 100, box
    assert page.evaluate(OVERLAPS_JS, TOUCHABLE) == []  # scrolled down to the table: still nothing over anything
    shot(page, "phone-large")


def test_the_status_announced_to_screen_readers_is_in_the_pages_language(view):
    """Gradio announces a finished event in an aria-live region; its Chinese locale lacks the word (the page showed
    the key "common.complete"): ner_app.i18n.GRADIO_GAPS supplies it."""
    page = view
    page.locator("#input-text textarea").fill("张三在北京。")
    page.locator("#run").click()
    said = page.wait_for_function("""() => Array.from(document.querySelectorAll('[aria-live], [role=status]'))
        .map(e => e.textContent.trim()).filter(t => t && !/^(Loading|加载中)/.test(t)).join(' ') || null""",
                                   timeout=30_000).json_value()
    assert "common." not in said and "status." not in said, said
    assert said == say(page, "完成", "Complete"), said
