"""HTML: visible text in reading order, tables as real grids (rowspan/colspan honoured).

The page is parsed into a small tree (lenient: unclosed ``td``/``tr``/``p`` are closed the way
browsers close them), then rendered. Each data table row becomes one line of the normalized text,
its grid slots joined by `` | ``; a slot covered by a rowspan/colspan of another cell is written
empty, so every row of a table has the same number of slots and a number sits in the column it
belongs to. A *layout* table (one that holds other tables, as many government sites wrap the whole
page in one) is rendered as blocks, cell after cell, so the report's tables inside stay grids.
Every character keeps its offset in the original HTML source, entities included.
"""

from __future__ import annotations

import html as _html
import re
from html.parser import HTMLParser
from pathlib import Path

from ..document import Document, TextBuilder
from ..errors import LoadError
from .text import decode

_BLOCK = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
    "header", "footer", "blockquote", "pre", "hr", "dd", "dt", "dl", "form", "center", "caption",
    "table", "tr", "main", "nav", "aside", "figure", "figcaption", "address",
}
_SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe", "select", "button"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source", "embed", "param", "track"}
_TABLE_SECTIONS = {"tbody", "thead", "tfoot"}
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")
_WS = re.compile(r"[ \t\r\n\f\u00a0\u3000]+")


class _El:
    __slots__ = ("tag", "attrs", "children", "pos")

    def __init__(self, tag: str, attrs: dict[str, str | None], pos: int) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[_El | _Text] = []
        self.pos = pos


class _Text:
    __slots__ = ("text", "start", "end", "entity")

    def __init__(self, text: str, start: int, end: int, entity: bool) -> None:
        self.text = text
        self.start = start
        self.end = end
        self.entity = entity


class _TreeBuilder(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.src = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.root = _El("#root", {}, 0)
        self.stack: list[_El] = [self.root]

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _close_until(self, stop: set[str], closing: set[str]) -> None:
        """Pop implicitly closed elements: everything from the outermost element in ``closing``
        that stands above the nearest ``stop`` element."""
        cut = None
        for i in range(len(self.stack) - 1, 0, -1):
            tag = self.stack[i].tag
            if tag in stop:
                break
            if tag in closing:
                cut = i
        if cut is not None:
            del self.stack[cut:]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("td", "th"):
            self._close_until({"tr", "table"}, {"td", "th"})
        elif tag == "tr":
            self._close_until({"table"}, {"tr", "td", "th"})
        elif tag in _TABLE_SECTIONS:
            self._close_until({"table"}, {"tr", "td", "th", *_TABLE_SECTIONS})
        elif tag == "p":
            self._close_until({"td", "th", "div", "table", "li"}, {"p"})
        el = _El(tag, dict(attrs), self._offset())
        self.stack[-1].children.append(el)
        if tag not in _VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_El(tag, dict(attrs), self._offset()))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return
            if self.stack[i].tag == "table" and tag != "table":
                return  # an end tag that does not belong inside this table: ignore it

    def handle_data(self, data: str) -> None:
        if data:
            start = self._offset()
            self.stack[-1].children.append(_Text(data, start, start + len(data), False))

    def _entity(self) -> None:
        start = self._offset()
        m = _ENTITY.match(self.src, start)
        if not m:
            return
        raw = m.group(0)
        text = _html.unescape(raw if raw.endswith(";") else raw + ";")
        self.stack[-1].children.append(_Text(text, start, m.end(), True))

    def handle_entityref(self, name: str) -> None:
        self._entity()

    def handle_charref(self, name: str) -> None:
        self._entity()


def _span_attr(el: _El, name: str) -> int:
    v = el.attrs.get(name)
    if v:
        m = re.match(r"[\s\\\"']*(\d+)", v)  # also rowspan=\"8\" of markup escaped inside a JS string
        if m:
            return max(1, min(int(m.group(1)), 200))
    return 1


def _has_table(el: _El) -> bool:
    for ch in el.children:
        if isinstance(ch, _El) and ch.tag not in _SKIP and (ch.tag == "table" or _has_table(ch)):
            return True
    return False


def _rows(table: _El) -> list[list[_El]]:
    rows: list[list[_El]] = []

    def walk(el: _El) -> None:
        for ch in el.children:
            if not isinstance(ch, _El):
                continue
            if ch.tag == "tr":
                rows.append([c for c in ch.children if isinstance(c, _El) and c.tag in ("td", "th")])
            elif ch.tag in _TABLE_SECTIONS:
                walk(ch)
            elif ch.tag in ("td", "th"):  # cells outside any tr
                if not rows:
                    rows.append([])
                rows[-1].append(ch)

    walk(table)
    return rows


class _Renderer:
    def __init__(self) -> None:
        self.b = TextBuilder()

    # -- text ------------------------------------------------------------------
    def _newline(self, at: int) -> None:
        if self.b.length and self.b.tail() != "\n":
            self.b.add_synthetic("\n", at)

    def _space(self, at: int) -> None:
        if self.b.length and self.b.tail() not in (" ", "\n"):
            self.b.add_synthetic(" ", at)

    def _text(self, t: _Text) -> None:
        if t.entity:
            if t.text.strip():
                self.b.add_mapped(t.text, t.start, t.end)
            else:
                self._space(t.start)
            return
        pos = 0
        for m in _WS.finditer(t.text):
            if m.start() > pos:
                self.b.add(t.text[pos : m.start()], t.start + pos)
            self._space(t.start + m.start())
            pos = m.end()
        if pos < len(t.text):
            self.b.add(t.text[pos:], t.start + pos)

    # -- blocks ----------------------------------------------------------------
    def block(self, el: _El) -> None:
        for ch in el.children:
            if isinstance(ch, _Text):
                self._text(ch)
                continue
            if ch.tag in _SKIP:
                continue
            if ch.tag == "table":
                self.table(ch)
            elif ch.tag in _BLOCK:
                self._newline(ch.pos)
                self.block(ch)
                self._newline(ch.pos)
            else:
                self.block(ch)

    def table(self, t: _El) -> None:
        rows = _rows(t)
        self._newline(t.pos)
        if _has_table(t):  # a layout table: its cells are blocks, its inner tables grids
            for row in rows:
                for cell in row:
                    self._newline(cell.pos)
                    self.block(cell)
                    self._newline(cell.pos)
            return
        grid: dict[tuple[int, int], bool] = {}
        starts: dict[tuple[int, int], _El] = {}
        width = 0
        for r, row in enumerate(rows):
            c = 0
            for cell in row:
                while (r, c) in grid:
                    c += 1
                rs, cs = _span_attr(cell, "rowspan"), _span_attr(cell, "colspan")
                starts[(r, c)] = cell
                for dr in range(rs):
                    for dc in range(cs):
                        grid[(r + dr, c + dc)] = True
                c += cs
                width = max(width, c)
        nrows = max([r + 1 for (r, _c) in grid] or [0])
        for r in range(nrows):
            if not any((r, c) in grid for c in range(width)):
                continue
            for c in range(width):
                if c:
                    self.b.add_synthetic(" | ", t.pos)
                cell = starts.get((r, c))
                if cell is not None:
                    self.inline_cell(cell)
            self.b.add_synthetic(" |\n", t.pos)

    def inline_cell(self, cell: _El) -> None:
        """A data cell's text on one line: inner blocks and breaks become single spaces."""
        frags: list[_Text | None] = []

        def walk(el: _El) -> None:
            for ch in el.children:
                if isinstance(ch, _Text):
                    frags.append(ch)
                elif ch.tag in _SKIP:
                    continue
                else:
                    if ch.tag in _BLOCK:
                        frags.append(None)
                    walk(ch)
                    if ch.tag in _BLOCK:
                        frags.append(None)

        walk(cell)
        started = False
        pending = False
        for f in frags:
            if f is None:
                pending = started
                continue
            if f.entity:
                if f.text.strip():
                    if pending:
                        self.b.add_synthetic(" ", f.start)
                        pending = False
                    self.b.add_mapped(f.text, f.start, f.end)
                    started = True
                else:
                    pending = started
                continue
            pos = 0
            for m in _WS.finditer(f.text):
                if m.start() > pos:
                    if pending:
                        self.b.add_synthetic(" ", f.start + pos)
                        pending = False
                    self.b.add(f.text[pos : m.start()], f.start + pos)
                    started = True
                pending = pending or started
                pos = m.end()
            if pos < len(f.text):
                if pending:
                    self.b.add_synthetic(" ", f.start + pos)
                    pending = False
                self.b.add(f.text[pos:], f.start + pos)
                started = True


def _declared_charset(raw: bytes) -> str | None:
    m = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", raw[:4096], re.I)
    return m.group(1).decode("ascii").lower() if m else None


# A page kept as a JS string literal with its escapes (rowspan=\"8\", \n between tags, <\/td>)
_JS_ESCAPED = re.compile(r'=\\"|>\\n|<\\/[A-Za-z]')
_JS_END_TAG = re.compile(r"<\\/([A-Za-z][\w:-]*)")


def _without_js_escapes(source: str) -> str:
    r"""The markup with its JS string escapes neutralized *in place* (same length, so every offset
    still points at the same character of the file): ``\"`` → `` "``, ``\n``/``\r``/``\t`` → two
    spaces, ``<\/td>`` → ``</td >``."""
    s = _JS_END_TAG.sub(lambda m: "</" + m.group(1) + " ", source)
    return s.replace('\\"', ' "').replace("\\'", " '").replace("\\n", "  ").replace("\\r", "  ").replace("\\t", "  ")


def load_html(raw: bytes, *, name: str, path: str | Path = "") -> Document:
    cs = _declared_charset(raw)
    if cs in ("gbk", "gb2312", "gb18030", "x-gbk"):
        try:
            source, enc = raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            source, enc = decode(raw, what="HTML page")
    else:
        source, enc = decode(raw, what="HTML page")
    markup = _without_js_escapes(source) if _JS_ESCAPED.search(source) else source
    tb = _TreeBuilder(markup)
    try:
        tb.feed(markup)
        tb.close()
    except Exception as exc:  # html.parser is lenient; this is a last resort
        raise LoadError(f"cannot parse HTML: {exc}") from exc
    r = _Renderer()
    r.block(tb.root)
    text, omap = r.b.build()
    if not text.strip():
        raise LoadError("HTML page has no visible text")
    return Document(
        name=name, kind="html", raw=raw, original=source, text=text, map=omap, encoding=enc,
        path=str(path),
    )
