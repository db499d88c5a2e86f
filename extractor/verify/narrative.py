"""The narrative rules: checks of facts from any producer (the narrative reader or the model).

:func:`check_facts` applies the rules of ``rules/narrative.yaml`` to facts and returns
:class:`~extractor.model.Finding` objects: the quote is in the source, the value re-parses from the
quote, sums add up, rates match to the printed precision, canonical facts equal their table cells,
one quantity has one value, parser and model agree. The facts themselves are read by
:mod:`extractor.narrative` (the reader); numbers by :mod:`extractor.numbers`.

Numbers are never corrected: a statement that does not check out is a finding with both values.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Iterable

from ..document import Document
from ..model import Fact, Finding, Number, Operand, Record, Span, trusted
from ..narrative.reader import find_facts, rate_fits
from ..narrative.text import locate, squeeze, whole_quote
from ..numbers import has_number, numbers_in, same_number
from ..templates import read_yaml, rules_dir

_WS_RE = re.compile(r"\s+")
_NEGATION_ZERO = re.compile(r"没有|未|无|零")  # a zero written in words: "没有收到…申请"

NARRATIVE_RULES_FILE = "narrative.yaml"

# ---------------------------------------------------------------------------------------------
# Rules file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    id: str
    version: int
    severity: str
    classification: str


def narrative_rules() -> dict[str, Any]:
    """The file ``rules/narrative.yaml`` with its entries by id (cached per rules folder: called once
    per finding, keep it cheap)."""
    return _narrative_rules(os.environ.get("EXTRACTOR_RULES_DIR", ""))


@lru_cache(maxsize=4)
def _narrative_rules(env_dir: str) -> dict[str, Any]:
    data = dict(read_yaml(rules_dir() / NARRATIVE_RULES_FILE))  # EXTRACTOR_RULES_DIR or the packaged rules/
    data["by_id"] = {
        r["id"]: RuleInfo(r["id"], int(r.get("version", 1)), r.get("severity", "error"), r.get("classification", "narrative"))
        for r in data["rules"]
    }
    return data


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
    info = (rules if rules is not None else narrative_rules())["by_id"][rule]
    passed = status == "PASS"
    return trusted(Finding, {
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
    if f.grounded is False and f.producer != "reviewer":  # a reviewer's own value is a decision, not a guess
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
    return trusted(
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


def check_fact_grounding(
    doc: Document, f: Fact, *, section_range: tuple[int, int] | None = None, rules: dict[str, Any] | None = None
) -> list[Finding]:
    """N.QUOTE_GROUNDED and N.VALUE_REPARSES for one fact and its parts (sets span and grounded)."""
    rules = rules if rules is not None else narrative_rules()
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
    # re-read from the quote as printed: one that stops inside a number ("申请260" of "申请26029件") reads it whole
    printed = whole_quote(doc.text, *loc) if loc is not None and producer != "parser" else quote
    reparses = has_number(printed, value) or (value == 0 and bool(_NEGATION_ZERO.search(quote)))
    if reparses:
        out.append(_finding("N.VALUE_REPARSES", f, "PASS", f"{value} re-read from the quote", values=who, rules=rules))
    else:
        nums = numbers_in(printed)
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
        out.extend(check_fact_grounding(doc, p, section_range=rng, rules=rules))
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
    if _PARTIAL_LIST.search(squeeze(f.quote)):
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
    return _TableLookup(record, narrative_rules()).value(metric)


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
            trusted(Operand, {"ref": ref, "value": c.value, "kind": c.kind, "span": c.span, "decimals": c.decimals})
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
    rules = rules if rules is not None else narrative_rules()
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
    rules = rules if rules is not None else narrative_rules()
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
                # compared as amounts: 0.5 万元 (the parser) and 5000 元 (the model) are one reading
                pa = {_amount(g) for g in st if g.producer == "parser"}
                ma = {_amount(g) for g in st if g.producer == "model"}
                pv = {_printed(g) for g in st if g.producer == "parser"}
                mv = {_printed(g) for g in st if g.producer == "model"}
                anchor = next(g for g in st if g.producer == "parser")
                if pa == ma:
                    out.append(_finding("N.AGREE", anchor, "PASS", f"parser and model both read {metric} = "
                                        f"{'/'.join(sorted(pv | mv))}", rules=rules))
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


# Units that carry a magnitude (the reader keeps "0.5万元" as 0.5 in 万元; "1.2万条" is read as 12000 条).
_MAGNITUDE_UNITS = {"万元": Decimal(10_000), "亿元": Decimal(100_000_000)}


def _amount(g: Fact) -> str:
    """The amount a fact states in the unit's base: 0.5 万元 and 5000 元 are one amount."""
    return str((Decimal(str(g.value)) * _MAGNITUDE_UNITS.get(g.unit.strip(), Decimal(1))).normalize())


def _printed(g: Fact) -> str:
    """The value with its unit where the unit carries a magnitude, or differs from 件/条…: "0.5 万元"."""
    return f"{g.value} {g.unit.strip()}" if g.kind == "money" and g.unit.strip() else str(g.value)


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
    rules = narrative_rules()
    tables = _TableLookup(record, rules) if record is not None else None
    out: list[Finding] = []
    sec_ranges = {s.key: (s.start, s.end) for s in getattr(layout, "sections", [])} if layout is not None else {}
    for f in facts:
        out.extend(check_fact_grounding(doc, f, section_range=sec_ranges.get(f.section), rules=rules))
    confirm_model_facts(facts)
    out.extend(_value_checks(facts, record, rules, tables))
    return _dedupe(out)


def _value_checks(facts: list[Fact], record: Record | None, rules: dict[str, Any],
                  tables: _TableLookup | None) -> list[Finding]:
    """The checks that compare values — N.SUM, N.RATE, N.TABLE_MATCH (with a record), N.SAME_QUANTITY
    and N.AGREE — over the facts that are evidence: an ungrounded fact is not (a reviewer's own value
    is a decision, not a guess)."""
    out: list[Finding] = []
    for f in facts:
        if f.grounded is False and f.producer != "reviewer":
            continue
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
    return out


def recheck_values(record: Record) -> list[Finding]:
    """The narrative checks that compare values — N.SUM, N.RATE, N.TABLE_MATCH, N.SAME_QUANTITY and
    N.AGREE — evaluated again over ``record.facts`` and its tables as they now are (after a reviewer's
    correction of a cell or a fact), with the same selection as :func:`check_facts`. The facts keep
    their spans and grounding (no source text here), so the findings keep their ids."""
    rules = narrative_rules()
    return _dedupe(_value_checks(record.facts, record, rules, _TableLookup(record, rules)))


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
