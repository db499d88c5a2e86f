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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..document import Document, GeoRun, TextBuilder
from ..errors import LoadError

MAX_PAGES = 500  # default of the page budget (extractor.budget: EXTRACTOR_MAX_PAGES)

# pdfminer warns about every malformed operator of a damaged file; errors still surface as LoadError
logging.getLogger("pdfminer").setLevel(logging.ERROR)
OCR_DPI = 200
MAX_RASTER_SIDE = 4000  # pixels: an oversized page is rendered below OCR_DPI

BBox = tuple[float, float, float, float]


# --------------------------------------------------------------------------------------------
# Layout writer shared by the PDF and OCR loaders
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Glyph:
    """A piece of text on a page: one PDF character, or one OCR character/box."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    conf: float | None = None
    norm: str | None = None  # replacement written to the normalized text (OCR fixes), same length
    # OCR: one (box, confidence) per character of ``text``; each becomes its own geometry run
    chars: list[tuple[BBox, float | None]] | None = None

    @property
    def mid(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 0.1)


def is_cjk(ch: str) -> bool:
    if not ch:
        return False
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x3000 <= o <= 0x303F  # CJK punctuation
        or 0xFF00 <= o <= 0xFFEF  # full-width forms
        or 0xF900 <= o <= 0xFAFF
        or o in (0x201C, 0x201D, 0x2018, 0x2019, 0x2014, 0x2026, 0x00B7)
    )


_NUMCH = set("0123456789.,%-+")


def _cls(ch: str) -> int:
    return 1 if ch in _NUMCH else 0


def group_lines(glyphs: Iterable[Glyph]) -> list[list[Glyph]]:
    """Cluster glyphs into text lines by vertical middle, each line sorted left to right."""
    gs = sorted((g for g in glyphs if g.text), key=lambda g: g.mid)
    lines: list[list[Glyph]] = []
    cur: list[Glyph] = []
    cur_mid = 0.0
    cur_h = 0.0
    for g in gs:
        if cur and abs(g.mid - cur_mid) <= 0.45 * min(cur_h, g.height):
            cur.append(g)
            n = len(cur)
            cur_mid += (g.mid - cur_mid) / n
            cur_h = max(cur_h, g.height) if g.text.strip() else cur_h
        else:
            if cur:
                lines.append(cur)
            cur = [g]
            cur_mid = g.mid
            cur_h = g.height
    if cur:
        lines.append(cur)
    out = []
    for line in lines:
        line.sort(key=lambda g: g.x0)
        if any(g.text.strip() for g in line):
            out.append(line)
    out.sort(key=lambda ln: min(g.top for g in ln))
    return out


def line_text(line: Sequence[Glyph]) -> str:
    return "".join(g.text for g in line)


_PAGE_NO = re.compile(
    r"^\s*(?:[-—–－_~.·•\s]*\d{1,4}[-—–－_~.·•\s]*|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4})\s*$"
)
_DASHED = re.compile(r"^\s*[-—–－_~]+\s*\d{1,4}\s*[-—–－_~]+\s*$")


def is_page_number(line: Sequence[Glyph], page_top: float, page_bottom: float) -> bool:
    """A line that is only a page number ("- 3 -", "第3页", "3/5"): anywhere when dashed on both
    sides, otherwise only in the top or bottom margin of the page."""
    t = line_text(line).strip()
    if not _PAGE_NO.match(t):
        return False
    if _DASHED.match(t):
        return True
    h = page_bottom - page_top
    top = min(g.top for g in line)
    bottom = max(g.bottom for g in line)
    return top > page_top + 0.92 * h or bottom < page_top + 0.06 * h


class LayoutWriter:
    """Builds ``original`` (the text layer as laid out here), the normalized text and geometry."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.olen = 0
        self.b = TextBuilder()
        self.geo: list[GeoRun] = []
        self.notes: list[str] = []

    # -- primitives -----------------------------------------------------------------------
    def raw(self, s: str) -> None:
        """Characters of ``original`` that are not written to the normalized text."""
        self.parts.append(s)
        self.olen += len(s)

    def syn(self, s: str) -> None:
        self.b.add_synthetic(s, self.olen)

    def put(self, s: str, *, norm: str | None = None) -> int:
        """Write ``s`` to the original and (normalized, or ``norm``) to the text; return its start."""
        start = self.olen
        self.raw(s)
        if norm is not None and norm != s:
            self.b.add_mapped(norm, start, start + len(s))
        else:
            self.b.add(s, start)
        return start

    def newline(self) -> None:
        """End the current line (in both texts), unless at the start of a line."""
        if self.b.length and self.b.tail() != "\n":
            self.syn("\n")
        if self.parts and not self.parts[-1].endswith("\n"):
            self.raw("\n")

    # -- glyph runs -------------------------------------------------------------------------
    def glyphs(self, line: Sequence[Glyph], page: int, *, per_char: bool = False) -> None:
        """Write one line of glyphs, inserting a space where the horizontal gap is wide.

        Geometry is recorded per token (a run of digits or of other characters), per glyph
        (``per_char``), or per character for glyphs that carry their own character boxes (OCR).
        """
        prev: Glyph | None = None
        tok: list[tuple[int, int, Glyph]] = []
        pending_space = False

        def flush() -> None:
            if not tok:
                return
            if per_char:
                for s, e, g in tok:
                    self.geo.append(GeoRun(s, e, page, (g.x0, g.top, g.x1, g.bottom), g.conf))
            else:
                confs = [g.conf for _, _, g in tok if g.conf is not None]
                self.geo.append(
                    GeoRun(
                        tok[0][0],
                        tok[-1][1],
                        page,
                        (
                            min(g.x0 for _, _, g in tok),
                            min(g.top for _, _, g in tok),
                            max(g.x1 for _, _, g in tok),
                            max(g.bottom for _, _, g in tok),
                        ),
                        min(confs) if confs else None,
                    )
                )
            tok.clear()

        for g in line:
            if not g.text.strip():
                pending_space = prev is not None
                continue
            if prev is not None:
                gap = g.x0 - prev.x1
                size = min(prev.height, g.height)
                a, b = prev.text[-1], g.text[0]
                both_cjk = is_cjk(a) and is_cjk(b)
                space = gap > (0.9 if both_cjk else 0.28) * size
                if space or (pending_space and not both_cjk):
                    flush()
                    self.put(" ")
                elif _cls(a) != _cls(b) or g.chars is not None:
                    flush()
            pending_space = False
            start = self.put(g.text, norm=g.norm)
            if g.chars is not None and len(g.chars) == len(g.text):
                flush()
                for k, (bb, cf) in enumerate(g.chars):
                    if not g.text[k].isspace():
                        self.geo.append(GeoRun(start + k, start + k + 1, page, bb, cf))
            else:
                tok.append((start, self.olen, g))
            prev = g
        flush()

    def text_line(self, line: Sequence[Glyph], page: int, *, per_char: bool = False) -> None:
        self.newline()
        self.glyphs(line, page, per_char=per_char)
        self.newline()

    def cell(self, lines: Sequence[Sequence[Glyph]], page: int, *, per_char: bool = False) -> None:
        """The text of one table cell: its lines joined (no space between CJK characters)."""
        last = ""
        for i, line in enumerate(lines):
            first = next((g.text for g in line if g.text.strip()), "")
            if i:
                self.raw(" ")
                if not (is_cjk(last[-1:]) and is_cjk(first[:1])):
                    self.syn(" ")
            self.glyphs(line, page, per_char=per_char)
            last = next((g.text for g in reversed(line) if g.text.strip()), last)

    def table(
        self, rows: Sequence[Sequence[Sequence[Sequence[Glyph]] | None]], page_of_row: Sequence[int],
        *, per_char: bool = False,
    ) -> None:
        """Rows of grid slots; a slot is the cell's lines of glyphs, or None (covered / empty)."""
        self.newline()
        for r, row in enumerate(rows):
            if not any(slot and any(any(g.text.strip() for g in ln) for ln in slot) for slot in row):
                continue  # a row with no text at all
            for c, slot in enumerate(row):
                if c:
                    self.syn(" | ")
                    self.raw("\t")
                if slot:
                    self.cell(slot, page_of_row[r], per_char=per_char)
            self.syn(" |\n")
            self.raw("\n")

    def document(self, *, name: str, kind: str, raw: bytes, path: str | Path) -> Document:
        text, omap = self.b.build()
        self.geo.sort(key=lambda g: g.start)
        return Document(
            name=name, kind=kind, raw=raw, original="".join(self.parts), text=text, map=omap,
            encoding="utf-8", path=str(path), geometry=self.geo, notes=self.notes,
        )


def grid_rows(cells: list[BBox]) -> list[list[BBox | None]]:
    """pdfplumber-style grid: rows by cell top, slots by every distinct cell x0 of the table.

    A slot is None where a merged cell (colspan or rowspan) covers it.
    """
    xs = sorted({c[0] for c in cells})
    tops = sorted({c[1] for c in cells})
    by = {(c[1], c[0]): c for c in cells}
    return [[by.get((t, x)) for x in xs] for t in tops]


def in_box(g: Glyph, box: BBox) -> bool:
    hx = (g.x0 + g.x1) / 2
    vy = (g.top + g.bottom) / 2
    return box[0] <= hx < box[2] and box[1] <= vy < box[3]


def layout_page(
    w: LayoutWriter,
    glyphs: list[Glyph],
    tables: list[list[BBox]],
    page: int,
    page_box: BBox,
    *,
    per_char: bool = False,
) -> None:
    """Write one page: text lines and tables (lists of cell boxes) in top-to-bottom order."""
    items: list[tuple[float, int, object]] = []
    used: set[int] = set()
    for cells in tables:
        grid = grid_rows(cells)
        ncols = len(grid[0]) if grid else 0
        tb = (
            min(c[0] for c in cells), min(c[1] for c in cells),
            max(c[2] for c in cells), max(c[3] for c in cells),
        )
        inside = [i for i, g in enumerate(glyphs) if i not in used and in_box(g, tb)]
        rows: list[list[list[list[Glyph]] | None]] = []
        for row in grid:
            slots: list[list[list[Glyph]] | None] = []
            for box in row:
                if box is None:
                    slots.append(None)
                    continue
                mine = [i for i in inside if i not in used and in_box(glyphs[i], box)]
                used.update(mine)
                slots.append(group_lines(glyphs[i] for i in mine) if mine else [])
            rows.append(slots)
        if ncols <= 1:
            # a one-column "table" (a framed paragraph): plain text lines
            for row in rows:
                for slot in row:
                    for ln in slot or []:
                        items.append((min(g.top for g in ln), 0, ("line", ln)))
            continue
        items.append((tb[1], 1, ("table", rows)))
    rest = [g for i, g in enumerate(glyphs) if i not in used]
    for ln in group_lines(rest):
        if is_page_number(ln, page_box[1], page_box[3]):
            continue
        items.append((min(g.top for g in ln), 0, ("line", ln)))
    items.sort(key=lambda it: (it[0], it[1]))
    for _top, _k, (kind, obj) in items:  # type: ignore[misc]
        if kind == "line":
            w.text_line(obj, page, per_char=per_char)  # type: ignore[arg-type]
        else:
            w.table(obj, [page] * len(obj), per_char=per_char)  # type: ignore[arg-type]


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

    from ..budget import max_pages

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


def tables_from_edges(edges: list[dict], tol: float = 3.0, min_len: float = 3.0) -> list[list[BBox]]:
    """Cells of the ruled tables that ``edges`` (pdfplumber-style edge dicts) draw.

    Tables cut by a page break have no closing rule; where two or more vertical rules end at the
    same height with no horizontal rule there, one is added so the last (or first) row closes.
    """
    from pdfplumber import table as pt

    edges = pt.merge_edges(edges, tol, tol, tol, tol)
    edges = [
        e for e in edges
        if (e["x1"] - e["x0"] if e["orientation"] == "h" else e["bottom"] - e["top"]) >= min_len
    ]
    hs = [e for e in edges if e["orientation"] == "h"]
    vs = [e for e in edges if e["orientation"] == "v"]
    # (y, x, open?) for both ends of every vertical rule; open = meets no horizontal rule
    ends: list[tuple[float, float, bool]] = []
    for v in vs:
        for y in (v["top"], v["bottom"]):
            closed = any(
                abs(h["top"] - y) <= tol and h["x0"] - tol <= v["x0"] <= h["x1"] + tol for h in hs
            )
            ends.append((y, v["x0"], not closed))
    ends.sort()
    group: list[tuple[float, float, bool]] = []
    extra = []
    for end in ends + [(float("inf"), 0.0, False)]:
        if group and end[0] - group[0][0] > tol:
            if len(group) >= 2 and any(g[2] for g in group):
                yy = sum(g[0] for g in group) / len(group)
                x0 = min(g[1] for g in group)
                x1 = max(g[1] for g in group)
                extra.append({
                    "object_type": "line", "orientation": "h", "x0": x0, "x1": x1, "top": yy,
                    "bottom": yy, "width": x1 - x0, "height": 0.0, "doctop": yy,
                })
            group = []
        group.append(end)
    if extra:
        edges = pt.merge_edges(edges + extra, tol, tol, tol, tol)
    inter = pt.edges_to_intersections(edges, tol, tol)
    cells = pt.intersections_to_cells(inter)
    return [[tuple(float(v) for v in c) for c in t] for t in pt.cells_to_tables(cells)]  # type: ignore[misc]


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
        import cv2  # noqa: F401  (OCR extra)

        from .ocr import _ink, find_tables
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
    tables = find_tables(_ink(gray), 1.0 / ppp)
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
    from ..budget import max_ocr_pages, problem

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
                from .ocr import ocr_page_into as ocr_into
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
