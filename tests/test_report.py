"""The static disagreement report: self-contained pages, numbers marked at their spans, findings."""

from __future__ import annotations

import html as htmlmod
import re
from pathlib import Path

from typer.testing import CliRunner

from extractor.cli import app
from extractor.loaders import load_bytes
from extractor.model import Span
from extractor.report import build_report, doc_filename
from extractor.report.view import Mark, render_source, source_of
from extractor.store import Store
from test_review_support import make_batch, samples_batch


def _page(out: Path, name: str, sha: str) -> str:
    return (out / doc_filename(name, sha)).read_text(encoding="utf-8")


def _anchor_text(page: str, mark: str) -> str:
    """The source characters highlighted by ``mark`` (first segment)."""
    m = re.search(r'<a class="anchor" id="%s"></a>(?:<a class="anchor" id="m\d+"></a>)*<span class="hl [^"]*" '
                  r'data-m="[^"]*"[^>]*>([^<]*)</span>' % re.escape(mark), page)
    assert m, f"no highlighted span for {mark}"
    return htmlmod.unescape(m.group(1))


def _cell_mark(page: str, ref: str) -> tuple[str, str]:
    m = re.search(r'<td class="num (st-[\w-]+)[^"]*" id="c-%s"(?: colspan="\d+")? data-goto="(m\d+)"' % re.escape(ref), page)
    assert m, f"cell {ref} not rendered with a source link"
    return m.group(1), m.group(2)


def assert_self_contained(page: str) -> None:
    assert "<style>" in page and "<script>" in page
    assert not re.search(r'<(link|script|img|iframe)[^>]+(href|src)="(https?:)?//', page)
    assert "@import" not in page and "url(http" not in page
    assert "Noto Sans CJK SC" in page and "WenQuanYi" in page  # a CJK font stack


def test_report_pages_for_a_batch(tmp_path):
    f, db = make_batch(tmp_path)
    out = tmp_path / "report"
    paths = build_report(db, out)
    assert paths[0].name == "index.html" and len(paths) == 2
    with Store(db) as st:
        (rec,) = list(st.records())
    index = paths[0].read_text(encoding="utf-8")
    assert_self_contained(index)
    assert doc_filename(rec.document.name, rec.document.sha256) in index
    assert 'id="f-status"' in index and 'id="f-class"' in index
    assert 'data-classes="source_inconsistency"' in index

    page = _page(out, rec.document.name, rec.document.sha256)
    assert_self_contained(page)
    # the table as printed, with labels from the templates
    for label in ("一、本年新收政府信息公开申请数量", "(七)总计", "申请人情况", "法人或其他组织", "第二十条第(一)项",
                  "复议后起诉", "结果维持"):
        assert label in page
    # each number marked at its span; the cell links to it
    source = f.read_text(encoding="utf-8")
    for ref, expect in (("table3.new_received.total", "7"), ("table3.total.total", "0"),
                        ("table2.licensing.decisions", "35")):
        status, mark = _cell_mark(page, ref)
        assert _anchor_text(page, mark) == expect
        cell = rec.tables[ref.split(".")[0]].get(*ref.split(".")[1:])
        assert source[cell.span.start:cell.span.end] == expect
    assert _cell_mark(page, "table3.total.total")[0] == "st-source"
    assert _cell_mark(page, "table2.licensing.decisions")[0] == "st-confirmed"
    # the finding with its rule, arithmetic and operands
    assert "T3.BALANCE" in page and "7 + 0 ≠ 0 + 0" in page
    assert "表三 · (七)总计 · 总计" in page
    assert 'class="chip c-source_inconsistency"' in page


def test_reviewer_values_show_in_the_report(tmp_path):
    _, db = make_batch(tmp_path)
    with Store(db) as st:
        (rec,) = list(st.records())
        st.put_review(rec.document.sha256, "T3.BALANCE:column total", "correct", reviewer="ann",
                      cell="table3.total.total", value="7", grounded=False, comment="checked with the office")
    out = tmp_path / "report"
    build_report(db, out)
    page = _page(out, rec.document.name, rec.document.sha256)
    # the reviewer's own value is printed nowhere: shown as set by the reviewer, linked to no characters
    m = re.search(r'<td class="num (st-[\w-]+)[^"]*" id="c-table3\.total\.total"(?: colspan="\d+")?( data-goto)?', page)
    assert m and m.group(1) == "st-reviewer" and m.group(2) is None
    assert "<s>0</s>7" in page
    assert "corrected" in page and "checked with the office" in page and "(own value)" in page


def test_source_text_is_escaped_and_overlaps_split():
    raw = "a<b>&c 12 34 end".encode()
    doc = load_bytes(raw, "x.txt")
    src = source_of(doc)
    marks = [Mark(id="m1", start=7, end=12, status="fact", title="outer"),
             Mark(id="m2", start=7, end=9, status="confirmed", title="inner", target="c-t.r.c")]
    out = str(render_source(src, marks))
    assert out.startswith("a&lt;b&gt;&amp;c ")
    assert '<span class="hl st-confirmed" data-m="m1 m2" data-target="c-t.r.c" title="inner">12</span>' in out
    assert '<span class="hl st-fact" data-m="m1" title="outer"> 34</span>' in out
    assert out.count('class="anchor"') == 2


def test_html_source_shows_visible_text_with_marks_at_spans():
    page = ("<html><head><style>p{}</style></head><body><p>全年收到申请<b>12</b>件&nbsp;办结</p>"
            "<table><tr><td>总计</td><td>3</td></tr></table></body></html>")
    doc = load_bytes(page.encode(), "x.html")
    src = source_of(doc)
    assert "<b>" not in src.display and "p{}" not in src.display and "12" in src.display
    for digit in ("12", "3"):
        start = page.index(">" + digit + "<") + 1
        span = Span(start=start, end=start + len(digit))
        a, b = src.to_display(span)
        assert src.display[a:b] == digit


def test_report_for_the_samples_shows_000_and_001(tmp_path):
    files, db = samples_batch(tmp_path)
    out = tmp_path / "report"
    build_report(db, out)
    with Store(db) as st:
        recs = {r.document.name[:3]: r for r in st.records()}
    # 000: table 三 breaks its balance: arithmetic and both cells' source spans
    r0 = recs["000"]
    page = _page(out, r0.document.name, r0.document.sha256)
    assert_self_contained(page)
    art = re.search(r'<article class="finding cls-source_inconsistency[^"]*"[^>]*data-fid="T3\.BALANCE:column total">'
                    r'(.*?)</article>', page, re.S)
    assert art, "T3.BALANCE column total finding missing"
    block = art.group(1)
    assert "5 + 0 ≠ 0 + 0" in block
    text = files[0].read_text(encoding="utf-8")
    for ref, printed in (("table3.new_received.total", "5"), ("table3.total.total", "0")):
        cell = r0.tables["table3"].get(*ref.split(".")[1:])
        assert text[cell.span.start:cell.span.end] == printed
        status, mark = _cell_mark(page, ref)
        assert status == "st-source"
        assert f'data-goto="{mark}"' in block  # the operand links to the same span
        assert _anchor_text(page, mark) == printed
    # 001: the website total stated twice with different values
    r1 = recs["001"]
    page1 = _page(out, r1.document.name, r1.document.sha256)
    dup = [f for f in r1.findings if f.rule == "N.SAME_QUANTITY" and f.status != "PASS"]
    assert dup, "the narrative check did not report the duplicated website total"
    text1 = files[1].read_text(encoding="utf-8")
    for f in dup:
        art = re.search(r'data-fid="%s">(.*?)</article>' % re.escape(f.id), page1, re.S)
        assert art, f"{f.id} missing from the page"
        marked = [htmlmod.unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(r"<mark>(.*?)</mark>", art.group(1))]
        values = {str(op.value) for op in f.operands}
        assert len(values) >= 2  # two different values for the same quantity
        for op in f.operands:
            assert op.span is not None and str(op.value) in text1[op.span.start:op.span.end]
            assert any(str(op.value) in m for m in marked), (op.value, marked)
    assert 'class="hl st-fact-bad"' in page1
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "000_" in index and "001_" in index


def test_cli_report(tmp_path):
    _, db = make_batch(tmp_path)
    out = tmp_path / "html"
    res = CliRunner().invoke(app, ["report", "--db", str(db), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "index.html").exists()
    res = CliRunner().invoke(app, ["report", "--db", str(tmp_path / "nope.db"), "--out", str(out)])
    assert res.exit_code != 0


def test_missing_source_file_still_renders(tmp_path):
    f, db = make_batch(tmp_path)
    f.unlink()
    out = tmp_path / "report"
    build_report(db, out)
    with Store(db) as st:
        (rec,) = list(st.records())
    page = _page(out, rec.document.name, rec.document.sha256)
    assert "source not available" in page and "7 + 0 ≠ 0 + 0" in page
