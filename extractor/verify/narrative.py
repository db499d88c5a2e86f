"""Narrative facts: a deterministic finder for the common statements, and the rules that check any fact.

Two jobs, both without a model:

* :func:`find_facts` reads the narrative (sections 一, 五, 六; the whole narrative of a pre-2019
  report) with regular expressions and returns :class:`~extractor.model.Fact` objects with
  ``producer="parser"``: plain counts ("收到政府信息公开申请5件"), zero statements in words
  ("没有收到…申请"), sum statements (a total, then 其中 parts) and rates whose parts are printed
  ("收到网上信访25件，办结22件，办结率88%").
* :func:`check_facts` applies the rules of ``rules/narrative.yaml`` to facts from any producer (the
  parser above or the model) and returns :class:`~extractor.model.Finding` objects: the quote is in
  the source, the value re-parses from the quote, sums add up, rates match to the printed precision,
  canonical facts equal their table cells, one quantity has one value, parser and model agree.

Numbers are never corrected: a statement that does not check out is a finding with both values.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from ..document import Document, normalize
from ..model import Fact, Finding, Number, Operand, Record, Span, build
from .vocabulary import Reading, classify, is_whole, load_vocabulary, not_a_count, rate_numerator, scope_of

RULES_FILE = "narrative.yaml"

# ---------------------------------------------------------------------------------------------
# Models from trusted values
# ---------------------------------------------------------------------------------------------

# The fields _trusted fills for each model, in declaration order.
_TRUSTED_FIELDS: dict[type, tuple[str, ...]] = {
    Fact: (
        "metric", "value", "unit", "quote", "span", "section", "parts", "rate_of", "kind", "decimals", "producer",
        "prompt", "model", "grounded", "label", "approximate", "implicit", "anchor", "scope",
    ),
    Finding: (
        "id", "rule", "version", "status", "classification", "severity", "scope", "message", "arithmetic",
        "operands", "values", "group",
    ),
    Operand: ("ref", "value", "kind", "span", "decimals"),
}
_DIRECT = {cls: tuple(cls.model_fields) == names for cls, names in _TRUSTED_FIELDS.items()}
_ALL_SET = {cls: set(names) for cls, names in _TRUSTED_FIELDS.items()}


def _trusted(cls: type[Any], data: dict[str, Any]) -> Any:
    """A Fact, Finding or Operand from trusted values (each of its field's type), without validation.

    ``data`` has every field, in declaration order (model.build would put the fields with default
    factories last, and dumps follow that order). Should the model's fields change, model.build
    takes over.
    """
    if not _DIRECT[cls]:
        return build(cls, **data)
    obj = cls.__new__(cls)
    _setattr = object.__setattr__
    _setattr(obj, "__dict__", data)
    _setattr(obj, "__pydantic_fields_set__", _ALL_SET[cls])  # every field is set: shared, adding is a no-op
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_MAG = {"万": 10_000, "亿": 100_000_000}

UNITS = (
    "人次", "场次", "万元", "亿元", "元", "件", "条", "个", "次", "人", "项", "篇", "期", "家", "份",
    "起", "场", "批", "名", "户", "本", "部", "张", "处", "所", "%",
)
_UNIT_RE = "|".join(re.escape(u) for u in UNITS)
_AR = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CN = r"[零〇一二两三四五六七八九十百千]+(?:[万亿][零〇一二两三四五六七八九十百千]*)?"

# Every number starts with a digit or a Chinese numeral (百分之 too): the patterns below assert that
# first, so that the regex engine skips the other characters quickly.
_FIRST = r"(?=[\d零〇一二两三四五六七八九十百千])"

# A number with its unit: "2623条", "1.2万条", "300余条", "0.5万元", "88%", "五件", "百分之八十八".
# Its groups, in order: num, mag, approx, unit | cnum, capprox, cunit | pct.
NUMBER_RE = re.compile(
    rf"{_FIRST}(?:(?<![\d.第])(?P<num>{_AR})\s*(?P<mag>[万亿](?!元))?(?P<approx>余|多)?\s*(?P<unit>{_UNIT_RE})"
    rf"|(?<![第\u4e00-\u9fff])(?P<cnum>{_CN})(?P<capprox>余|多)?(?P<cunit>{_UNIT_RE})"
    rf"|百分之(?P<pct>{_AR}|{_CN}))"
)
# Any number at all (for re-parsing a quote): digits, or Chinese numerals followed by a unit.
ANY_NUMBER_RE = re.compile(
    rf"{_FIRST}(?:(?<![\d.])(?P<num>{_AR})\s*(?P<mag>[万亿])?"
    rf"|(?P<cnum>{_CN})(?=余|多|{_UNIT_RE})"
    rf"|百分之(?P<pct>{_AR}|{_CN}))"
)

_NEGATION_ZERO = re.compile(r"没有|未|无|零")
_AR_RE = re.compile(_AR)
_WS_RE = re.compile(r"\s+")


def parse_chinese(s: str) -> int | None:
    """``"二千六百二十三"`` → 2623, ``"十五"`` → 15, ``"三万五千"`` → 35000, ``"一二"`` → 12."""
    if not s:
        return None
    if all(ch in _CN_DIGITS for ch in s):  # digit-by-digit: 二〇二三
        return int("".join(str(_CN_DIGITS[ch]) for ch in s))
    total, section, digit = 0, 0, None
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch in _CN_MAG:
            section += digit or 0
            total += (section or 1) * _CN_MAG[ch]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def parse_number(s: str) -> tuple[Number, int] | None:
    """A printed number → (value, printed decimals). Handles ``1,234``, ``12.50``, 中文数字, 万/亿."""
    return _parse_plain(normalize(s).strip().replace(" ", ""))


def _parse_plain(s: str) -> tuple[Number, int] | None:
    """:func:`parse_number` of a string that is already normalized and has no spaces."""
    mag = 1
    if s and s[-1] in _CN_MAG and len(s) > 1 and (s[-2].isdigit()):
        mag = _CN_MAG[s[-1]]
        s = s[:-1]
    if s.isascii() and s.isdigit():  # a plain integer, the common case
        return int(s) * mag, 0
    if _AR_RE.fullmatch(s):
        d = Decimal(s.replace(",", ""))
        decimals = len(s.split(".")[1]) if "." in s else 0
        v = d * mag
        if v == v.to_integral_value():
            return int(v), (decimals if mag == 1 else 0)
        return v, max(0, -v.as_tuple().exponent)
    n = parse_chinese(s)
    return (n * mag, 0) if n is not None else None


def numbers_in(quote: str) -> list[Number]:
    """Every number written in ``quote`` (with magnitudes applied)."""
    return list(_iter_numbers(quote))


def _has_number(quote: str, value: Number) -> bool:
    """Whether ``value`` is one of :func:`numbers_in` ``quote`` (reading no further than needed)."""
    for n in _iter_numbers(quote):
        if same_number(n, value):
            return True
    return False


def _iter_numbers(quote: str) -> Iterator[Number]:
    # The matches are substrings of the normalized quote: normalized already, without spaces.
    for m in ANY_NUMBER_RE.finditer(normalize(quote)):
        num, mag = m.group("num", "mag")
        raw = num or m.group("cnum") or m.group("pct")
        p = _parse_plain(raw + (mag or "") if num else raw)
        if p is not None:
            yield p[0]
            if mag:  # "0.5万元": the printed figure is also the value in 万元
                bare = _parse_plain(raw)
                if bare is not None:
                    yield bare[0]


def as_number(v: float | int | Decimal) -> Number:
    """A JSON number from a model answer as an exact int or Decimal (``12.0`` → 12, ``98.02`` → 98.02)."""
    d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    return int(d) if d == d.to_integral_value() else d.normalize()


def compact(s: str) -> str:
    """Normalized, without whitespace: the form in which a quote is searched for in a text."""
    return _WS_RE.sub("", normalize(s))


def same_number(a: Any, b: Any) -> bool:
    if type(a) is int and type(b) is int:  # the common case, without Decimal
        return a == b
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------
# Rules file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    id: str
    version: int
    severity: str
    classification: str


def load_rules() -> dict[str, Any]:
    """The narrative rules (cached per rules folder: called once per finding, keep it cheap)."""
    return _load_rules(os.environ.get("EXTRACTOR_RULES_DIR", ""))


@lru_cache(maxsize=4)
def _load_rules(env_dir: str) -> dict[str, Any]:
    from ..templates import rules_dir  # EXTRACTOR_RULES_DIR or the packaged rules/

    path = rules_dir() / RULES_FILE
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    data["by_id"] = {
        r["id"]: RuleInfo(r["id"], int(r.get("version", 1)), r.get("severity", "error"), r.get("classification", "narrative"))
        for r in data["rules"]
    }
    return data


def rules_version() -> str:
    d = load_rules()
    return f"{d['id']}@{d['version']}"


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
    from ..layout import analyze  # the deterministic layout pass

    return analyze(doc)


def chunk_text(doc: Document, ranges: list[tuple[int, int]]) -> str:
    return "\n".join(doc.text[a:b].strip("\n") for a, b in ranges)


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
    """:func:`~extractor.verify.vocabulary.classify`, plus the rule that an items_published total is
    proven only with a marker of the whole (全年, 共, 各类, 我区…): without one it keeps its key as a
    guess (no anchor)."""
    sent = sentence if sentence is not None else context + "，" + label
    r = classify(label, post, unit, sentence=sent, prev_metric=prev, channel_context=context, in_published=in_published)
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
            p = _parse_plain(num + (mag or "")) if num.isascii() else parse_number(num + (mag or ""))
            unit, approx = num_unit, bool(num_approx)
        else:
            p = _parse_plain(cnum)
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
        return _trusted(Fact, {
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


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def _fid(rule: str, f: Fact, suffix: str = "") -> str:
    if f.span is not None:
        where = f"{f.span.start}-{f.span.end}"
    else:
        where = "q" + hashlib.sha1(f.quote.encode("utf-8")).hexdigest()[:8]
    return f"{rule}:{f.metric}@{where}{(':' + suffix) if suffix else ''}"


def _finding(
    rule: str,
    f: Fact | None,
    status: str,
    message: str,
    *,
    fid: str | None = None,
    rules: dict[str, Any] | None = None,
    severity: str | None = None,
    classification: str | None = None,
    scope: str | None = None,
    arithmetic: str = "",
    operands: list[Operand] | None = None,
    values: dict[str, Any] | None = None,
) -> Finding:
    info = (rules if rules is not None else load_rules())["by_id"][rule]
    passed = status == "PASS"
    return _trusted(Finding, {
        "id": fid or _fid(rule, f),  # type: ignore[arg-type]
        "rule": rule,
        "version": info.version,
        "status": status,
        "classification": classification if classification is not None else ("ok" if passed else info.classification),
        "severity": severity if severity is not None else ("info" if passed else info.severity),
        "scope": scope if scope is not None else (f"fact {f.metric}" if f is not None else ""),
        "message": message,
        "arithmetic": arithmetic,
        "operands": operands if operands is not None else [],  # callers pass fresh containers
        "values": values if values is not None else {},
        "group": "",
    })


def _advisory(rule: str, f: Fact | None, message: str, why: str, **kw: Any) -> Finding:
    """A check that does not hold but proves nothing: visible to reviewers, never blocks acceptance."""
    values = dict(kw.pop("values", None) or {})
    values["advisory_because"] = why
    return _finding(rule, f, "ADVISORY", f"{message} — advisory, not blocking: {why}", severity="info",
                    values=values, **kw)


def why_not_blocking(f: Fact) -> str:
    """"" when ``f`` is proven enough for a narrative FAIL to block acceptance: grounded, exact, its
    metric anchored by the vocabulary (for a model fact: the deterministic reading agrees) and
    about the report's own body and year. Otherwise the reason, in words."""
    if f.grounded is False:
        return "its quote is not grounded"
    if _is_approx(f):
        return "an approximate figure"
    if not getattr(f, "anchor", ""):
        who = "the model's metric is not confirmed by the vocabulary" if f.producer == "model" else \
            "no vocabulary anchor proves the metric"
        return f"{who} ({f.metric!r})"
    scope = getattr(f, "scope", "")
    if scope:
        return f"not report-wide ({scope})"
    return ""


def _op(f: Fact) -> Operand:
    return _trusted(
        Operand, {"ref": f"fact:{f.metric}", "value": f.value, "kind": f.kind, "span": f.span, "decimals": f.decimals}
    )


def _flat(facts: Iterable[Fact]) -> list[Fact]:
    """The facts and their parts (and theirs), each fact before its parts."""
    out: list[Fact] = []
    for f in facts:
        out.append(f)
        if f.parts:
            out.extend(_flat(f.parts))
    return out


def _is_approx(f: Fact) -> bool:
    return bool(getattr(f, "approximate", False))


def check_grounding(
    doc: Document, f: Fact, *, section_range: tuple[int, int] | None = None, rules: dict[str, Any] | None = None
) -> list[Finding]:
    """N.QUOTE_GROUNDED and N.VALUE_REPARSES for one fact and its parts (sets span and grounded)."""
    rules = rules if rules is not None else load_rules()
    out: list[Finding] = []
    producer, quote, value = f.producer, f.quote, f.value
    loc = None
    if f.span is not None and producer == "parser":
        loc = (f.span.start, f.span.end)  # the finder read it from the text itself
        found = True
    else:
        a0, b0 = section_range or (0, len(doc.text))
        hit = locate(doc, quote, a0, b0)
        found = hit is not None
        if hit:
            f.span = doc.span(*hit)
            loc = hit
    who: dict[str, Any] = {"producer": producer}
    if producer == "model":
        who.update(prompt=f.prompt, model=f.model)
    if not found:
        out.append(_finding("N.QUOTE_GROUNDED", f, "FAIL", f"{producer} quote not found in the document: {quote!r}",
                            values=dict(who), rules=rules))
    else:
        out.append(_finding("N.QUOTE_GROUNDED", f, "PASS", "quote located", values=dict(who), rules=rules))
    reparses = _has_number(quote, value) or (value == 0 and bool(_NEGATION_ZERO.search(quote)))
    if reparses:
        out.append(_finding("N.VALUE_REPARSES", f, "PASS", f"{value} re-read from the quote", values=who, rules=rules))
    else:
        nums = numbers_in(f.quote)
        shown = ", ".join(str(n) for n in nums) or "no number"
        out.append(
            _finding(
                "N.VALUE_REPARSES",
                f,
                "FAIL",
                f"{f.producer} value {f.value} is not written in its quote (the quote has {shown})",
                values={"claimed": f.value, "in_quote": nums, **who},
                rules=rules,
            )
        )
    f.grounded = found and reparses
    for p in f.parts:
        if not p.quote:
            p.quote = f.quote
        rng = (loc[0], loc[1]) if loc else section_range
        out.extend(check_grounding(doc, p, section_range=rng, rules=rules))
        if p.span is None or p.grounded is False:
            f.grounded = False
    return out


_OTHER_PART = re.compile(r"^(?:其中[:：]?)?(?:[（(]?[一二三四五六七八九十\d]+[)）、.．])?(?:其他|其它|其余)")
_PARTIAL_LIST = re.compile(r"其中[:：]?(?:包括|包含|主要有|主要包括)")


def check_sum(f: Fact, *, rules: dict[str, Any] | None = None) -> Finding | None:
    """N.SUM: a total and its 其中 parts. Parts above the total, or a complete list (its last part
    is 其他…) that misses it, FAIL; channels (网站, 微信…) may carry one item each, so their excess is
    advisory; a partial list below the total ("其中包括…") proves nothing."""
    if f.kind != "sum" or not f.parts:
        return None
    if _is_approx(f) or any(_is_approx(p) for p in f.parts):
        return _finding("N.SUM", f, "NOT_ASSESSABLE", "an approximate figure (余/多) takes part", severity="info",
                        classification="ok", rules=rules)
    total = Decimal(str(f.value))
    parts = [Decimal(str(p.value)) for p in f.parts]
    s = sum(parts, Decimal(0))
    arithmetic = " + ".join(str(p.value) for p in f.parts)
    ops = [_op(f), *(_op(p) for p in f.parts)]
    implicit = bool(getattr(f, "implicit", False))
    if s == total:
        return _finding("N.SUM", f, "PASS", f"{f.value} = {arithmetic}", arithmetic=f"{arithmetic} = {f.value}",
                        operands=ops, rules=rules)
    rel = ">" if s > total else "<"
    arith = f"{arithmetic} = {s} {rel} {f.value}"
    if implicit:
        if s < total:  # a list without 其中 below the total is most likely another breakdown
            return _finding("N.SUM", f, "NOT_ASSESSABLE", f"a list after the total {f.value} adds up to {s}: "
                            "another breakdown (no 其中)", arithmetic=arith, operands=ops, severity="info",
                            classification="ok", rules=rules)
        return _advisory("N.SUM", f, f"a list after the total {f.value} adds up to {s}",
                         "the list has no 其中: it may be another breakdown", arithmetic=arith, operands=ops,
                         rules=rules)
    complete = bool(_OTHER_PART.match(_WS_RE.sub("", f.parts[-1].label or "")))
    channels = all(p.metric.startswith("items_published.") for p in f.parts)
    if f.producer == "model" and not getattr(f, "anchor", ""):
        return _advisory("N.SUM", f, f"the parts of {f.metric} add up to {s}, not the stated total {f.value}",
                         "the model's reading of the sum is not confirmed by the deterministic reader",
                         arithmetic=arith, operands=ops, rules=rules)
    if s > total:
        msg = f"the parts of {f.metric} add up to {s}, more than the stated total {f.value}"
        if channels:
            return _advisory("N.SUM", f, msg, "one item may be published on several channels", arithmetic=arith,
                             operands=ops, rules=rules)
        return _finding("N.SUM", f, "FAIL", msg, arithmetic=arith, operands=ops, rules=rules)
    if complete:
        return _finding("N.SUM", f, "FAIL",
                        f"the parts of {f.metric} end with {f.parts[-1].label!r} (the rest) yet add up to {s}, "
                        f"less than the stated total {f.value}", arithmetic=arith, operands=ops, rules=rules)
    if len(parts) == 1:
        return _finding("N.SUM", f, "PASS", f"one part ({f.parts[0].value}) within the total {f.value}: a subset",
                        arithmetic=f"{arithmetic} ≤ {f.value}", operands=ops, rules=rules)
    if _PARTIAL_LIST.search(compact(f.quote)):
        return _finding("N.SUM", f, "NOT_ASSESSABLE", f"a partial list (其中包括…) of {f.value}: {arithmetic} = {s}",
                        arithmetic=arith, operands=ops, severity="info", classification="ok", rules=rules)
    return _advisory("N.SUM", f, f"the parts of {f.metric} add up to {s}, less than the stated total {f.value}",
                     "the list may be partial (no 其他 part closes it)", arithmetic=arith, operands=ops, rules=rules)


def check_rate(f: Fact, *, rules: dict[str, Any] | None = None) -> Finding | None:
    """N.RATE: a printed rate or share equals numerator / denominator × 100 within the printed
    precision (a rate printed with d decimals stands for ±½·10⁻ᵈ). A mismatch blocks only when the
    rate is named in the vocabulary with its numerator and denominator printed right before it, or
    when its total is established by two or more shares that fit it."""
    if f.kind != "rate" or len(f.parts) != 2:
        return None
    num, den = (Decimal(str(p.value)) for p in f.parts)
    if den == 0:
        return _finding("N.RATE", f, "NOT_ASSESSABLE", "denominator is 0", severity="info", classification="ok",
                        rules=rules)
    q = Decimal(1).scaleb(-f.decimals)
    computed = (num / den * 100).quantize(q, rounding=ROUND_HALF_UP)
    arithmetic = f"{f.parts[0].value} / {f.parts[1].value} × 100 = {computed}%"
    ops = [_op(f), *(_op(p) for p in f.parts)]
    if rate_fits(num, den, f.value, f.decimals):
        return _finding("N.RATE", f, "PASS", f"{arithmetic} as printed (±{q / 2})", arithmetic=arithmetic,
                        operands=ops, rules=rules)
    values = {"printed": f.value, "computed": computed}
    msg = f"{arithmetic}, printed {f.value}% (±{q / 2})"
    anchor = getattr(f, "anchor", "")
    why = "" if anchor else "the numerator and denominator are not proven (rate not in the vocabulary, or not printed right before it)"
    if anchor.endswith("/rounded-to-100"):
        why = "the shares are printed to add up to 100 % (one pushed by a unit of its last digit)"
    why = why or ("its quote is not grounded" if f.grounded is False else "")
    if why:
        return _advisory("N.RATE", f, msg, why, arithmetic=f"{arithmetic} ≠ {f.value}%", operands=ops, values=values,
                         rules=rules)
    return _finding("N.RATE", f, "FAIL", msg, arithmetic=f"{arithmetic} ≠ {f.value}%", operands=ops, values=values,
                    rules=rules)


# A leading 其中, then a leading number: "其中：（一）…" → "…".
_LABEL_LEAD = re.compile(r"^(?:其中[:：]?)?(?:[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[.、．])?")


def _norm_label(s: str) -> str:
    s = unicodedata.normalize("NFKC", s or "")
    s = _WS_RE.sub("", s)
    return _LABEL_LEAD.sub("", s, count=1)


def table_value(record: Record, metric: str) -> tuple[Number | None, list[Operand]] | None:
    """The table value counting the same quantity as ``metric``, or None when there is none."""
    return _TableLookup(record, load_rules()).value(metric)


class _TableLookup:
    """Table values by narrative metric for one record: each metric is looked up once, and the legacy
    table's labels are normalized once (fresh operands on every call: findings never share them)."""

    def __init__(self, record: Record, rules: dict[str, Any]):
        self.record = record
        self.rules = rules
        self._mapped = set(rules.get("table_map", {})) | set(rules.get("legacy_map", {}))
        self._found: dict[str, list[tuple[Number, list[tuple[str, Any]]]]] = {}  # readings, primary first
        self._year_cells: list[Any] | None = None  # the legacy table's year column
        self._labels: list[str] = []  # their normalized labels, as far as a lookup has needed them

    def value(self, metric: str) -> tuple[Number | None, list[Operand]] | None:
        found = self.all(metric)
        if not found:
            return None
        value, cells = found[0]
        return value, self.operands(cells)

    def all(self, metric: str) -> list[tuple[Number, list[tuple[str, Any]]]]:
        """Every table reading of ``metric``, primary first (empty when no table counts it)."""
        if metric not in self._mapped:
            return []  # no table counts it
        if metric not in self._found:
            self._found[metric] = self._find(metric)
        return self._found[metric]

    def readings(self, metric: str) -> list[tuple[Number, list[tuple[str, Any]]]] | None:
        """Every table reading of ``metric`` that its table_map entry allows, primary first; None when
        the entry names no table of this record. An entry is a list of refs (added), or a list of such
        lists: alternative readings of one narrative word (受理 may count the new applications alone, or
        new + carried over)."""
        entry = self.rules.get("table_map", {}).get(metric)
        if not entry:
            return None
        alternatives = entry if isinstance(entry[0], list) else [entry]
        if not any(r.split(".")[0] in self.record.tables for refs in alternatives for r in refs):
            return None
        out: list[tuple[Number, list[tuple[str, Any]]]] = []
        for refs in alternatives:
            total: Decimal = Decimal(0)
            cells: list[tuple[str, Any]] = []
            for ref in refs:
                t, row, col = ref.split(".")
                table = self.record.tables.get(t)
                cell = table.get(row, col) if table else None
                if cell is None or cell.kind not in ("number", "zero") or cell.value is None:
                    break
                total += Decimal(str(cell.value))
                cells.append((ref, cell))
            else:
                out.append((int(total) if total == total.to_integral_value() else total, cells))
                continue
            if not out:
                return []  # the primary reading is not assessable: no comparison at all
        return out

    def operands(self, cells: list[tuple[str, Any]]) -> list[Operand]:
        return [
            _trusted(Operand, {"ref": ref, "value": c.value, "kind": c.kind, "span": c.span, "decimals": c.decimals})
            for ref, c in cells
        ]

    def _find(self, metric: str) -> list[tuple[Number, list[tuple[str, Any]]]]:
        record, rules = self.record, self.rules
        readings = self.readings(metric)
        if readings is not None:
            return readings
        pat = rules.get("legacy_map", {}).get(metric)
        legacy = record.tables.get("legacy")
        if pat and legacy:
            if self._year_cells is None:
                self._year_cells = [c for c in legacy.cells if c.col == "year"]
            # the indicator the legacy template recognized (its canonical key), else the label pattern
            key = rules.get("legacy_keys", {}).get(metric)
            keyed = [c for c in self._year_cells if key and c.key == key]
            if keyed:
                c = keyed[0]
                if c.kind not in ("number", "zero") or c.value is None:
                    return []
                return [(c.value, [(c.ref, c)])]
            search = re.compile(pat).search
            labels = self._labels
            for i, c in enumerate(self._year_cells):
                if i == len(labels):
                    labels.append(_norm_label(c.label or ""))
                if search(labels[i]):
                    if c.kind not in ("number", "zero") or c.value is None:
                        return []
                    return [(c.value, [(c.ref, c)])]
        return []


def check_table(
    f: Fact, record: Record, *, rules: dict[str, Any] | None = None, tables: _TableLookup | None = None
) -> Finding | None:
    if _is_approx(f) or f.kind == "rate":
        return None
    rules = rules if rules is not None else load_rules()
    tables = tables or _TableLookup(record, rules)
    readings = tables.all(f.metric)
    if not readings:
        return None
    # the primary reading, or an alternative reading of the word (受理 = new + carried over)
    value, cells = next((r for r in readings if same_number(r[0], f.value)), readings[0])
    ops = tables.operands(cells)
    refs = " + ".join(o.ref for o in ops)
    if same_number(value, f.value):
        return _finding("N.TABLE_MATCH", f, "PASS", f"narrative {f.metric} {f.value} = {refs} {value}",
                        operands=[_op(f), *ops], arithmetic=f"{f.value} = {value}", rules=rules)
    msg = f"narrative says {f.metric} = {f.value} ({f.quote!r}); the table says {value} ({refs})"
    why = why_not_blocking(f)
    if why:
        return _advisory("N.TABLE_MATCH", f, msg, why, operands=[_op(f), *ops], arithmetic=f"{f.value} ≠ {value}",
                         values={"narrative": f.value, "table": value}, rules=rules)
    return _finding(
        "N.TABLE_MATCH", f, "FAIL", msg,
        operands=[_op(f), *ops], arithmetic=f"{f.value} ≠ {value}",
        values={"narrative": f.value, "table": value}, rules=rules,
    )


def _overlap(a: Span | None, b: Span | None) -> bool:
    return a is not None and b is not None and a.start < b.end and b.start < a.end


def _statements(fs: list[Fact]) -> list[list[Fact]]:
    """Facts whose spans overlap (or, without a span, whose quotes are equal) are one statement.
    One sort and one sweep: O(n log n)."""
    with_span = sorted((f for f in fs if f.span is not None), key=lambda f: (f.span.start, f.span.end))  # type: ignore[union-attr]
    out: list[list[Fact]] = []
    end = -1
    for f in with_span:
        assert f.span is not None
        if out and f.span.start < end:
            out[-1].append(f)
            end = max(end, f.span.end)
        else:
            out.append([f])
            end = f.span.end
    by_quote: dict[str, list[Fact]] = {}
    for f in fs:
        if f.span is None:
            by_quote.setdefault(f.quote, []).append(f)
    out.extend(by_quote.values())
    return out


_SHOWN_VALUES = 6


def check_same_quantity(facts: list[Fact], *, rules: dict[str, Any] | None = None) -> list[Finding]:
    """N.SAME_QUANTITY across statements, N.AGREE within one statement read by parser and model.

    Facts are grouped by metric (one dict), statements by one sweep over their spans: linear in the
    number of facts (up to a sort). Two values for one metric block acceptance only when two proven,
    report-wide statements (see :func:`why_not_blocking`) with one unit differ; otherwise advisory."""
    rules = rules if rules is not None else load_rules()
    out: list[Finding] = []
    groups: dict[str, list[Fact]] = {}
    known = set(rules.get("table_map", {})) | set(rules.get("legacy_map", {}))
    for f in _flat(facts):
        if _is_approx(f) or f.kind == "rate" or f.grounded is False:
            continue
        if f.metric in known or f.metric.startswith("items_published") or f.metric == "fees":
            groups.setdefault(f.metric, []).append(f)
    for metric, fs in sorted(groups.items()):
        stmts = _statements(fs)
        for st in stmts:
            producers = {g.producer for g in st}
            if {"parser", "model"} <= producers:
                pv = {str(g.value) for g in st if g.producer == "parser"}
                mv = {str(g.value) for g in st if g.producer == "model"}
                anchor = next(g for g in st if g.producer == "parser")
                if pv == mv:
                    out.append(_finding("N.AGREE", anchor, "PASS", f"parser and model both read {metric} = {anchor.value}",
                                        rules=rules))
                else:
                    out.append(_finding(
                        "N.AGREE", anchor, "FAIL",
                        f"parser reads {metric} = {'/'.join(sorted(pv))}, model reads {'/'.join(sorted(mv))}",
                        values={"parser": sorted(pv), "model": sorted(mv)}, rules=rules,
                    ))
        values: dict[str, Fact] = {}
        proven: dict[tuple[str, str], Fact] = {}  # (unit, value) of the proven statements
        for st in stmts:
            g = next((x for x in st if x.producer == "parser"), st[0])
            key = str(Decimal(str(g.value)).normalize())
            values.setdefault(key, g)
            if not why_not_blocking(g):
                proven.setdefault((g.unit, key), g)
        if len(values) < 2:
            continue
        ordered = sorted(values.values(), key=lambda g: g.span.start if g.span else 0)
        shown = ordered[:_SHOWN_VALUES]
        desc = " vs ".join(f"{g.value} ({g.quote[:30]!r})" for g in shown)
        if len(ordered) > len(shown):
            desc += f" and {len(ordered) - len(shown)} more"
        msg = f"{metric} is stated with {len(values)} different values: {desc}"
        units: dict[str, set[str]] = {}
        for unit, key in proven:
            units.setdefault(unit, set()).add(key)
        conflict = next((u for u, ks in units.items() if len(ks) > 1), None)
        kw: dict[str, Any] = dict(fid=f"N.SAME_QUANTITY:{metric}", scope=f"quantity {metric}",
                                  operands=[_op(g) for g in shown], values={str(i): g.value for i, g in enumerate(shown)},
                                  rules=rules)
        if conflict is None:
            reasons = sorted({why_not_blocking(g) or f"unit {g.unit or '—'}" for g in ordered if why_not_blocking(g)})
            why = "; ".join(reasons[:3]) or "the proven statements differ in unit"
            out.append(_advisory("N.SAME_QUANTITY", ordered[0], msg, why, **kw))
        else:
            out.append(_finding("N.SAME_QUANTITY", ordered[0], "FAIL", msg, **kw))
    return out


_KNOWN_ROOTS = frozenset({
    "applications_received", "applications_closed", "carried_over", "carried_forward", "reviews", "lawsuits",
    "items_published", "fees",
})


# A plain amount is one kind whether its unit is a count or money ("未收取信息处理费": 0 either way).
_KIND_FAMILY = {"money": "count"}


def confirm_model_facts(facts: list[Fact]) -> None:
    """A model fact's metric is proven only where the deterministic reading agrees: a grounded parser
    fact over the same characters with the same value and the same metric (for a sum, the same parts).
    Then the model fact takes that reading's anchor and scope (the model's own scope claim is kept
    when the reading has none: a claim may narrow a fact, never widen it); otherwise it has no
    anchor, so whatever it disagrees with is advisory. (Model facts never confirm each other.)"""
    parsed: dict[str, list[Fact]] = {}
    for g in _flat(f for f in facts if f.producer == "parser"):
        if g.grounded is not False and g.span is not None:
            parsed.setdefault(str(Decimal(str(g.value)).normalize()), []).append(g)
    for f in _flat(f for f in facts if f.producer == "model"):
        claimed = f.scope
        f.anchor = ""
        if f.grounded is False or f.span is None:
            continue
        for g in parsed.get(str(Decimal(str(f.value)).normalize()), ()):
            if not _overlap(f.span, g.span) or _KIND_FAMILY.get(g.kind, g.kind) != _KIND_FAMILY.get(f.kind, f.kind):
                continue
            if f.parts and [str(p.value) for p in f.parts] != [str(p.value) for p in g.parts]:
                continue
            if g.metric == f.metric:
                f.anchor, f.scope = g.anchor, g.scope or claimed
            elif f.kind == "sum" and f.parts and not g.anchor and not f.metric.split(".")[0] in _KNOWN_ROOTS:
                f.anchor, f.scope = "parser/sum", g.scope or claimed  # the same sum, both under a printed label
            else:
                continue
            break


def check_facts(doc: Document, facts: list[Fact], record: Record | None = None, *, layout: Any = None) -> list[Finding]:
    """Every narrative rule over ``facts`` (any producer). Sets ``span``/``grounded`` on the facts."""
    rules = load_rules()
    tables = _TableLookup(record, rules) if record is not None else None
    out: list[Finding] = []
    sec_ranges = {s.key: (s.start, s.end) for s in getattr(layout, "sections", [])} if layout is not None else {}
    for f in facts:
        out.extend(check_grounding(doc, f, section_range=sec_ranges.get(f.section), rules=rules))
    confirm_model_facts(facts)
    for f in facts:
        if f.grounded is False:
            continue  # an ungrounded fact is not evidence for anything else
        for chk in (check_sum(f, rules=rules), check_rate(f, rules=rules)):
            if chk is not None:
                out.append(chk)
        if record is not None:
            # a rate's parts restate counts read elsewhere in their sentence: not checked twice
            for g in ([f] if f.kind == "rate" else _flat([f])):
                t = check_table(g, record, rules=rules, tables=tables)
                if t is not None:
                    out.append(t)
    out.extend(check_same_quantity(facts, rules=rules))
    return _dedupe(out)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for f in findings:
        if f.id in seen and seen[f.id].status != "PASS":
            continue  # keep the first non-PASS for an id
        seen[f.id] = f
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Pipeline entry point
# ---------------------------------------------------------------------------------------------


def merge_facts(parsed: list[Fact], others: list[Fact]) -> list[Fact]:
    """Parser facts, plus every other fact that is not the same reading of the same statement.

    A model fact that repeats a parser fact (same key, same value, overlapping span) is dropped:
    the agreement is recorded by N.AGREE. Disagreeing or ungrounded model facts stay, visibly.
    """
    out = list(parsed)
    by_metric: dict[str, list[Fact]] = {}
    for g in _flat(parsed):
        by_metric.setdefault(g.metric, []).append(g)
    for f in others:
        dup = f.grounded is not False and any(
            same_number(g.value, f.value) and _overlap(g.span, f.span) for g in by_metric.get(f.metric, ())
        )
        if not dup:
            out.append(f)
    return out


def check_narrative(doc: Document, layout: Any, record: Record) -> None:
    """Find the narrative facts, check them and the facts already on ``record`` (e.g. the model's).

    Appends the findings to ``record.findings`` and sets ``record.facts`` to the parser's facts plus
    the other producers' facts that add something (see :func:`merge_facts`).
    """
    parsed = find_facts(doc, layout)
    others = list(record.facts)
    findings = check_facts(doc, parsed + others, record, layout=layout)
    record.facts = merge_facts(parsed, others)
    record.findings.extend(findings)
    record.versions.setdefault("narrative_rules", rules_version())
