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
    __slots__ = ("tag", "attrs", "children", "pos", "has_table")

    def __init__(self, tag: str, attrs: dict[str, str | None], pos: int) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[_El | _Text] = []
        self.pos = pos
        self.has_table = False  # a table inside, not under a skipped element (set by the tree builder)


class _Text:
    __slots__ = ("text", "start", "end", "entity")

    def __init__(self, text: str, start: int, end: int, entity: bool) -> None:
        self.text = text
        self.start = start
        self.end = end
        self.entity = entity


# -- tokenizer: one regex pass over the source; offsets are match positions (no line/column
# bookkeeping, no per-character Python). Browser-like where it matters: tag and attribute names
# are case-insensitive, quoted attribute values may hold ``>``, script/style content is raw text
# up to its end tag, comments/doctype/processing instructions are skipped, a ``<`` that starts no
# markup is text, and so is a tag or comment never closed (the page goes on after it).
_ATTRS = r"""(?>[\s/]++|[^\s/>=][^\s/=>]*+(?>\s*+=\s*+(?>"[^"]*+"|'[^']*+'|[^\s>]*+))?+|=[^\s>]*+)*+"""
_MARKUP = re.compile(
    r"<(?:"
    r"(?P<open>[a-zA-Z][^\t\n\r\f />\x00]*+)(?P<attrs>" + _ATTRS + r")>"
    r"|/(?P<close>[a-zA-Z][^\t\n\r\f />\x00]*+)[^>]*+>"
    r"|!--.*?--!?\s*>"
    r"|(?!!--)[!?/][^>]*+>"
    r")",
    re.S,
)
_ATTR = re.compile(r"""([^\s/>=][^\s/=>]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_RAW_END = {t: re.compile(rf"</{t}[\s/]*>", re.I) for t in ("script", "style")}
_ATTRS_USED = {"td", "th"}  # the only elements whose attributes are read (rowspan, colspan)


def _attrs(s: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    if "span" not in s.lower():  # neither rowspan nor colspan: the only attributes read (_span_attr)
        return out
    for m in _ATTR.finditer(s):
        v = m.group(2)
        if v is not None:
            if v[:1] in ("'", '"') and len(v) >= 2 and v[-1] == v[0]:
                v = v[1:-1]
            v = _html.unescape(v)
        out.setdefault(m.group(1).lower(), v)
    return out


# a start tag closes the open elements browsers close for it: (stop at, close)
_IMPLIED_END = {
    "td": (frozenset({"tr", "table"}), frozenset({"td", "th"})),
    "th": (frozenset({"tr", "table"}), frozenset({"td", "th"})),
    "tr": (frozenset({"table"}), frozenset({"tr", "td", "th"})),
    **{t: (frozenset({"table"}), frozenset({"tr", "td", "th", *_TABLE_SECTIONS})) for t in _TABLE_SECTIONS},
    "p": (frozenset({"td", "th", "div", "table", "li"}), frozenset({"p"})),
}


class _TreeBuilder:
    def __init__(self, source: str) -> None:
        self.src = source
        self.root = _El("#root", {}, 0)
        self.stack: list[_El] = [self.root]

    def parse(self) -> _El:
        src, n = self.src, len(self.src)
        find, match = src.find, _MARKUP.match
        stack = self.stack
        pos = 0  # start of the text not yet added
        last = src.rfind(">")  # no markup starts after it: no need to look
        no_comment_end = n  # a "<!--" from here on is never closed
        i = find("<")
        while 0 <= i < last:
            if i >= no_comment_end and src.startswith("<!--", i):
                m = None
            else:
                m = match(src, i)
                if m is None and src.startswith("<!--", i):
                    no_comment_end = i
            if m is None:  # a "<" that starts no markup is text
                i = find("<", i + 1)
                continue
            if i > pos:
                if find("&", pos, i) < 0:  # plain text (the common case; see data)
                    stack[-1].children.append(_Text(src[pos:i], pos, i, False))
                else:
                    self.data(pos, i)
            pos = m.end()
            tag, attrs, close = m.groups()
            if tag is not None:
                tag = tag.lower()
                el = _El(tag, _attrs(attrs) if tag in _ATTRS_USED else {}, i)
                if attrs.endswith("/"):
                    stack[-1].children.append(el)
                    if tag == "table":
                        self._contains_table()
                else:
                    self.starttag(el)
                    if tag in _RAW_END:  # raw text up to </script>: never markup, never shown
                        e = _RAW_END[tag].search(src, pos)
                        pos = e.start() if e else n
            elif close is not None:
                self.endtag(close.lower())
            i = find("<", pos)
        if pos < n:
            self.data(pos, n)
        return self.root

    def _close_until(self, stop: frozenset[str], closing: frozenset[str]) -> None:
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

    def starttag(self, el: _El) -> None:
        implied = _IMPLIED_END.get(el.tag)
        if implied is not None:
            self._close_until(*implied)
        self.stack[-1].children.append(el)
        if el.tag == "table":
            self._contains_table()
        if el.tag not in _VOID:
            self.stack.append(el)

    def _contains_table(self) -> None:
        """A table was just added to the open element: it and its ancestors up to a skipped
        element (whose content is never shown) hold a table."""
        for i in range(len(self.stack) - 1, -1, -1):
            el = self.stack[i]
            if el.has_table:  # so are its ancestors
                return
            el.has_table = True
            if el.tag in _SKIP:
                return

    def endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return
            if self.stack[i].tag == "table" and tag != "table":
                return  # an end tag that does not belong inside this table: ignore it

    def data(self, a: int, b: int) -> None:
        """Text ``src[a:b]``; character and entity references become their own pieces."""
        src, kids = self.src, self.stack[-1].children
        if src.find("&", a, b) < 0:
            kids.append(_Text(src[a:b], a, b, False))
            return
        pos = a
        for m in _ENTITY.finditer(src, a, b):
            ref = m.group(0) if m.group(0).endswith(";") else m.group(0) + ";"
            text = _html.unescape(ref)
            if text == ref:  # not a reference it knows: plain text
                continue
            if m.start() > pos:
                kids.append(_Text(src[pos : m.start()], pos, m.start(), False))
            kids.append(_Text(text, m.start(), m.end(), True))
            pos = m.end()
        if pos < b:
            kids.append(_Text(src[pos:b], pos, b, False))


def _span_attr(el: _El, name: str) -> int:
    v = el.attrs.get(name)
    if v:
        m = re.match(r"[\s\\\"']*(\d+)", v)  # also rowspan=\"8\" of markup escaped inside a JS string
        if m:
            return max(1, min(int(m.group(1)), 200))
    return 1


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
        if t.has_table:  # a layout table: its cells are blocks, its inner tables grids
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
        kids = cell.children
        if len(kids) == 1 and isinstance(kids[0], _Text):  # the common cell: one piece of text
            frags: list[_Text | None] = [kids[0]]
        else:
            frags = []
            _fragments(cell, frags)
        add, synthetic = self.b.add, self.b.add_synthetic
        started = False
        pending = False
        for f in frags:
            if f is None:
                pending = started
                continue
            if f.entity:
                if f.text.strip():
                    if pending:
                        synthetic(" ", f.start)
                        pending = False
                    self.b.add_mapped(f.text, f.start, f.end)
                    started = True
                else:
                    pending = started
                continue
            pos = 0
            text, start = f.text, f.start
            for m in _WS.finditer(text):
                if m.start() > pos:
                    if pending:
                        synthetic(" ", start + pos)
                        pending = False
                    add(text[pos : m.start()], start + pos)
                    started = True
                pending = pending or started
                pos = m.end()
            if pos < len(text):
                if pending:
                    synthetic(" ", start + pos)
                    pending = False
                add(text[pos:], start + pos)
                started = True


def _fragments(el: _El, frags: list[_Text | None]) -> None:
    """The text pieces inside ``el`` in order, None where a block element starts or ends."""
    for ch in el.children:
        if isinstance(ch, _Text):
            frags.append(ch)
        elif ch.tag in _SKIP:
            continue
        elif ch.tag in _BLOCK:
            frags.append(None)
            _fragments(ch, frags)
            frags.append(None)
        else:
            _fragments(ch, frags)


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
    r = _Renderer()
    r.block(_TreeBuilder(markup).parse())
    text, omap = r.b.build()
    if not text.strip():
        raise LoadError("HTML page has no visible text")
    return Document(
        name=name, kind="html", raw=raw, original=source, text=text, map=omap, encoding=enc,
        path=str(path),
    )
