"""HTML: visible text in reading order, tables as real grids (rowspan/colspan honoured).

Each table row becomes one line of the normalized text, its grid slots joined by `` | ``; a slot
covered by a rowspan/colspan from another cell is written empty, so every row of a table has the
same number of slots and a number sits in the column it belongs to. Every character keeps its
offset in the original HTML source, so spans point into the file as published (entities too).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from ..document import Document, TextBuilder
from ..errors import LoadError
from .text import decode

_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
    "header", "footer", "blockquote", "pre", "hr", "dd", "dt", "dl", "form", "center", "caption",
}
_SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")
_WS = re.compile(r"[ \t\r\n\f]+")

Frag = tuple[str, int, int]  # text, orig start, orig end (entity: whole entity)


class _Cell:
    __slots__ = ("frags", "rowspan", "colspan")

    def __init__(self, rowspan: int, colspan: int) -> None:
        self.frags: list[Frag] = []
        self.rowspan = rowspan
        self.colspan = colspan


class _Table:
    def __init__(self) -> None:
        self.rows: list[list[_Cell]] = []
        self.cell: _Cell | None = None
        self.pos = 0  # source offset of <table>


def _span_attr(attrs: list[tuple[str, str | None]], name: str) -> int:
    for k, v in attrs:
        if k == name and v:
            m = re.match(r"\s*(\d+)", v)
            if m:
                return max(1, min(int(m.group(1)), 200))
    return 1


class _Parser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.src = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.b = TextBuilder()
        self.skip = 0
        self.tables: list[_Table] = []
        self.tables_seen = 0

    # -- positions -------------------------------------------------------------
    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    # -- output helpers --------------------------------------------------------
    def _newline(self) -> None:
        if self.b.length and self.b.tail() != "\n":
            self.b.add_synthetic("\n", self._offset())

    def _emit_frag(self, text: str, start: int, end: int, entity: bool) -> None:
        if self.tables and self.tables[-1].cell is not None:
            self.tables[-1].cell.frags.append((text, start, end))
            return
        if self.tables:  # text between cells (whitespace, stray text): drop whitespace
            if not text.strip():
                return
        if entity:
            self.b.add_mapped(text, start, end)
        else:
            self._add_collapsed(text, start)

    def _add_collapsed(self, text: str, start: int) -> None:
        """Add text, collapsing runs of HTML whitespace to one space (each run maps to its source)."""
        pos = 0
        for m in _WS.finditer(text):
            if m.start() > pos:
                self.b.add(text[pos : m.start()], start + pos)
            prev = self.b.tail()
            if self.b.length and prev not in (" ", "\n"):
                self.b.add_synthetic(" ", start + m.start())
            pos = m.end()
        if pos < len(text):
            self.b.add(text[pos:], start + pos)

    # -- parser callbacks ------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "table":
            t = _Table()
            t.pos = self._offset()
            if self.tables and self.tables[-1].cell is not None:
                # nested table: its text stays inside the outer cell
                self.tables[-1].cell.frags.append((" ", -1, -1))
                self.tables.append(t)
                t.rows.append([])
                t.cell = self.tables[-2].cell  # share the outer cell
                return
            self._newline()
            self.tables.append(t)
            return
        if not self.tables:
            if tag in _BLOCK:
                self._newline()
            return
        t = self.tables[-1]
        if tag == "tr":
            t.rows.append([])
            t.cell = None
        elif tag in ("td", "th"):
            if not t.rows:
                t.rows.append([])
            c = _Cell(_span_attr(attrs, "rowspan"), _span_attr(attrs, "colspan"))
            t.rows[-1].append(c)
            t.cell = c
        elif tag in _BLOCK and t.cell is not None:
            t.cell.frags.append((" ", -1, -1))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr") and not self.skip:
            if self.tables and self.tables[-1].cell is not None:
                self.tables[-1].cell.frags.append((" ", -1, -1))
            elif not self.tables:
                self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "table" and self.tables:
            t = self.tables.pop()
            if self.tables and t.cell is self.tables[-1].cell:  # nested: already inline
                return
            self._emit_table(t)
            self._newline()
            return
        if not self.tables:
            if tag in _BLOCK:
                self._newline()
            return
        t = self.tables[-1]
        if tag in ("td", "th"):
            t.cell = None

    def handle_data(self, data: str) -> None:
        if self.skip or not data:
            return
        self._emit_frag(data, self._offset(), self._offset() + len(data), False)

    def _entity(self) -> None:
        if self.skip:
            return
        start = self._offset()
        m = _ENTITY.match(self.src, start)
        if not m:
            return
        import html

        text = html.unescape(m.group(0) if m.group(0).endswith(";") else m.group(0) + ";")
        self._emit_frag(text, start, m.end(), True)

    def handle_entityref(self, name: str) -> None:
        self._entity()

    def handle_charref(self, name: str) -> None:
        self._entity()

    # -- tables ----------------------------------------------------------------
    def _emit_table(self, t: _Table) -> None:
        self.tables_seen += 1
        grid: dict[tuple[int, int], _Cell | None] = {}
        placed: list[tuple[int, int, _Cell]] = []
        width = 0
        for r, row in enumerate(t.rows):
            c = 0
            for cell in row:
                while (r, c) in grid:
                    c += 1
                placed.append((r, c, cell))
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        grid[(r + dr, c + dc)] = cell if (dr, dc) == (0, 0) else None
                c += cell.colspan
                width = max(width, c)
        nrows = max([r + 1 for (r, _c) in grid] or [0])
        starts = {(r, c): cell for r, c, cell in placed}
        for r in range(nrows):
            if r < len(t.rows) and not t.rows[r] and not any((r, c) in grid for c in range(width)):
                continue
            for c in range(width):
                if c:
                    self.b.add_synthetic(" | ", t.pos)
                cell = starts.get((r, c))
                if cell is not None:
                    self._emit_cell(cell, t.pos)
            self.b.add_synthetic(" |\n", t.pos)

    def _emit_cell(self, cell: _Cell, at: int) -> None:
        frags = cell.frags
        # trim leading/trailing whitespace of the cell, collapse inner whitespace
        out: list[Frag] = []
        for text, s, e in frags:
            if s < 0:
                out.append((" ", at, at))
                continue
            out.append((text, s, e))
        started = False
        pending_space = False
        for text, s, e in out:
            if s == e:  # synthetic break
                pending_space = started
                continue
            if e - s != len(text):  # entity
                if text.strip():
                    if pending_space:
                        self.b.add_synthetic(" ", s)
                        pending_space = False
                    self.b.add_mapped(text, s, e)
                    started = True
                else:
                    pending_space = started
                continue
            pos = 0
            for m in _WS.finditer(text):
                if m.start() > pos:
                    if pending_space:
                        self.b.add_synthetic(" ", s + pos)
                        pending_space = False
                    self.b.add(text[pos : m.start()], s + pos)
                    started = True
                pending_space = pending_space or started
                pos = m.end()
            if pos < len(text):
                if pending_space:
                    self.b.add_synthetic(" ", s + pos)
                    pending_space = False
                self.b.add(text[pos:], s + pos)
                started = True


def _declared_charset(raw: bytes) -> str | None:
    m = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", raw[:4096], re.I)
    return m.group(1).decode("ascii").lower() if m else None


def load_html(raw: bytes, *, name: str, path: str | Path = "") -> Document:
    cs = _declared_charset(raw)
    if cs in ("gbk", "gb2312", "gb18030", "x-gbk"):
        try:
            source, enc = raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            source, enc = decode(raw, what="HTML page")
    else:
        source, enc = decode(raw, what="HTML page")
    p = _Parser(source)
    try:
        p.feed(source)
        p.close()
    except Exception as exc:  # html.parser is lenient; this is a last resort
        raise LoadError(f"cannot parse HTML: {exc}") from exc
    while p.tables:  # unclosed tables
        t = p.tables.pop()
        if not (p.tables and t.cell is p.tables[-1].cell):
            p._emit_table(t)
    text, omap = p.b.build()
    if not text.strip():
        raise LoadError("HTML page has no visible text")
    return Document(
        name=name, kind="html", raw=raw, original=source, text=text, map=omap, encoding=enc,
        path=str(path),
    )
