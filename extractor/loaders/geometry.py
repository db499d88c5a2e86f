"""Page geometry shared by the PDF and OCR loaders: boxes, glyphs, lines, page numbers, the layout
writer that turns positioned glyphs into text lines and table rows, and ruled-table detection
(from PDF rules or from the ink of a page image).

Coordinates are PDF points (or pixels, for an image), top-left origin. Nothing here reads a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ..document import Document, GeoRun, TextBuilder

if TYPE_CHECKING:
    import numpy as np

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


def intersection(a: BBox, b: BBox) -> BBox | None:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)


def area(b: BBox) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def tables_from_edges(edges: list[dict], tol: float = 3.0, min_len: float = 3.0) -> list[list[BBox]]:
    """Cells of the ruled tables that ``edges`` (pdfplumber-style edge dicts) draw.

    Tables cut by a page break have no closing rule; where two or more vertical rules end at the
    same height with no horizontal rule there, one is added so the last (or first) row closes.
    """
    from pdfplumber import table as pt  # deliberately lazy: the PDF library loads only for PDFs and scans

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


# --------------------------------------------------------------------------------------------
# ruling lines → cells
# --------------------------------------------------------------------------------------------


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Dark pixels (255) of a grayscale page."""
    import cv2  # OCR extra: deliberately lazy (heavy, optional)
    import numpy as np  # deliberately lazy: the text loaders never need it

    # Otsu separates ink from paper on scans and renderings alike; clamp for blank pages
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    t = min(max(t, 100), 200)
    return (gray < t).astype(np.uint8) * 255


def ruling_edges(ink: np.ndarray, px_per_pt: float) -> list[dict]:
    """Horizontal and vertical rules as pdfplumber-style edges (pixel coordinates)."""
    import cv2  # OCR extra: deliberately lazy (heavy, optional)

    h, w = ink.shape
    min_len = max(int(18 * px_per_pt), 20)  # ~ two CJK characters: text strokes are shorter
    edges: list[dict] = []
    for orient in ("h", "v"):
        k = (min_len, 1) if orient == "h" else (1, min_len)
        mask = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, k))
        # bridge 1-2 px breaks of scanned lines
        close = (5, 1) if orient == "h" else (1, 5)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, close))
        n, _lab, stats, _c = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            x, y, ww, hh, _area = (int(v) for v in stats[i])
            if orient == "h":
                if ww < min_len or hh > 4 * px_per_pt + 4:
                    continue
                yy = y + hh / 2
                edges.append({
                    "object_type": "line", "orientation": "h", "x0": float(x), "x1": float(x + ww),
                    "top": yy, "bottom": yy, "width": float(ww), "height": 0.0, "doctop": yy,
                })
            else:
                if hh < min_len or ww > 4 * px_per_pt + 4:
                    continue
                xx = x + ww / 2
                edges.append({
                    "object_type": "line", "orientation": "v", "x0": xx, "x1": xx, "top": float(y),
                    "bottom": float(y + hh), "width": 0.0, "height": float(hh), "doctop": float(y),
                })
    return edges


def find_tables(ink: np.ndarray, px_per_pt: float) -> list[list[BBox]]:
    """Cells of the ruled tables drawn in an ink mask (page image)."""
    edges = ruling_edges(ink, px_per_pt)
    if not edges:
        return []
    tol = max(3.0, 2.5 * px_per_pt)
    tables = tables_from_edges(edges, tol=tol, min_len=8 * px_per_pt)
    return [t for t in tables if len(t) >= 2]
