"""Checks across years: numbers that must agree between a body's report for year N and for N+1.

The identities are data (``rules/crossyear.yaml``, ids such as ``X.CARRY_OVER@1``): table 三's
结转下年度继续办理 (N) = 上年结转 (N+1) per column; table 二's 现行有效 stock carried forward by 制发
and 废止 (a reviewer's question when it breaks: a 清理 is often stated); the 2019/2020 variant's
上一年项目数量; the statistical table's 历年累计. They are evaluated over records that already passed
their own checks — reviewers' corrections applied — for every pair of reports of one body
(:mod:`extractor.bodies`) whose years are consecutive.

A finding keeps the conventions of the per-document rules (stable id ``rule:scope``, rule id and
version, PASS / FAIL / UNCERTAIN / NOT_ASSESSABLE, operands with spans, the arithmetic) and names
both documents: every operand says which report it was read from (``doc`` = ``N`` or ``N+1``, its
SHA-256 and year) and where in that report's file (its span). A blank, not-applicable, ambiguous or
missing operand makes the check UNCERTAIN (never a silent 0); for run-together digits the finding
lists the readings under which the identity would hold, for the reviewer — it never picks one.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .bodies import Assignment, DocKey, Mapping, assign
from .errors import ConfigError
from .model import OPEN_STATUSES, Cell, DocumentInfo, Finding, Number, Operand, Record, Table
from .templates import rules_dir, safe_load

CROSSYEAR_RULES_FILE = "crossyear.yaml"
_NUMERIC = ("number", "zero")
_TERM = re.compile(r"^\s*(-?)\s*(N\+1|N)\s*:\s*([a-z0-9_]+)\.([^.]+)\.(.+?)\s*$")
MAX_READINGS = 4096  # joint readings of run-together digits enumerated per check
DECISIONS = ("accept", "confirm_source", "explained")  # what a reviewer may decide on a cross-year finding
DEFAULT_DECISIONS = ["accept", "confirm_source"]


class DocRef(BaseModel):
    """One of the two reports a cross-year finding compares (one object for every finding of a pair)."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    name: str = ""
    year: int | None = None
    organ: str | None = None
    path: str = ""
    decision: str = ""


class CrossOperand(Operand):
    doc: Literal["N", "N+1"] = "N"
    sign: int = 1
    sha256: str = ""
    year: int | None = None
    label: str | None = None  # the row label as printed in that report
    grounded: bool | None = None
    anchor: str = ""
    producer: str = "parser"
    raw: str = ""


class CrossFinding(Finding):
    """A finding across two reports of one body (``prev`` = year N, ``next`` = year N+1)."""

    classification: str = "ok"  # the per-document classes, plus "reviewer_question"
    operands: list[CrossOperand] = Field(default_factory=list)  # type: ignore[assignment]
    body: str = ""
    prev: DocRef
    next: DocRef
    title: str = ""
    question: str = ""  # what a reviewer should ask when the rule is a question (X.IN_FORCE)
    decisions: list[str] = Field(default_factory=lambda: list(DEFAULT_DECISIONS))  # the rule's allowed decisions
    explained_by: list[str] = Field(default_factory=list)  # words that state an explanation (清理)
    # the reviewer's decision that settles this finding (action, reviewer, at, comment, quote…), applied
    # from the store's crossyear_reviews by extractor.crossyear_reviews; None while open
    settled_by: dict[str, Any] | None = None

    @property
    def open(self) -> bool:
        """A failing or uncertain check that no reviewer's decision settles."""
        return self.status in OPEN_STATUSES and self.settled_by is None

    @property
    def key(self) -> tuple[str, str, str]:
        """What a reviewer's decision is stored under: both reports' SHA-256 and the stable id."""
        return (self.prev.sha256, self.next.sha256, self.id)

    @property
    def pair_id(self) -> str:
        """Unique across the store: the stable id and both documents."""
        return f"{self.id}@{self.prev.sha256[:12]}..{self.next.sha256[:12]}"

    @property
    def rule_ref(self) -> str:
        return f"{self.rule}@{self.version}"


@dataclass
class Series:
    """One body's reports by year (several when a year was published twice)."""

    body: str
    years: dict[int, list[Record]] = field(default_factory=dict)
    unplaced: list[Record] = field(default_factory=list)  # documents of this body without a year


@dataclass
class CrossResult:
    assignments: dict[str, Assignment]
    series: dict[str, Series]
    findings: list[CrossFinding]
    pairs: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sha256, why it is in no series)
    stale: list[Any] = field(default_factory=list)  # reviewers' decisions that settle no finding now (and why)

    def problems(self) -> list[CrossFinding]:
        return [f for f in self.findings if f.status != "PASS"]

    def open(self) -> list[CrossFinding]:
        return [f for f in self.findings if f.open]

    def settled(self) -> list[CrossFinding]:
        return [f for f in self.findings if f.settled_by is not None]


# ----------------------------------------------------------------------------- rules
@functools.lru_cache(maxsize=4)
def _load(root: str) -> tuple[dict[str, Any], ...]:
    path = Path(root) / CROSSYEAR_RULES_FILE
    if not path.is_file():
        return ()
    try:
        data = safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    out = []
    for r in data.get("rules") or []:
        for key in ("id", "lhs", "rhs", "each", "formats"):
            if key not in r:
                raise ConfigError(f"{path}: rule {r.get('id', '?')} has no {key!r}")
        if r.get("relation", "=") not in ("=", ">="):
            raise ConfigError(f"{path}: rule {r['id']}: relation must be '=' or '>='")
        if r.get("question_per", "scope") not in ("rule", "scope"):
            raise ConfigError(f"{path}: rule {r['id']}: question_per must be 'rule' or 'scope'")
        bad = [d for d in r.get("decisions") or [] if d not in DECISIONS]
        if bad:
            raise ConfigError(f"{path}: rule {r['id']}: unknown decision(s) {bad} (known: {', '.join(DECISIONS)})")
        if "explained" in (r.get("decisions") or []) and r.get("on_fail") != "question":
            raise ConfigError(f"{path}: rule {r['id']}: 'explained' is a decision for question rules (on_fail: question)")
        for t in list(r["lhs"]) + list(r["rhs"]):
            if not _TERM.match(str(t)):
                raise ConfigError(f"{path}: rule {r['id']}: term {t!r} is not '[-]N|N+1:table.row.column'")
        out.append({**r, "version": int(r.get("version", 1))})
    return tuple(out)


def crossyear_rules() -> list[dict[str, Any]]:
    return list(_load(str(rules_dir())))


# ----------------------------------------------------------------------------- what the rules read
VIEW_VERSION = 1  # of the stored pair view's form (PairView's fields, how a record is cut): bump on a change


class PairView(BaseModel):
    """What the cross-year rules read of a record (``Record``'s fields of the same names): its findings
    and facts, most of a record, are not part of it; ``tables`` keeps every table's key (a record
    without tables forms no pair) but, of :func:`pair_view_json`'s views, only the cells of the rows
    the rules read."""

    document: DocumentInfo
    organ: str | None = None
    year: int | None = None
    format: str = "unknown"
    tables: dict[str, Table] = {}
    decision: str = "needs_review"
    error: str | None = None


class StoredView(PairView):
    """A :class:`PairView` as stored beside its record (``records.pair_view``): ``stamp`` says what it
    was cut for (:func:`view_stamp`); a view of another stamp (other rules, an older form) is not used."""

    stamp: str = ""


ALL_ROWS = None  # in a cover: every row of the table


def rules_cover(rules: list[dict[str, Any]]) -> dict[str, dict[str, set[str] | None]]:
    """Per record format, the rows of each table the rules may read of a record of that format (as the
    report of year N or N+1); ``ALL_ROWS`` where a rule takes them all (one check per indicator). The
    cells of a row come whole: run-together digits are matched against every cell of their row."""
    cover: dict[str, dict[str, set[str] | None]] = {}
    for rule in rules:
        each = rule["each"]
        for t in list(rule["lhs"]) + list(rule["rhs"]):
            m = _TERM.match(str(t))
            assert m is not None  # checked when the rules were loaded
            _neg, which, table, row, _col = m.groups()
            if "{" not in row:
                rows: set[str] | None = {row}
            elif row == "{row}" and "row" in each:
                rows = {str(r) for r in each["row"]}
            else:
                rows = ALL_ROWS
            for fmt in rule["formats"][0 if which == "N" else 1]:
                tables = cover.setdefault(str(fmt), {})
                have = tables.get(table, set())
                tables[table] = ALL_ROWS if have is ALL_ROWS or rows is ALL_ROWS else have | rows
    return cover


def _stamp_of(cover: dict[str, dict[str, set[str] | None]]) -> str:
    spec = {f: {t: None if rows is ALL_ROWS else sorted(rows) for t, rows in ts.items()} for f, ts in cover.items()}
    return hashlib.sha256(json.dumps([VIEW_VERSION, spec], sort_keys=True).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _view_plan(root: str) -> tuple[dict[str, dict[str, set[str] | None]], str]:
    """The cover and stamp of the rules of one rules directory (loaded once, as the rules are)."""
    cover = rules_cover(list(_load(root)))
    return cover, _stamp_of(cover)


def _plan(rules: list[dict[str, Any]] | None) -> tuple[dict[str, dict[str, set[str] | None]], str]:
    if rules is None:
        return _view_plan(str(rules_dir()))
    cover = rules_cover(rules)
    return cover, _stamp_of(cover)


def view_stamp(rules: list[dict[str, Any]] | None = None) -> str:
    """What a stored view was cut for: its form (``VIEW_VERSION``) and the rows the rules read
    (default: the rules of the rules directory)."""
    return _plan(rules)[1]


def pair_view_json(record: Record, rules: list[dict[str, Any]] | None = None) -> str:
    """The JSON of a record's :class:`StoredView` (default values left out): the record's fields the
    rules read, of its tables only the rows the rules read of a record of its format."""
    cover, stamp = _plan(rules)
    rows_of = cover.get(record.format, {})
    tables = {}
    for k, t in record.tables.items():
        rows = rows_of.get(k, set())
        cells = t.cells if rows is ALL_ROWS else [c for c in t.cells if c.row in rows]  # type: ignore[operator]
        tables[k] = Table(key=t.key, template=t.template, cells=cells)
    return StoredView(document=record.document, organ=record.organ, year=record.year, format=record.format,
                      tables=tables, decision=record.decision, error=record.error,
                      stamp=stamp).model_dump_json(exclude_defaults=True)


# ----------------------------------------------------------------------------- series
def doc_key(rec: Record) -> DocKey:
    return DocKey(rec.document.sha256, rec.document.name, rec.organ, rec.year)


def build_series(records: Iterable[Record], mapping: Mapping | None = None
                 ) -> tuple[dict[str, Assignment], dict[str, Series], list[tuple[str, str]]]:
    recs = list(records)
    assignments = assign((doc_key(r) for r in recs), mapping)
    series: dict[str, Series] = {}
    skipped: list[tuple[str, str]] = []
    for r in recs:
        a = assignments[r.document.sha256]
        if a.body is None:
            skipped.append((r.document.sha256, a.note or "no body"))
            continue
        s = series.setdefault(a.body, Series(a.body))
        if a.year is None:
            s.unplaced.append(r)
            skipped.append((r.document.sha256, "no year found in the title or the statistics period"))
            continue
        s.years.setdefault(a.year, []).append(r)
    for s in series.values():
        for recs_ in s.years.values():
            recs_.sort(key=lambda r: r.document.sha256)
    return assignments, series, skipped


def evaluate(records: Iterable[Record], mapping: Mapping | None = None,
             rules: list[dict[str, Any]] | None = None) -> CrossResult:
    """Every cross-year finding over ``records`` (reviewers' decisions already applied)."""
    assignments, series, skipped = build_series(records, mapping)
    findings, pairs = evaluate_pairs(series, {b: set(s.years) for b, s in series.items()}, rules)
    return CrossResult(assignments=assignments, series=series, findings=findings, pairs=pairs, skipped=skipped)


# ----------------------------------------------------------------------------- one pair
def _docref(r: Record) -> DocRef:
    d = r.document
    return DocRef(sha256=d.sha256, name=d.name, year=r.year, organ=r.organ, path=d.path, decision=r.decision)


def _formats_ok(rule: dict[str, Any], a: Record, b: Record) -> bool:
    fa, fb = rule["formats"]
    return a.format in [str(x) for x in fa] and b.format in [str(x) for x in fb]


def indicator_key(c: Cell) -> str:
    """How a statistical-table indicator is matched across years: its canonical key, else its label."""
    if c.key:
        return c.key
    s = unicodedata.normalize("NFKC", c.label or "")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^(?:其中[:：]?)", "", s)
    s = re.sub(r"^(?:[(（]?[一二三四五六七八九十\d]+[)）.、]?)+", "", s)
    s = re.sub(r"[(（][^()（）]*[)）]", "", s)
    return "label:" + s


def _legacy_index(r: Record) -> dict[tuple[str, str], Cell]:
    t = r.tables.get("legacy")
    out: dict[tuple[str, str], Cell] = {}
    if t is None:
        return out
    for c in t.cells:
        out.setdefault((indicator_key(c), c.col), c)
    return out


def _scopes(rule: dict[str, Any], a: Record, b: Record) -> list[tuple[str, dict[str, str]]]:
    each = rule["each"]
    if "column" in each:
        return [(f"column {c}", {"col": str(c)}) for c in each["column"]]
    if "row" in each:
        return [(f"row {r}", {"row": str(r)}) for r in each["row"]]
    if "indicator" in each:
        ia, ib = _legacy_index(a), _legacy_index(b)
        keys = {k for k, col in list(ia) + list(ib) if col == "cumulative"}
        order = [k for k, col in list(ib) + list(ia) if k in keys]
        return [(f"indicator {k}", {"indicator": k}) for k in dict.fromkeys(order)]
    raise ConfigError(f"rule {rule['id']}: unknown 'each' {each!r}")


@dataclass
class _Term:
    doc: str  # "N" | "N+1"
    sign: int
    table: str
    row: str
    col: str
    cell: Cell | None
    absent: bool  # the indicator is not printed in that report at all (legacy)
    record: Record

    @property
    def ref(self) -> str:
        return f"{self.table}.{self.row}.{self.col}"


def _resolve(term: str, fill: dict[str, str], a: Record, b: Record) -> _Term:
    m = _TERM.match(term.format(**fill))
    assert m is not None  # checked when the rules were loaded
    neg, which, table, row, col = m.groups()
    rec = a if which == "N" else b
    cell: Cell | None = None
    absent = False
    if table == "legacy":
        idx = _legacy_index(rec)
        cell = idx.get((row, col))
        absent = not any(k == row for k, _ in idx)
    else:
        t = rec.tables.get(table)
        cell = t.get(row, col) if t is not None else None
    return _Term(which, -1 if neg else 1, table, row, col, cell, absent, rec)


def _fmt(v: Any) -> str:
    if v is None:
        return "∅"
    return f"(−{-v})" if v < 0 else str(v)


def _side_text(terms: list[_Term], values: list[Any] | None = None) -> str:
    parts = []
    for i, t in enumerate(terms):
        v = values[i] if values is not None else (t.cell.value if t.cell is not None else None)
        s = _fmt(v)
        if values is None and t.cell is not None and t.cell.kind == "ambiguous":
            s = f"⟨{t.cell.raw}⟩"  # run-together digits, as printed
        if i == 0:
            parts.append(("−" + s) if t.sign < 0 else s)
        else:
            parts.append(("− " if t.sign < 0 else "+ ") + s)
    return " ".join(parts)


def _sum(terms: list[_Term], values: list[Any]) -> Number:
    total: Number = 0
    for t, v in zip(terms, values):
        if v is not None:
            total += t.sign * v
    return total


def _tolerance(cells: Iterable[Cell | None]) -> Decimal | int:
    tol: Decimal | int = 0
    for c in cells:
        if c is not None and c.kind in _NUMERIC and c.decimals > 0:
            tol += Decimal(1).scaleb(-c.decimals) / 2
    return tol


def _holds(rel: str, lhs: Number, rhs: Number, tol: Decimal | int) -> bool:
    if rel == ">=":
        return lhs >= rhs - tol
    return abs(lhs - rhs) <= tol


def _operand(t: _Term) -> CrossOperand:
    c = t.cell
    base = dict(doc=t.doc, sign=t.sign, sha256=t.record.document.sha256, year=t.record.year)
    if c is None:
        kind = "absent" if t.absent else "missing"
        return CrossOperand(ref=t.ref, value=None, kind=kind, span=None, **base)
    return CrossOperand(ref=c.ref if t.table != "legacy" else t.ref, value=c.value, kind=c.kind, span=c.span,
                        decimals=c.decimals, label=c.label, grounded=c.grounded, anchor=c.anchor,
                        producer=c.producer, raw=c.raw, **base)


def evaluate_pair(rule: dict[str, Any], a: Record, b: Record, body: str,
                  refs: tuple[DocRef, DocRef] | None = None) -> list[CrossFinding]:
    """The rule's checks between report ``a`` (year N) and report ``b`` (year N+1) (``refs``: their
    :class:`DocRef`, made once per pair)."""
    if not _formats_ok(rule, a, b):
        return []
    refs = refs or (_docref(a), _docref(b))
    out = []
    for scope, fill in _scopes(rule, a, b):
        lhs = [_resolve(str(t), fill, a, b) for t in rule["lhs"]]
        rhs = [_resolve(str(t), fill, a, b) for t in rule["rhs"]]
        out.append(_check(rule, scope, lhs, rhs, a, b, body, refs))
    return out


def _check(rule: dict[str, Any], scope: str, lhs: list[_Term], rhs: list[_Term], a: Record, b: Record,
           body: str, refs: tuple[DocRef, DocRef]) -> CrossFinding:
    rid, title = rule["id"], rule.get("title", rule["id"])
    rel = str(rule.get("relation", "="))
    terms = lhs + rhs
    years = f"{a.year}→{b.year}"
    pair = f"{a.document.sha256[:12]}..{b.document.sha256[:12]}"
    group = f"x:{pair}:{rid}" if rule.get("question_per") == "rule" else f"x:{pair}:{scope}"
    base = dict(id=f"{rid}:{scope}", rule=rid, version=int(rule["version"]), scope=scope, body=body,
                prev=refs[0], next=refs[1], title=title, question=str(rule.get("question", "")).strip(),
                operands=[_operand(t) for t in terms], group=group,
                decisions=[str(d) for d in rule.get("decisions") or DEFAULT_DECISIONS],
                explained_by=[str(w) for w in rule.get("explained_by") or []])
    eq = "≥" if rel == ">=" else "="
    neq = "<" if rel == ">=" else "≠"
    absent = [t for t in terms if t.cell is None and t.absent]
    if absent:
        where = ", ".join(sorted({f"{t.record.year} ({t.record.document.name})" for t in absent}))
        return CrossFinding(**base, status="NOT_ASSESSABLE", severity="info",
                            message=f"{title} [{scope}] {years}: not printed in the {where} report",
                            arithmetic=f"{_side_text(lhs)} {eq} {_side_text(rhs)}")
    numeric = [t for t in terms if t.cell is not None and t.cell.kind in _NUMERIC]
    if not numeric and not any(t.cell is not None and t.cell.kind == "ambiguous" for t in terms):
        return CrossFinding(**base, status="NOT_ASSESSABLE", severity="info",
                            message=f"{title} [{scope}] {years}: no numbers printed",
                            arithmetic=f"{_side_text(lhs)} {eq} {_side_text(rhs)}")
    tol = _tolerance(t.cell for t in terms)
    if len(numeric) < len(terms):
        vals = [t.cell.value if t.cell is not None and t.cell.kind in _NUMERIC else None for t in terms]
        ls, rs = _sum(lhs, vals[: len(lhs)]), _sum(rhs, vals[len(lhs):])
        bad = [t for t in terms if t.cell is None or t.cell.kind not in _NUMERIC]
        kinds = ", ".join(f"{t.doc}:{t.ref}={'missing' if t.cell is None else t.cell.kind}" for t in bad)
        would = "holds" if _holds(rel, ls, rs, tol) else "fails"
        values: dict[str, Any] = {"lhs_known": str(ls), "rhs_known": str(rs)}
        msg = f"{title} [{scope}] {years}: cannot be checked, operands not numbers ({kinds})"
        if any(t.cell is None or t.cell.kind != "ambiguous" for t in bad):
            values["with_blanks_as_zero"] = would
            msg += f"; with blanks read as 0 it {would} ({ls} vs {rs})"
        cls = "suspected_extraction_error"
        if any(t.cell is not None and t.cell.kind == "ambiguous" for t in terms):
            cls = "ambiguous"
            hold, total = _readings_that_hold(rel, lhs, rhs, tol)
            if total:
                values["readings"] = total
                values["readings_that_hold"] = hold
                if not hold and all(t.cell is not None and t.cell.kind in _NUMERIC + ("ambiguous",) for t in terms):
                    values["breaks_under_every_reading"] = True
                msg += (f"; of {total} readings of the run-together digits, "
                        + (f"{len(hold)} make{'s' if len(hold) == 1 else ''} it hold: " + "; ".join(hold[:5])
                           if hold else "none makes it hold: it breaks whichever way they are read"))
        return CrossFinding(**base, status="UNCERTAIN", classification=cls, severity="warning", message=msg,
                            arithmetic=f"{_side_text(lhs)} ? {_side_text(rhs)}", values=values)
    vals = [t.cell.value for t in terms]  # type: ignore[union-attr]
    ls, rs = _sum(lhs, vals[: len(lhs)]), _sum(rhs, vals[len(lhs):])
    tol_txt = f" (±{tol})" if tol else ""
    if _holds(rel, ls, rs, tol):
        return CrossFinding(**base, status="PASS", severity="info", message=f"{title} [{scope}] {years}",
                            arithmetic=f"{_side_text(lhs)} {eq} {_side_text(rhs)}" + tol_txt,
                            values={"lhs": str(ls), "rhs": str(rs)})
    trusted = all(t.cell.grounded is not False  # type: ignore[union-attr]
                  and (t.cell.anchor in ("label", "position") or t.cell.producer == "reviewer")  # type: ignore[union-attr]
                  and not t.cell.inferred for t in numeric)  # type: ignore[union-attr]
    question = rule.get("on_fail") == "question"
    if not trusted:
        cls, sev = "suspected_extraction_error", "error"
    elif question:
        cls, sev = "reviewer_question", "warning"
    else:
        cls, sev = "source_inconsistency", "error"
    lhs_names = " ".join(("− " if t.sign < 0 else "+ ") + f"{t.doc}:{t.ref}" for t in lhs).lstrip("+ ")
    rhs_names = " ".join(("− " if t.sign < 0 else "+ ") + f"{t.doc}:{t.ref}" for t in rhs).lstrip("+ ")
    tail = {"source_inconsistency": "; the two published reports disagree, numbers kept as printed",
            "reviewer_question": "; a question for the reviewer, not an error"
                                 + (f" ({rule.get('question', '').strip().split(':')[0]})" if question else ""),
            "suspected_extraction_error": "; an operand was not read at its printed label"}[cls]
    return CrossFinding(
        **base, status="FAIL", classification=cls, severity=sev,
        message=f"{title} [{scope}] {years}: {lhs_names} ({ls}) {neq} {rhs_names} ({rs})" + tail,
        arithmetic=f"{_side_text(lhs)} {neq} {_side_text(rhs)}" + (f"  ({ls} vs {rs}, ±{tol})" if tol else f"  ({ls} vs {rs})"),
        values={"lhs": str(ls), "rhs": str(rs), "difference": str(ls - rs)},
    )


# ----------------------------------------------------------------------------- run-together digits
def _run_groups(terms: list[_Term]) -> list[tuple[list[int], list[Cell]]]:
    """Ambiguous operands grouped by the run of digits they were read from: (operand indices, every
    ambiguous cell of that run in printed order — operands or not, e.g. 处理决定数量 beside 上一年项目数量)."""
    groups: dict[tuple[str, str, str, int], tuple[list[int], list[Cell]]] = {}
    for i, t in enumerate(terms):
        c = t.cell
        if c is None or c.kind != "ambiguous" or c.span is None:
            continue
        table = t.record.tables.get(t.table)
        row = [x for x in (table.cells if table is not None else []) if x.kind == "ambiguous" and x.span is not None
               and x.row == c.row]
        row.sort(key=lambda x: (x.span.start, x.span.end))  # type: ignore[union-attr]
        run = [c]
        grown = True
        while grown:  # every cell whose span overlaps the run so far
            grown = False
            lo = min(x.span.start for x in run)  # type: ignore[union-attr]
            hi = max(x.span.end for x in run)  # type: ignore[union-attr]
            for x in row:
                if x not in run and x.span.start < hi and x.span.end > lo:  # type: ignore[union-attr]
                    run.append(x)
                    grown = True
        run.sort(key=lambda x: (x.span.start, x.span.end))  # type: ignore[union-attr]
        key = (t.doc, t.table, c.row, run[0].span.start)  # type: ignore[union-attr]
        idx, cells = groups.setdefault(key, ([], run))
        idx.append(i)
    return list(groups.values())


def _run_text(cells: list[Cell]) -> str | None:
    """The digits of one run, rebuilt from its cells' raw windows (None when they do not line up)."""
    start = min(c.span.start for c in cells)  # type: ignore[union-attr]
    end = max(c.span.end for c in cells)  # type: ignore[union-attr]
    chars: list[str | None] = [None] * (end - start)
    for c in cells:
        s = c.span
        if s is None or len(c.raw) != s.end - s.start:
            return None
        for k, ch in enumerate(c.raw):
            pos = s.start - start + k
            if chars[pos] not in (None, ch):
                return None
            chars[pos] = ch
    if any(ch is None for ch in chars) or not all(ch.isdigit() or ch == "-" for ch in chars):  # type: ignore[union-attr]
        return None
    return "".join(chars)  # type: ignore[arg-type]


def _splits(run: str, cells: list[Cell]) -> list[list[int]]:
    """Splits of ``run`` into one number per cell (in order) that every cell lists as a candidate."""
    allowed = [{x.value for x in c.candidates} for c in cells]
    out: list[list[int]] = []
    for cuts in itertools.combinations(range(1, len(run)), len(cells) - 1):
        parts = [run[i:j] for i, j in zip((0, *cuts), (*cuts, len(run)))]
        if any(len(p) > 1 and p.startswith("0") for p in parts):
            continue
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            continue
        if all(n in ok for n, ok in zip(nums, allowed)):
            out.append(nums)
    return out


def _readings_that_hold(rel: str, lhs: list[_Term], rhs: list[_Term], tol: Decimal | int) -> tuple[list[str], int]:
    """Joint readings of the run-together operands under which the identity holds (for the reviewer).
    (0 readings when the runs cannot be rebuilt or there are too many to list.)"""
    terms = lhs + rhs
    if any(t.cell is None or t.cell.kind not in _NUMERIC + ("ambiguous",) for t in terms):
        return [], 0
    options: list[tuple[list[int], list[list[int]]]] = []
    for idx, run_cells in _run_groups(terms):
        run = _run_text(run_cells)
        if run is None:
            return [], 0
        splits = _splits(run, run_cells)
        pos = [run_cells.index(terms[i].cell) for i in idx]  # type: ignore[arg-type]
        opts = list(dict.fromkeys(tuple(s[p] for p in pos) for s in splits))
        if not opts:
            return [], 0
        options.append((idx, [list(o) for o in opts]))
    total = 1
    for _, opts in options:
        total *= len(opts)
    if not options or total > MAX_READINGS:
        return [], 0
    sign = "≥" if rel == ">=" else "="
    hold: list[str] = []
    for combo in itertools.product(*(opts for _, opts in options)):
        vals: list[Any] = [t.cell.value for t in terms]  # type: ignore[union-attr]
        for (idx, _), nums in zip(options, combo):
            for i, n in zip(idx, nums):
                vals[i] = n
        ls, rs = _sum(lhs, vals[: len(lhs)]), _sum(rhs, vals[len(lhs):])
        if _holds(rel, ls, rs, tol):
            hold.append(f"{_side_text(lhs, vals[: len(lhs)])} {sign} {_side_text(rhs, vals[len(lhs):])}")
    return hold, total


def rules_fingerprint(rules: list[dict[str, Any]] | None = None) -> str:
    """What the stored cross-year findings were evaluated with: a change of the rules redoes them all."""
    rules = crossyear_rules() if rules is None else rules
    return hashlib.sha256(json.dumps(rules, sort_keys=True, default=str).encode()).hexdigest()


def evaluate_pairs(series: dict[str, "Series"], pair_years: dict[str, set[int]],
                   rules: list[dict[str, Any]] | None = None) -> tuple[list[CrossFinding], int]:
    """The findings of the consecutive pairs (body, year → year + 1) listed in ``pair_years``, as
    :func:`evaluate` makes them (same order within them)."""
    rules = crossyear_rules() if rules is None else rules
    findings: list[CrossFinding] = []
    pairs = 0
    for body in sorted(pair_years):
        s = series.get(body)
        if s is None:
            continue
        for year in sorted(pair_years[body]):
            nxt = s.years.get(year + 1)
            if not nxt or year not in s.years:
                continue
            for a in s.years[year]:
                for b in nxt:
                    if a.error or b.error or not a.tables or not b.tables:
                        continue
                    pairs += 1
                    refs = (_docref(a), _docref(b))
                    for rule in rules:
                        findings.extend(evaluate_pair(rule, a, b, body, refs))
    return findings, pairs
