"""The narrative's text: where its chunks lie and where a quote is printed.

* :func:`narrative_chunks` — the narrative grouped by section kind (一, 五, 六) as ranges of the
  normalized text outside the table regions (what the finder reads and the model is shown);
* :func:`locate` — where a quote is printed (whitespace-tolerant), preferring a range;
* :func:`squeeze` — a text normalized and without whitespace: the form a quote is compared in.
"""

from __future__ import annotations

import re
from typing import Any

from ..document import Document, normalize
from ..layout import analyze

_WS_RE = re.compile(r"\s+")


def squeeze(s: str) -> str:
    """Normalized, without whitespace: the form in which a quote is searched for in a text."""
    return _WS_RE.sub("", normalize(s))


def _cuts(text: str, i: int) -> bool:
    """Whether a printed number runs on across position ``i`` (between ``text[i-1]`` and ``text[i]``)."""
    if i <= 0 or i >= len(text):
        return False
    left, right = text[i - 1], text[i]
    if left.isdigit() and right.isdigit():
        return True
    if left.isdigit() and right in ".," and i + 1 < len(text) and text[i + 1].isdigit():
        return True
    return left in ".," and right.isdigit() and i >= 2 and text[i - 2].isdigit()


def whole_quote(text: str, a: int, b: int) -> str:
    """``text[a:b]`` widened over the numbers its ends cut: a quote that stops at the "260" of "26029"
    (or starts at its "029") reads 26029, as printed — its value is re-read from this."""
    while _cuts(text, a):
        a -= 1
    while _cuts(text, b):
        b += 1
    return text[a:b]


# ---------------------------------------------------------------------------------------------
# Locating quotes
# ---------------------------------------------------------------------------------------------


def locate(doc: Document, quote: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """Find ``quote`` in ``doc.text`` (normalized), preferring ``[start, end)``; whitespace-tolerant."""
    q = normalize(quote).strip()
    if not q:
        return None
    text = doc.text
    end = len(text) if end is None else end
    for a0, b0 in ((start, end), (0, len(text))):
        i = text.find(q, a0, b0)
        if i >= 0:
            return i, i + len(q)
    compact = _WS_RE.sub("", q)
    if not compact:
        return None
    pat = re.compile(r"\s*".join(re.escape(ch) for ch in compact))
    for a0, b0 in ((start, end), (0, len(text))):
        m = pat.search(text, a0, b0)
        if m:
            return m.start(), m.end()
    return None


# ---------------------------------------------------------------------------------------------
# Narrative regions
# ---------------------------------------------------------------------------------------------

NARRATIVE_KEYS = ("一", "五", "六")


def _table_ranges(layout: Any) -> list[tuple[int, int]]:
    regions = getattr(layout, "regions", {}) or {}
    return sorted((r.start, r.end) for r in regions.values())


def _minus(a: int, b: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, pos = [], a
    for s, e in holes:
        if e <= pos or s >= b:
            continue
        if s > pos:
            out.append((pos, s))
        pos = max(pos, e)
    if pos < b:
        out.append((pos, b))
    return out


def narrative_chunks(doc: Document, layout: Any = None) -> list[tuple[str, list[tuple[int, int]]]]:
    """The narrative, grouped by section kind, as ranges of ``doc.text`` outside the table regions.

    ``一`` is everything before the first table (the overview and whatever precedes the tables:
    some reports number their sub-sections so that a title finder mistakes them for sections
    二…四); ``五`` and ``六`` are those sections minus any table. Kinds with no text are left out.
    """
    layout = layout if layout is not None else _analyze(doc)
    n = len(doc.text)
    holes = _table_ranges(layout)
    sections = {s.key: s for s in getattr(layout, "sections", [])}
    later = [sections[k].start for k in ("五", "六") if k in sections]
    first_table = holes[0][0] if holes else n
    cut = min([first_table, *later]) if later or holes else n
    out: list[tuple[str, list[tuple[int, int]]]] = []
    first = sections["一"].start if "一" in sections and sections["一"].start < cut else 0
    head = _minus(first, cut, holes)
    if any(doc.text[a:b].strip() for a, b in head):
        out.append(("一", head))
    for k in ("五", "六"):
        s = sections.get(k)
        if s is None:
            continue
        rs = _minus(max(s.start, cut), s.end, holes)
        if any(doc.text[a:b].strip() for a, b in rs):
            out.append((k, rs))
    return out


def _analyze(doc: Document) -> Any:
    return analyze(doc)  # the deterministic layout pass


def chunk_text(doc: Document, ranges: list[tuple[int, int]]) -> str:
    return "\n".join(doc.text[a:b].strip("\n") for a, b in ranges)
