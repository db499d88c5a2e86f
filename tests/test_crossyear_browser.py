"""Deciding a cross-year finding in a real browser (Playwright driving Debian's Chromium; skips, saying
why, where either is missing): the offered 清理 passage is used, ``e`` stores "explained by the report",
and the body's series page shows the decision."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from extractor.store import Store
from test_crossyear_review import CLEANUP, IN_FORCE, _finding, _series
from test_review_browser import CHROMIUM, browser, new_page, shots  # noqa: F401 - browser is a fixture

pytest.importorskip("uvicorn", reason="the review app needs uvicorn")
from live_server import LiveServer  # noqa: E402
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/bin/chromium (make browser-deps)")


@pytest.fixture()
def xserver(tmp_path):
    from extractor.review.app import create_review_app

    _, db = _series(tmp_path, {2023: {"in_force"}}, cleanup_year=2023)
    with LiveServer(create_review_app(db, reviewer="browser-tester"), lifespan="off") as live:
        yield live.url, db


def test_mark_a_stock_break_explained_by_the_stated_cleanup_with_the_keyboard(browser, xserver, tmp_path):  # noqa: F811
    url, db = xserver
    f = _finding(db, IN_FORCE, 2023)
    page = new_page(browser)
    page.goto(url + "/queue")
    sel = page.locator(".queue li.sel")
    assert sel.get_attribute("data-fid") == IN_FORCE and "xitem" in sel.get_attribute("class")
    assert page.locator(".xfinding .side").count() == 2
    page.locator(".use-hint").first.click()  # the sentence stating the 清理 becomes the quote and the comment
    assert page.input_value("#quote") == CLEANUP.replace("，", ",")
    assert "N+1 report, characters" in page.input_value("#comment")
    page.locator("#comment").press("Escape")
    page.keyboard.press("e")
    page.wait_for_selector("#msg")
    assert "explained by the report" in page.inner_text("#msg")
    with Store(db) as st:
        (row,) = st.crossyear_reviews()
    assert row["action"] == "explained" and row["reviewer"] == "browser-tester" and row["quote_doc"] == "N+1"
    page.goto(url + "/queue?" + urlencode({"show": "all", "doc": f"{f.prev.sha256}..{f.next.sha256}", "id": f.id}))
    assert "explained by the report" in page.inner_text(".xdecision")
    page.goto(url + "/report")
    page.locator(".series a").first.click()
    page.wait_for_load_state()
    art = page.locator(f'article[data-fid="{f.pair_id}"]')
    assert "explained by the report" in art.inner_text() and "集中清理" in art.inner_text()
    page.screenshot(path=str(shots(tmp_path) / "crossyear-series-decided.png"), full_page=True)
    page.close()
