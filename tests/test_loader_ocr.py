"""OCR loader: a rasterised corpus page is read back into the same table grid as its text layer.

Page 3 of ../shared/corpus/reports/001.pdf is rendered at 200 dpi in the test (nothing is copied
into the project) and saved as a one-page image-only PDF, which the PDF loader must detect as a
scan and hand to OCR. One page keeps the test around ten seconds.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from extractor.errors import LoadError
from extractor.loaders import load_bytes
from extractor.loaders.ocr import fix_digits, positional_tables, _Piece

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"
NUM = re.compile(r"\d+(?:\.\d+)?")


def _need_ocr():
    pytest.importorskip(
        "rapidocr_onnxruntime", reason="rapidocr-onnxruntime is not installed (pip install -e .)"
    )


def _page_image(n: str, page: int, dpi: int = 200):
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 is not installed")
    p = CORPUS / "reports" / f"{n}.pdf"
    if not p.exists():
        pytest.skip(f"corpus PDF {p} not available (../shared/corpus is not mounted)")
    doc = pdfium.PdfDocument(str(p))
    try:
        return doc[page - 1].render(scale=dpi / 72).to_pil().convert("L")
    finally:
        doc.close()


def table_rows(text: str) -> list[list[str]]:
    return [
        [s.strip() for s in ln[: -len(" |")].split(" | ")]
        for ln in text.split("\n")
        if ln.endswith(" |")
    ]


@pytest.fixture(scope="module")
def scanned_page3():
    _need_ocr()
    img = _page_image("001", 3)
    buf = io.BytesIO()
    img.save(buf, format="PDF", resolution=200)
    return load_bytes(buf.getvalue(), "scan-p3.pdf")


def test_scanned_pdf_is_detected_and_read(scanned_page3):
    d = scanned_page3
    assert d.kind == "pdf"
    assert any("OCR" in n for n in d.notes)
    lines = d.text.split("\n")
    assert "行政处罚 | 4119 |" in lines
    assert "行政强制 | 195 |" in lines
    assert "行政事业性收费 | 7730.28 |" in lines


def test_table3_cells_on_the_scanned_page_match_gold(scanned_page3):
    g = json.loads((CORPUS / "gold" / "001.json").read_text("utf-8"))
    rows = [r for r in table_rows(scanned_page3.text) if sum(bool(NUM.fullmatch(s)) for s in r) == 7]
    # page 3 holds rows 一 … (四)2 of table 三 (the first 14 of the 23 printed rows)
    expected = [[g["table3"][r][c] for c in g["table3_columns"]] for r in g["table3_rows"][:14]]
    got = [[int(s) for s in r if NUM.fullmatch(s)] for r in rows]
    assert len(got) == 14
    cells = sum(len(r) for r in expected)
    right = sum(a == b for ra, rb in zip(got, expected) for a, b in zip(ra, rb))
    assert right / cells >= 0.98, (right, cells)
    # labels stay in their row
    assert any(r[2] == "1.属于国家秘密" for r in rows)


def test_ocr_spans_carry_page_box_and_confidence(scanned_page3):
    d = scanned_page3
    i = d.text.index("4119")
    sp = d.span(i, i + 4)
    assert d.original_text(sp) == "4119"
    assert sp.page == 1
    # boxes are in PDF points: the text layer puts 4119 at about (362, 136, 386, 148)
    x0, top, x1, bottom = sp.bbox
    assert 350 < x0 < 370 and 375 < x1 < 395 and 125 < top < 145 and 140 < bottom < 160
    conf = d.confidence(sp)
    assert conf is not None and 0.5 < conf <= 1.0
    # every character has its own run with a confidence
    assert all(g.confidence is not None for g in d.geometry)
    assert [g.start for g in d.geometry] == sorted(g.start for g in d.geometry)


def test_load_image_png():
    _need_ocr()
    img = _page_image("001", 3)
    crop = img.crop((150, 150, 1500, 850))  # table 二 continuation only: quick
    buf = io.BytesIO()
    crop.save(buf, format="PNG", dpi=(200, 200))
    d = load_bytes(buf.getvalue(), "crop.png")
    assert d.kind == "image"
    assert "行政处罚 | 4119 |" in d.text.split("\n")
    i = d.text.index("7730.28")
    assert d.original_text(d.span(i, i + 7)) == "7730.28"


def test_skewed_scan_is_deskewed():
    _need_ocr()
    from PIL import Image

    img = _page_image("001", 3).crop((150, 150, 1500, 850))
    img = img.rotate(1.5, resample=Image.BICUBIC, expand=True, fillcolor=255)
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(200, 200))
    d = load_bytes(buf.getvalue(), "skewed.png")
    assert any("deskewed" in n for n in d.notes)
    lines = d.text.split("\n")
    assert "行政处罚 | 4119 |" in lines and "行政事业性收费 | 7730.28 |" in lines


def test_text_detection_runs_once_per_page_also_when_the_text_lines_give_the_skew(monkeypatch):
    _need_ocr()
    from PIL import Image

    from extractor.loaders import ocr

    eng = ocr.engine()
    calls = []
    real = type(eng).__call__

    def counting(self, img, *a, use_det=None, use_rec=None, **kw):
        calls.append((use_det, use_rec))
        return real(self, img, *a, use_det=use_det, use_rec=use_rec, **kw)

    monkeypatch.setattr(type(eng), "__call__", counting)
    img = _page_image("001", 1).crop((150, 500, 1500, 1000))  # a paragraph: no ruling lines
    img = img.rotate(1.5, resample=Image.BICUBIC, expand=True, fillcolor=255)
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(200, 200))
    d = load_bytes(buf.getvalue(), "skewed-text.png")
    assert any("deskewed by -1.5" in n for n in d.notes), d.notes
    assert calls == [(True, False)]  # one detection, on the page as scanned; boxes turned with it
    for number in ("711", "223100", "0517-87222589"):
        assert number in d.text


# -- units that need no OCR engine ----------------------------------------------------------------


def test_skew_angle_from_rules():
    cv2 = pytest.importorskip("cv2", reason="opencv is not installed")
    import math

    import numpy as np

    from extractor.loaders.ocr import skew_angle

    ink = np.zeros((800, 1000), np.uint8)
    for y in (100, 300, 500, 700):
        dy = math.tan(math.radians(1.2)) * 900
        cv2.line(ink, (50, y), (950, int(round(y + dy))), 255, 3)
    assert abs(skew_angle(ink) - 1.2) < 0.15
    assert skew_angle(np.zeros((800, 1000), np.uint8)) is None


@pytest.mark.parametrize(
    "raw, fixed",
    [
        ("1O", "10"),
        ("2O23年", "2023年"),
        ("l23", "123"),
        ("4I9", "419"),
        ("7730.2O", "7730.20"),
        ("Old", "Old"),  # a word, no digit
        ("IO", "IO"),  # no digit at all: not touched
        ("hzzwgk@126.com", "hzzwgk@126.com"),
        ("PDF1O", "PDF1O"),  # glued to a word
    ],
)
def test_fix_digits_only_inside_digit_runs(raw, fixed):
    assert fix_digits(raw) == fixed


def test_positional_tables_without_rules():
    def piece(text, x0, y0, x1, y1):
        p = _Piece((x0, y0, x1, y1), None)
        p.text = text
        return p

    pieces = []
    for r, (lab, nums) in enumerate([("予以公开", ["3", "0", "3"]), ("部分公开", ["12", "1", "13"])]):
        y = 100 + 40 * r
        pieces.append(piece(lab, 10, y, 90, y + 20))
        for c, n in enumerate(nums):
            pieces.append(piece(n, 200 + 80 * c, y, 215 + 80 * c, y + 20))
    tables = positional_tables(pieces)
    assert len(tables) == 1
    cells = tables[0]
    assert len(cells) == 2 * 4  # two rows, label column + three number columns


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "cannot read image"),
        (b"\xff\xd8\xff\xe0" + b"garbage" * 50, "cannot read image"),
    ],
    ids=["truncated-png", "garbage-jpeg"],
)
def test_bad_images(raw, message):
    _need_ocr()
    with pytest.raises(LoadError, match=message):
        load_bytes(raw, "bad.png")
