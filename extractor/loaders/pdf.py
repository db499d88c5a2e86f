"""PDF with a text layer: text in reading order, tables rebuilt as grids from their ruling lines.

``original`` is the text layer as this loader lays it out: one line per text line, table cells
separated by tabs, one line per table row. ``text`` is its normalized form; a table row becomes
``slot | slot | ... |`` exactly as the HTML loader writes it (a slot covered by a merged cell is
empty, so every row of a table has the same number of slots). Cell separators are synthetic;
every character of a cell maps back to the text layer, and ``geometry`` gives page and box (PDF
points, top-left origin) for every word or number.

A PDF whose text layer is empty or garbage (a scan) is handed to OCR page by page.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from ..document import Document
from ..budget import max_ocr_pages, max_pages, problem
from ..errors import LoadError
from .geometry import BBox, Glyph, LayoutWriter, find_tables, ink_mask, layout_page, tables_from_edges

MAX_PAGES = 500  # default of the page budget (extractor.budget: EXTRACTOR_MAX_PAGES)

# pdfminer warns about every malformed operator of a damaged file; errors still surface as LoadError
logging.getLogger("pdfminer").setLevel(logging.ERROR)
OCR_DPI = 200
MAX_RASTER_SIDE = 4000  # pixels: an oversized page is rendered below OCR_DPI

# --------------------------------------------------------------------------------------------
# PDF text layer
# --------------------------------------------------------------------------------------------

_GOOD = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef0-9A-Za-z\s.,;:()%、，。：；（）《》“”\-—/]")


def text_quality(s: str) -> float:
    """Share of characters that look like real report text (CJK, digits, common punctuation)."""
    s = re.sub(r"\s+", "", s)
    if not s:
        return 0.0
    if "(cid:" in s:
        s = re.sub(r"\(cid:\d+\)", "\x00", s)
    good = len(_GOOD.findall(s))
    return good / len(s)


def _visible_rule(obj: dict) -> bool:
    """Keep drawing objects that can be ruling lines; drop invisible/white background boxes."""
    t = obj.get("object_type")
    if t == "char":
        return True
    if t not in ("rect", "line", "curve"):
        return True
    stroke = obj.get("stroke", True)
    fill = obj.get("fill", False)
    w = abs(obj.get("width", 0) or 0)
    h = abs(obj.get("height", 0) or 0)
    if t == "rect" and fill and not stroke:
        # a filled rectangle only counts as a rule when it is thin and not white
        return min(w, h) <= 3 and not _white(obj.get("non_stroking_color"))
    if stroke and _white(obj.get("stroking_color")):
        return False
    return True


def _white(color: object) -> bool:
    if color is None:
        return False
    if isinstance(color, (int, float)):
        return color >= 0.95
    try:
        vals = [float(v) for v in color]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return False
    if len(vals) == 1:
        return vals[0] >= 0.95
    if len(vals) == 3:
        return min(vals) >= 0.95
    if len(vals) == 4:  # CMYK
        return max(vals) <= 0.05
    return False


def _open(raw: bytes):  # -> pdfplumber.PDF
    import pdfplumber


    try:
        from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    except ImportError:  # pragma: no cover
        PDFEncryptionError = PDFPasswordIncorrect = ()  # type: ignore[misc,assignment]
    if not raw.lstrip()[:1024].startswith(b"%PDF") and b"%PDF" not in raw[:1024]:
        raise LoadError("not a PDF file (no %PDF header)")
    try:
        pdf = pdfplumber.open(io.BytesIO(raw))
        n = len(pdf.pages)
    except Exception as exc:  # pdfminer raises many types
        inner = exc.__cause__ or exc.__context__ or exc
        names = {type(exc).__name__, type(inner).__name__}
        msg = str(inner) or str(exc)
        if "PDFPasswordIncorrect" in names or (
            PDFPasswordIncorrect and isinstance(inner, PDFPasswordIncorrect)  # type: ignore[arg-type]
        ):
            raise LoadError("PDF is encrypted with a password; cannot read it") from exc
        if "PDFEncryptionError" in names or "encrypt" in msg.lower() or (
            PDFEncryptionError and isinstance(inner, PDFEncryptionError)  # type: ignore[arg-type]
        ):
            raise LoadError(f"PDF is encrypted in an unsupported way: {msg}") from exc
        if b"%%EOF" not in raw[-2048:]:
            raise LoadError(f"PDF is truncated or damaged (no end-of-file marker): {msg or type(inner).__name__}") from exc
        raise LoadError(f"PDF cannot be parsed: {msg or type(inner).__name__}") from exc
    if n == 0:
        raise LoadError("PDF has no pages (truncated or damaged file)")
    limit = max_pages()
    if n > limit:
        raise LoadError(f"page budget: PDF has {n} pages (limit {limit}; set EXTRACTOR_MAX_PAGES)")
    return pdf


def needs_ocr(text: str, image_cover: float) -> bool:
    """A page is read by OCR when its text layer is empty or garbage, or when a page-size image
    carries only a header/page number worth of text."""
    t = re.sub(r"\s+", "", text)
    if len(t) < 5 or text_quality(t) < 0.5:
        return True
    return image_cover >= 0.5 and len(t) < 40


def _image_cover(page) -> float:
    """Share of the page area covered by its largest image."""
    try:
        area = float(page.width) * float(page.height)
        best = 0.0
        for im in page.images:
            w = max(0.0, min(float(im["x1"]), float(page.width)) - max(float(im["x0"]), 0.0))
            h = max(0.0, min(float(im["bottom"]), float(page.height)) - max(float(im["top"]), 0.0))
            best = max(best, w * h)
        return best / area if area else 0.0
    except Exception:
        return 0.0


def _page_glyphs(page) -> list[Glyph]:
    out = []
    for c in page.chars:
        t = c.get("text") or ""
        if not t:
            continue
        if _white(c.get("non_stroking_color")) and t.strip():
            continue  # white text is invisible
        out.append(Glyph(t, float(c["x0"]), float(c["top"]), float(c["x1"]), float(c["bottom"])))
    return out


def _page_tables(page) -> list[list[BBox]]:
    """Ruled tables of a page (drawn with visible lines or thin rectangles).

    Only horizontal and vertical edges can be rules: a diagonal segment of a curve (a slanted header
    line, a rounded corner as Chromium prints it) has no orientation, and pdfplumber's edge merge
    fails on it (``KeyError: None``)."""
    edges = [e for e in page.edges if e.get("orientation") in ("h", "v")
             and ((e["x1"] - e["x0"]) >= 1 or (e["bottom"] - e["top"]) >= 1)]
    return [t for t in tables_from_edges(edges) if len(t) >= 2]


def _rasterize(raw: bytes, pages: list[int], dpi: int = OCR_DPI):
    """Yield (page_no, PIL image, points-per-pixel) for the 1-based ``pages``; a page that cannot be
    rendered yields (page_no, None, error message) and the next pages are still rendered."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(raw)
    except Exception as exc:
        raise LoadError(f"PDF cannot be rendered for OCR: {exc}") from exc
    try:
        for p in pages:
            try:
                page = doc[p - 1]
                w, h = page.get_size()
                scale = min(dpi / 72, MAX_RASTER_SIDE / max(w, h, 1.0))
                img = page.render(scale=scale).to_pil()
            except Exception as exc:  # noqa: BLE001 - this page only
                yield p, None, f"{type(exc).__name__}: {exc}"
                continue
            yield p, img, 1 / scale
    finally:
        doc.close()


def _raster_tables(raw: bytes, page_no: int, dpi: int = 150) -> list[list[BBox]]:
    """Ruled tables found in the rendered page (for pages whose rules are part of an image)."""
    try:
        import cv2  # noqa: F401  (OCR extra: deliberately lazy, heavy and optional)
    except ImportError:
        return []
    import numpy as np

    try:
        _p, img, ppp = next(_rasterize(raw, [page_no], dpi=dpi))
    except (LoadError, StopIteration):
        return []
    if img is None:
        return []
    gray = np.asarray(img.convert("L"))
    tables = find_tables(ink_mask(gray), 1.0 / ppp)
    return [[(c[0] * ppp, c[1] * ppp, c[2] * ppp, c[3] * ppp) for c in t] for t in tables]


def _blank(page) -> bool:
    """A page with nothing on it at all (no text, image or drawing): never worth OCR."""
    try:
        return not (page.chars or page.images or page.rects or page.lines or page.curves)
    except Exception:  # noqa: BLE001 - when in doubt, not blank
        return False


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")[:200]


def load_pdf(raw: bytes, *, name: str, path: str | Path = "") -> Document:
    """Read every page; a stage failing on one page (reading its characters, finding its table grid,
    rendering or OCR) degrades that page only — text without grid, or no text — with a note and a
    ``D.PAGE_DEGRADED`` problem (a finding on the record); blank pages are never OCR'd, and at most
    ``EXTRACTOR_MAX_OCR_PAGES`` pages are (``D.BUDGET`` names the pages left out)."""

    if not raw:
        raise LoadError("empty file (0 bytes)")
    pdf = _open(raw)
    w = LayoutWriter()
    problems: list[dict] = []

    def degrade(i: int, what: str, exc: BaseException | str) -> None:
        msg = f"page {i}: {what} ({exc if isinstance(exc, str) else _why(exc)})"
        w.notes.append(msg)
        problems.append(problem("D.PAGE_DEGRADED", f"page {i}", msg))

    try:
        pages = []
        blank: list[int] = []
        for i, page in enumerate(pdf.pages, start=1):
            try:
                page = page.dedupe_chars()
                glyphs = _page_glyphs(page)
            except Exception as exc:  # noqa: BLE001 - this page only
                degrade(i, "its characters cannot be read; page left out", exc)
                continue
            if not glyphs and _blank(page):
                blank.append(i)
                continue
            pages.append((i, page, glyphs, "".join(g.text for g in glyphs)))
        whole_garbage = text_quality("".join(p[3] for p in pages)) < 0.6
        scanned = [
            i for i, pg, _gl, txt in pages
            if whole_garbage or needs_ocr(txt, _image_cover(pg))
        ]
        budget = max_ocr_pages()
        if len(scanned) > budget:
            cut = scanned[budget:]
            scanned = scanned[:budget]
            msg = (f"OCR page budget: {len(cut)} page(s) past the first {budget} pages to OCR were not read: "
                   f"{_ranges(cut)} (raise EXTRACTOR_MAX_OCR_PAGES)")
            w.notes.append(msg)
            problems.append(problem("D.BUDGET", "OCR pages", msg))
            skip = set(cut)
            pages = [p for p in pages if p[0] not in skip]
        ocr_into = None
        images = iter(())
        if scanned:
            try:
                from .ocr import ocr_page_into as ocr_into  # deliberately lazy: the OCR engine is heavy
            except ImportError as exc:
                raise LoadError(
                    f"PDF has no usable text layer on page(s) {_ranges(scanned)} (a scan) and OCR "
                    f"support is not installed ({exc.name})"
                ) from exc
            # rendered one at a time, in page order (a long scan must not sit in memory)
            images = _rasterize(raw, scanned)
        todo = set(scanned)
        for i, page, glyphs, _txt in pages:
            if i in todo:
                p, img, ppp = next(images)  # type: ignore[call-overload]
                assert p == i
                if img is None:
                    degrade(i, "no usable text layer and the page cannot be rendered for OCR; page left out",
                            ppp)  # type: ignore[arg-type]
                else:
                    try:
                        ocr_into(w, img, i, points_per_pixel=ppp)  # type: ignore[misc]
                    except Exception as exc:  # noqa: BLE001 - this page only
                        degrade(i, "OCR failed; page left out", exc)
                    del img
            else:
                try:
                    tables = _page_tables(page.filter(_visible_rule))
                except Exception as exc:  # noqa: BLE001 - the text is still there: read it without a grid
                    degrade(i, "table grid detection failed; page read as text without table grid", exc)
                    tables = []
                if not tables and _image_cover(page) >= 0.5:
                    # a scan with a text layer (OCR'd by the scanner): the rules are in the image
                    try:
                        tables = _raster_tables(raw, i)
                    except Exception as exc:  # noqa: BLE001
                        degrade(i, "table grid detection in the page image failed; page read as text without "
                                   "table grid", exc)
                        tables = []
                    if tables:
                        w.notes.append(f"page {i}: table grid taken from the page image")
                box = tuple(float(v) for v in page.bbox)
                try:
                    layout_page(w, glyphs, tables, i, box)  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001
                    if not tables:
                        raise
                    degrade(i, "laying out its table grid failed; page read as text without table grid", exc)
                    layout_page(w, glyphs, [], i, box)  # type: ignore[arg-type]
            w.newline()
    finally:
        pdf.close()
    if blank:
        w.notes.append(f"blank page(s) skipped (nothing on them, not OCR'd): {_ranges(blank)}")
    if scanned:
        w.notes.append(f"OCR at {OCR_DPI} dpi for page(s) without a usable text layer: {_ranges(scanned)}")
    doc = w.document(name=name, kind="pdf", raw=raw, path=path)
    doc.problems.extend(problems)
    if not doc.text.strip():
        what = "PDF has no text (empty text layer and OCR found nothing)"
        if blank and not pages:
            what = f"PDF has no text: all {len(blank)} page(s) are blank"
        elif problems:
            what += "; " + "; ".join(p["message"] for p in problems[:3])
        raise LoadError(what)
    return doc


def _ranges(pages: list[int]) -> str:
    out = []
    for p in sorted(pages):
        if out and out[-1][1] == p - 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in out)
