"""The narrative reader: a deterministic finder for the common statements of the narrative.

:func:`find_facts` reads the narrative (sections 一, 五, 六; the whole narrative of a pre-2019
report) with regular expressions and returns :class:`~extractor.model.Fact` objects with
``producer="parser"``: plain counts ("收到政府信息公开申请5件"), zero statements in words
("没有收到…申请"), sum statements (a total, then 其中 parts) and rates whose parts are printed
("收到网上信访25件，办结22件，办结率88%"). Numbers are read by :mod:`extractor.numbers`; metric keys come
from the controlled vocabulary (:mod:`.vocabulary`). The rules that check any fact are in
:mod:`extractor.verify.narrative`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from ..document import Document
from ..model import Fact, Number, trusted
from ..numbers import NUMBER_RE, parse_normalized, parse_number
from .text import _analyze, narrative_chunks
from .vocabulary import Reading, classify_label, is_whole, load_vocabulary, not_a_count, rate_numerator, scope_of

_WS_RE = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------
# Canonical metrics
# ---------------------------------------------------------------------------------------------

def channel_of(text: str) -> str | None:
    """The publication channel a text names (website, wechat, …), from the vocabulary."""
    m = load_vocabulary().metric("items_published")
    if m is None:
        return None
    for ch, pat in m.channels:
        if pat.search(text):
            return ch
    return None


def canonical_metric(
    label: str, context: str = "", *, post: str = "", unit: str = "", prev: str | None = None, in_published: bool = False,
    sentence: str | None = None,
) -> str | None:
    """The canonical key of a printed label (with the words after the number and the previous
    clause), from the vocabulary; None when no anchor of the vocabulary matches. ``sentence``: the
    sentence up to the number (default: the previous clause and the label)."""
    return classify_statement(label, context, post=post, unit=unit, prev=prev, in_published=in_published,
                              sentence=sentence).metric


def classify_statement(
    label: str, context: str = "", *, post: str = "", unit: str = "", prev: str | None = None,
    in_published: bool = False, sentence: str | None = None,
) -> Reading:
    """:func:`~extractor.narrative.vocabulary.classify_label`, plus the rule that an items_published total is
    proven only with a marker of the whole (全年, 共, 各类, 我区…): without one it keeps its key as a
    guess (no anchor)."""
    sent = sentence if sentence is not None else context + "，" + label
    r = classify_label(label, post, unit, sentence=sent, prev_metric=prev, channel_context=context, in_published=in_published)
    if r.metric and r.metric.startswith("items_published") and not in_published and not is_whole(sent):
        return Reading(r.metric, "", r.scope)
    return r


# ---------------------------------------------------------------------------------------------
# The finder
# ---------------------------------------------------------------------------------------------

_DELIMS = "，,、；;：:。（()）\n"
_DELIM_RE = re.compile("[" + re.escape(_DELIMS) + "]")
_CLAUSE_STOPS = "，,；;。\n"
_SENT_END = re.compile(r"[。\n]")
# A line that starts a new paragraph, item or heading (so the line end before it is a real one).
_NEW_ITEM = re.compile(
    r"[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[、.．](?!\d)|第[一二三四五六七八九十]+[、条部分章]"
    r"|[一二三四五六七八九十]是|[#|>*\-]"
)
_HARD_END = frozenset("。！？!?；;：:")


def _soft_breaks(text: str, a: int, b: int) -> set[int]:
    """Line ends in ``[a, b)`` that only wrap a paragraph (a PDF's fixed-width lines): the line is
    as long as the long lines around it, does not end a sentence and is not a heading, and the next
    line does not start an item. Linear in ``b - a``."""
    lines: list[tuple[int, int]] = []  # (end of line, its stripped length)
    pos = a
    while pos < b:
        i = text.find("\n", pos, b)
        if i < 0:
            break
        lines.append((i, len(text[pos:i].strip())))
        pos = i + 1
    lengths = sorted(n for _, n in lines if n)
    if not lengths:
        return set()
    typical = lengths[(len(lengths) * 3) // 4]
    out: set[int] = set()
    start = a
    for i, n in lines:
        prev = text[start:i].strip()
        start = i + 1
        if n < 15 or n < typical * 0.75 or prev[-1] in _HARD_END:
            continue
        if _NEW_ITEM.match(prev) and n <= 40:
            continue  # a heading
        k = text.find("\n", i + 1, b)
        nxt = text[i + 1 : b if k < 0 else k].strip()
        if nxt and not _NEW_ITEM.match(nxt):
            out.add(i)
    return out


@dataclass
class _Tok:
    start: int  # offsets in doc.text
    end: int
    value: Number
    unit: str
    decimals: int
    approx: bool
    label: str  # printed label before the number (its clause)
    post: str  # words right after the unit (for "收到1件…申请")
    clause_start: int
    prev_clause: str


def _matches_by_sentence(text: str, a: int, b: int, ends: list[int]) -> dict[int, list[re.Match[str]]] | None:
    """The NUMBER_RE matches in ``[a, b)`` by sentence index, from one scan of the whole range: the
    same matches as a scan of each sentence, since a match never spans two sentences unless its
    ``\\s*`` crosses a line end. When one does: None, and each sentence is scanned by itself.
    """
    found: dict[int, list[re.Match[str]]] = {}
    for m in NUMBER_RE.finditer(text, a, b):
        i = bisect_right(ends, m.start())
        if i >= len(ends) or m.end() > ends[i]:
            return None
        found.setdefault(i, []).append(m)
    return found


def _tokens(
    text: str, a: int, b: int, matches: Iterable[re.Match[str]] | None = None, soft: set[int] | frozenset[int] = frozenset()
) -> list[_Tok]:
    """The numbers with units in ``[a, b)`` (one sentence), with their clauses; ``matches``: the
    NUMBER_RE matches in ``[a, b)`` when already known; ``soft``: line ends that only wrap a line
    (not clause delimiters). Durations and differences (2个工作日, 0.87个百分点) are not numbers here."""
    toks: list[_Tok] = []
    last_end = a
    cuts: list[int] | None = None  # positions of the delimiters in [a, b), found at the first number
    stops: list[int] = []  # those of them that end a clause for prev_clause
    for m in NUMBER_RE.finditer(text, a, b) if matches is None else matches:
        num, mag, num_approx, num_unit, cnum, capprox, cunit, pct = m.groups()
        # Normalization leaves ASCII digits, 万/亿 and Chinese numerals alone: those are parsed as read.
        if pct is not None:
            p = parse_number(pct)
            unit, approx = "%", False
        elif num is not None:
            p = parse_normalized(num + (mag or "")) if num.isascii() else parse_number(num + (mag or ""))
            unit, approx = num_unit, bool(num_approx)
        else:
            p = parse_normalized(cnum)
            unit, approx = cunit, bool(capprox)
            if text.startswith("是", m.end()):
                continue
        if p is None:
            continue
        start, pe = m.span()
        if unit == "个" and not_a_count(text[pe : pe + 6], unit):
            last_end = pe
            continue
        value, decimals = p
        if cuts is None:
            cuts = [d.start() for d in _DELIM_RE.finditer(text, a, b) if d.start() not in soft]
            stops = [i for i in cuts if text[i] in _CLAUSE_STOPS]
        # The clause: back to the last delimiter (not before the previous number).
        k = bisect_left(cuts, start) - 1
        cs = max(last_end, cuts[k] + 1) if k >= 0 else last_end
        label = _WS_RE.sub("", text[cs:start])
        # The words after the unit: up to the next delimiter, at most 24 characters.
        k = bisect_left(cuts, pe)
        post_end = min(cuts[k] if k < len(cuts) else b, b, pe + 24)
        # The previous clause: back from this clause's delimiter to the previous ，；。 or line end.
        if cs - 1 > a:
            k = bisect_left(stops, cs - 1) - 1
            prev_clause = text[stops[k] + 1 if k >= 0 else a : cs - 1]
        else:
            prev_clause = ""
        toks.append(_Tok(start, pe, value, unit, decimals, approx, label, text[pe:post_end], cs, prev_clause))
        last_end = pe
    return toks


def _sentences(text: str, a: int, b: int, soft: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, int]]:
    """``[a, b)`` cut after each 。 and each line end that is not a soft wrap."""
    ends = [m.end() for m in _SENT_END.finditer(text, a, b) if m.start() not in soft]
    if (ends[-1] if ends else a) < b:
        ends.append(b)
    return list(zip([a, *ends[:-1]], ends))


def _unit_kind(unit: str) -> str:
    return "money" if unit.endswith("元") else ("rate" if unit == "%" else "count")


ZERO_PATTERNS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"(没有|未|无)(收到|接到|受理|接收)[^。；;\n]{0,40}?申请"), ("applications_received",)),
    (re.compile(r"(没有|未)(发生|接到|收到|出现|产生)?[^。；;，,\n]{0,30}?行政复议[^。；;，,\n]{0,4}?(和|及|或|、)[^。；;，,\n]{0,6}?诉讼"), ("reviews", "lawsuits")),
    (re.compile(r"(没有|未)(发生|接到|收到|出现|产生)[^。；;，,\n]{0,30}?(行政)?复议"), ("reviews",)),
    (re.compile(r"(没有|未)(发生|接到|收到|出现|产生)[^。；;，,\n]{0,30}?(行政)?诉讼"), ("lawsuits",)),
    (re.compile(r"(没有|未|无)(产生|收取)?[^。；;，,\n]{0,12}?(处理费|收费)"), ("fees",)),
]
# A zero statement counts for a metric tied to 信息公开 only where the sentence says so.
_DISCLOSURE = re.compile(r"信息公开|依申请")
_ZERO_NEEDS_DISCLOSURE = frozenset({"applications_received", "reviews", "lawsuits"})


_QIZHONG = re.compile("其中")
_OUTCOME_WORD = re.compile(r"纠错|纠正|败诉|撤销|确认违法")
_CASE_WORD = re.compile(r"复议|诉讼")
_NEW_TOTAL = re.compile(r"^(?:全年|年内|本年度?)?(?:共|合计|累计|总计)")
_EXTRA = re.compile(r"另外|另有|此外|以外|另")
_CLOSE_PAREN = re.compile(r"[)）]")
_RATE_VERB = re.compile(r"(均|都|已)?(达到|达|为|是|提高到|提升至|约)$")
_SHARE = re.compile(r"^(?:占|占比|比例为|比重为)")
_SUBSET_LEAD = re.compile(r"^(?:包括|包含|含|其中)")
_STATEMENT_BREAK = re.compile(r"[；;。]")


def _open_paren_before(text: str, pos: int, start: int) -> bool:
    """Whether ``pos`` lies inside a parenthesis opened after ``start`` (and not closed before it)."""
    depth = 0
    for ch in text[max(start, pos - 80) : pos]:
        if ch in "(（":
            depth += 1
        elif ch in ")）" and depth:
            depth -= 1
    return depth > 0
_PAREN_OPEN = "(（"
_PAREN_CLOSE = ")）"
# Every zero statement starts with one of these words: a sentence without them has none.
_ZERO_HINT = re.compile(r"[没未无]")
# A heading line: short, opening with an enumerator ("10.做好重大建设项目领域信息公开").
_HEADING_MAX = 60
# How far back a statement's sentence is read for its scope and its ties (keeps long runs linear).
_WINDOW = 240


def _one_unit_off(num: Number, den: Number, printed: _Tok) -> bool:
    """The printed rate is within one unit of its last digit of num / den × 100."""
    exact = Decimal(str(num)) / Decimal(str(den)) * 100
    return abs(exact - Decimal(str(printed.value))) <= Decimal(1).scaleb(-printed.decimals)


def rate_fits(num: Number, den: Number, printed: Number, decimals: int) -> bool:
    """``num / den × 100`` lies within the printed rate's interval (±½·10⁻ᵈ for d printed decimals)."""
    if not den:
        return False
    exact = Decimal(str(num)) / Decimal(str(den)) * 100
    half = Decimal(1).scaleb(-decimals) / 2
    return abs(exact - Decimal(str(printed))) <= half


class _Finder:
    def __init__(self, doc: Document, layout: Any):
        self.doc = doc
        self.layout = layout
        self.organ = getattr(layout, "organ", None)
        self.year = getattr(layout, "year", None)
        self.sections = [(s.start, s.end, s.key) for s in getattr(layout, "sections", [])]
        self.facts: list[Fact] = []
        self.soft: set[int] = set()
        self.heading = ""

    def section_of(self, pos: int) -> str:
        """The key of the layout section holding ``pos`` ("" when none does)."""
        for start, end, key in self.sections:
            if start <= pos < end:
                return key
        return ""

    def fact(
        self, metric: str, value: Number, unit: str, a: int, b: int, *, kind: str = "count",
        parts: list[Fact] | None = None, rate_of: list[str] | None = None, decimals: int = 0, label: str = "",
        approximate: bool = False, implicit: bool = False, anchor: str = "", scope: str = "",
    ) -> Fact:
        return trusted(Fact, {
            "metric": metric,
            "value": value,
            "unit": unit,
            "quote": self.doc.text[a:b],
            "span": self.doc.span(a, b),
            "section": self.section_of(a),
            "parts": list(parts) if parts else [],
            "rate_of": list(rate_of) if rate_of else [],
            "kind": kind,
            "decimals": decimals,
            "producer": "parser",
            "prompt": None,
            "model": None,
            "grounded": None,
            "label": label,
            "approximate": approximate,
            "implicit": implicit,
            "anchor": anchor,
            "scope": scope,
        })

    def tok_fact(self, t: _Tok, reading: Reading | None, scope: str = "") -> Fact:
        metric = reading.metric if reading is not None else None
        label = t.label or _WS_RE.sub("", t.post)
        # "全市收到1件依申请公开政府信息申请": the words after the number are part of the statement.
        end = t.end + len(t.post) if metric and "申请" in t.post and "申请" not in t.label else t.end
        return self.fact(
            metric or (label or "?"),
            t.value,
            t.unit,
            t.clause_start,
            end,
            kind=_unit_kind(t.unit),
            decimals=t.decimals,
            approximate=t.approx,
            label=label,
            anchor=reading.anchor if reading is not None and metric else "",
            scope=scope,
        )

    def run(self, ranges: list[tuple[int, int]]) -> list[Fact]:
        text = self.doc.text
        for a, b in ranges:
            self.soft = _soft_breaks(text, a, b)
            self.heading = ""
            prev_sum: tuple[Fact, list[_Tok], int] | None = None
            prev_toks: list[_Tok] = []
            sentences = _sentences(text, a, b, self.soft)
            ends = [sb for _, sb in sentences]
            by_sentence = _matches_by_sentence(text, a, b, ends)
            # A zero statement in words starts with 没/未/无: the sentences that have one.
            negated = {bisect_right(ends, m.start()) for m in _ZERO_HINT.finditer(text, a, b)}
            for i, (sa, sb) in enumerate(sentences):
                self.track_heading(sa, sb)
                matches = by_sentence.get(i) if by_sentence is not None else None
                if matches is None and by_sentence is not None:  # no number: a zero statement at most
                    if i in negated:
                        self.zero_statements(sa, sb, [])
                    prev_sum = None
                    prev_toks = []
                else:
                    prev_sum, prev_toks = self.sentence(sa, sb, prev_sum, matches, prev_toks)
        return self.facts

    def track_heading(self, sa: int, sb: int) -> None:
        """A short line opening with an enumerator is the heading of the lines after it."""
        line = self.doc.text[sa:sb].strip()
        if line and len(line) <= _HEADING_MAX and _NEW_ITEM.match(line) and not line.startswith(("|", "-", "*", ">")):
            self.heading = line
        elif line.startswith(("一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、")):
            self.heading = ""

    def read(self, toks: list[_Tok], sa: int) -> tuple[list[Reading], list[str]]:
        """Each number's reading (metric, anchor) and scope."""
        text = self.doc.text
        readings: list[Reading] = []
        scopes: list[str] = []
        prev: str | None = None
        for t in toks:
            # the sentence before the number, at most _WINDOW characters (a "…" marks a cut: no subject)
            before = text[sa : t.start] if t.start - sa <= _WINDOW else "…" + text[t.start - _WINDOW : t.start]
            r = classify_statement(t.label, t.prev_clause, post=t.post, unit=t.unit, prev=prev,
                                   sentence=before + text[t.start : t.end])
            readings.append(r)
            scopes.append(scope_of(t.label, before, organ=self.organ, channel_context=t.prev_clause,
                                   heading=self.heading, year=self.year))
            prev = r.metric
        return readings, scopes

    def sentence(
        self, sa: int, sb: int, prev_sum: Any, matches: list[re.Match[str]] | None = None,
        prev_toks: list[_Tok] | None = None,
    ) -> tuple[Any, list[_Tok]]:
        text = self.doc.text
        toks = _tokens(text, sa, sb, matches, self.soft)
        self.zero_statements(sa, sb, toks)
        if not toks:
            return None, []
        used: set[int] = set()
        parts_of: set[int] = set()
        new_sum = None
        readings, scopes = self.read(toks, sa)
        metrics = [r.metric for r in readings]
        # Sum statements: a total, then 其中 parts.
        for q in (m.start() for m in _QIZHONG.finditer(text, sa, sb)):
            before = [i for i, t in enumerate(toks) if t.end <= q and i not in used]
            if not before:
                continue
            ti = before[-1]
            total = toks[ti]
            if total.unit == "%" or q - total.end > 16:
                continue
            if _SUBSET_LEAD.match(total.label) or _open_paren_before(text, total.clause_start, sa):
                continue  # "答复1453件，包括上年结转30件，其中…": the parts are not of the 30
            parts_i = self.sum_parts(toks, ti, q, sb, metrics, readings)
            if not parts_i:
                continue
            published = (metrics[ti] or "").startswith("items_published")
            parts = []
            for j in parts_i:
                r = classify_statement(toks[j].label, "", unit=toks[j].unit, in_published=True) if published else readings[j]
                parts.append(self.tok_fact(toks[j], r if r.metric != metrics[ti] else None, scope=scopes[ti]))
            end = toks[parts_i[-1]].end
            f = self.fact(
                metrics[ti] or (total.label or "?"),
                total.value,
                total.unit,
                total.clause_start,
                end,
                kind="sum",
                parts=parts,
                approximate=total.approx,
                label=total.label,
                decimals=total.decimals,
                anchor=readings[ti].anchor if metrics[ti] else "",
                scope=scopes[ti],
            )
            self.facts.append(f)
            used.update([ti, *parts_i])
            parts_of.update(parts_i)
            new_sum = (f, [toks[j] for j in parts_i], end)
        # A bare list of counts right after a sum statement: checked against that total (advisory).
        if prev_sum is not None and new_sum is None and text.find("其中", sa, sb) < 0:
            pf, _, pend = prev_sum
            same = [t for t in toks if t.unit == pf.unit]
            if len(toks) >= 3 and len(same) == len(toks) and all(not t.approx for t in toks):
                a = self.doc.text.find(pf.quote, max(0, pend - len(pf.quote) - 1))
                a = a if a >= 0 else toks[0].clause_start
                parts = [self.tok_fact(t, None) for t in toks]
                f = self.fact(
                    pf.metric,
                    pf.value,
                    pf.unit,
                    a,
                    toks[-1].end,
                    kind="sum",
                    parts=parts,
                    label=getattr(pf, "label", ""),
                    implicit=True,
                    scope=pf.scope,
                )
                self.facts.append(f)
                used.update(range(len(toks)))
        self.shares(toks, used, parts_of, prev_toks or [], readings, scopes)
        self.rates(toks, used, parts_of, readings, scopes)
        # Everything else: plain counts (canonical ones matter most; others are kept as printed).
        for i, t in enumerate(toks):
            if i in used:
                continue
            self.facts.append(self.tok_fact(t, readings[i], scope=scopes[i]))
        return new_sum, toks

    def sum_parts(
        self, toks: list[_Tok], ti: int, q: int, sb: int, metrics: list[str | None], readings: list[Reading]
    ) -> list[int]:
        """The parts of the total ``toks[ti]`` after the 其中 at ``q``: same unit, up to the end of the
        list (a closing parenthesis for "(其中…)", a "；" unless the list opened with "其中：", a new
        total, an extra item "另外…", another quantity); a nested breakdown in parentheses after a part
        is not a part of its own."""
        text = self.doc.text
        total = toks[ti]
        paren = text[q - 1 : q] in _PAREN_OPEN
        stop = sb
        if paren:
            close = _CLOSE_PAREN.search(text, q, sb)
            stop = close.start() if close else sb
        colon = text[q + 2 : q + 3] in ":："
        parts_i: list[int] = []
        pos, depth = q + 2, 0
        for j in range(ti + 1, len(toks)):
            t = toks[j]
            if t.start >= stop or t.unit != total.unit:
                break
            gap = text[pos : t.start]
            for ch in gap:
                if ch in _PAREN_OPEN:
                    depth += 1
                elif ch in _PAREN_CLOSE:
                    depth -= 1
            pos = t.end
            if depth < 0:
                break  # the enclosing parenthesis closed
            if depth > 0:
                continue  # a nested breakdown of the part before: not a part of this total
            if parts_i and "其中" in gap:
                break
            if _EXTRA.match(t.label) or _NEW_TOTAL.match(t.label):
                break  # "另外安排…", "…；共办理718件": not a part
            mj, mt = metrics[j], metrics[ti]
            if mj and mt and (mj == mt or mj.split(".")[0] != mt.split(".")[0]):
                break  # the same quantity again, or another one: the next statement
            if not colon and ("；" in gap or ";" in gap):
                # "…；" starts the next statement, unless this is a sibling of the part before it
                # ("其中通过网站发布610条；通过抖音号发布24条": two channels of one total)
                prev_m = metrics[parts_i[-1]] if parts_i else None
                if not (mj and prev_m and mj != prev_m and mj.split(".")[0] == prev_m.split(".")[0]):
                    break
            parts_i.append(j)
        return parts_i

    def shares(
        self, toks: list[_Tok], used: set[int], parts_of: set[int], prev_toks: list[_Tok],
        readings: list[Reading], scopes: list[str],
    ) -> None:
        """"…11796件，占41.53%": shares of a total printed before them (this sentence or the one
        before). The total is the printed count that the shares fit; it is established when it fits
        two or more of them, and then a share that does not fit is a finding that can block."""
        text = self.doc.text
        shares = [
            (i - 1, i) for i, t in enumerate(toks)
            if t.unit == "%" and i > 0 and i not in used and i - 1 not in used
            and (_SHARE.match(t.label) or (not t.label and text[toks[i - 1].end : t.start].strip() in ("(", "（")))
            and toks[i - 1].unit not in ("%", "") and not toks[i - 1].approx
        ]
        if not shares:
            return
        unit = toks[shares[0][0]].unit
        top = max(toks[n].value for n, _ in shares)
        first = shares[0][0]
        cands = [t for t in [*prev_toks, *toks[:first]] if t.unit == unit and not t.approx and t.value >= top]
        best: _Tok | None = None
        fits: list[int] = []
        for c in reversed(cands):  # the nearest first on a tie
            f = [k for k, (n, p) in enumerate(shares) if rate_fits(toks[n].value, c.value, toks[p].value, toks[p].decimals)]
            if len(f) > len(fits):
                best, fits = c, f
        if best is None:
            return
        established = len(fits) >= 2
        # shares printed so that they add up to 100 %: one of them may be pushed by one unit of its
        # last digit (largest-remainder rounding) — advisory, not a published error
        to_100 = len(shares) >= 2 and sum(Decimal(str(toks[p].value)) for _, p in shares) == 100
        den_fact = self.tok_fact(best, None)
        for k, (n, p) in enumerate(shares):
            num = toks[n]
            nf = self.tok_fact(num, readings[n], scope=scopes[n])
            df = den_fact.model_copy()
            anchor = f"share/{len(fits)}" if established else ""
            if anchor and to_100 and k not in fits and _one_unit_off(num.value, best.value, toks[p]):
                anchor += "/rounded-to-100"
            self.facts.append(self.fact(
                f"{nf.metric}占比", toks[p].value, "%", num.clause_start, toks[p].end, kind="rate",
                parts=[nf, df], rate_of=[nf.metric, df.metric], decimals=toks[p].decimals, label="占",
                anchor=anchor, scope=scopes[n],
            ))
            used.update([n, p])

    def rates(
        self, toks: list[_Tok], used: set[int], parts_of: set[int], readings: list[Reading], scopes: list[str]
    ) -> None:
        """Rates whose numerator and denominator are printed before them in the sentence
        ("一审行政诉讼案件687件，结果纠正23件，纠错率3.14%"). A rate named in the vocabulary whose
        numerator is anchored, printed right before it, with its denominator right before that, can
        block; any other reading is advisory."""
        for i, t in enumerate(toks):
            if t.unit != "%" or i in used:
                continue
            name = _RATE_VERB.sub("", t.label)
            if not name.endswith("率"):
                continue
            pattern = rate_numerator(name)
            stem = name[:-1][-2:]

            def is_num(j: int) -> bool:
                lab = toks[j].label
                return bool((pattern is not None and pattern.search(lab)) or (stem and stem in lab))

            num_i = next((j for j in range(i - 1, -1, -1) if toks[j].unit != "%" and is_num(j)), None)
            if (num_i is None or num_i == 0 or toks[num_i - 1].unit != toks[num_i].unit
                    or toks[num_i].value > toks[num_i - 1].value
                    or _STATEMENT_BREAK.search(self.doc.text, toks[num_i - 1].end, toks[num_i].start)):
                # no numerator, or its denominator is not printed with it (a larger count, in the same
                # statement): the rate is kept as printed, unchecked
                self.facts.append(self.tok_fact(t, Reading(name), scope=scopes[i]))
                used.add(i)
                continue
            num, den = toks[num_i], toks[num_i - 1]
            nf = self.tok_fact(num, readings[num_i], scope=scopes[num_i])
            df = self.tok_fact(den, readings[num_i - 1], scope=scopes[num_i - 1])
            anchored = (
                pattern is not None and bool(pattern.search(num.label)) and num_i == i - 1
                and num_i - 1 not in parts_of and num.value <= den.value and not num.approx and not den.approx
            )
            self.facts.append(
                self.fact(
                    name,
                    t.value,
                    "%",
                    den.clause_start,
                    t.end,
                    kind="rate",
                    parts=[nf, df],
                    rate_of=[nf.metric, df.metric],
                    decimals=t.decimals,
                    label=name,
                    anchor=f"rate/{name}" if anchored else "",
                    scope=scopes[i],
                )
            )
            used.update([i, num_i, num_i - 1])

    def zero_statements(self, sa: int, sb: int, toks: list[_Tok]) -> None:
        text = self.doc.text
        if not _ZERO_HINT.search(text, sa, sb):
            return
        seen: set[str] = set()
        disclosure = bool(_DISCLOSURE.search(text, sa, sb))
        for pat, metrics in ZERO_PATTERNS:
            for m in pat.finditer(text, sa, sb):
                if any(m.start() <= t.start < m.end() for t in toks):
                    continue  # a printed number: not a statement in words
                if _OUTCOME_WORD.search(text, m.start(), min(sb, m.end() + 4)):
                    continue  # "未发生…被行政复议纠错或行政诉讼败诉": no lost cases, not no cases
                if metrics == ("applications_received",) and _CASE_WORD.search(m.group()):
                    continue  # "未收到…行政复议的申请": no review, said by the patterns below
                scope = scope_of("", text[max(sa, m.start() - _WINDOW) : m.start()], organ=self.organ,
                                 heading=self.heading, year=self.year)
                for metric in metrics:
                    if metric in seen:
                        continue
                    seen.add(metric)
                    anchored = disclosure or metric not in _ZERO_NEEDS_DISCLOSURE
                    self.facts.append(self.fact(metric, 0, "", m.start(), m.end(), label=m.group(),
                                                anchor=f"zero/{metric}" if anchored else "", scope=scope))


def find_facts(doc: Document, layout: Any = None) -> list[Fact]:
    """Regex reading of the narrative: counts, zero statements, sums with parts, rates with parts."""
    layout = layout if layout is not None else _analyze(doc)
    ranges = [r for _k, rs in narrative_chunks(doc, layout) for r in rs]
    return _Finder(doc, layout).run(ranges)
