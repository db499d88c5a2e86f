"""The series view: each body's reports by year, and the cross-year checks between them.

``series_summary`` feeds the index (one line per body, years as columns, each report's decision and
the checks linking it to the year before); ``body_page`` feeds a body's page, where every
cross-year finding shows the two source passages side by side — the N report's operands on the
left, the N+1 report's on the right — each at its span in its own file.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ..crossyear import CrossFinding, CrossOperand, CrossResult
from ..model import OPEN_STATUSES, Record
from ..tablespec import table_spec
from .view import Source, cell_label, load_source



def series_filename(body: str) -> str:
    slug = re.sub(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+", "_", body)[:40].strip("_") or "body"
    return f"series-{slug}-{hashlib.sha256(body.encode('utf-8')).hexdigest()[:8]}.html"


def _counts(fs: list[CrossFinding]) -> dict[str, int]:
    """Checks by status, plus ``open_FAIL`` / ``open_UNCERTAIN`` (not settled) and ``settled``
    (settled by a reviewer's decision)."""
    c = Counter(f.status for f in fs)
    out = {k: c.get(k, 0) for k in ("PASS", "FAIL", "UNCERTAIN", "NOT_ASSESSABLE")}
    out["open_FAIL"] = sum(1 for f in fs if f.open and f.status == "FAIL")
    out["open_UNCERTAIN"] = sum(1 for f in fs if f.open and f.status == "UNCERTAIN")
    out["settled"] = sum(1 for f in fs if f.settled_by is not None)
    return out


@dataclass
class YearCell:
    year: int
    docs: list[dict[str, Any]]  # name, sha256, decision, organ, href
    link: dict[str, int] | None = None  # checks with the year before (counts by status)
    link_open: list[str] = field(default_factory=list)  # "rule scope" of open checks with the year before
    anchor: str = ""


@dataclass
class BodyRow:
    body: str
    href: str | None
    cells: dict[int, YearCell]
    counts: dict[str, int]
    reports: int
    unplaced: int
    how: str = ""


def series_summary(cross: CrossResult, doc_href: Callable[[Record], str | None],
                   series_href: Callable[[str], str | None] | None) -> tuple[list[BodyRow], list[int]]:
    """Index lines: every body with more than one report or a cross-year finding, and the years shown."""
    by_pair: dict[tuple[str, int], list[CrossFinding]] = {}
    for f in cross.findings:
        if f.next.year is not None:
            by_pair.setdefault((f.body, f.next.year), []).append(f)
    rows: list[BodyRow] = []
    years: set[int] = set()
    for body in sorted(cross.series):
        s = cross.series[body]
        n = sum(len(v) for v in s.years.values()) + len(s.unplaced)
        if n < 2:
            continue
        href = series_href(body) if series_href else None
        cells: dict[int, YearCell] = {}
        for y in sorted(s.years):
            docs = [{"name": r.document.name, "sha256": r.document.sha256, "decision": r.decision, "organ": r.organ,
                     "href": doc_href(r)} for r in s.years[y]]
            fs = by_pair.get((body, y), [])
            cells[y] = YearCell(year=y, docs=docs, link=_counts(fs) if fs else None,
                                link_open=sorted({f"{f.rule} {f.scope}" for f in fs if f.open}),
                                anchor=f"y{y}")
            years.add(y)
        fs_all = [f for f in cross.findings if f.body == body]
        hows = sorted({a.how for a in cross.assignments.values() if a.body == body})
        rows.append(BodyRow(body=body, href=href, cells=cells, counts=_counts(fs_all), reports=n,
                            unplaced=len(s.unplaced), how=", ".join(hows)))
    return rows, sorted(years)


# ----------------------------------------------------------------------------- a body's page
@dataclass
class Passage:
    side: str  # "N" | "N+1"
    year: int | None
    document: str
    href: str | None
    label: str
    value: str
    kind: str
    sign: int
    excerpt: tuple[str, str, str] | None
    where: str


@dataclass
class CrossView:
    f: CrossFinding
    left: list[Passage]
    right: list[Passage]
    review_href: str | None = None  # where a reviewer decides it (the review app's queue)

    @property
    def open(self) -> bool:
        """Failing or uncertain and not settled by a reviewer's decision."""
        return self.f.open

    @property
    def decision(self) -> dict[str, Any] | None:
        """The reviewer's decision settling it, or the one that no longer does (values.reviewer)."""
        return self.f.settled_by or self.f.values.get("reviewer")


@dataclass
class PairView:
    year_n: int | None
    year_n1: int | None
    prev: dict[str, Any]
    next: dict[str, Any]
    problems: list[CrossView]
    passed: list[CrossFinding]
    counts: dict[str, int]
    anchor: str


@dataclass
class BodyPage:
    body: str
    years: list[dict[str, Any]]  # year, documents (name, href, organ, decision, how)
    pairs: list[PairView]
    counts: dict[str, int]
    unplaced: list[dict[str, Any]]


class SourceCache:
    """Each report's file loaded once for the excerpts of every finding that names it."""

    def __init__(self) -> None:
        self._by_sha: dict[str, Source] = {}

    def get(self, rec: Record) -> Source:
        sha = rec.document.sha256
        if sha not in self._by_sha:
            self._by_sha[sha] = load_source(rec)
        return self._by_sha[sha]

    def put(self, sha: str, src: Source) -> None:
        self._by_sha[sha] = src


def _label(rec: Record | None, op: CrossOperand) -> str:
    parts = op.ref.split(".")
    if parts[0] == "legacy":
        col = parts[-1]
        name = op.label or ".".join(parts[1:-1]).removeprefix("label:")
        spec = table_spec("legacy")
        called = {c.key: c.called for c in spec.columns}
        return f"{spec.short} · {name} · {called.get(col, col)}"
    return cell_label(rec, op.ref) if rec is not None else op.ref


def _value(op: CrossOperand) -> str:
    if op.kind in ("number", "zero"):
        return str(op.value)
    if op.kind == "ambiguous":
        return op.raw or "?"
    if op.kind == "not_applicable":
        return op.raw or "-"
    return ""


def body_page(body: str, cross: CrossResult, records: dict[str, Record], sources: SourceCache,
              doc_href: Callable[[Record], str | None],
              review_href: Callable[[CrossFinding], str | None] | None = None) -> BodyPage:
    s = cross.series[body]
    years = []
    for y in sorted(s.years):
        years.append({"year": y, "docs": [
            {"name": r.document.name, "href": doc_href(r), "organ": r.organ, "decision": r.decision,
             "sha256": r.document.sha256, "how": cross.assignments[r.document.sha256].how,
             "note": cross.assignments[r.document.sha256].note} for r in s.years[y]]})
    fs = [f for f in cross.findings if f.body == body]
    pairs: dict[tuple[str, str], list[CrossFinding]] = {}
    for f in fs:
        pairs.setdefault((f.prev.sha256, f.next.sha256), []).append(f)
    order = {"FAIL": 0, "UNCERTAIN": 1, "NOT_ASSESSABLE": 2, "PASS": 3}
    views: list[PairView] = []
    for (pa, pb), group in sorted(pairs.items(), key=lambda kv: (kv[1][0].prev.year or 0, kv[0])):
        ra, rb = records.get(pa), records.get(pb)
        probs = []
        for f in sorted(group, key=lambda f: (not f.open, order.get(f.status, 9), f.rule, f.scope)):
            if f.status not in OPEN_STATUSES:
                continue
            cv = cross_view(f, ra, rb, sources, doc_href)
            cv.review_href = review_href(f) if review_href else None
            probs.append(cv)
        f0 = group[0]
        views.append(PairView(
            year_n=f0.prev.year, year_n1=f0.next.year,
            prev={"name": f0.prev.name, "href": doc_href(ra) if ra else None, "decision": f0.prev.decision},
            next={"name": f0.next.name, "href": doc_href(rb) if rb else None, "decision": f0.next.decision},
            problems=probs, passed=[f for f in group if f.status not in OPEN_STATUSES], counts=_counts(group),
            anchor=f"y{f0.next.year}"))
    unplaced = [{"name": r.document.name, "href": doc_href(r)} for r in s.unplaced]
    return BodyPage(body=body, years=years, pairs=views, counts=_counts(fs), unplaced=unplaced)


def cross_view(f: CrossFinding, ra: Record | None, rb: Record | None, sources: SourceCache,
               doc_href: Callable[[Record], str | None]) -> CrossView:
    """A cross-year finding with its operands' passages: the N report's on the left, N+1's on the right."""
    left, right = [], []
    for op in f.operands:
        rec = ra if op.doc == "N" else rb
        src = sources.get(rec) if rec is not None else None
        exc = src.excerpt(op.span, ctx=30) if src is not None and op.span is not None else None
        where = ""
        if op.span is not None:
            where = f"characters {op.span.start}–{op.span.end}" + (f", page {op.span.page}" if op.span.page else "")
        p = Passage(side=op.doc, year=op.year, document=(f.prev if op.doc == "N" else f.next).name,
                    href=doc_href(rec) if rec is not None else None, label=_label(rec, op), value=_value(op),
                    kind=str(op.kind), sign=op.sign, excerpt=exc, where=where)
        (left if op.doc == "N" else right).append(p)
    return CrossView(f=f, left=left, right=right)
