"""Scanned pages and images: OCR with RapidOCR (PP-OCRv4 Chinese models shipped in the wheel).

A page is read in five steps:

1. the page is brought to ~200 dpi (finer scans are reduced) and deskewed, the angle measured
   on its long rules (Hough) or, without rules, on its text lines;
2. ruling lines are found with morphology (long horizontal / vertical ink runs) and turned into
   table cells with the same edge → cell code the PDF loader uses (tables cut by a page break
   are closed the same way);
3. text boxes are detected on the whole page; a box that crosses a cell border is cut at the
   border, so numbers in neighbouring cells never run together; a cell with ink but no box is
   read as a whole, and a box is widened to the ink of its line inside its cell (a thin 一 or
   1 that detection left out);
4. every piece is recognised upright, with a confidence for every character; vertical text
   (a rowspan label printed top to bottom) is read character by character or turned;
5. the page is written like a PDF page: text lines in reading order, each table row as
   ``slot | slot | ... |``. Without ruling lines, rows of boxes that carry numbers are rebuilt
   as a grid from box positions.

``original`` holds the characters as recognised. Where a digit run contains a letter OCR
commonly confuses with a digit (``O``/``o`` → 0, ``l``/``I``/``|`` → 1), or a number row has a
cell holding only such a letter, the normalized text gets the digit while the raw reading stays
in ``original`` (and in ``Document.notes``), and the substituted character's confidence is set to
``GUESS_CONFIDENCE`` so it is reviewed, never silently accepted. Every character has a geometry
run with its page, box (PDF points, on the page as scanned; for images pixels × 72 / dpi) and
confidence, so ``Document.confidence(span)`` gives the weakest character of a cell.
"""

from __future__ import annotations

import io
import math
import os
import re
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..document import Document
from ..budget import max_ocr_pages, problem
from ..errors import LoadError
from ..numbers import fix_digits
from .geometry import BBox, Glyph, LayoutWriter, area, find_tables, group_lines, ink_mask, intersection, layout_page

DEFAULT_DPI = 200
MAX_PIXELS = 60_000_000  # refuse absurd images (decompression bombs)
GUESS_CONFIDENCE = 0.5  # confidence given to a character substituted by a confusion fix
MAX_SIDE = 3600  # detection works on the page as rendered (no downscaling up to ~300 dpi A4)

_engine = None
_lock = threading.Lock()


def engine():
    """The RapidOCR engine (loaded once; ~1 s)."""
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            # worker processes of a parallel run share the cores: EXTRACTOR_OCR_THREADS each
            threads = int(os.environ.get("EXTRACTOR_OCR_THREADS", "0") or 0)
            extra = {"intra_op_num_threads": threads} if threads > 0 else {}
            _engine = RapidOCR(text_score=0.0, max_side_len=MAX_SIDE, **extra)
            # single digits need no 320-px canvas: 160 reads them as well, twice as fast
            _engine.text_rec.rec_image_shape = [3, 48, 160]
        return _engine


# --------------------------------------------------------------------------------------------
# detection, cutting at cell borders, recognition
# --------------------------------------------------------------------------------------------


def _quad_to_rect(q: Sequence[Sequence[float]]) -> BBox:
    xs = [p[0] for p in q]
    ys = [p[1] for p in q]
    return (min(xs), min(ys), max(xs), max(ys))


class _Piece:
    __slots__ = ("box", "cell", "text", "conf", "chars", "rot", "norm")

    def __init__(self, box: BBox, cell: BBox | None) -> None:
        self.box = box
        self.cell = cell
        self.text = ""
        self.conf = 0.0
        self.chars: list[tuple[BBox, float]] = []
        self.rot = False
        self.norm: str | None = None  # digit read for a lone look-alike letter


def _pieces(boxes: list[BBox], cells: list[BBox], ink: np.ndarray, px_per_pt: float) -> list[_Piece]:
    """Cut detected boxes at cell borders (interiors shrunk past the rules); add inked cells
    that no box reached."""
    inset = max(2.0, 1.2 * px_per_pt)
    interiors = [(c, (c[0] + inset, c[1] + inset, c[2] - inset, c[3] - inset)) for c in cells]
    out: list[_Piece] = []
    covered: set[BBox] = set()
    for b in boxes:
        hits = []
        for c, inner in interiors:
            cut = intersection(b, inner)
            if cut is None:
                continue
            # keep the part if it holds a fair share of the box or of the cell height
            if area(cut) >= 0.15 * area(b) or (cut[3] - cut[1]) >= 0.5 * (b[3] - b[1]) and (
                cut[2] - cut[0]
            ) >= 3 * px_per_pt:
                hits.append((c, cut))
        if not hits:
            out.append(_Piece(b, None))
            continue
        inside = sum(area(cut) for _c, cut in hits)
        if inside < 0.5 * area(b):
            out.append(_Piece(b, None))  # mostly outside any table
            continue
        for c, cut in hits:
            if _hasink_mask(ink, cut, px_per_pt):
                out.append(_Piece(cut, c))
                covered.add(c)
    for c, inner in interiors:
        if c in covered or inner[2] <= inner[0] or inner[3] <= inner[1]:
            continue
        tight = _ink_box(ink, inner, px_per_pt)
        if tight is not None:
            out.append(_Piece(tight, c))
    _widen(out, dict(interiors), ink, px_per_pt)
    return out


def _widen(pieces: list[_Piece], interiors: dict[BBox, BBox], ink: np.ndarray, px_per_pt: float) -> None:
    """Detection sometimes leaves out a thin leading or trailing character (一, 1, 、): widen a
    piece to the ink of its text line inside its cell when no other piece shares that line."""
    by_cell: dict[BBox, list[_Piece]] = {}
    for p in pieces:
        if p.cell is not None:
            by_cell.setdefault(p.cell, []).append(p)
    for cell, ps in by_cell.items():
        inner = interiors[cell]
        for p in ps:
            y0, y1 = p.box[1], p.box[3]
            if any(q is not p and min(y1, q.box[3]) - max(y0, q.box[1]) > 0.3 * (y1 - y0) for q in ps):
                continue
            band = (inner[0], y0 + 0.2 * (y1 - y0), inner[2], y1 - 0.2 * (y1 - y0))
            xa, ya, xb, yb = (int(round(v)) for v in band)
            sub = ink[max(ya, 0) : max(yb, 0), max(xa, 0) : max(xb, 0)]
            if sub.size == 0:
                continue
            cols = np.nonzero(sub.sum(axis=0))[0]
            if not len(cols):
                continue
            pad = 1.5 * px_per_pt
            nx0 = max(inner[0], xa + cols[0] - pad)
            nx1 = min(inner[2], xa + cols[-1] + 1 + pad)
            p.box = (min(p.box[0], nx0), y0, max(p.box[2], nx1), y1)


def _hasink_mask(ink: np.ndarray, b: BBox, px_per_pt: float) -> bool:
    x0, y0, x1, y1 = (int(round(v)) for v in b)
    sub = ink[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    return sub.size > 0 and int((sub > 0).sum()) >= max(6, int(1.5 * px_per_pt * px_per_pt))


def _ink_box(ink: np.ndarray, b: BBox, px_per_pt: float) -> BBox | None:
    """Bounding box of the ink inside ``b`` (None when there is too little to be text)."""
    x0, y0, x1, y1 = (int(round(v)) for v in b)
    sub = ink[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    if sub.size == 0 or int((sub > 0).sum()) < max(12, int(3 * px_per_pt * px_per_pt)):
        return None
    ys, xs = np.nonzero(sub)
    bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    if (by1 - by0) < 3 * px_per_pt:  # a speck or the remains of a rule
        return None
    pad = 2 * px_per_pt
    return (
        max(b[0], x0 + bx0 - pad), max(b[1], y0 + by0 - pad),
        min(b[2], x0 + bx1 + pad), min(b[3], y0 + by1 + pad),
    )


def _crop(img: np.ndarray, b: BBox, pad: float) -> np.ndarray:
    h, w = img.shape[:2]
    x0 = max(int(math.floor(b[0] - pad)), 0)
    y0 = max(int(math.floor(b[1] - pad)), 0)
    x1 = min(int(math.ceil(b[2] + pad)), w)
    y1 = min(int(math.ceil(b[3] + pad)), h)
    return img[y0:y1, x0:x1]


def _recognize(eng, crops: list[np.ndarray]) -> list[tuple[str, float, list[float], list[float]]]:
    """(text, mean confidence, per-char confidences, per-char x centres as fraction of width)."""
    if not crops:
        return []
    res, _elapse = eng.text_rec(crops, True)
    out = []
    for r in res:
        text, score = r[0], float(r[1])
        confs: list[float] = []
        centres: list[float] = []
        if len(r) > 2 and r[2]:
            col_num, _words, word_cols, _states, conf_list = r[2]
            cols = [c for wc in word_cols for c in wc]
            if len(cols) == len(text) and col_num:
                centres = [min(1.0, (c + 0.5) / col_num) for c in cols]
            if len(conf_list) == len(text):
                confs = [float(c) for c in conf_list]
        if not confs:
            confs = [score] * len(text)
        if not centres and text:
            centres = [(k + 0.5) / len(text) for k in range(len(text))]
        out.append((text, score, confs, centres))
    return out


def _read(eng, img: np.ndarray, pieces: list[_Piece], px_per_pt: float) -> None:
    # detection boxes already carry a margin; any extra margin lowers the confidence of lone
    # digits on noisy scans (measured: pad 0 → no digit under 0.9, pad 1 pt → 38 of 100)
    pad = 1.0 * px_per_pt
    crops = [_crop(img, p.box, 0.0) for p in pieces]
    results = _recognize(eng, crops)
    tall: list[tuple[_Piece, list[tuple[float, float]]]] = []
    for p, crop, (text, score, confs, centres) in zip(pieces, crops, results):
        p.text, p.conf = text, score
        _set_chars(p, confs, centres)
        h, w = crop.shape[:2]
        if h >= 1.8 * w and (score < 0.95 or len(text) < round(h / max(w, 1)) - 1):
            segs = _vertical_chars(crop)
            if len(segs) >= 2:
                tall.append((p, segs))
    if not tall:
        return
    # vertical text (a rowspan label printed top to bottom): read the crop turned a quarter
    # (top becomes left) and character by character; keep the most confident reading
    rot = _recognize(eng, [np.ascontiguousarray(np.rot90(_crop(img, p.box, pad))) for p, _s in tall])
    sub: list[np.ndarray] = []
    for p, segs in tall:
        for a, b in segs:
            sub.append(_crop(img, (p.box[0], p.box[1] - pad + a, p.box[2], p.box[1] - pad + b), pad))
    res = iter(_recognize(eng, sub))
    for (p, segs), (rtext, rscore, rconfs, rcentres) in zip(tall, rot):
        parts = [next(res) for _ in segs]
        text = "".join(r[0] for r in parts)
        confs = [c for r in parts for c in r[2]]
        score = float(np.mean(confs)) if text and confs else 0.0
        if max(rscore, score) <= p.conf + 0.02:
            continue
        p.rot = True
        # one character per segment cannot stutter (CTC on turned characters sometimes repeats
        # one): prefer it unless it is clearly less confident
        if rscore > score + 0.1 or score < 0.5:
            p.text, p.conf = rtext, rscore
            _set_chars(p, rconfs, rcentres, rotated=True)
            continue
        p.text, p.conf = text, score
        chars = []
        for (a, b), r in zip(segs, parts):
            n = max(len(r[0]), 1)
            for k, cf in enumerate(r[2][: len(r[0])]):
                top = p.box[1] - pad + a + (b - a) * k / n
                chars.append(((p.box[0], top, p.box[2], top + (b - a) / n), cf))
        if len(chars) == len(text):
            p.chars = chars
        else:
            _set_chars(p, [score] * len(text), [(k + 0.5) / len(text) for k in range(len(text))],
                       rotated=True)


def _vertical_chars(crop: np.ndarray) -> list[tuple[float, float]]:
    """Row ranges of the characters of a vertical text crop (split at blank rows)."""
    import cv2

    g = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    ink = ink_mask(g) > 0
    rows = ink.sum(axis=1) > 0
    h, w = ink.shape
    segs: list[list[int]] = []
    y = 0
    while y < h:
        if rows[y]:
            a = y
            while y < h and rows[y]:
                y += 1
            segs.append([a, y])
        y += 1
    # merge fragments of one character (e.g. the two strokes of 二) until each is ~square
    merged: list[list[int]] = []
    for a, b in segs:
        if merged and (b - merged[-1][0]) <= 1.05 * w and (a - merged[-1][1]) < 0.25 * w:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(max(0, a - 1), min(h, b + 1)) for a, b in merged if b - a >= 2]


def _set_chars(p: _Piece, confs: list[float], centres: list[float], *, rotated: bool = False) -> None:
    x0, y0, x1, y1 = p.box
    n = max(len(p.text), 1)
    chars = []
    for k, ch in enumerate(p.text):
        c = centres[k] if k < len(centres) else (k + 0.5) / n
        if rotated:  # text runs top to bottom
            half = min((y1 - y0) / n, x1 - x0) / 2
            cy = y0 + c * (y1 - y0)
            chars.append(((x0, max(y0, cy - half), x1, min(y1, cy + half)), confs[k]))
        else:
            cw = (y1 - y0) * (0.55 if ord(ch) < 0x2E80 else 1.0)
            cx = x0 + c * (x1 - x0)
            chars.append(((max(x0, cx - cw / 2), y0, min(x1, cx + cw / 2), y1), confs[k]))
    p.chars = chars


# --------------------------------------------------------------------------------------------
# OCR confusions inside digit runs
# --------------------------------------------------------------------------------------------

# One map of look-alike digits for every reader: extractor.numbers.LOOKALIKES (fix_digits).


# --------------------------------------------------------------------------------------------
# positional tables (no ruling lines)
# --------------------------------------------------------------------------------------------

_NUMERIC = re.compile(r"^[0-9.,%]+$")


def positional_tables(pieces: list[_Piece]) -> list[list[BBox]]:
    """Grids rebuilt from box positions: consecutive lines with two or more numeric boxes form a
    table; numeric columns come from the union of those boxes' x-ranges, the label column is
    what lies left of them."""
    gl = [Glyph(p.text, *p.box) for p in pieces if p.text.strip()]
    lines = group_lines(gl)
    blocks: list[list[list[Glyph]]] = []
    cur: list[list[Glyph]] = []
    for ln in lines:
        nums = [g for g in ln if _NUMERIC.match(fix_digits(g.text).strip())]
        if len(nums) >= 2:
            cur.append(ln)
        else:
            if len(cur) >= 2:
                blocks.append(cur)
            cur = []
    if len(cur) >= 2:
        blocks.append(cur)
    tables = []
    for block in blocks:
        spans: list[list[float]] = []
        for ln in block:
            for g in ln:
                if _NUMERIC.match(fix_digits(g.text).strip()):
                    spans.append([g.x0, g.x1])
        spans.sort()
        cols: list[list[float]] = []
        for a, b in spans:
            if cols and a <= cols[-1][1]:
                cols[-1][1] = max(cols[-1][1], b)
            else:
                cols.append([a, b])
        left = min(g.x0 for ln in block for g in ln)
        right = max(g.x1 for ln in block for g in ln)
        bounds = [left - 1]
        if cols[0][0] > left + 1:
            bounds.append((max(g.x1 for ln in block for g in ln if g.x1 <= cols[0][0]) + cols[0][0]) / 2
                          if any(g.x1 <= cols[0][0] for ln in block for g in ln) else cols[0][0] - 1)
        for (a0, a1), (b0, _b1) in zip(cols, cols[1:]):
            bounds.append((a1 + b0) / 2)
        bounds.append(right + 1)
        bounds = sorted(set(bounds))
        tops = [min(g.top for g in ln) for ln in block]
        bottoms = [max(g.bottom for g in ln) for ln in block]
        ys = [tops[0] - 1]
        for k in range(1, len(block)):
            ys.append((bottoms[k - 1] + tops[k]) / 2)
        ys.append(bottoms[-1] + 1)
        cells = [
            (bounds[c], ys[r], bounds[c + 1], ys[r + 1])
            for r in range(len(block))
            for c in range(len(bounds) - 1)
        ]
        tables.append(cells)
    return tables


# --------------------------------------------------------------------------------------------
# page → LayoutWriter
# --------------------------------------------------------------------------------------------


def ocr_page_into(
    w: LayoutWriter, image, page: int, *, points_per_pixel: float, dpi_known: bool = True
) -> None:
    """OCR one page image (PIL) and write it to ``w`` (coordinates scaled to points). A blank page
    (no ink worth a character) is not given to the OCR engine."""
    import cv2

    if _blank_image(image):
        w.notes.append(f"OCR page {page}: blank (no ink), not OCR'd")
        return
    try:
        eng = engine()
    except ImportError as exc:
        raise LoadError(f"OCR support is not installed ({exc.name})") from exc
    rgb = np.asarray(image.convert("RGB"))
    # work at ~200 dpi: finer scans cost time without reading better (coarser ones are left
    # alone: enlarging a 100-dpi scan was measured to read worse)
    dpi = 72.0 / points_per_pixel
    if dpi_known and dpi > 240:
        f = DEFAULT_DPI / dpi
        rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * f)), max(1, round(rgb.shape[0] * f))),
                         interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        points_per_pixel /= f
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    px_per_pt = 1.0 / points_per_pixel
    ink = ink_mask(gray)
    det = None
    angle = skew_angle(ink)
    if angle is None:  # no long rules: measure the text lines instead
        det, _ = eng(rgb, use_det=True, use_cls=False, use_rec=False)
        angle = _text_angle(det or [])
    back = None
    if abs(angle) >= 0.1:
        rgb, fwd, back = _rotate(rgb, angle)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        ink = ink_mask(gray)
        if det:  # the text boxes that measured the angle turn with the page: no second detection
            det = [_map_points(fwd, q) for q in det]
        w.notes.append(f"OCR page {page}: deskewed by {angle:.2f} degrees")
    tables = find_tables(ink, px_per_pt)
    cells = [c for t in tables for c in t]
    if det is None:
        det, _ = eng(rgb, use_det=True, use_cls=False, use_rec=False)
    boxes = [_quad_to_rect(q) for q in (det or [])]
    pieces = _pieces(boxes, cells, ink, px_per_pt)
    _read(eng, rgb, pieces, px_per_pt)
    pieces = [p for p in pieces if p.text.strip()]
    if not tables:
        tables = positional_tables(pieces)
    _fix_lone_cells(pieces)
    geo_from = len(w.geo)
    s = points_per_pixel
    glyphs: list[Glyph] = []
    for p in pieces:
        norm = p.norm if p.norm is not None else fix_digits(p.text)
        chars = [((b[0] * s, b[1] * s, b[2] * s, b[3] * s), c) for b, c in p.chars]
        if norm != p.text:
            w.notes.append(f"OCR page {page}: read {p.text!r} as {norm!r}")
            # a substituted character is a guess: keep it below the review threshold
            chars = [
                (b, min(c, GUESS_CONFIDENCE) if a != z else c)
                for (b, c), a, z in zip(chars, p.text, norm)
            ]
        x0, y0, x1, y1 = p.box
        g = Glyph(
            p.text, x0 * s, y0 * s, x1 * s, y1 * s, conf=p.conf,
            norm=norm if norm != p.text else None, chars=chars,
        )
        if p.cell is not None:
            # glyphs cut to a cell are placed by the cell, never by their own centre
            cx = (p.cell[0] + p.cell[2]) / 2 * s
            cy = (p.cell[1] + p.cell[3]) / 2 * s
            if not (p.cell[0] * s <= (g.x0 + g.x1) / 2 < p.cell[2] * s):
                g.x0 = g.x1 = cx
            if not (p.cell[1] * s <= g.mid < p.cell[3] * s):
                g.top = g.bottom = cy
        glyphs.append(g)
    tables_pt = [[(c[0] * s, c[1] * s, c[2] * s, c[3] * s) for c in t] for t in tables]
    h, wd = gray.shape
    layout_page(w, glyphs, tables_pt, page, (0.0, 0.0, wd * s, h * s))
    if back is not None:  # boxes back onto the page as scanned
        for g in w.geo[geo_from:]:
            g.bbox = _map_box(back, g.bbox, s)
    w.newline()


BLANK_INK = 1e-4  # share of dark pixels below which a page is blank (a lone page number, scanner dust)


def _blank_image(image) -> bool:
    """No ink worth OCR: fewer dark pixels than ``BLANK_INK`` of the page (at most ~1/4 of the page
    size is looked at, so the test costs little next to OCR)."""
    im = image.convert("L")
    if max(im.size) > 1200:
        f = 1200 / max(im.size)
        im = im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))))
    gray = np.asarray(im)
    if gray.size == 0:
        return True
    return int(np.count_nonzero(ink_mask(gray))) < BLANK_INK * gray.size


def skew_angle(ink: np.ndarray) -> float | None:
    """Skew of the page in degrees from its long near-horizontal rules (None without rules)."""
    import cv2

    h, w = ink.shape
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (25, 1)))
    lines = cv2.HoughLinesP(horiz, 1, np.pi / 1800, threshold=max(50, w // 8),
                            minLineLength=w // 5, maxLineGap=8)
    if lines is None:
        return None
    angles, weights = [], []
    for x1, y1, x2, y2 in np.asarray(lines).reshape(-1, 4):
        a = math.degrees(math.atan2(y2 - y1, x2 - x1))
        if abs(a) < 5:
            angles.append(a)
            weights.append(math.hypot(x2 - x1, y2 - y1))
    if len(angles) < 2:
        return None
    order = np.argsort(angles)
    cum = np.cumsum(np.array(weights)[order])
    return float(np.array(angles)[order][np.searchsorted(cum, cum[-1] / 2)])


def _text_angle(quads) -> float:
    angles = []
    for q in quads:
        (x0, y0), (x1, y1) = q[0], q[1]
        hgt = math.hypot(q[3][0] - x0, q[3][1] - y0)
        wid = math.hypot(x1 - x0, y1 - y0)
        if wid > 5 * max(hgt, 1):
            angles.append(math.degrees(math.atan2(y1 - y0, x1 - x0)))
    return float(np.median(angles)) if len(angles) >= 3 else 0.0


def _rotate(rgb: np.ndarray, angle: float):
    """Turn the image so lines sloping by ``angle`` degrees become level; return it, the affine
    map onto it and the map back to the original pixels."""
    import cv2

    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_CUBIC, borderValue=(255, 255, 255))
    return out, m, cv2.invertAffineTransform(m)


def _map_points(m: np.ndarray, quad) -> np.ndarray:
    """A detected quadrilateral moved by the affine map ``m`` (as the page is turned)."""
    pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    return pts @ m[:, :2].T + m[:, 2]


def _map_box(m: np.ndarray, b: BBox, s: float) -> BBox:
    pts = np.array([[b[0], b[1]], [b[2], b[1]], [b[0], b[3]], [b[2], b[3]]]) / s
    xy = pts @ m[:, :2].T + m[:, 2]
    xy *= s
    return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))


_LONE = {"O": "0", "o": "0", "〇": "0", "○": "0", "。": "0", "D": "0", "l": "1", "I": "1", "|": "1"}


def _fix_lone_cells(pieces: list[_Piece]) -> None:
    """A table cell holding only a letter shaped like a digit (o, O, 〇, l, I) in a row of
    numbers is read as that digit; the character keeps a guess-level confidence."""
    by_cell: dict[BBox, list[_Piece]] = {}
    for p in pieces:
        if p.cell is not None:
            by_cell.setdefault(p.cell, []).append(p)
    rows: dict[float, list[_Piece]] = {}
    for p in pieces:
        if p.cell is not None:
            rows.setdefault(p.cell[1], []).append(p)
    for cell, ps in by_cell.items():
        if len(ps) != 1:
            continue
        p = ps[0]
        t = p.text.strip()
        if t in _LONE and len(p.text) == 1:
            numbers = sum(bool(_NUMERIC.match(q.text.strip())) for q in rows.get(cell[1], []))
            if numbers >= 2:
                p.norm = _LONE[t]


def ocr_pages(images: Iterable, *, name: str = "scan", raw: bytes = b"", path: str | Path = "",
              dpi: float = DEFAULT_DPI, kind: str = "image", dpi_known: bool = True) -> Document:
    """OCR page images (PIL) into one Document, pages numbered from 1."""

    w = LayoutWriter()
    n = 0
    budget = max_ocr_pages()
    problems = []
    for n, img in enumerate(images, start=1):
        if n > budget:
            msg = (f"OCR page budget: pages after the first {budget} of this image were not read "
                   "(raise EXTRACTOR_MAX_OCR_PAGES)")
            w.notes.append(msg)
            problems.append(problem("D.BUDGET", "OCR pages", msg))
            n -= 1
            break
        ocr_page_into(w, img, n, points_per_pixel=72.0 / dpi, dpi_known=dpi_known)
    w.notes.append(f"OCR of {n} page(s) at {dpi:g} dpi")
    doc = w.document(name=name, kind=kind, raw=raw, path=path)
    doc.problems.extend(problems)
    if not doc.text.strip():
        raise LoadError("OCR found no text in the image")
    return doc


def _image_dpi(img) -> tuple[float, bool]:
    """The scan resolution: from the file, else guessed for a full A4 page, else 72 (pixels)."""
    d = img.info.get("dpi")
    try:
        v = float(d[0]) if d else 0.0
    except (TypeError, ValueError, IndexError):
        v = 0.0
    if 50 <= v <= 1200 and round(v) not in (72, 96):  # 72/96 are screen defaults, not scans
        return v, True
    w, h = img.size
    if w and 1.36 <= h / w <= 1.46 and w >= 600:  # a portrait A4 page (210 x 297 mm)
        return w / (210 / 25.4), True
    return 72.0, False


def load_image(raw: bytes, *, name: str, path: str | Path = "") -> Document:
    """PNG/JPEG/TIFF/BMP/WebP scan. Boxes are in pixels × 72 / dpi (the image's dpi, else 72)."""
    if not raw:
        raise LoadError("empty file (0 bytes)")
    try:
        from PIL import Image, ImageSequence
    except ImportError as exc:  # pragma: no cover
        raise LoadError(f"image support is not installed ({exc.name})") from exc
    try:
        img = Image.open(io.BytesIO(raw))
        if img.width * img.height > MAX_PIXELS:
            raise LoadError(f"image too large: {img.width}x{img.height} pixels (limit {MAX_PIXELS})")
        frames = []
        for fr in ImageSequence.Iterator(img):
            fr.load()
            frames.append(fr.convert("RGB"))
            if len(frames) >= 200:
                break
    except LoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise LoadError(f"image too large: {exc}") from exc
    except Exception as exc:  # truncated or not an image
        raise LoadError(f"cannot read image: {exc}") from exc
    dpi, known = _image_dpi(img)
    return ocr_pages(frames, name=name, raw=raw, path=path, dpi=dpi, dpi_known=known)
