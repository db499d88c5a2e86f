"""DOCX loader: paragraphs and tables in order, merged cells as empty slots, zip-bomb guard.

Every fixture is built here with python-docx (no report text is copied into the project).
"""

from __future__ import annotations

import io
import os
import zipfile

import pytest

docx = pytest.importorskip("docx", reason="python-docx is not installed")

from extractor.errors import LoadError  # noqa: E402
from extractor.loaders import load_bytes  # noqa: E402
from extractor.loaders import docx as docx_loader  # noqa: E402
from extractor.loaders.docx import load_docx  # noqa: E402


def _save(d) -> bytes:
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def report_docx() -> bytes:
    d = docx.Document()
    d.add_paragraph("测试区人民政府2099年政府信息公开工作年度报告")
    d.add_paragraph("一、总体情况")
    d.add_paragraph("全年收到申请\t12件，办结  12件。")
    d.add_paragraph("四、行政复议、行政诉讼情况")
    # table 四 style: a colspan header over five columns, then one number per column
    t = d.add_table(rows=3, cols=6)
    t.cell(0, 0).merge(t.cell(0, 4)).text = "行政复议"
    t.cell(0, 5).text = "行政诉讼"
    for i, h in enumerate(["结果维持", "结果纠正", "其他结果", "尚未审结", "总计", "维持"]):
        t.cell(1, i).text = h
    for i, v in enumerate(["1", "0", "2", "0", "3", "7"]):
        t.cell(2, i).text = v
    d.add_paragraph("三、收到和处理政府信息公开申请情况")
    # table 三 style: a rowspan label over three rows, two-line header cell
    t = d.add_table(rows=4, cols=4)
    t.cell(0, 0).text = "项目"
    hdr = t.cell(0, 2)
    hdr.text = "商业"
    hdr.add_paragraph("企业")
    t.cell(0, 1).text = "自然人"
    t.cell(0, 3).text = "总计"
    t.cell(1, 0).merge(t.cell(3, 0)).text = "三、本年度办理结果"
    rows = [("(一)予以公开", "10", "11"), ("(二)部分公开", "0", "0"), ("(三)不予公开", "1", "1")]
    for r, (lab, a, tot) in enumerate(rows, start=1):
        # label in column 1 would collide with the merged column 0, so numbers go in 1..3
        t.cell(r, 1).text = a
        t.cell(r, 2).text = lab
        t.cell(r, 3).text = tot
    d.add_paragraph("六、其他需要报告的事项")
    return _save(d)


def test_paragraphs_and_tables_in_document_order(report_docx):
    doc = load_docx(report_docx, name="r.docx")
    lines = doc.text.split("\n")
    assert lines[0] == "测试区人民政府2099年政府信息公开工作年度报告"
    assert "全年收到申请 12件,办结 12件。" in lines  # tab and space runs collapse, full-width normalized
    heads = ["一、总体情况", "四、行政复议、行政诉讼情况", "行政复议 |", "三、收到和处理政府信息公开申请情况",
             "三、本年度办理结果 |", "六、其他需要报告的事项"]
    idx = [doc.text.index(h) for h in heads]
    assert idx == sorted(idx)
    assert doc.kind == "docx"


def test_merged_cells_are_empty_slots(report_docx):
    doc = load_docx(report_docx, name="r.docx")
    lines = doc.text.split("\n")
    # gridSpan: the merged header covers five slots, four of them empty
    assert "行政复议 |  |  |  |  | 行政诉讼 |" in lines
    assert "1 | 0 | 2 | 0 | 3 | 7 |" in lines
    # vMerge: the label appears once, continuation rows have an empty first slot
    assert "三、本年度办理结果 | 10 | (一)予以公开 | 11 |" in lines
    assert " | 0 | (二)部分公开 | 0 |" in lines
    assert " | 1 | (三)不予公开 | 1 |" in lines
    # a two-paragraph cell is one slot
    assert "项目 | 自然人 | 商业 企业 | 总计 |" in lines
    table_lines = [ln for ln in lines if ln.endswith(" |")]
    assert {ln.count(" | ") for ln in table_lines} == {5, 3}


def test_spans_map_to_cell_text(report_docx):
    doc = load_docx(report_docx, name="r.docx")
    for needle in ("(三)不予公开", "11", "行政诉讼", "三、本年度办理结果"):
        i = doc.text.index(needle)
        sp = doc.span(i, i + len(needle))
        assert doc.original_text(sp).replace("（", "(").replace("）", ")") == needle
        assert sp.page is None  # DOCX has no pages


def test_dispatch_by_content(report_docx):
    doc = load_bytes(report_docx, "report.docx")
    assert doc.kind == "docx"


def test_sdt_and_grid_before(report_docx):
    """Rows with skipped grid columns (gridBefore) keep their slots aligned."""
    d = docx.Document()
    t = d.add_table(rows=2, cols=3)
    for i, v in enumerate(["甲", "乙", "丙"]):
        t.cell(0, i).text = v
    t.cell(1, 1).text = "5"
    t.cell(1, 2).text = "6"
    # turn row 2 into: gridBefore=1 + two cells
    from docx.oxml.ns import qn
    from docx.oxml import OxmlElement

    tr = t.rows[1]._tr
    tr.remove(tr.tc_lst[0])
    trpr = tr.get_or_add_trPr()
    gb = OxmlElement("w:gridBefore")
    gb.set(qn("w:val"), "1")
    trpr.append(gb)
    doc = load_docx(_save(d), name="g.docx")
    assert doc.text.split("\n")[:2] == ["甲 | 乙 | 丙 |", " | 5 | 6 |"]


# -- bad inputs -------------------------------------------------------------------------------


def _zip(entries: dict[str, bytes], level: int = 9) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for k, v in entries.items():
            z.writestr(k, v)
    return buf.getvalue()


def test_zip_bomb_like_docx_is_refused():
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (8 * 1024 * 1024)})
    with pytest.raises(LoadError, match="zip bomb"):
        load_bytes(bomb, "bomb.docx")


def test_total_uncompressed_size_is_capped(monkeypatch):
    monkeypatch.setattr(docx_loader, "MAX_UNCOMPRESSED", 1024 * 1024)
    big = _zip({"word/document.xml": b"<w/>", "word/media/a.bin": os.urandom(600_000),
                "word/media/b.bin": os.urandom(600_000)}, level=1)
    with pytest.raises(LoadError, match="would expand to"):
        load_docx(big, name="big.docx")


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty file"),
        (b"PK\x03\x04" + os.urandom(3000), "not a DOCX"),
        (_zip({"hello.txt": b"hi"}), "no word/document.xml"),
        (_zip({"word/document.xml": b"<not-xml"}), "cannot read DOCX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "legacy Word .doc"),
    ],
    ids=["zero-byte", "garbage-zip", "zip-without-document", "broken-xml", "legacy-doc"],
)
def test_bad_docx_gives_one_clear_line(raw, message):
    with pytest.raises(LoadError) as ei:
        load_docx(raw, name="bad.docx")
    msg = str(ei.value)
    assert message in msg and "\n" not in msg and len(msg) <= 300


def test_truncated_docx(report_docx):
    with pytest.raises(LoadError, match="not a DOCX|cannot read DOCX"):
        load_bytes(report_docx[: len(report_docx) // 2], "cut.docx")
