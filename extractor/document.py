"""A loaded document: original text, normalized text, and the map between them.

Loaders build the normalized text piece by piece with :class:`TextBuilder`; every normalized
character knows the original characters it came from, so a span found in the normalized text is
reported as offsets into the *original* text (the decoded file, or for PDF/OCR the text layer).

Normalization: full-width ASCII (digits, letters, punctuation) becomes ASCII, NBSP and the
ideographic space become spaces, zero-width characters and carriage returns disappear, and
compatibility characters such as ``⒈`` or ``㈠`` are expanded by NFKC (``1.``, ``(一)``).
"""

from __future__ import annotations

import bisect
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .model import SET_EXTRA, SET_FIELDS_SET, SET_PRIVATE, Span

# 1:1 replacements keep offsets aligned (the fast path: see translate).
_TRANSLATE: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_TRANSLATE.update(
    {
        0x00A0: " ",  # NBSP
        0x3000: " ",  # ideographic space
        0x2002: " ",
        0x2003: " ",
        0x2009: " ",
        0x202F: " ",
        0x2002: " ",
        0x2212: "-",  # minus sign
        0x2014: "—",
        0x3001: "、",
        0xFF5E: "~",
        0x2024: ".",
        0x2219: ".",
        0x2022: ".",
    }
)
# str.translate looks every character of a non-ASCII string up in the dict (slow on Chinese text);
# one regex pass replaces only the characters that change, with the same result.
_TRANSLATED = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_TRANSLATE)) + "]")
_TRANSLATED_TO = {chr(cp): to for cp, to in _TRANSLATE.items()}


def _translated(m: re.Match[str]) -> str:
    return _TRANSLATED_TO[m.group()]


def translate(s: str) -> str:
    """``s.translate(_TRANSLATE)``: the 1:1 replacements of normalization."""
    if s.isascii():  # every replaced character is beyond ASCII
        return s
    return _TRANSLATED.sub(_translated, s)


_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\r"
# Characters that expand or vanish (slow path): zero-width, CR, and NFKC compatibility forms
# that matter in these reports (enclosed/parenthesized numerals, ⒈-style numbers, ideographs).
_SPECIAL = re.compile(
    "[" + re.escape(_ZERO_WIDTH) + "\u2460-\u24ff\u3200-\u32ff\u2f00-\u2fdf\uf900-\ufaff\u2150-\u218f]"
)


def _expand(ch: str) -> str:
    if ch in _ZERO_WIDTH:
        return ""
    return unicodedata.normalize("NFKC", ch).translate(_TRANSLATE)


def normalize(s: str) -> str:
    """Normalize a string the same way documents are normalized (used by grounding)."""
    s = translate(s)
    if _SPECIAL.search(s):
        s = _SPECIAL.sub(lambda m: _expand(m.group()), s)
    return s


@dataclass
class OffsetMap:
    """Piecewise map from normalized offsets to original offsets.

    Segment ``k`` covers normalized ``[norm[k], norm[k+1])``. A *linear* segment maps index i to
    ``orig[k] + (i - norm[k])``; a collapsed one maps every index to ``[orig[k], orig_end[k])``.
    """

    norm: list[int] = field(default_factory=list)
    orig: list[int] = field(default_factory=list)
    orig_end: list[int] = field(default_factory=list)
    linear: list[bool] = field(default_factory=list)
    length: int = 0

    def _seg(self, i: int) -> int:
        return max(0, bisect.bisect_right(self.norm, i) - 1)

    def start(self, i: int) -> int:
        if not self.norm:
            return i
        k = self._seg(i)
        return self.orig[k] + (i - self.norm[k]) if self.linear[k] else self.orig[k]

    def end(self, i: int) -> int:
        """Original end offset of normalized character ``i`` (exclusive)."""
        if not self.norm:
            return i + 1
        k = self._seg(i)
        return self.orig[k] + (i - self.norm[k]) + 1 if self.linear[k] else self.orig_end[k]

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Original ``[start, end)`` of normalized ``[a, b)`` (one lookup when both ends lie in one
        segment, as a cell's characters do)."""
        if b <= a:
            s = self.start(a)
            return s, s
        norm = self.norm
        if not norm:
            return a, b
        k = bisect.bisect_right(norm, a) - 1
        if k < 0:
            k = 0
        last = b - 1
        j = k if k + 1 == len(norm) or last < norm[k + 1] else max(0, bisect.bisect_right(norm, last) - 1)
        start = self.orig[k] + (a - norm[k]) if self.linear[k] else self.orig[k]
        end = self.orig[j] + (last - norm[j]) + 1 if self.linear[j] else self.orig_end[j]
        return start, end

    @property
    def identity(self) -> bool:
        """Normalization changed no character's position (one linear segment from 0)."""
        return len(self.norm) == 1 and self.linear[0] and self.orig[0] == 0 and self.norm[0] == 0


class TextBuilder:
    """Accumulates normalized text with its map back to the original."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._len = 0
        self.map = OffsetMap()

    def _push(self, text: str, orig: int, orig_end: int, linear: bool) -> None:
        if not text:
            return
        m = self.map
        m.norm.append(self._len)
        m.orig.append(orig)
        m.orig_end.append(orig_end)
        m.linear.append(linear)
        self._parts.append(text)
        self._len += len(text)

    def add(self, raw: str, orig_start: int) -> None:
        """Add original characters ``raw`` found at ``orig_start``, normalizing them."""
        if not raw:
            return
        t = translate(raw)
        if _SPECIAL.search(t) is None:  # nothing expands or vanishes (the common case): one linear piece
            self._push(t, orig_start, orig_start + len(t), True)
            return
        pos = 0
        for m in _SPECIAL.finditer(t):
            a = m.start()
            if a > pos:
                self._push(t[pos:a], orig_start + pos, orig_start + a, True)
            rep = _expand(m.group())
            if len(rep) == 1:
                self._push(rep, orig_start + a, orig_start + a + 1, True)
            elif rep:
                self._push(rep, orig_start + a, orig_start + a + 1, False)
            pos = m.end()
        if pos < len(t):
            self._push(t[pos:], orig_start + pos, orig_start + len(t), True)

    def add_mapped(self, text: str, orig_start: int, orig_end: int) -> None:
        """Add ``text`` standing for the original characters ``[orig_start, orig_end)`` as a whole
        (an HTML entity, say)."""
        t = normalize(text)
        if len(t) == orig_end - orig_start:
            self._push(t, orig_start, orig_end, True)
        else:
            self._push(t, orig_start, orig_end, False)

    def add_synthetic(self, text: str, at: int) -> None:
        """Add characters that are not in the source (cell separators, line breaks)."""
        self._push(text, at, at, False)

    @property
    def length(self) -> int:
        return self._len

    def tail(self, n: int = 1) -> str:
        if n == 1:  # the last character (pieces are never empty)
            return self._parts[-1][-1] if self._parts else ""
        s = "".join(self._parts[-4:])
        return s[-n:]

    def build(self) -> tuple[str, OffsetMap]:
        self.map.length = self._len
        return "".join(self._parts), self.map


@dataclass
class GeoRun:
    """Original characters ``[start, end)`` sit on ``page`` inside ``bbox`` (PDF and OCR)."""

    start: int
    end: int
    page: int
    bbox: tuple[float, float, float, float]
    confidence: float | None = None


@dataclass
class Document:
    name: str
    kind: str  # text | html | markdown | pdf | docx | image
    raw: bytes
    original: str  # decoded file (text kinds) or the extracted text layer (pdf, docx, ocr)
    text: str  # normalized
    map: OffsetMap
    encoding: str = "utf-8"
    path: str = ""
    url: str | None = None
    geometry: list[GeoRun] = field(default_factory=list)  # sorted by start
    notes: list[str] = field(default_factory=list)
    # parts not read as they should have been (a page whose table detection failed, a budget hit):
    # dicts made by extractor.budget.problem, turned into D.* findings by the pipeline
    problems: list[dict] = field(default_factory=list)
    _sha: str | None = None
    _ident: bool | None = None

    def _identity(self) -> bool:
        """The map is the identity (asked once per document: spans are made per number)."""
        if self._ident is None:
            self._ident = self.map.identity
        return self._ident

    @property
    def sha256(self) -> str:
        if self._sha is None:
            self._sha = hashlib.sha256(self.raw).hexdigest()
        return self._sha

    def known_sha256(self, raw: bytes, sha256: str) -> None:
        """``sha256`` is the hash of ``raw`` (computed already): kept when these are this document's bytes."""
        if raw is self.raw:
            self._sha = sha256

    def span(self, a: int, b: int) -> Span:
        """Span in the original for normalized ``[a, b)``, with page and box where known."""
        if not self.geometry:
            ident = self._ident
            if ident is None:
                ident = self._identity()
            if ident and b > a:
                return _plain_span(a, b)
            s, e = self.map.span(a, b)
            return _plain_span(s, e)
        s, e = self.map.span(a, b)
        page, bbox = self.locate(s, e)
        return Span(start=s, end=e, page=page, bbox=bbox)

    def locate(self, s: int, e: int) -> tuple[int | None, tuple[float, float, float, float] | None]:
        starts = [g.start for g in self.geometry]
        k = bisect.bisect_right(starts, s) - 1
        runs = []
        while 0 <= k < len(self.geometry) and self.geometry[k].start < max(e, s + 1):
            g = self.geometry[k]
            if g.end > s:
                runs.append(g)
            k += 1
        if not runs:
            return None, None
        page = runs[0].page
        boxes = [g.bbox for g in runs if g.page == page]
        return page, (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def original_text(self, span: Span) -> str:
        return self.original[span.start : span.end]

    def confidence(self, span: Span) -> float | None:
        """Lowest OCR confidence among the geometry runs under ``span`` (None when not OCR)."""
        vals = [
            g.confidence
            for g in self.geometry
            if g.confidence is not None and g.start < span.end and g.end > span.start
        ]
        return min(vals) if vals else None


def _plain_span(start: int, end: int) -> Span:
    """A Span without page or box, built without validation (one per extracted number)."""
    obj = _new(Span)
    _set(obj, "__dict__", {"start": start, "end": end, "page": None, "bbox": None})
    SET_FIELDS_SET(obj, {"start", "end"})
    SET_EXTRA(obj, None)
    SET_PRIVATE(obj, None)
    return obj


_new = object.__new__
_set = object.__setattr__


def from_text(
    original: str, *, name: str, kind: str, raw: bytes, encoding: str, path: str | Path = ""
) -> Document:
    b = TextBuilder()
    b.add(original, 0)
    text, omap = b.build()
    return Document(
        name=name, kind=kind, raw=raw, original=original, text=text, map=omap,
        encoding=encoding, path=str(path),
    )
