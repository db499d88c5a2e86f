"""Where things are in a report: the six sections, the table regions, the format, organ and year.

Sections are found by their title keywords, not their numbers (bodies renumber, merge and reword
them, and table 三's own rows start with 一、二、三、四、). Table regions are anchored on the tables'
own content (第二十条, 本年新收, 行政复议 … 总计, 统计指标 | 单位 | 统计数).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from .tablespec import TableSpec, derived, table_spec

_ENUM = r"(?:[一二三四五六七八九十]+\s*[、.．,]|[（(][一二三四五六七八九十]+[)）]|\d+\s*[、.．]|第[一二三四五六七八九十]+部分)?"

SECTION_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("一", ("总体情况", "概述", "基本情况", "总体概况")),
    ("二", ("主动公开政府信息情况", "主动公开情况", "主动公开政府信息")),
    ("三", ("收到和处理政府信息公开申请情况", "收到和处理政府信息公开申请", "依申请公开政府信息情况", "依申请公开情况")),
    ("四", ("行政复议、行政诉讼情况", "行政复议和行政诉讼情况", "行政复议、提起行政诉讼", "被申请行政复议", "行政复议、行政诉讼")),
    ("五", ("存在的主要问题及改进情况", "存在的主要问题", "主要问题及改进", "存在问题及改进", "问题和改进")),
    ("六", ("其他需要报告的事项", "其他需要报告")),
]


@dataclass
class Section:
    key: str  # 一 … 六
    title: str
    start: int  # offsets in the normalized text (title line start … next section start)
    end: int


@dataclass
class Region:
    table: str  # table2 | table3 | table4 | legacy
    start: int
    end: int


@dataclass
class Layout:
    sections: list[Section] = field(default_factory=list)
    regions: dict[str, Region] = field(default_factory=dict)
    format: str = "unknown"  # 2021 | 2019 | legacy | unknown
    organ: str | None = None
    year: int | None = None

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, pos) + 1
    b = text.find("\n", pos)
    return a, (len(text) if b < 0 else b)


def _heading_lines(text: str):
    """Short lines that can be titles: (start, end, compact text)."""
    pos = 0
    n = len(text)
    while pos < n:
        nl = text.find("\n", pos)
        if nl < 0:
            nl = n
        line = text[pos:nl]
        s = line.strip().rstrip("|").strip()
        if s and len(s) <= 48:
            yield pos, nl, _WS.sub("", s)
        pos = nl + 1


_WS = re.compile(r"\s+")
_LEADING_ENUM = re.compile("^" + _ENUM)
_HEADING_START = re.compile(_ENUM + r"\s*[#\w（(“]")  # an enumerator, then the title's first character
_ANY_SECTION_WORD = re.compile("|".join(re.escape(w) for _k, ws in SECTION_KEYWORDS for w in ws))
_TOP_LEVEL = re.compile(r"^\s*#*\s*(?:[一二三四五六七八九十]+\s*[、.．]|第[一二三四五六七八九十]+部分)")
_SENTENCE = re.compile(r"[。;；]|\d+\s*[条件个项次万]")  # a sentence with counts is narrative, not a title


# a section word as printed, white space (not line breaks) allowed between its characters: the lines
# where it occurs are the only ones whose compacted text can contain the word
_LOOSE_SECTION_WORD = re.compile("|".join(
    r"[^\S\n]*".join(re.escape(ch) for ch in w) for _k, ws in SECTION_KEYWORDS for w in ws))


def _section_word_lines(text: str):
    """``_heading_lines`` restricted to the lines that contain a section word."""
    last = -1
    for m in _LOOSE_SECTION_WORD.finditer(text):
        a = text.rfind("\n", 0, m.start()) + 1
        if a == last:
            continue
        last = a
        b = text.find("\n", m.end())
        if b < 0:
            b = len(text)
        s = text[a:b].strip().rstrip("|").strip()
        if s and len(s) <= 48:
            yield a, b, _WS.sub("", s)


def find_sections(text: str) -> list[Section]:
    found: list[tuple[int, str, str]] = []
    spec = table_spec("table3")  # a line of table 三 is never a title
    row_word = spec.memo("layout:row_words", lambda: re.compile("|".join(map(re.escape, spec.locate.row_words))))
    for a, _b, s in _section_word_lines(text):
        if not _ANY_SECTION_WORD.search(s) or (spec.locate.row_words and row_word.search(s)) or _SENTENCE.search(s):
            continue
        body = _LEADING_ENUM.sub("", s).lstrip("#").strip()
        for key, words in SECTION_KEYWORDS:
            if any(body.startswith(w) or (w in body and len(body) <= len(w) + 14) for w in words):
                # a heading names the section near its start; long sentences are narrative
                if not _HEADING_START.match(s):
                    continue
                found.append((a, key, s))
                break
    # Top-level titles (一、…) first: a sub-heading such as "(一)主动公开政府信息情况" in section 一
    # must not take the place of section 二's own title. Then sub-level titles fill sections that
    # have no top-level title, where they fit in order. Sections ascend in document order.
    order = "一二三四五六"
    chosen: dict[str, tuple[int, str]] = {}
    last = -1
    for a, key, title in found:
        if _TOP_LEVEL.match(title) and key not in chosen and order.index(key) > last:
            chosen[key] = (a, title)
            last = order.index(key)
    for a, key, title in found:
        if key in chosen:
            continue
        before = [p for k, (p, _t) in chosen.items() if order.index(k) < order.index(key)]
        after = [p for k, (p, _t) in chosen.items() if order.index(k) > order.index(key)]
        if (not before or a > max(before)) and (not after or a < min(after)):
            chosen[key] = (a, title)
    sections = sorted((Section(k, t, a, len(text)) for k, (a, t) in chosen.items()), key=lambda x: x.start)
    for i in range(len(sections) - 1):
        sections[i].end = sections[i + 1].start
    return sections


def _find_first(text: str, words: tuple[str, ...], start: int = 0, end: int | None = None) -> int:
    end = len(text) if end is None else end
    best = -1
    for w in words:
        i = text.find(w, start, end)
        if i >= 0 and (best < 0 or i < best):
            best = i
    return best


# the titles of sections 五 and 六 (what follows table 四)
_END_T4 = ("存在的主要问题", "主要问题及改进", "存在问题", "其他需要报告", "改进情况", "主要问题")


@dataclass(frozen=True)
class _Anchors:
    """The words that find each table, from the specs' ``locate`` (made once per rule set)."""

    t3_anchor: tuple[str, ...]  # table 三 is where these are printed
    t3_header: tuple[str, ...]  # … its region starts at its header before them
    t3_last_row: tuple[str, ...]  # … and table 四 is looked for after its last row
    t4_heading: re.Pattern[str]  # a short line naming table 四
    t4_heading_start: tuple[str, ...]
    t4_section: str | None
    t4_header: tuple[str, ...]  # its column header, when no heading line is found
    t2_section: str | None
    t2_anchor: tuple[str, ...]  # table 二's block headings
    t2_header: tuple[str, ...]  # its header line's words
    legacy: TableSpec


def _anchors() -> _Anchors:
    def build(specs: dict[str, TableSpec]) -> _Anchors:
        t2, t3, t4 = specs["table2"], specs["table3"], specs["table4"]
        words = t4.locate.heading
        return _Anchors(
            t3_anchor=t3.locate.anchor, t3_header=(*t3.locate.header, *([t3.corner] if t3.corner else [])),
            t3_last_row=t3.row(t3.locate.last_row).keywords if t3.locate.last_row else (),
            t4_heading=re.compile("|".join(re.escape(w) for w in words) if words else r"(?!)"),
            t4_heading_start=t4.locate.heading_start, t4_section=t4.section, t4_header=t4.locate.header,
            t2_section=t2.section, t2_anchor=t2.locate.anchor,
            t2_header=(*([t2.corner] if t2.corner else []), *(t2.column(c).label for c in t2.locate.header_columns)),
            legacy=specs["legacy"],
        )
    return derived("layout.anchors", build)


def find_regions(text: str, sections: list[Section]) -> dict[str, Region]:
    """Table regions, anchored on the words each table's spec gives (``locate`` in rules/templates)."""
    regions: dict[str, Region] = {}
    n = len(text)
    w = _anchors()
    t3_anchor = _find_first(text, w.t3_anchor)
    # --- legacy statistical table
    m = _stat_table(text, w.legacy)
    if m and t3_anchor < 0:
        a, _ = _line_bounds(text, m.start())
        regions["legacy"] = Region("legacy", a, _legacy_end(text, a, w.legacy))
        return regions
    if t3_anchor < 0:
        return regions
    # --- table 三: from its heading (or its header: the balance note, the corner) to table 四's heading
    t3_start, _ = _line_bounds(text, t3_anchor)
    found = [text.rfind(h, max(0, t3_anchor - 1500), t3_anchor) for h in w.t3_header]
    k = min([x for x in found if x >= 0], default=-1)
    if k >= 0:
        t3_start, _ = _line_bounds(text, k)
    carried_fwd = _find_first(text, w.t3_last_row, t3_anchor)
    # table 四 heading: a short line naming it after table 三's last row
    t4_start = -1
    search_from = carried_fwd if carried_fwd >= 0 else t3_anchor
    for a, _b, s in _heading_lines(text[search_from:]):
        if w.t4_heading.search(s) or s.startswith(w.t4_heading_start):
            t4_start = search_from + a
            break
    if t4_start < 0:
        # fall back to the section heading, else to the next 结果维持 header
        sec4 = next((s for s in sections if s.key == w.t4_section and s.start > t3_anchor), None)
        if sec4:
            t4_start = sec4.start
        else:
            i = _find_first(text, w.t4_header, search_from)
            t4_start = _line_bounds(text, i)[0] if i >= 0 else -1
    t3_end = t4_start if t4_start > 0 else _section_after(sections, t3_anchor, n)
    regions["table3"] = Region("table3", t3_start, t3_end)
    if t4_start > 0:
        e = _find_first(text, _END_T4, t4_start + 4)
        sec5 = next((s.start for s in sections if s.key in ("五", "六") and s.start > t4_start), None)
        cands = [x for x in (e, sec5) if x is not None and x > t4_start]
        t4_end = min(cands) if cands else n
        if e is not None and e == t4_end and e > 0:
            t4_end = _line_bounds(text, e)[0]
        regions["table4"] = Region("table4", t4_start, max(t4_end, t4_start))
    # --- table 二: from its first header line (第二十条 / 信息内容 / column titles) up to table 三;
    # the section's narrative before it is left out (its counts are not table cells)
    sec2 = next((s for s in sections if s.key == w.t2_section and s.start < t3_start), None)
    i = _find_first(text, w.t2_anchor, sec2.start if sec2 else 0, t3_start)
    if i < 0 and sec2 is None:
        return regions
    window = max(sec2.start if sec2 else 0, (i if i >= 0 else t3_start) - 1500)
    j = _find_first(text, w.t2_header, window, t3_start)
    starts = [x for x in (i, j) if x >= 0]
    a = _line_bounds(text, min(starts))[0] if starts else sec2.start
    regions["table2"] = Region("table2", a, t3_start)
    return regions


def _stat_start(spec: TableSpec) -> re.Pattern[str]:
    """The statistical table's header, or a mention of its name (legacy ``locate``)."""
    def build() -> re.Pattern[str]:
        loc = spec.locate
        alts = ([loc.start.pattern] if loc.start is not None else []) + [re.escape(w) for w in loc.mention]
        return re.compile("|".join(alts) if alts else r"(?!)")
    return spec.memo("layout.start", build)


def _stat_table(text: str, spec: TableSpec) -> re.Match[str] | None:
    """The statistical table's title or header: a mention of the table's title counts only where
    the table's header follows it (an introduction says "…和政府信息公开情况统计表共六个部分组成")."""
    loc = spec.locate
    first = None
    for m in _stat_start(spec).finditer(text):
        if m.group() not in loc.mention:  # the header itself
            return m
        header = loc.header_pattern.search(text, m.end(), m.end() + 80) if loc.header_pattern else None
        if header:  # the table starts at its header (the title may end a paragraph of prose)
            return header if text.find("\n", m.end(), header.start()) >= 0 else m
        first = first or m
    return first


def _legacy_end(text: str, start: int, spec: TableSpec) -> int:
    """The statistical table ends at its signature line, a later section heading, or where
    narrative prose resumes (a long line that is not a table row)."""
    pos = text.find("\n", start)
    if pos < 0:
        return len(text)
    pos += 1
    footer = spec.locate.footer
    while pos < len(text):
        nl = text.find("\n", pos)
        nl = len(text) if nl < 0 else nl
        line = text[pos:nl].strip()
        c = _WS.sub("", line)
        if footer and c.startswith(footer):
            return pos
        if "|" not in line and "\t" not in text[pos:nl]:
            if len(c) > 80 or any(w in c for w in _END_T4 + ("改进措施",)) and len(c) < 40:
                return pos
        pos = nl + 1
    return len(text)


def _section_after(sections: list[Section], pos: int, n: int) -> int:
    for s in sections:
        if s.start > pos:
            return s.start
    return n


def detect_format(text: str, regions: dict[str, Region], year: int | None) -> str:
    if "legacy" in regions:
        return "legacy"
    if "table3" not in regions:
        return "unknown"
    t2 = regions.get("table2")
    body = _WS.sub("", text[t2.start : t2.end]) if t2 else ""
    # the format whose variant of table 二 has more of its header words printed
    counts = [(sum(1 for w in v.markers if w in body), v) for v in table_spec("table2").variants.values() if v.formats]
    most = max((c for c, _ in counts), default=0)
    winners = [v for c, v in counts if c == most]
    if len(winners) == 1:
        return winners[0].formats[0]
    if year is not None and year <= 2020:
        return "2019"
    return "2021"


_PERIOD = re.compile(r"((?:19|20)\d{2})\s*年\s*1\s*月\s*1\s*日")
_YEAR_TITLE = re.compile(r"((?:19|20)\d{2})\s*年度?\s*(?:政府信息公开|政务公开)")
_ORGAN_SUFFIX = re.compile(
    r"(人民政府办公室|人民政府办公厅|人民政府|办公室|办公厅|委员会|管理局|服务局|[局委厅办署院会所站中心处室](?:\s|$)|街道办事处|镇人民政府|乡人民政府|政府)$"
)


_TITLE_YEAR = re.compile(r"((?:19|20)\d{2})\s*年\s*度?")
_TITLE_TAIL = re.compile(r"(?:政府信息公开|政务公开|信息公开|政府信息).*$")
_PREFIX = re.compile(r"^(?:#{1,6}\s*|\*\*|标题\s*[:|]\s*|名称\s*[:|]\s*|题目\s*[:|]\s*)+")


def find_organ_year(text: str) -> tuple[str | None, int | None]:
    """Organ and year from the title (either order), else the statistics period and signature."""
    organ: str | None = None
    year: int | None = None
    cleaned = (_PREFIX.sub("", ln.strip().strip("|").strip()).strip("*").strip() for ln in text[:2000].split("\n"))
    lines = list(itertools.islice((ln for ln in cleaned if ln), 15))  # the first 15 lines that say anything
    for idx, ln in enumerate(lines):
        nxt = lines[idx + 1] if idx + 1 < len(lines) else ""
        if "报告" not in ln and "报告" in nxt and len(nxt) <= 12 and re.search(r"公开\s*$", ln):
            ln += nxt  # a title broken over two lines: "2025年××政府信息公开" / "工作年度报告"
        m = _TITLE_YEAR.search(ln)
        if not m or not ("报告" in ln or "信息公开工作" in ln) or len(ln) > 60:
            continue
        year = int(m.group(1))
        before = re.sub(r"(?:政务公开|关于|《)\s*$", "", ln[: m.start()]).strip(" 《“\"")
        after = _TITLE_TAIL.sub("", ln[m.end():]).strip()
        if before and not re.search(r"\d", before):
            organ = before
        elif after and len(after) <= 30:
            organ = after
        elif idx > 0 and len(lines[idx - 1]) <= 30 and not re.search(r"\d", lines[idx - 1]):
            organ = lines[idx - 1]
        break
    if year is None:
        m = _PERIOD.search(text[:3000]) or _YEAR_TITLE.search(text[:3000])
        if m:
            year = int(m.group(1))
    if organ is None:
        organ = _organ_from_signature(text) or _organ_from_body(text)
    if organ:
        organ = re.sub(r"\s+", "", organ)
    return organ, year


def _organ_from_signature(text: str) -> str | None:
    tail = [ln.strip() for ln in text[-400:].split("\n") if ln.strip()]
    for i in range(len(tail) - 1, 0, -1):
        if re.fullmatch(r"(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", tail[i]):
            cand = tail[i - 1]
            if len(cand) <= 30 and _ORGAN_SUFFIX.search(cand):
                return cand
    return None


def _organ_from_body(text: str) -> str | None:
    m = re.search(r"现将([^\s,，。]{2,30}?)(?:19|20)\d{2}\s*年", text[:5000])
    if m:
        return m.group(1)
    m = re.search(r"([^\s,，。《》“”]{2,30}?)(?:19|20)\d{2}\s*年度?政府信息公开工作年度报告", text[:5000])
    if m:
        return re.sub(r"^(?:现就|现将|关于|按照|根据)", "", m.group(1))
    return None


def analyze(doc_or_text) -> Layout:
    text = doc_or_text if isinstance(doc_or_text, str) else doc_or_text.text
    sections = find_sections(text)
    regions = find_regions(text, sections)
    organ, year = find_organ_year(text)
    fmt = detect_format(text, regions, year)
    return Layout(sections=sections, regions=regions, format=fmt, organ=organ, year=year)
