"""/docs as a newcomer presses it, in headless Chromium: open POST /api/v1/ner, press Execute without editing
anything, and the server answers 200 with entities (issue 29: the pre-filled body used to hold both "text" and
"texts" and was refused)."""
from __future__ import annotations

import json

import pytest
from conftest import CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


def test_docs_try_it_out_then_execute_without_editing_answers_200(browser, server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{server_url}/docs", wait_until="domcontentloaded")
        operation = page.locator(".opblock-post").filter(has_text="/api/v1/ner").first
        operation.locator(".opblock-summary").click()
        try_it = operation.locator("button.try-out__btn")
        if try_it.count() and "Cancel" not in try_it.inner_text():  # tryItOutEnabled opens it already
            try_it.click()
        body = operation.locator("textarea.body-param__text")
        body.wait_for(timeout=30_000)
        sent = json.loads(body.input_value())
        assert set(sent) == {"text"}, sent  # one valid one-text request, not a schema skeleton
        with page.expect_response(lambda r: r.url.endswith("/api/v1/ner")) as answer:
            operation.locator("button.execute").click()
        response = answer.value
        assert response.status == 200, response.text()
        assert response.json()["entities"]
    finally:
        context.close()
