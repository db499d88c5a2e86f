"""DOCX (python-docx): paragraphs and tables in document order, merged cells honoured.

``original`` is the document text as laid out here: one line per paragraph, table cells separated
by tabs, one line per table row. In ``text`` a table row is ``slot | slot | ... |`` like the HTML
loader writes it: a slot covered by a horizontal merge (``gridSpan``), the continuation of a
vertical merge (``vMerge``) or a skipped grid column (``gridBefore``/``gridAfter``) is empty,
so every row of a table has the same number of slots.

The file is a zip archive: its directory is checked before anything is decompressed (total size,
entry count, compression ratio, and the size of the XML that is parsed in memory — about 30x its
size once parsed — against ``EXTRACTOR_MAX_DOCX_XML``), so a zip bomb, or a document whose XML
would not fit in memory, is refused with a clear error.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from ..budget import max_docx_xml
from ..document import Document, TextBuilder
from ..errors import LoadError

MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_RATIO = 200  # uncompressed / compressed, per entry larger than 1 MB

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"


def check_zip(raw: bytes) -> None:
    """Refuse archives that are not DOCX or would expand to too much (zip bombs)."""
    if raw[:4] == b"\xd0\xcf\x11\xe0":
        raise LoadError("legacy Word .doc (OLE) file: only .docx is supported; save it as .docx")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise LoadError(f"not a DOCX file (not a valid zip archive: {exc})") from exc
    except Exception as exc:
        raise LoadError(f"not a DOCX file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise LoadError(f"DOCX has {len(infos)} zip entries (limit {MAX_ENTRIES}); refusing it")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise LoadError(
                    f"DOCX entry {info.filename} would expand {info.file_size // max(info.compress_size, 1)}x "
                    f"(zip bomb?); refusing it"
                )
        if total > MAX_UNCOMPRESSED:
            raise LoadError(
                f"DOCX would expand to {total} bytes (limit {MAX_UNCOMPRESSED}; zip bomb?); refusing it"
            )
        xml = sum(i.file_size for i in infos if _parsed(i.filename))
        limit = max_docx_xml()
        if xml > limit:
            raise LoadError(
                f"DOCX budget: its XML expands to {xml} bytes (limit {limit}, parsed in memory at ~30x; "
                "set EXTRACTOR_MAX_DOCX_XML); refusing it"
            )
        names = {i.filename for i in infos}
        if "word/document.xml" not in names:
            raise LoadError("not a DOCX file (no word/document.xml in the archive)")


def _parsed(name: str) -> bool:
    """Parts python-docx parses into a tree (the document, styles, numbering, headers, ...)."""
    low = name.lower()
    return low.endswith((".xml", ".rels")) and (low.startswith("word/") or "/" not in low or low.startswith("_rels/"))


def _local(el) -> str:
    t = el.tag
    return t.rsplit("}", 1)[-1] if isinstance(t, str) else ""


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.olen = 0
        self.b = TextBuilder()

    def raw(self, s: str) -> None:
        self.parts.append(s)
        self.olen += len(s)

    def put(self, s: str) -> None:
        start = self.olen
        self.raw(s)
        self.b.add(s, start)

    def syn(self, s: str) -> None:
        self.b.add_synthetic(s, self.olen)

    def newline(self) -> None:
        if self.b.length and self.b.tail() != "\n":
            self.syn("\n")
        if self.parts and not self.parts[-1].endswith("\n"):
            self.raw("\n")


def _runs_text(p, out: list[str]) -> None:
    """Visible text of a paragraph element, in order (deleted text and field codes skipped)."""
    for el in p:
        name = _local(el)
        if name in ("del", "moveFrom", "instrText", "delInstrText", "pPr", "rPr", "fldData"):
            continue
        if el.tag == MC + "AlternateContent":
            choice = el.find(MC + "Choice")
            if choice is not None:
                _runs_text(choice, out)
            continue
        if name == "t":
            out.append(el.text or "")
        elif name in ("tab", "ptab"):
            out.append("\t")
        elif name in ("br", "cr"):
            out.append("\n")
        elif name == "noBreakHyphen":
            out.append("-")
        elif name == "sym":
            ch = el.get(W + "char")
            if ch:
                try:
                    out.append(chr(int(ch, 16)))
                except ValueError:
                    pass
        elif name == "txbxContent":
            for sub in el.iter(W + "p"):
                out.append("\n")
                _runs_text(sub, out)
        elif name in ("tbl",):
            continue
        else:
            _runs_text(el, out)


def _int_attr(el, path: str, default: int) -> int:
    if el is None:
        return default
    node = el.find(path)
    if node is None:
        return default
    v = node.get(W + "val")
    try:
        return max(0, min(int(v), 1000)) if v is not None else default
    except ValueError:
        return default


class _Body:
    def __init__(self) -> None:
        self.w = _Writer()
        self.tables = 0

    # -- paragraphs ---------------------------------------------------------------------
    def paragraph(self, p) -> None:
        pieces: list[str] = []
        _runs_text(p, pieces)
        text = "".join(pieces)
        for line in text.split("\n"):
            if line.strip():
                self.w.newline()
                self._line(line)
                self.w.newline()

    def _line(self, line: str) -> None:
        """Write a line trimmed, inner whitespace runs collapsed to one space (tabs included)."""
        out = self.w
        words = line.replace("\t", " ").split(" ")
        first = True
        for word in words:
            if not word:
                continue
            if not first:
                out.put(" ")
            out.put(word)
            first = False

    # -- tables ---------------------------------------------------------------------------
    def table(self, tbl) -> None:
        self.tables += 1
        grid = tbl.find(W + "tblGrid")
        ncols = len(grid.findall(W + "gridCol")) if grid is not None else 0
        rows: list[list[object]] = []  # per row: list of slots (a tc element or None)
        for tr in tbl.iterchildren(W + "tr"):
            trpr = tr.find(W + "trPr")
            slots: list[object] = [None] * _int_attr(trpr, W + "gridBefore", 0)
            for tc in self._cells(tr):
                tcpr = tc.find(W + "tcPr")
                span = max(1, _int_attr(tcpr, W + "gridSpan", 1))
                vm = tcpr.find(W + "vMerge") if tcpr is not None else None
                cont = vm is not None and (vm.get(W + "val") in (None, "continue"))
                slots.append(None if cont else tc)
                slots.extend([None] * (span - 1))
            slots.extend([None] * _int_attr(trpr, W + "gridAfter", 0))
            rows.append(slots)
        width = max([ncols] + [len(r) for r in rows]) if rows else 0
        self.w.newline()
        for slots in rows:
            slots = slots + [None] * (width - len(slots))
            texts = [self._cell_text(tc) if tc is not None else "" for tc in slots]
            if not any(t.strip() for t in texts):
                continue
            for c, t in enumerate(texts):
                if c:
                    self.w.syn(" | ")
                    self.w.raw("\t")
                if t:
                    self._line(t)
            self.w.syn(" |\n")
            self.w.raw("\n")

    @staticmethod
    def _cells(tr):
        """The w:tc of a row, looking through content controls and custom XML wrappers."""
        for el in tr:
            name = _local(el)
            if name == "tc":
                yield el
            elif name in ("sdt", "customXml"):
                content = el.find(W + "sdtContent") if name == "sdt" else el
                if content is not None:
                    yield from _Body._cells(content)

    def _cell_text(self, tc) -> str:
        """A cell's paragraphs (and nested tables, row by row) as one line."""
        parts: list[str] = []
        self._collect(tc, parts)
        return " ".join(parts)

    def _collect(self, parent, parts: list[str]) -> None:
        for el in parent:
            name = _local(el)
            if name == "p":
                pieces: list[str] = []
                _runs_text(el, pieces)
                t = " ".join("".join(pieces).split())
                if t:
                    parts.append(t)
            elif name in ("tbl", "tr", "tc", "customXml", "sdtContent", "ins", "moveTo"):
                self._collect(el, parts)
            elif name == "sdt":
                content = el.find(W + "sdtContent")
                if content is not None:
                    self._collect(content, parts)

    # -- body --------------------------------------------------------------------------------
    def block(self, parent) -> None:
        for el in parent:
            name = _local(el)
            if name == "p":
                self.paragraph(el)
            elif name == "tbl":
                self.table(el)
                self.w.newline()
            elif name == "sdt":
                content = el.find(W + "sdtContent")
                if content is not None:
                    self.block(content)
            elif name in ("customXml", "ins", "moveTo"):
                self.block(el)
            elif el.tag == MC + "AlternateContent":
                choice = el.find(MC + "Choice")
                if choice is not None:
                    self.block(choice)


def load_docx(raw: bytes, *, name: str, path: str | Path = "") -> Document:
    if not raw:
        raise LoadError("empty file (0 bytes)")
    check_zip(raw)
    try:
        import docx  # python-docx
    except ImportError as exc:  # pragma: no cover
        raise LoadError(f"DOCX support is not installed ({exc.name})") from exc
    try:
        d = docx.Document(io.BytesIO(raw))
        body = d.element.body
    except Exception as exc:
        raise LoadError(f"cannot read DOCX: {type(exc).__name__}: {exc}".split("\n")[0][:300]) from exc
    walker = _Body()
    walker.block(body)
    w = walker.w
    text, omap = w.b.build()
    if not text.strip():
        raise LoadError("DOCX has no text")
    return Document(
        name=name, kind="docx", raw=raw, original="".join(w.parts), text=text, map=omap,
        encoding="utf-8", path=str(path),
    )
