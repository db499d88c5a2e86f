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
from dataclasses import replace
from functools import lru_cache

from .document import Document, OffsetMap
from .templates import load_templates

_MIN_LINE = 200  # a line shorter than this is not a flattened table
_MARKERS = ("本年新收", "上年结转", "予以公开", "国家秘密", "结转下年度", "第二十条", "结果维持", "未经复议")
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
_T2_ITEM = re.compile(
    r"第二十条第\s*[（(]|(?<!行政)规章(?=\s*[\d/-])|(?:行政)?规范性文件(?=\s*[\d/-])|"
    r"(?:行政许可|其他对外管理服务事项|行政处罚|行政强制|行政事业性收费|政府集中采购)(?=\s*[\d/-])"
)
_T2_START = re.compile(r"第二十条|信息内容\s*本年")
_T3_START = re.compile(r"申请人情况|[一1]\s*[、.]\s*本年新收")
_T3_END = re.compile(r"结转下年度继续办理\s*[\d\s]*")
_T4_HEAD_END = re.compile(r"(?:尚未审结\s*总计|总\s*计)(?=\s*\d)")
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


_ENUM = re.compile(r"^(?:\d+[.．、]|[（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)")


@lru_cache(maxsize=1)
def _row_patterns() -> tuple[re.Pattern[str], ...]:
    """One pattern per table-三 label (rows and group labels): optional expected enumerator, then
    the first characters of the label's body. Labels of two characters (3.其他) need their
    enumerator and digits after them."""
    tpl = load_templates()["table3"]
    labels = [r["label"] for r in tpl["rows"]]
    labels += ["三、本年度办理结果", "(三)不予公开", "(四)无法提供", "(五)不予处理", "(六)其他处理"]
    pats = []
    for lab in labels:
        m = _ENUM.match(lab)
        enum = m.group() if m else ""
        body = lab[len(enum):]
        head = _loose(body[:5])
        if len(body) <= 2:
            pats.append(re.compile(f"(?P<cut>{_loose(enum)})\\s*{head}(?=\\s*\\d)"))
        elif enum:  # with its own enumerator, or where no other label's words run on into it
            pats.append(re.compile(f"(?P<cut>{_loose(enum)})\\s*{head}|(?P<bare>(?<![\\u4e00-\\u9fff]){head})"))
        else:
            pats.append(re.compile(f"(?P<bare>(?<![\\u4e00-\\u9fff]){head})"))
    return tuple(pats)


_PROBES = ("本年新收", "第二十条", "结果维持", "指标名称", "统计指标")


def _on_long_line(text: str, word: str) -> bool:
    """The first ``word`` of ``text`` sits on a line of at least _MIN_LINE characters."""
    i = text.find(word)
    if i < 0:
        return False
    b = text.find("\n", i)
    return (len(text) if b < 0 else b) - text.rfind("\n", 0, i) > _MIN_LINE


def _flattened(line: str) -> bool:
    return sum(1 for w in _MARKERS if w in line) >= 3


def _cuts(text: str, a: int, b: int) -> tuple[set[int], set[int]]:
    """Where line breaks go in the flattened line ``text[a:b]``: all cuts, and those that start a
    table row (whose glued digits get a space)."""
    sections = {m.start() for m in _SECTION.finditer(text, a, b)}
    sections |= {m.end() for m in _SECTION_TITLE.finditer(text, a, b) if m.end() < b}
    cuts: set[int] = set()
    t3 = _T3_START.search(text, a, b)
    t3_end = None
    if t3:
        last = None
        for last in _T3_END.finditer(text, t3.start(), b):
            pass
        t3_end = last.end() if last else b
        cuts.add(t3.start())
        for pat in _row_patterns():
            for m in pat.finditer(text, t3.start(), t3_end):
                cuts.add(m.start())
    # table 二: between its first 第二十条 and table 三 (or the next section)
    first = _T2_START.search(text, a, b)  # its first block's 第二十条 header may be missing
    t2 = first.start() if first else -1
    if t2 >= 0:
        t2_end = t3.start() if t3 and t3.start() > t2 else b
        cuts.update(m.start() for m in _T2_ITEM.finditer(text, t2, t2_end))
    # table 四: its run of values after the header's last 总计
    t4 = text.find("行政复议", t3_end or a, b)
    if t4 >= 0:
        nxt = _SECTION.search(text, t4 + 4, b)
        t4_end = nxt.start() if nxt else b
        head = None
        for head in _T4_HEAD_END.finditer(text, t4, t4_end):
            pass
        if head:
            cuts.add(head.end())
    rows = cuts - sections
    cuts |= sections
    cuts.discard(a)
    return cuts, rows


# --- the pre-2019 statistical table: 指标名称 计量单位 2016年度 历年累计, then label + unit + values
_STAT_HEAD = re.compile(r"指\s*标\s*名\s*称|统\s*计\s*指\s*标")
_STAT_HEAD_WORDS = re.compile(r"历年累计|累计|统计数|(?:19|20)\d{2}\s*年度?|本年度?|计量单位|单位")
_ARABIC_ENUM = re.compile(r"^(?:其中\s*[:：]?\s*)?(\d{1,2})\s*[、.．]")
_CN_ENUM = re.compile(r"(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）])(?=\s*[\u4e00-\u9fff])")
_ENUM_AFTER = re.compile(r"[、.．]\s*[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _unit_value() -> re.Pattern[str]:
    """A unit glued to the end of an indicator's label, then its value(s)."""
    units = sorted(load_templates()["legacy"]["units"], key=len, reverse=True)
    alt = "|".join(re.escape(u) for u in units)
    return re.compile(f"(?<=[\u4e00-\u9fff）)])\\s*(?P<unit>{alt})\\s*(?P<vals>\\d(?:[\\d ]|[.,](?=\\d))*)")


def _legacy_inserts(text: str, a: int, b: int) -> dict[int, str]:
    """Line breaks (and spaces) for a statistical table flattened onto ``text[a:b]``."""
    head = _STAT_HEAD.search(text, a, b)
    if head is None:
        return {}
    rows = list(_unit_value().finditer(text, head.end(), b))
    if len(rows) < 3:
        return {}
    out: dict[int, str] = {head.start(): "\n"} if head.start() > a else {}
    words = list(_STAT_HEAD_WORDS.finditer(text, head.end(), rows[0].start("unit")))
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
    if not any(_on_long_line(text, w) for w in _PROBES):
        return doc  # the common case, decided with a few finds
    inserts: dict[int, str] = {}
    for m in _LONG_LINE.finditer(text):
        if not _flattened(m.group()):
            if _STAT_HEAD.search(m.group()):
                inserts.update(_legacy_inserts(text, m.start(), m.end()))
            continue
        a, b = m.start(), m.end()
        cuts, rows = _cuts(text, a, b)
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
