"""PDF loader: tables rebuilt as grids from ruling lines, spans with page + box, clear errors.

The corpus PDFs are read from ../shared (never copied into the project); the tests that need them
are skipped when it is absent.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from extractor.errors import LoadError
from extractor.loaders import load, load_bytes
from extractor.loaders.pdf import load_pdf, text_quality

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"
NUM = re.compile(r"\d+(?:\.\d+)?")


def corpus_pdf(n: str) -> Path:
    p = CORPUS / "reports" / f"{n}.pdf"
    if not p.exists():
        pytest.skip(f"corpus PDF {p} not available (../shared/corpus is not mounted)")
    return p


def gold(n: str) -> dict:
    return json.loads((CORPUS / "gold" / f"{n}.json").read_text("utf-8"))


def table_rows(text: str) -> list[list[str]]:
    """Every rendered table row as its list of slots."""
    out = []
    for line in text.split("\n"):
        if line.endswith(" |"):
            out.append([s.strip() for s in line[: -len(" |")].split(" | ")])
    return out


_cache: dict[str, object] = {}


def doc(n: str):
    if n not in _cache:
        _cache[n] = load(corpus_pdf(n))
    return _cache[n]


@pytest.mark.parametrize("n", ["001", "002"])
def test_table3_rows_are_single_lines_with_seven_numbers(n):
    d = doc(n)
    rows = [r for r in table_rows(d.text) if sum(bool(NUM.fullmatch(s)) for s in r) == 7]
    g = gold(n)
    expected = [[g["table3"][r][c] for c in g["table3_columns"]] for r in g["table3_rows"]]
    got = [[int(s) for s in r if NUM.fullmatch(s)] for r in rows]
    assert got == expected
    # every table-3 row carries its label in the same line and has the same slot count
    assert len({len(r) for r in rows}) == 1
    assert all(any(re.search(r"[\u4e00-\u9fff]", s) for s in r) for r in rows)


@pytest.mark.parametrize("n", ["001", "002"])
def test_table4_is_one_line_of_fifteen_numbers(n):
    d = doc(n)
    rows = [r for r in table_rows(d.text) if sum(bool(NUM.fullmatch(s)) for s in r) == 15]
    assert len(rows) == 1
    g = gold(n)["table4"]
    expected = [
        g[grp][k]
        for grp in ("review", "litigation_direct", "litigation_after_review")
        for k in ("upheld", "corrected", "other", "pending", "total")
    ]
    assert [int(s) for s in rows[0]] == expected


def test_table2_rows_and_page_break_continuation():
    d = doc("001")
    lines = d.text.split("\n")
    assert "规章 | 0 | 0 | 0 |" in lines
    assert "行政规范性文件 | 0 | 5 | 5 |" in lines
    # table 二 continues on page 3 without a top rule: its first row still comes out whole
    assert "行政处罚 | 4119 |" in lines
    assert "行政事业性收费 | 7730.28 |" in lines
    # table 三 is cut by the page break under row "2.没有现成信息…": that row is complete
    row = next(r for r in table_rows(d.text) if r[2:3] == ["2.没有现成信息需要另行制作"])
    assert [s for s in row if NUM.fullmatch(s)] == ["3", "0", "0", "0", "0", "0", "3"]
    # the vertical label of the rowspan cell is read top to bottom
    assert any(r[0] == "三、本年度办理结果" for r in table_rows(d.text))


def test_spans_map_back_with_page_and_box():
    d = doc("001")
    pages_seen = set()
    pos = 0
    for line in d.text.split("\n"):
        if line.endswith(" |"):
            col = 0
            for m in re.finditer(r"[^|]+", line):
                s = m.group().strip()
                if NUM.fullmatch(s):
                    a = pos + m.start() + m.group().index(s)
                    sp = d.span(a, a + len(s))
                    assert d.original_text(sp) == s
                    assert sp.page is not None and sp.bbox is not None
                    x0, top, x1, bottom = sp.bbox
                    assert 0 <= x0 < x1 <= 612 and 0 <= top < bottom <= 842
                    pages_seen.add(sp.page)
                col += 1
        pos += len(line) + 1
    assert pages_seen == {2, 3, 4}
    i = d.text.index("1136")
    sp = d.span(i, i + 4)
    assert sp.page == 1 and d.original_text(sp) == "1136"
    assert [g.start for g in d.geometry] == sorted(g.start for g in d.geometry)


def test_page_numbers_dropped_and_text_in_reading_order():
    d = doc("001")
    assert not re.search(r"^\s*-\s*\d+\s*-\s*$", d.text, re.M)
    heads = ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
             "四、政府信息公开行政复议、行政诉讼情况", "六、其他需要报告的事项"]
    idx = [d.text.index(h) for h in heads]
    assert idx == sorted(idx)
    assert d.kind == "pdf" and not d.notes  # text layer, no OCR


@pytest.mark.parametrize(
    "text, top, dropped",
    [("- 3 -", 400, True), ("—12—", 300, True), ("第3页", 810, True), ("2/5", 820, True),
     ("3", 810, True), ("3-", 805, True), ("3", 400, False), ("2023", 760, False),
     ("共5件", 810, False)],
)
def test_page_number_lines(text, top, dropped):
    from extractor.loaders.geometry import Glyph, is_page_number

    assert is_page_number([Glyph(text, 100, top, 120, top + 10)], 0, 842) is dropped


def test_garbage_page_goes_to_ocr_in_page_order(monkeypatch):
    """A page whose text layer is garbage is rendered and read by OCR; the other pages keep their
    text layer and the document stays in page order (OCR stubbed: routing only)."""
    from extractor.loaders import ocr, pdf

    raw = corpus_pdf("001").read_bytes()
    real = pdf._page_glyphs
    calls = []

    def glyphs(page):
        gs = real(page)
        if page.page_number == 2:  # simulate a font without a usable ToUnicode map
            for g in gs:
                g.text = "\u00ff" if g.text.strip() else g.text
        return gs

    def fake_ocr(w, img, page, *, points_per_pixel, dpi_known=True):
        calls.append((page, img.size, round(points_per_pixel, 3)))
        w.newline()
        w.put("OCR-PAGE-2")
        w.newline()

    monkeypatch.setattr(pdf, "_page_glyphs", glyphs)
    monkeypatch.setattr(ocr, "ocr_page_into", fake_ocr)
    d = load_pdf(raw, name="x.pdf")
    assert [c[0] for c in calls] == [2]
    assert calls[0][2] == round(72 / pdf.OCR_DPI, 3)
    i = d.text.index("OCR-PAGE-2")
    assert d.text.index("一、总体情况") < i < d.text.index("三、收到和处理政府信息公开申请情况")
    assert "规章 | 0 | 0 | 0 |" not in d.text  # that table sits on page 2
    assert any("OCR" in n and ": 2" in n for n in d.notes)


def test_text_layer_over_a_scanned_table_uses_the_image_rules():
    """A scan with a text layer (rules only in the page image): the grid comes from the image,
    the characters from the text layer. Fixture: page 3 of 001 with its vector rules removed and
    its rendering placed behind the text."""
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 is not installed")
    pytest.importorskip("cv2", reason="opencv (OCR extra) is not installed")
    import io

    import pypdfium2.raw as pr

    src = pdfium.PdfDocument(str(corpus_pdf("001")))
    doc = pdfium.PdfDocument.new()
    doc.import_pages(src, [2])
    page = doc[0]
    w, h = page.get_size()
    bitmap = page.render(scale=150 / 72)
    for obj in [o for o in page.get_objects() if o.type == pr.FPDF_PAGEOBJ_PATH]:
        page.remove_obj(obj)
    img = pdfium.PdfImage.new(doc)
    img.set_bitmap(bitmap)
    img.set_matrix(pdfium.PdfMatrix().scale(w, h))
    page.insert_obj(img)
    page.gen_content()
    buf = io.BytesIO()
    doc.save(buf)
    d = load_pdf(buf.getvalue(), name="searchable-scan.pdf")
    assert any("grid taken from the page image" in n for n in d.notes)
    lines = d.text.split("\n")
    assert "行政处罚 | 4119 |" in lines
    rows = [r for r in table_rows(d.text) if sum(bool(NUM.fullmatch(s)) for s in r) == 7]
    assert len(rows) == 14
    i = d.text.index("7730.28")
    sp = d.span(i, i + 7)
    assert d.original_text(sp) == "7730.28" and sp.page == 1


def test_needs_ocr():
    from extractor.loaders.pdf import needs_ocr

    assert needs_ocr("", 0.0)
    assert needs_ocr("- 3 -", 1.0)
    assert needs_ocr("ÿþ‰s‹[:_ÿþ‰s‹ÿþ" * 10, 0.0)
    assert needs_ocr("洪泽区人民政府 第1页", 0.98)  # a scanned page with a typed header
    assert not needs_ocr("本报告由淮安市洪泽区人民政府办公室根据条例编制。" * 3, 0.98)
    assert not needs_ocr("本报告由淮安市洪泽区人民政府办公室编制", 0.0)


def test_text_quality():
    assert text_quality("本报告由淮安市人民政府办公室编制, 2023年") > 0.95
    assert text_quality("(cid:12)(cid:13)(cid:14)") < 0.5
    assert text_quality("ÿþ‰s‹[:_ÿþ‰s‹ÿþ") < 0.5


# -- bad inputs --------------------------------------------------------------------------------

_MINI = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj
"""


def _encrypted_pdf() -> bytes:
    """A PDF whose standard security handler needs a user password we do not know."""
    body = _MINI + (
        b"4 0 obj << /Filter /Standard /V 1 /R 2 /P -4 /O <" + b"11" * 32 + b"> /U <"
        + b"22" * 32 + b"> >> endobj\n"
    )
    xref = len(body)
    offs = [body.index(f"{i} 0 obj".encode()) for i in range(1, 5)]
    x = b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offs)
    trailer = (
        b"trailer << /Size 5 /Root 1 0 R /Encrypt 4 0 R /ID [<" + b"ab" * 16 + b"> <"
        + b"ab" * 16 + b">] >>\nstartxref\n%d\n%%%%EOF\n" % xref
    )
    return body + x + trailer


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty file"),
        (os.urandom(4096), "not a PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 20, "PDF"),
        (_MINI, "PDF"),  # no xref, no trailer, no %%EOF
        (_encrypted_pdf(), "encrypted"),
    ],
    ids=["zero-byte", "garbage", "garbage-with-header", "no-trailer", "encrypted"],
)
def test_bad_pdfs_give_one_clear_line(raw, message):
    with pytest.raises(LoadError) as ei:
        load_pdf(raw, name="bad.pdf")
    msg = str(ei.value)
    assert message in msg and "\n" not in msg and len(msg) < 300


def test_truncated_corpus_pdf():
    raw = corpus_pdf("001").read_bytes()
    for cut in (len(raw) // 2, len(raw) - 200, 2000):
        with pytest.raises(LoadError, match="truncated|damaged"):
            load_bytes(raw[:cut], "cut.pdf")
