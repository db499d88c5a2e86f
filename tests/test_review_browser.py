"""The review app and the report in a real browser: Playwright driving Debian's Chromium.

Never downloads a browser: it uses ``/usr/bin/chromium`` (``make browser-deps`` installs it with apt),
or ``$EXTRACTOR_CHROMIUM``. Skips, saying why, when Playwright or Chromium is not available.
Screenshots go to ``$EXTRACTOR_SCREENSHOTS`` when set (to look at them), else to the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest

from extractor.report import build_report, doc_filename
from extractor.decisions import reviewed_record
from extractor.store import Store
from test_review_support import make_batch, samples_batch

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install -e '.[test]')")
pytest.importorskip("uvicorn", reason="the review app needs uvicorn")
from live_server import LiveServer  # noqa: E402


def chromium_path() -> str | None:
    for cand in (os.environ.get("EXTRACTOR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium at /usr/bin/chromium (run `make browser-deps`, i.e. apt-get install chromium; "
           "browsers are never downloaded)")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def new_page(browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(8000)
    return page


@pytest.fixture()
def server(tmp_path):
    from extractor.review.app import create_review_app

    f, db = make_batch(tmp_path)
    with LiveServer(create_review_app(db, reviewer="browser-tester"), lifespan="off") as live:
        yield live.url, db


def shots(tmp_path: Path) -> Path:
    d = Path(os.environ.get("EXTRACTOR_SCREENSHOTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_settle_a_finding_with_the_keyboard_and_see_it_after_reload(browser, server, tmp_path):
    url, db = server
    page = new_page(browser)
    page.goto(url + "/queue")
    first = page.locator(".queue li.sel").inner_text()
    assert "T3.BALANCE" in first and "FAIL" in first
    fid = page.locator(".queue li.sel").get_attribute("data-fid")
    assert page.locator(".finding.selected .arith").inner_text().startswith("7 + 0 ≠ 0 + 0")
    # j moves to the next finding, k back
    page.keyboard.press("j")
    page.wait_for_load_state()
    assert page.locator(".queue li.sel").get_attribute("data-fid") != fid
    page.keyboard.press("k")
    page.wait_for_load_state()
    assert page.locator(".queue li.sel").get_attribute("data-fid") == fid
    # s confirms the source inconsistency, with a comment
    page.fill("#comment", "the published 总计 row prints 0")
    page.locator("#comment").press("Escape")
    page.keyboard.press("s")
    page.wait_for_selector("#msg")
    assert "source inconsistency confirmed" in page.inner_text("#msg")
    page.screenshot(path=str(shots(tmp_path) / "review-queue.png"))
    # reload: the decision is persisted
    page.reload()
    assert fid not in [li.get_attribute("data-fid") for li in page.locator(".queue li[data-fid]").all()]
    page.goto(url + "/queue?show=settled")
    settled = page.locator(".queue li[data-fid]")
    assert settled.count() == 1 and settled.first.get_attribute("data-fid") == fid
    assert "the published 总计 row prints 0" in page.inner_text(".finding.selected")
    with Store(db) as st:
        (rec,) = list(st.records())
        row = st.review(rec.document.sha256, fid)
    assert row["action"] == "confirm_source" and row["reviewer"] == "browser-tester"
    page.close()


def test_correct_a_value_with_c_and_enter(browser, server):
    url, db = server
    with Store(db) as st:
        (rec,) = list(st.records())
    fid = "T3.BALANCE:column total"
    page = new_page(browser)
    page.goto(url + "/queue?" + urlencode({"doc": rec.document.sha256, "id": fid}))
    assert page.locator(".queue li.sel").get_attribute("data-fid") == fid
    page.select_option("#cell", "table3.total.total")
    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.id") == "value"
    page.keyboard.type("4242424")  # printed nowhere: refused
    page.keyboard.press("Enter")
    page.wait_for_selector("#error")
    assert "not printed anywhere" in page.inner_text("#error")
    page.fill("#value", "7")  # printed in the table: accepted as grounded
    page.locator("#value").press("Enter")
    page.wait_for_selector("#msg")
    page.reload()
    with Store(db) as st:
        rv = reviewed_record(st, rec.document.sha256)
    assert rv.record.tables["table3"].get("total", "total").producer == "reviewer"
    assert fid not in [f.id for f in rv.open]
    page.goto(url + f"/doc/{rec.document.sha256}")
    assert page.locator('td[id="c-table3.total.total"]').get_attribute("class").count("st-reviewer") == 1
    page.close()


def test_report_document_page_screenshot(browser, tmp_path):
    """Screenshot a document page of the static report (samples 000 when present, else the fixture)."""
    try:
        _, db = samples_batch(tmp_path, ("000_",))
    except pytest.skip.Exception:
        _, db = make_batch(tmp_path)
    out = tmp_path / "report"
    build_report(db, out)
    with Store(db) as st:
        (rec,) = list(st.records())
    page = new_page(browser)
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
    page.goto((out / doc_filename(rec.document.name, rec.document.sha256)).as_uri())
    # Chinese renders with a CJK font (not tofu): the table header is as wide as CJK glyphs make it
    width = page.evaluate("""() => { const s = document.createElement('span'); s.textContent = '申请人情况';
        s.style.fontSize = '20px'; document.body.appendChild(s); const w = s.getBoundingClientRect().width;
        s.remove(); return w; }""")
    assert 90 <= width <= 110, f"5 CJK characters at 20px are {width}px wide"
    # clicking the 总计 cell scrolls the source pane to its span and flashes it
    cell = page.locator('td[id="c-table3.total.total"]')
    mark = cell.get_attribute("data-goto")
    cell.click()
    page.wait_for_timeout(150)
    flashed = page.locator(f'pre.source [data-m~="{mark}"]').first
    assert "flash" in flashed.get_attribute("class")
    box, pane = flashed.bounding_box(), page.locator("pre.source").bounding_box()
    assert pane["y"] <= box["y"] <= pane["y"] + pane["height"], "the span is not scrolled into view"
    page.screenshot(path=str(shots(tmp_path) / "report-document.png"))
    page.evaluate("document.getElementById('findings').scrollIntoView()")
    page.screenshot(path=str(shots(tmp_path) / "report-findings.png"))
    page.close()
