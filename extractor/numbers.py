"""Printed numbers: the one grammar every reader uses.

A number is printed in one of these forms, and this module is the only place that spells them:

* **Arabic** digits, with thousands separators and decimals (``1,234``, ``12.50``); a whole table
  cell must be one well-formed figure (:data:`CELL_NUMBER`), running text is scanned more leniently
  (:data:`TEXT_DIGITS`: ``1234,567`` stays one figure there, as the narrative has always read it);
* **Chinese numerals** (``二千六百二十三``, ``二〇二三``, ``十五``) and the multipliers **万/亿**
  (``1.2万`` → 12000, ``三万五千`` → 35000), with a unit in running text (:data:`NUMBER_RE`);
* **look-alike digits** from OCR or text pasted from a scan: letters an OCR engine confuses with
  digits (:data:`LOOKALIKES`, one map), fixed inside digit runs (:func:`fix_digits`) and read in a
  table cell (:func:`read_lookalike`) — such a reading is never trusted on its own;
* **not-applicable marks** (:data:`NA_MARKS`: 不适用, 无此项, 无, ``/``, dashes), in a cell
  (:func:`is_na`) or standing alone in a text (:data:`NA_TOKEN`).

Which forms a context accepts is the caller's choice: a table cell reads Arabic figures, look-alikes
and marks (``extractor.cells``); the narrative reads Arabic and Chinese numerals with 万/亿
(``extractor.narrative``); a reviewer types Arabic figures or a mark (:func:`parse_value`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator

from .document import normalize
from .model import Number

# ---------------------------------------------------------------------------------------------
# Not-applicable marks
# ---------------------------------------------------------------------------------------------

#: Every mark a report prints for "not applicable" (a run of one to three dashes is one too).
NA_MARKS = ("不适用", "无此项", "无", "/", "\\")
DASHES = "-—－─―"
_NA = "|".join(re.escape(m) for m in sorted(NA_MARKS, key=len, reverse=True)) + f"|[{re.escape(DASHES)}]{{1,3}}"
#: A whole cell that is a not-applicable mark.
NA_RE = re.compile(rf"^(?:{_NA})$")
#: A not-applicable mark standing alone in a text (between spaces, bars or line ends).
NA_TOKEN = re.compile(rf"(?<![^\s|])(?:{_NA})(?![^\s|])")
#: First characters of the marks.
NA_START = frozenset(m[0] for m in NA_MARKS) | frozenset(DASHES)


def is_na(s: str) -> bool:
    """Whether ``s`` (stripped, without spaces) is a not-applicable mark."""
    return bool(NA_RE.match(s))


# ---------------------------------------------------------------------------------------------
# Arabic figures
# ---------------------------------------------------------------------------------------------

#: A whole cell that is one figure: optional sign, well-formed thousands groups, decimals.
CELL_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
#: A figure in running text.
TEXT_DIGITS = r"\d+(?:,\d{3})*(?:\.\d+)?"
_TEXT_DIGITS_RE = re.compile(TEXT_DIGITS)
#: A whole printed figure in a text: not part of a longer digit run, not an enumerator (``5.``, ``5、``).
WHOLE_FIGURE = re.compile(rf"(?<![\d.,]){TEXT_DIGITS}(?!\d|[.,]\d|[.、])")
#: A figure inside a longer text, printed whole (``1,234`` as one; ``260`` is not in ``26029``).
STANDALONE_FIGURE = re.compile(r"(?<!\d)(?<!\d[.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d|,\d{3}(?!\d)|[.、])")
#: A figure with its unit printed inside a table cell (``27225290916元``): the figure is the cell value.
CELL_UNITS = ("万元", "亿元", "元", "件", "条", "个", "项", "次", "人", "家", "篇", "%")
CELL_NUMBER_UNIT = re.compile(
    r"([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?:" + "|".join(re.escape(u) for u in CELL_UNITS) + ")"
)


def parse_figure(s: str) -> tuple[Number, int] | None:
    """A whole cell's figure (``1,234``, ``-3``, ``12.50``; spaces ignored) → (value, printed decimals)."""
    s = s.strip().replace(" ", "")
    if not s or not CELL_NUMBER.fullmatch(s):
        return None
    s = s.replace(",", "")
    if "." in s:
        try:
            d = Decimal(s)
        except InvalidOperation:
            return None
        return d, len(s.split(".", 1)[1])
    return int(s), 0


def as_number(v: Any) -> Number | None:
    """A value given as a JSON number or a string of digits as an exact int or Decimal (``12.0`` → 12,
    ``98.02`` → 98.02, ``"1,234"`` → 1234); None when it is no finite number."""
    try:
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v).replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    return int(d) if d == d.to_integral_value() else d.normalize()


def same_number(a: Any, b: Any) -> bool:
    """Equal as numbers (``12`` = ``12.0`` = ``Decimal("12.00")``)."""
    if type(a) is int and type(b) is int:  # the common case, without Decimal
        return a == b
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------
# Look-alike digits (OCR)
# ---------------------------------------------------------------------------------------------

#: Characters an OCR engine reads for a digit. Only inside a run of digits are they digits.
LOOKALIKES = {"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", "!": "1"}
_LOOKALIKE_TABLE = str.maketrans(LOOKALIKES)
#: The look-alikes read in a table cell of pasted text: letters only (``|`` separates cells there, and
#: ``D``/``!`` end words and sentences too often to be read as digits).
CELL_LOOKALIKES = "OolI"
_CELL_LOOKALIKE = re.compile(rf"[0-9{CELL_LOOKALIKES}]*[0-9][0-9{CELL_LOOKALIKES}]*|O")
CELL_LOOKALIKE_START = frozenset("0123456789" + CELL_LOOKALIKES)
_OCR_RUN = re.compile("[0-9０-９" + re.escape("".join(LOOKALIKES)) + "][0-9０-９" + re.escape("".join(LOOKALIKES)) + ".,，]*")
_HAS_DIGIT = re.compile(r"[0-9０-９]")


def read_lookalike(t: str) -> int | None:
    """A cell of digits and look-alike letters (``1O``, ``l2``, a lone ``O``) as a count; None otherwise."""
    if t and t[0] in CELL_LOOKALIKE_START and _CELL_LOOKALIKE.fullmatch(t):
        return int(t.translate(_LOOKALIKE_TABLE))
    return None


def fix_digits(text: str) -> str:
    """Replace the look-alikes inside runs of OCR'd text that already hold a digit and stand alone
    (not part of a word)."""

    def rep(m: re.Match[str]) -> str:
        run = m.group()
        a, b = m.start(), m.end()
        if not _HAS_DIGIT.search(run):
            return run
        if (a and text[a - 1].isascii() and text[a - 1].isalpha()) or (
            b < len(text) and text[b].isascii() and text[b].isalpha()
        ):
            return run
        return run.translate(_LOOKALIKE_TABLE)

    return _OCR_RUN.sub(rep, text)


# ---------------------------------------------------------------------------------------------
# Chinese numerals, 万/亿, units (running text)
# ---------------------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
MAGNITUDES = {"万": 10_000, "亿": 100_000_000}

#: The units a figure is printed with in running text.
UNITS = (
    "人次", "场次", "万元", "亿元", "元", "件", "条", "个", "次", "人", "项", "篇", "期", "家", "份",
    "起", "场", "批", "名", "户", "本", "部", "张", "处", "所", "%",
)
_UNIT_RE = "|".join(re.escape(u) for u in UNITS)
CHINESE = r"[零〇一二两三四五六七八九十百千]+(?:[万亿][零〇一二两三四五六七八九十百千]*)?"

# Every number starts with a digit or a Chinese numeral (百分之 too): the patterns below assert that
# first, so that the regex engine skips the other characters quickly.
_FIRST = r"(?=[\d零〇一二两三四五六七八九十百千])"

#: A number with its unit: "2623条", "1.2万条", "300余条", "0.5万元", "88%", "五件", "百分之八十八".
#: Its groups, in order: num, mag, approx, unit | cnum, capprox, cunit | pct.
NUMBER_RE = re.compile(
    rf"{_FIRST}(?:(?<![\d.第])(?P<num>{TEXT_DIGITS})\s*(?P<mag>[万亿](?!元))?(?P<approx>余|多)?\s*(?P<unit>{_UNIT_RE})"
    rf"|(?<![第\u4e00-\u9fff])(?P<cnum>{CHINESE})(?P<capprox>余|多)?(?P<cunit>{_UNIT_RE})"
    rf"|百分之(?P<pct>{TEXT_DIGITS}|{CHINESE}))"
)
#: Any number at all (for re-reading a quote): digits, or Chinese numerals followed by a unit.
ANY_NUMBER_RE = re.compile(
    rf"{_FIRST}(?:(?<![\d.])(?P<num>{TEXT_DIGITS})\s*(?P<mag>[万亿])?"
    rf"|(?P<cnum>{CHINESE})(?=余|多|{_UNIT_RE})"
    rf"|百分之(?P<pct>{TEXT_DIGITS}|{CHINESE}))"
)


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
        elif ch in MAGNITUDES:
            section += digit or 0
            total += (section or 1) * MAGNITUDES[ch]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def parse_number(s: str) -> tuple[Number, int] | None:
    """A printed number → (value, printed decimals): ``1,234``, ``12.50``, 中文数字, 万/亿 (``1.2万``)."""
    return parse_normalized(normalize(s).strip().replace(" ", ""))


def parse_normalized(s: str) -> tuple[Number, int] | None:
    """:func:`parse_number` of a string that is already normalized and has no spaces."""
    mag = 1
    if s and s[-1] in MAGNITUDES and len(s) > 1 and (s[-2].isdigit()):
        mag = MAGNITUDES[s[-1]]
        s = s[:-1]
    if s.isascii() and s.isdigit():  # a plain integer, the common case
        return int(s) * mag, 0
    if _TEXT_DIGITS_RE.fullmatch(s):
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
    return list(iter_numbers(quote))


def has_number(quote: str, value: Number) -> bool:
    """Whether ``value`` is one of :func:`numbers_in` ``quote`` (reading no further than needed)."""
    for n in iter_numbers(quote):
        if same_number(n, value):
            return True
    return False


def iter_numbers(quote: str) -> Iterator[Number]:
    # The matches are substrings of the normalized quote: normalized already, without spaces.
    for m in ANY_NUMBER_RE.finditer(normalize(quote)):
        num, mag = m.group("num", "mag")
        raw = num or m.group("cnum") or m.group("pct")
        p = parse_normalized(raw + (mag or "") if num else raw)
        if p is not None:
            yield p[0]
            if mag:  # "0.5万元": the printed figure is also the value in 万元
                bare = parse_normalized(raw)
                if bare is not None:
                    yield bare[0]


# ---------------------------------------------------------------------------------------------
# A reviewer's value
# ---------------------------------------------------------------------------------------------


def parse_value(text: str) -> tuple[str, Number | None]:
    """A value a reviewer types: ("number"|"zero", value) or ("not_applicable", None); ValueError otherwise.

    The forms are those of a table cell: a figure (``1,234``, ``12.5``, full-width digits) or any
    not-applicable mark the parser reads (``-``, ``/``, ``—``, ``无``, ``不适用``, …). Look-alike
    letters, Chinese numerals and 万/亿 are refused: a reviewer types the figure itself."""
    t = normalize((text or "").strip()).replace(" ", "")
    if not t:
        raise ValueError("no value entered")
    if is_na(t):
        return "not_applicable", None
    t = t.replace(",", "").replace("，", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", t):
        raise ValueError(f"not a number: {text!r}")
    v: Number = Decimal(t) if "." in t else int(t)
    return ("zero" if v == 0 else "number"), v
