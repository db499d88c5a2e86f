"""Table region -> rows of printed cells, for every encoding the reports arrive in.

Encodings handled (per region, then per line):

* **cell stream**: one cell per line (``0 |``), with filler lines of bare pipes (``|||``) left by
  merged headers; rows are not line-delimited, so a run of text cells starts a new row.
* **pipe rows**: one row per line, cells split on ``|`` (Markdown tables, pasted Word tables and the
  HTML/PDF/DOCX grids our loaders render). Markdown separator lines are skipped.
* **tab rows**: one row per line, cells split on tabs (text copied out of PDFs).
* **space rows**: one row per line, tokens split on white space (``规章 0 0 0``).

A :class:`Row` keeps its label cells (text) apart from its value slots (numbers, not-applicable
marks, and empty slots in delimited rows), each with its offsets in the normalized text.
Which template row a :class:`Row` is, is decided by :mod:`extractor.parse`, from labels first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from .numbers import (
    CELL_NUMBER as NUMBER,
    CELL_NUMBER_UNIT,
    NA_START,
    is_na,
    parse_figure,
    read_lookalike,
)

_SEP_ROW = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_PAGE_NO = re.compile(r"^\s*(?:[-—－]\s*\d{1,3}\s*[-—－]|第\s*\d{1,3}\s*页(?:\s*[,，/]?\s*共\s*\d{1,3}\s*页)?|\d{1,3}\s*/\s*\d{1,3})\s*$")
_SPACED_NUMBER = re.compile(r"[\d ,.]+")  # OCR: stray spaces inside a number
_NONSPACE = re.compile(r"\S+")
_FILLER = re.compile(r"^\s*\|[\s|]*$")
# OCR'd text pasted as text: look-alike letters inside a run of digits (numbers.read_lookalike).
# Read, but never trusted: such a cell carries a low confidence, so a reviewer confirms it.
LOOKALIKE_CONFIDENCE = 0.5
_CAN_START = frozenset("0123456789+") | NA_START  # first characters of numbers and of not-applicable marks


@dataclass(slots=True)
class Tok:
    """A printed cell: its text (stripped) and offsets in the normalized document text."""

    text: str
    start: int
    end: int
    kind: str  # num | na | empty | text
    value: int | Decimal | None = None
    decimals: int = 0
    slot: int = -1  # position in a delimited line (0-based); -1 in streams and space rows
    lookalike: bool = False  # digits read from look-alike letters (1O → 10): text pasted from a scan


@dataclass
class Row:
    labels: list[Tok] = field(default_factory=list)
    values: list[Tok] = field(default_factory=list)
    line_start: int = 0
    delimited: bool = False  # cells come from a pipe/tab-delimited line (slots meaningful)
    width: int = 0  # number of slots in the line (delimited rows)

    @property
    def label(self) -> str:
        return " ".join(t.text for t in self.labels)

    def nonempty(self) -> list[Tok]:
        return [v for v in self.values if v.kind != "empty"]


def classify(text: str, start: int, end: int, slot: int = -1) -> Tok:
    """Classify one cell's text ``text`` found at ``[start, end)``.

    What a text reads as is a pure function of the text (reports print the same cells, ``0`` and
    the template's labels, over and over): it is remembered, and only the offsets are per call."""
    t, lead, kind, value, decimals, lookalike = _CLASSIFIED.get(text) or _remember(text)
    a = start + lead
    return Tok(t, a, a + len(t), kind, value, decimals, slot, lookalike)


def _remember(text: str) -> _Reading:
    if len(_CLASSIFIED) >= _CLASSIFIED_SIZE:
        _CLASSIFIED.clear()
    hit = _CLASSIFIED[text] = _reading(text)
    return hit


# text -> (token text, offset of the token text in it, kind, value, decimals, lookalike)
_Reading = tuple[str, int, str, "int | Decimal | None", int, bool]
_CLASSIFIED: dict[str, _Reading] = {}
_CLASSIFIED_SIZE = 50000


def _reading(text: str) -> _Reading:
    """How one cell's text reads: the token's text (stripped; a number's digits without its
    unit), where it starts in ``text``, its kind, value, decimals and whether look-alike letters
    were read as digits."""
    t = text.strip()
    lead = len(text) - len(text.lstrip()) if t != text else 0
    if not t:
        return "", lead, "empty", None, 0, False
    if t.isascii() and t.isdigit():  # the common case: a plain count
        return t, lead, "num", int(t), 0, False
    looks = read_lookalike(t)
    if looks is not None:  # 1O, l2, O: digits from a scan
        return t, lead, "num", looks, 0, True
    if t[0] not in _CAN_START and not t[0].isdecimal():  # a label: no number or n/a mark starts so
        return t, lead, "text", None, 0, False
    compact = t.replace(" ", "")
    fig = parse_figure(compact)
    if fig is not None and (compact == t or _SPACED_NUMBER.fullmatch(t)):
        return t, lead, "num", fig[0], fig[1], False
    m = CELL_NUMBER_UNIT.fullmatch(t)
    if m:  # a number printed with its unit inside the cell (27225290916元): the span is the digits
        fig = parse_figure(m.group(1))
        if fig is not None:
            return m.group(1), lead, "num", fig[0], fig[1], False
    if is_na(compact):
        return t, lead, "na", None, 0, False
    return t, lead, "text", None, 0, False


def _lines(text: str, start: int, end: int):
    """Yield (line_text, line_start) for the lines of ``text[start:end]``."""
    pos = start
    for line in text[start:end].split("\n"):
        yield line, pos
        pos += len(line) + 1


def _is_single_cell(line: str) -> bool:
    s = line.strip()
    if not s:
        return False
    if s.endswith("|"):
        inner = s.rstrip("|").strip()
        return "|" not in inner
    if "\t" in s:
        return False
    return bool(NUMBER.fullmatch(s.replace(" ", ""))) or is_na(s)


def detect_encoding(text: str, start: int, end: int) -> str:
    """``stream`` (one cell per line), ``pipe``, ``tab`` or ``space`` for a region."""
    n = single = pipe = tab = 0
    for line in text[start:end].split("\n"):
        digits = line[:-2] if line.endswith(" |") else line
        if digits.isdigit():  # fast path: a lone count, "0 |" or "0"
            n += 1
            single += 1
            continue
        s = line.strip()
        if not s or _is_filler(s):
            continue
        if "|" not in s and "\t" not in line and not any(map(str.isdigit, s)):
            continue  # a bare label line says nothing about how cells are separated
        n += 1
        if _is_single_cell(line):
            single += 1
        elif "|" in s:
            pipe += 1
        elif "\t" in line:
            tab += 1
    if not n:
        return "space"
    if single / n >= 0.5:
        return "stream"
    if pipe >= tab and pipe / n >= 0.2:
        return "pipe"
    if tab / n >= 0.2:
        return "tab"
    return "space"


def split_delimited(line: str, line_start: int, sep: str) -> list[Tok]:
    """Split a delimited line into cells, keeping offsets; drops the outer empty cells of
    ``| a | b |`` framing."""
    parts = line.split(sep)
    first = 0
    if sep == "|":
        if not parts[-1].strip():
            parts.pop()
        if parts and not parts[0].strip() and line.lstrip().startswith("|"):
            first = 1
    cells: list[Tok] = []
    pos = line_start
    step = len(sep)
    read = _CLASSIFIED.get
    for i, part in enumerate(parts):
        if i >= first:
            t, lead, kind, value, decimals, lookalike = read(part) or _remember(part)
            a = pos + lead
            cells.append(Tok(t, a, a + len(t), kind, value, decimals, i - first, lookalike))
        pos += len(part) + step
    return cells


def _row_from_cells(cells: list[Tok], line_start: int, delimited: bool) -> Row | None:
    """Label cells are the text cells before the first value; values run from there on."""
    first_val = next((i for i, c in enumerate(cells) if c.kind in ("num", "na")), None)
    row = Row(line_start=line_start, delimited=delimited, width=len(cells))
    if first_val is None:
        row.labels = [c for c in cells if c.kind == "text"]
        return row if row.labels else None
    last_label = max((i for i, c in enumerate(cells[:first_val]) if c.kind == "text"), default=-1)
    # a leading serial-number column (序号 | 指标 | 单位 | 数值): the label is the last text cell
    # that still has values after it, and the numbers before it are not values
    later = [i for i, c in enumerate(cells) if c.kind == "text" and i > first_val
             and any(x.kind in ("num", "na") for x in cells[i + 1 :])]
    if later and all(c.kind in ("num", "empty") for c in cells[:first_val + 1]) and last_label < 0:
        last_label = later[-1]
    row.labels = [c for c in cells[: last_label + 1] if c.kind == "text"]
    vals = cells[last_label + 1 :]
    # text after the values (a note, a stray label) ends the row's values
    cut = next((i for i, c in enumerate(vals) if c.kind == "text"), len(vals))
    row.values = vals[:cut]
    return row


def _space_cells(line: str, line_start: int) -> list[Tok]:
    """Whitespace tokens; consecutive text tokens are merged into one label cell."""
    out: list[Tok] = []
    for m in _NONSPACE.finditer(line):
        tok = classify(m.group(), line_start + m.start(), line_start + m.end())
        if tok.kind == "text" and out and out[-1].kind == "text":
            prev = out[-1]
            out[-1] = Tok(line[prev.start - line_start : tok.end - line_start], prev.start, tok.end, "text")
        else:
            out.append(tok)
    return out


def rows(text: str, start: int, end: int, encoding: str | None = None) -> tuple[str, list[Row]]:
    """Rows of the region ``text[start:end]``; returns (encoding, rows)."""
    enc = encoding or detect_encoding(text, start, end)
    out: list[Row] = []
    if enc == "stream":
        cur = Row(line_start=start)
        for line, ls in _lines(text, start, end):
            # fast path: the common cell "0 |" (a plain count followed by its separator)
            digits = line[:-2] if line.endswith(" |") else line
            if digits.isdigit() and digits.isascii():
                cur.values.append(Tok(digits, ls, ls + len(digits), "num", int(digits), 0))
                continue
            s = line.strip()
            if not s or _is_filler(s) or _is_page_number(s):
                continue
            body = line.rstrip()
            if body.endswith("|"):
                body = body.rstrip("|")
            if "|" in body:  # an occasional full row inside a stream
                cells = split_delimited(line, ls, "|")
                r = _row_from_cells(cells, ls, True)
                if r and r.values:
                    if cur.labels or cur.values:
                        out.append(cur)
                    out.append(r)
                    cur = Row(line_start=ls)
                    continue
                toks = [c for c in cells if c.kind != "empty"]
            elif "\t" in body or (" " in body.strip() and _has_num(body)):
                toks = [c for c in _space_cells(body, ls)]
            else:
                toks = [classify(body, ls, ls + len(body))]
            for tok in toks:
                if tok.kind == "empty":
                    continue
                if tok.kind == "text":
                    if cur.values:
                        out.append(cur)
                        cur = Row(line_start=ls)
                    cur.labels.append(tok)
                else:
                    cur.values.append(tok)
        if cur.labels or cur.values:
            out.append(cur)
        return enc, out
    for line, ls in _lines(text, start, end):
        s = line.strip()
        if not s or ("--" in s and _SEP_ROW.match(s)) or _is_page_number(s):
            continue
        if "|" in s and not _is_filler(s):
            r = _row_from_cells(split_delimited(line, ls, "|"), ls, True)
        elif "\t" in line:
            r = _row_from_cells(split_delimited(line, ls, "\t"), ls, True)
        elif _is_filler(s):
            continue
        else:
            r = _row_from_cells(_space_cells(line, ls), ls, False)
        if r is not None:
            out.append(r)
    return enc, out


def _is_filler(s: str) -> bool:
    """A stripped line of bare pipes (``|||``)."""
    return s[0] == "|" and _FILLER.match(s) is not None


_PAGE_START = frozenset("-—－第")  # the first characters of a page number (_PAGE_NO), besides digits


def _is_page_number(s: str) -> bool:
    """A stripped line that is a page number (``- 3 -``, ``第3页``, ``3/12``)."""
    return (s[0] in _PAGE_START or s[0].isdigit()) and _PAGE_NO.match(s) is not None


def _has_num(s: str) -> bool:
    return any(NUMBER.fullmatch(t) for t in s.split())
