"""Line breaks for reports whose tables were flattened onto one line.

Crawled pages and some text dumps print a whole report, tables included, on a single line: the
labels of table 三 are glued to their digits and the digits to the next row's enumerator
(``5.属于三类内部事务信息30000036.属于四类过程性信息``). Every later stage reads tables line by
line, so this step gives such a line back its structure before anything else looks at it:

* a line break before each section title (``三、收到和处理…``), each table-二 item and block
  (``第二十条第（一）项``, ``规章``, ``行政许可`` …), each table-三 row label with its own
  enumerator (``6.`` is taken only where the template's label is number 6: the digits before it
  stay with the previous row), and before table 四's run of values;
* a space between a row label and the digits glued to it.

Only lines that carry several table markers and no line breaks of their own are touched; the
characters inserted are synthetic (they map to no original character), so every span still points
at the original text. Splitting the digit runs themselves is the parser's job (identities decide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .document import Document, OffsetMap
from .tablespec import TableSpec, derived, split_enumerator

_MIN_LINE = 200  # a line shorter than this is not a flattened table
_LONG_LINE = re.compile(r"[^\n]{%d,}" % _MIN_LINE)

# Section titles, by the words that follow their number (a misprint such as 行政法复议 included).
_SECTION = re.compile(
    r"[一二三四五六]\s*、(?=[^、。，,；;:：\d]{0,14}?(?:总体情况|概述|基本情况|主动公开|收到和处理|依申请公开|"
    r"行政\S{0,2}复议|存在的主要问题|存在问题|主要问题|其他需要报告))"
)
# The whole title, where it is one of the usual ones: the narrative after it goes on a line of its own.
_SECTION_TITLE = re.compile(
    r"[一二三四五六]\s*、\s*(?:总体情况|概述|基本情况|主动公开政府信息情况|主动公开情况|"
    r"收到和处理政府信息公开申请情况|依申请公开政府信息情况|依申请公开情况|"
    r"因?(?:政府信息公开(?:工作)?)?(?:被申请)?行政\S{0,2}复议、?和?(?:提起)?行政诉讼情况|"
    r"(?:政府信息公开工作)?存在的主要问题(?:及|和)改进(?:情况|措施)|其他需要报告的事项)"
)
_TRAILING_DIGITS = re.compile(r"(?<=[^\d\s.,+-])(\s*)([-+]?\d[\d\s.,+-]*)$")
_SIGN_INSIDE = re.compile(r"(?<=\d)[-+](?=\d)")  # "35-15": 35, then the change −15


def _loose(s: str) -> str:
    """A regex for ``s`` with white space allowed between its characters and either form of
    parentheses."""
    out = []
    for ch in s:
        if ch in "(（":
            out.append("[（(]")
        elif ch in ")）":
            out.append("[)）]")
        elif ch in ".．、":
            out.append("[.．、]")
        else:
            out.append(re.escape(ch))
    return r"\s*".join(out)


@dataclass(frozen=True)
class _Flat:
    """What reflow looks for, from the tables' specs (``locate`` in rules/templates)."""

    probes: tuple[str, ...]  # one of these on a very long line: the report may be flattened
    markers: tuple[str, ...]  # three of these on one line: it is a flattened table
    t2_start: re.Pattern[str] | None
    t2_item: re.Pattern[str]  # before each block heading and row label of table 二
    t3_start: re.Pattern[str] | None
    t3_end: re.Pattern[str] | None
    t3_rows: tuple[re.Pattern[str], ...]
    t4_start: re.Pattern[str] | None
    t4_head_end: re.Pattern[str] | None
    stat_head: re.Pattern[str] | None
    stat_head_words: re.Pattern[str] | None
    unit_value: re.Pattern[str]


def _flat() -> _Flat:
    return derived("reflow", _make_flat)


def _make_flat(specs: dict[str, TableSpec]) -> _Flat:
    t2, t3, t4, legacy = specs["table2"], specs["table3"], specs["table4"], specs["legacy"]
    order = (t2, t3, t4, legacy)
    return _Flat(
        probes=tuple(dict.fromkeys(w for s in order for w in s.locate.probes)),
        markers=tuple(dict.fromkeys(w for s in order for w in s.locate.flat_markers)),
        t2_start=t2.locate.flat_start, t2_item=_t2_items(t2),
        t3_start=t3.locate.flat_start, t3_end=t3.locate.flat_end, t3_rows=_row_patterns(t3),
        t4_start=t4.locate.flat_start, t4_head_end=t4.locate.flat_head_end,
        stat_head=legacy.locate.flat_start, stat_head_words=legacy.locate.flat_header_words,
        unit_value=_unit_value(legacy),
    )


def _t2_items(spec: TableSpec) -> re.Pattern[str]:
    """Table 二's block headings (their common beginning, 第二十条第(…) and row labels followed by a
    value; a label is not cut where it ends a longer word (``not_after``)."""
    alts = []
    heads = [h.label for h in spec.headings]
    if heads:
        prefix = heads[0]
        for h in heads[1:]:
            while not h.startswith(prefix):
                prefix = prefix[:-1]
        prefix = prefix.rstrip("(（")
        if prefix:
            alts.append(re.escape(prefix) + r"\s*[（(]")
    labels: dict[str, tuple[str, ...]] = {}
    for v in spec.variants.values():
        for r in v.rows:
            labels.setdefault(r.printed, r.not_after)
    for lab in sorted(labels, key=len, reverse=True):
        not_after = "".join(f"(?<!{re.escape(w)})" for w in labels[lab])
        alts.append(f"{not_after}{re.escape(lab)}(?=\\s*[\\d/-])")
    return re.compile("|".join(alts) if alts else r"(?!)")


def _row_patterns(spec: TableSpec) -> tuple[re.Pattern[str], ...]:
    """One pattern per table-三 label (rows and the headings above them): optional expected
    enumerator, then the first characters of the label's body. Labels of two characters (3.其他)
    need their enumerator and digits after them."""
    labels = [r.printed for r in spec.rows] + [h.label for h in spec.headings]
    pats = []
    for lab in labels:
        enum, body = split_enumerator(lab)
        head = _loose(body[:5])
        if len(body) <= 2:
            pats.append(re.compile(f"(?P<cut>{_loose(enum)})\\s*{head}(?=\\s*\\d)"))
        elif enum:  # with its own enumerator, or where no other label's words run on into it
            pats.append(re.compile(f"(?P<cut>{_loose(enum)})\\s*{head}|(?P<bare>(?<![\\u4e00-\\u9fff]){head})"))
        else:
            pats.append(re.compile(f"(?P<bare>(?<![\\u4e00-\\u9fff]){head})"))
    return tuple(pats)



def _on_long_line(text: str, word: str) -> bool:
    """The first ``word`` of ``text`` sits on a line of at least _MIN_LINE characters."""
    i = text.find(word)
    if i < 0:
        return False
    b = text.find("\n", i)
    return (len(text) if b < 0 else b) - text.rfind("\n", 0, i) > _MIN_LINE


def _flattened(line: str, markers: tuple[str, ...]) -> bool:
    return sum(1 for w in markers if w in line) >= 3


def _cuts(text: str, a: int, b: int, flat: _Flat) -> tuple[set[int], set[int]]:
    """Where line breaks go in the flattened line ``text[a:b]``: all cuts, and those that start a
    table row (whose glued digits get a space)."""
    sections = {m.start() for m in _SECTION.finditer(text, a, b)}
    sections |= {m.end() for m in _SECTION_TITLE.finditer(text, a, b) if m.end() < b}
    cuts: set[int] = set()
    t3 = flat.t3_start.search(text, a, b) if flat.t3_start else None
    t3_end = None
    if t3:
        last = None
        for last in (flat.t3_end.finditer(text, t3.start(), b) if flat.t3_end else ()):
            pass
        t3_end = last.end() if last else b
        cuts.add(t3.start())
        for pat in flat.t3_rows:
            for m in pat.finditer(text, t3.start(), t3_end):
                cuts.add(m.start())
    # table 二: between its first block heading and table 三 (or the next section)
    first = flat.t2_start.search(text, a, b) if flat.t2_start else None  # its first block's heading may be missing
    t2 = first.start() if first else -1
    if t2 >= 0:
        t2_end = t3.start() if t3 and t3.start() > t2 else b
        cuts.update(m.start() for m in flat.t2_item.finditer(text, t2, t2_end))
    # table 四: its run of values after the header's last column
    t4m = flat.t4_start.search(text, t3_end or a, b) if flat.t4_start else None
    if t4m is not None:
        t4 = t4m.start()
        nxt = _SECTION.search(text, t4m.end(), b)
        t4_end = nxt.start() if nxt else b
        head = None
        for head in (flat.t4_head_end.finditer(text, t4, t4_end) if flat.t4_head_end else ()):
            pass
        if head:
            cuts.add(head.end())
    rows = cuts - sections
    cuts |= sections
    cuts.discard(a)
    return cuts, rows


# --- the pre-2019 statistical table: its header (name, unit, year, cumulative), then label + unit + values
_ARABIC_ENUM = re.compile(r"^(?:其中\s*[:：]?\s*)?(\d{1,2})\s*[、.．]")
_CN_ENUM = re.compile(r"(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）])(?=\s*[\u4e00-\u9fff])")
_ENUM_AFTER = re.compile(r"[、.．]\s*[\u4e00-\u9fff]")


def _unit_value(spec: TableSpec) -> re.Pattern[str]:
    """A unit glued to the end of an indicator's label, then its value(s)."""
    units = sorted(spec.units, key=len, reverse=True)
    alt = "|".join(re.escape(u) for u in units)
    return re.compile(f"(?<=[\u4e00-\u9fff）)])\\s*(?P<unit>{alt})\\s*(?P<vals>\\d(?:[\\d ]|[.,](?=\\d))*)")


def _legacy_inserts(text: str, a: int, b: int, flat: _Flat) -> dict[int, str]:
    """Line breaks (and spaces) for a statistical table flattened onto ``text[a:b]``."""
    head = flat.stat_head.search(text, a, b) if flat.stat_head else None
    if head is None:
        return {}
    rows = list(flat.unit_value.finditer(text, head.end(), b))
    if len(rows) < 3:
        return {}
    out: dict[int, str] = {head.start(): "\n"} if head.start() > a else {}
    words = list(flat.stat_head_words.finditer(text, head.end(), rows[0].start("unit"))) if flat.stat_head_words else []
    label_start = words[-1].end() if words else head.end()
    for h in _CN_ENUM.finditer(text, label_start, rows[-1].start()):  # group headings (一、主动公开情况 —— ——)
        out[h.start()] = "\n"
    for m in rows:
        out[label_start] = "\n"
        if m.start("unit") == m.start() and m.start() > label_start:
            out[m.start("unit")] = " "
        if text[m.start("vals") - 1] != " ":
            out[m.start("vals")] = " "
        vals = m.group("vals").rstrip()
        end = m.start("vals") + len(vals)
        # the next label's arabic enumerator glued to these digits: "3460853762、政府公报公开数"
        if _ENUM_AFTER.match(text, end):
            enum = _ARABIC_ENUM.match(text[label_start:m.start("unit")].strip())
            expected = str(int(enum.group(1)) + 1) if enum else "1"
            if vals.endswith(expected) and len(vals) > len(expected):
                end -= len(expected)
        label_start = end
    if label_start < b:
        out[label_start] = "\n"
    return out


def reflow(doc: Document) -> Document:
    """``doc`` with its flattened table lines broken into rows (``doc`` itself when none is)."""
    text = doc.text
    flat = _flat()
    if not any(_on_long_line(text, w) for w in flat.probes):
        return doc  # the common case, decided with a few finds
    inserts: dict[int, str] = {}
    for m in _LONG_LINE.finditer(text):
        if not _flattened(m.group(), flat.markers):
            if flat.stat_head and flat.stat_head.search(m.group()):
                inserts.update(_legacy_inserts(text, m.start(), m.end(), flat))
            continue
        a, b = m.start(), m.end()
        cuts, rows = _cuts(text, a, b, flat)
        bounds = [a, *sorted(cuts), b]
        for p, q in zip(bounds, bounds[1:]):
            if p in cuts:
                inserts[p] = "\n"
            g = _TRAILING_DIGITS.search(text[p:q].rstrip()) if p in rows else None
            if g and not g.group(1):
                inserts[p + g.start(2)] = " "
            if g:
                for sign in _SIGN_INSIDE.finditer(g.group(2)):
                    inserts[p + g.start(2) + sign.start()] = " "
    if not inserts:
        return doc
    new_text, new_map = _insert(text, doc.map, inserts)
    note = f"flattened table lines reflowed ({sum(v.count(chr(10)) for v in inserts.values())} line breaks added)"
    return replace(doc, text=new_text, map=new_map, notes=[*doc.notes, note], _ident=None)


def _insert(text: str, omap: OffsetMap, inserts: dict[int, str]) -> tuple[str, OffsetMap]:
    """``text`` with synthetic strings inserted before the given offsets, and its composed map."""
    out = OffsetMap()
    parts: list[str] = []
    pos = 0

    def push(s: str, orig: int, orig_end: int, linear: bool) -> None:
        out.norm.append(pos)
        out.orig.append(orig)
        out.orig_end.append(orig_end)
        out.linear.append(linear)
        parts.append(s)

    def copy(p: int, q: int) -> None:
        nonlocal pos
        if q <= p:
            return
        if not omap.norm:  # identity map
            push(text[p:q], p, q, True)
            pos += q - p
            return
        k = omap._seg(p)
        while p < q:
            seg_end = omap.norm[k + 1] if k + 1 < len(omap.norm) else len(text)
            e = min(q, seg_end)
            if omap.linear[k]:
                o = omap.orig[k] + (p - omap.norm[k])
                push(text[p:e], o, o + (e - p), True)
            else:
                push(text[p:e], omap.orig[k], omap.orig_end[k], False)
            pos += e - p
            p = e
            k += 1

    last = 0
    for at in sorted(inserts):
        copy(last, at)
        orig_at = omap.start(at) if at < len(text) else (omap.end(len(text) - 1) if text else 0)
        s = inserts[at]
        push(s, orig_at, orig_at, False)
        pos += len(s)
        last = at
    copy(last, len(text))
    out.length = pos
    return "".join(parts), out
