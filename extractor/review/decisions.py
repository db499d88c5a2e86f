"""Reviewers' decisions applied to records: which findings are still open, which values a reviewer set.

A decision (a row of the store's ``reviews`` table) is keyed by the document's SHA-256 and the
finding's stable id, so it outlives ``extractor run --force``: records are stored as the extractor
made them and the decisions are applied whenever a record is shown, queued or exported
(:func:`apply_reviews`). Three actions:

* ``accept`` — the values are right as extracted (optionally choosing one of the competing values);
* ``correct`` — a cell (or narrative fact) gets the reviewer's value (``producer="reviewer"``). The value
  must occur in the source text (near the cell, or elsewhere in the document) or be marked explicitly as
  the reviewer's own (``grounded=False``); see :func:`locate_value`;
* ``confirm_source`` — the published report itself is inconsistent; its numbers stay as printed.

After a correction the table identities are evaluated again on the corrected record, so a correction
that makes an identity hold settles it, and one that breaks another identity opens a finding. A record
becomes ``accepted`` when its last open finding is settled.

No web framework here: the report, the review app and the exports all use this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from ..document import Document, normalize
from ..model import Cell, Fact, Finding, Number, Record, Span

OPEN_STATUSES = ("FAIL", "UNCERTAIN")
ACTIONS = ("accept", "correct", "confirm_source")
NA_MARKS = ("-", "/", "—", "无", "－", "／")
NEAR_CHARS = 400  # a corrected value found within this many characters of the cell counts as "near"

# a printed number (thousands separators, decimals); not an enumerator such as "5." or "5、" before a label
_NUM = re.compile(r"(?<!\d)(?<!\d[.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d|,\d{3}(?!\d)|[.、])")


@dataclass
class Review:
    """One stored decision (a row of ``reviews``)."""

    sha256: str
    finding_id: str
    action: str
    reviewer: str = ""
    created_at: float = 0.0
    cell: str | None = None
    value: str | None = None
    grounded: bool | None = None
    comment: str = ""
    span: Span | None = None
    prior: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Review":
        keys = row.keys() if hasattr(row, "keys") else row
        get = (lambda k: row[k] if k in keys else None)
        span = None
        if get("span_start") is not None and get("span_end") is not None:
            span = Span(start=int(get("span_start")), end=int(get("span_end")), page=get("page"))
        g = get("grounded")
        return cls(
            sha256=row["sha256"], finding_id=row["finding_id"], action=row["action"],
            reviewer=get("reviewer") or "", created_at=float(get("created_at") or 0), cell=get("cell"),
            value=get("value"), grounded=None if g is None else bool(g), comment=get("comment") or "",
            span=span, prior=get("prior"),
        )

    @property
    def own(self) -> bool:
        """A value the reviewer supplied that does not occur in the source."""
        return self.action == "correct" and self.grounded is False

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "reviewer": self.reviewer, "at": self.created_at}
        if self.cell:
            out["cell"] = self.cell
        if self.value is not None:
            out["value"] = self.value
        if self.action == "correct":
            out["grounded"] = self.grounded
        if self.comment:
            out["comment"] = self.comment
        return out


@dataclass
class Reviewed:
    """A record with its decisions applied."""

    original: Record
    record: Record  # a copy: corrected cells, re-evaluated identities, effective decision
    reviews: dict[str, Review]  # by finding id (those that match a finding of the record)
    open: list[Finding]
    settled: list[tuple[Finding, Review]]
    stale: list[Review]  # decisions whose finding the extractor no longer produces
    corrected: dict[str, Review] = field(default_factory=dict)  # cell ref / fact key -> decision
    reopened: list[str] = field(default_factory=list)  # finding ids opened by a correction

    @property
    def decision(self) -> str:
        return self.record.decision

    @property
    def accepted_by_review(self) -> bool:
        return self.record.decision == "accepted" and self.original.decision != "accepted"

    def review_of(self, finding_id: str) -> Review | None:
        return self.reviews.get(finding_id)

    def problems(self) -> list[Finding]:
        return [f for f in self.record.findings if f.status in OPEN_STATUSES]


# ----------------------------------------------------------------------------- values
def parse_value(text: str) -> tuple[str, Number | None]:
    """A reviewer's value: ("number"|"zero", value) or ("not_applicable", None). ValueError otherwise."""
    t = normalize((text or "").strip()).replace(" ", "")
    if not t:
        raise ValueError("no value entered")
    if t in NA_MARKS:
        return "not_applicable", None
    t = t.replace(",", "").replace("，", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", t):
        raise ValueError(f"not a number: {text!r}")
    v: Number = Decimal(t) if "." in t else int(t)
    return ("zero" if v == 0 else "number"), v


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def locate_value(doc: Document, text: str, near: int | None = None, window: int = NEAR_CHARS,
                 region: Span | None = None) -> tuple[Span | None, str | None]:
    """Where the value ``text`` is printed in the document: (span in the original, "near"|"document").

    Numbers are compared by value (``1,234`` = ``1234``; ``12.50`` = ``12.5``); the occurrence closest
    to ``near`` (an offset of the original) wins. It is "near" when it lies within ``window`` characters
    of ``near`` or inside ``region`` (the cell's table). (None, None) when the value is printed nowhere.
    """
    kind, value = parse_value(text)
    hits: list[tuple[int, int]] = []
    if kind == "not_applicable":
        for mark in NA_MARKS:
            hits.extend((m.start(), m.end()) for m in re.finditer(re.escape(mark), doc.text))
    else:
        want = Decimal(value)  # type: ignore[arg-type]
        for m in _NUM.finditer(doc.text):
            d = _decimal(m.group())
            if d is not None and d == want:
                hits.append((m.start(), m.end()))
    if not hits:
        return None, None
    spans = [doc.span(a, b) for a, b in hits]
    if near is None:
        return spans[0], "document"
    best = min(spans, key=lambda s: abs(s.start - near))
    inside = region is not None and region.start <= best.start < region.end
    return best, ("near" if inside or abs(best.start - near) <= window else "document")


# ----------------------------------------------------------------------------- applying
def fact_key(f: Fact) -> str:
    return f"fact:{f.metric}@{f.span.start}-{f.span.end}" if f.span else f"fact:{f.metric}"


def _facts(record: Record) -> Iterable[Fact]:
    for f in record.facts:
        yield f
        yield from f.parts


def find_cell(record: Record, ref: str) -> Cell | None:
    parts = ref.split(".")
    if len(parts) < 3:
        return None
    table = record.tables.get(parts[0])
    if table is None:
        return None
    if parts[0] == "legacy" and not parts[1].startswith("L"):  # legacy.<key>: the year cell of a key
        for c in table.cells:
            if c.key == parts[1] and c.col == "year":
                return c
        return None
    return table.get(parts[1], ".".join(parts[2:]))


def find_fact(record: Record, key: str) -> Fact | None:
    for f in _facts(record):
        if fact_key(f) == key:
            return f
    return None


def operand_key(ref: str, span: Span | None) -> str:
    """The key a correction uses for an operand: a cell ref, or ``fact:<metric>@start-end``."""
    if ref.startswith("fact:") and span is not None:
        return f"{ref}@{span.start}-{span.end}"
    return ref


def _set_cell(cell: Cell, rv: Review, kind: str, value: Number | None) -> None:
    was = cell.raw or ("" if cell.value is None else str(cell.value))
    cell.value = value
    cell.kind = kind  # type: ignore[assignment]
    cell.raw = rv.value or ""
    cell.producer = "reviewer"
    cell.grounded = bool(rv.grounded)
    cell.candidates = []
    if rv.grounded and rv.span is not None:
        cell.span = rv.span
    if isinstance(value, Decimal):
        cell.decimals = max(0, -value.as_tuple().exponent)  # type: ignore[operator]
    note = f"set by reviewer {rv.reviewer}" + (f" (was {was!r})" if was else "")
    if rv.own:
        note += "; the reviewer's own value, not printed in the source"
    cell.note = note + (f"; {cell.note}" if cell.note and "reviewer" not in cell.note else "")


def apply_reviews(record: Record, rows: Iterable[Mapping[str, Any] | Review]) -> Reviewed:
    """The record as the reviewers left it. ``rows`` are the document's ``reviews`` rows."""
    reviews_all = [r if isinstance(r, Review) else Review.from_row(r) for r in rows]
    rec = record.model_copy(deep=True)
    known = {f.id for f in record.findings}
    reviews = {r.finding_id: r for r in reviews_all if r.finding_id in known}
    corrected: dict[str, Review] = {}

    # 1. values set by reviewers (corrections, and accepted competing values that differ from the cell)
    for rv in sorted(reviews.values(), key=lambda r: r.created_at):
        if rv.action not in ("correct", "accept") or not rv.cell or rv.value is None:
            continue
        try:
            kind, value = parse_value(rv.value)
        except ValueError:
            continue
        if rv.cell.startswith("fact:"):
            fact = find_fact(rec, rv.cell)
            if fact is not None and value is not None and (rv.action == "correct" or fact.value != value):
                fact.value = value
                fact.producer = "reviewer"
                fact.grounded = bool(rv.grounded)
                corrected[rv.cell] = rv
            continue
        cell = find_cell(rec, rv.cell)
        if cell is None:
            continue
        if rv.action == "accept" and cell.value == value and cell.kind == kind:
            continue  # accepted as extracted
        _set_cell(cell, rv, kind, value)
        corrected[rv.cell] = rv

    # 2. identities again over the corrected tables; grounding of corrected cells is the reviewer's
    reopened: list[str] = []
    if any(not k.startswith("fact:") for k in corrected):
        from ..verify.engine import check_identities  # noqa: PLC0415

        fresh = {f.id: f for f in check_identities(rec)}
        before = {f.id: f for f in rec.findings}
        out: list[Finding] = []
        for f in rec.findings:
            nf = fresh.pop(f.id, None)
            if nf is None:
                out.append(f)
                continue
            if nf.status in OPEN_STATUSES and f.status not in OPEN_STATUSES:
                reopened.append(f.id)
            out.append(nf)
        for nf in fresh.values():  # identities that only now apply
            out.append(nf)
            if nf.status in OPEN_STATUSES and nf.id not in before:
                reopened.append(nf.id)
        rec.findings = out
        for f in rec.findings:
            if f.rule in ("G.GROUNDED", "G.UNAMBIGUOUS", "G.COMPLETE", "G.OCR_CONFIDENCE") and f.scope in corrected:
                rv = corrected[f.scope]
                f.status = "PASS"
                f.classification = "ok"
                f.message = (f"{f.scope}: set by reviewer {rv.reviewer} to {rv.value}"
                             + (" (the reviewer's own value)" if rv.own else " (found in the source)"))
        # operands of findings refer to the corrected values
        for f in rec.findings:
            for op in f.operands:
                c = corrected.get(op.ref)
                if c is not None:
                    cell = find_cell(rec, op.ref)
                    if cell is not None:
                        op.value, op.kind, op.span = cell.value, cell.kind, cell.span

    # 3. what each decision does to its finding
    final = {f.id for f in rec.findings}
    reviews = {r.finding_id: r for r in reviews_all if r.finding_id in final}
    stale = [r for r in reviews_all if r.finding_id not in final]
    for f in rec.findings:
        rv = reviews.get(f.id)
        if rv is None:
            continue
        f.values = {**f.values, "reviewer": rv.summary()}
        if rv.action == "confirm_source" and f.status == "FAIL":
            f.classification = "source_inconsistency"

    open_ = [f for f in rec.findings if f.status in OPEN_STATUSES and f.id not in reviews]
    settled = [(f, reviews[f.id]) for f in rec.findings if f.id in reviews]
    _decide(rec, record, open_, settled)
    return Reviewed(original=record, record=rec, reviews=reviews, open=open_, settled=settled, stale=stale,
                    corrected=corrected, reopened=reopened)


def _decide(rec: Record, original: Record, open_: list[Finding], settled: list[tuple[Finding, Review]]) -> None:
    if rec.error:
        rec.decision = "failed"
        return
    reasons: list[str] = []
    if not rec.tables:
        reasons.append("no report table found")
    by_class: dict[str, list[Finding]] = {}
    for f in open_:
        by_class.setdefault(f.classification, []).append(f)
    for cls, fs in sorted(by_class.items()):
        questions = len({f.group or f.id for f in fs})  # one question per cause (verify/groups.py)
        reasons.append(f"{cls}: {questions} open question(s), {len(fs)} open finding(s) "
                       f"({', '.join(sorted({f.rule for f in fs}))})")
    if reasons:
        rec.decision = "needs_review"
        rec.reasons = reasons
        if settled:
            rec.reasons.append(f"{len(settled)} finding(s) settled by review")
        return
    rec.decision = "accepted"
    if original.decision != "accepted" or settled:
        who = sorted({rv.reviewer for _, rv in settled if rv.reviewer})
        rec.reasons = [f"accepted after review: {len(settled)} finding(s) settled"
                       + (f" by {', '.join(who)}" if who else "")]
        sources = [f for f, rv in settled if rv.action == "confirm_source"]
        if sources:
            rec.reasons.append(f"{len(sources)} source inconsistenc{'y' if len(sources) == 1 else 'ies'} "
                               "confirmed; numbers kept as printed")


def reviewed_records(store: Any) -> Iterable[Reviewed]:
    """Every stored record with its decisions applied (``store`` is an :class:`~extractor.store.Store`)."""
    by_doc: dict[str, list[Any]] = {}
    for row in store.reviews():
        by_doc.setdefault(row["sha256"], []).append(row)
    for rec in store.records():
        yield apply_reviews(rec, by_doc.get(rec.document.sha256, []))


def reviewed_record(store: Any, sha256: str) -> Reviewed | None:
    rec = store.record(sha256)
    if rec is None:
        return None
    return apply_reviews(rec, store.reviews(sha256))


# ----------------------------------------------------------------------------- new decisions
class DecisionError(ValueError):
    """A decision that cannot be stored as entered (the message says what to change)."""


def operand_keys(f: Finding) -> list[str]:
    """The cells and facts a decision on ``f`` may set, in operand order."""
    out: list[str] = []
    for op in f.operands:
        if op.kind == "missing" and not op.ref.startswith(("table", "legacy")):
            continue
        k = operand_key(op.ref, op.span)
        if k not in out:
            out.append(k)
    return out


def prepare_decision(
    reviewed: Reviewed, finding_id: str, action: str, *, reviewer: str, comment: str = "",
    cell: str | None = None, value: str | None = None, own: bool = False, doc: Document | None = None,
) -> dict[str, Any]:
    """Check a decision and return the keyword arguments of :meth:`Store.put_review`.

    A corrected value must be printed in the source (near the cell, else anywhere in the document)
    unless ``own`` marks it as the reviewer's own value, which then needs a comment saying where it
    comes from.
    """
    reviewer = (reviewer or "").strip()
    comment = (comment or "").strip()
    if not reviewer:
        raise DecisionError("enter your name (reviewer) first")
    if action not in ACTIONS:
        raise DecisionError(f"unknown action {action!r}")
    finding = next((f for f in reviewed.record.findings if f.id == finding_id), None)
    if finding is None:
        raise DecisionError(f"no finding {finding_id!r} in {reviewed.record.document.name}")
    cell = (cell or "").strip() or None
    value = (value or "").strip() or None
    out: dict[str, Any] = {"reviewer": reviewer, "comment": comment}
    if action == "confirm_source":
        return out
    if action == "accept":
        if value is None:
            return out
        if cell is None:
            keys = operand_keys(finding)
            if len(keys) != 1:
                raise DecisionError("say which cell the accepted value is for")
            cell = keys[0]
        try:
            parse_value(value)
        except ValueError as exc:
            raise DecisionError(str(exc)) from exc
        return {**out, "cell": cell, "value": value, "prior": _current(reviewed.original, cell)}
    # correct
    if cell is None:
        keys = operand_keys(finding)
        if len(keys) != 1:
            raise DecisionError("choose the cell to correct")
        cell = keys[0]
    region: Span | None = None
    if cell.startswith("fact:"):
        fact = find_fact(reviewed.original, cell)
        if fact is None:
            raise DecisionError(f"no narrative statement {cell!r} in this record")
        near = fact.span.start if fact.span else None
    else:
        c = find_cell(reviewed.original, cell)
        if c is None:
            raise DecisionError(f"no cell {cell!r} in this record")
        near = c.span.start if c.span else None
        table = reviewed.original.tables.get(c.table)
        region = table.span if table is not None else None
        if near is None and region is not None:
            near = region.start
    if value is None:
        raise DecisionError("enter the corrected value")
    try:
        kind, _ = parse_value(value)
    except ValueError as exc:
        raise DecisionError(str(exc)) from exc
    if cell.startswith("fact:") and kind == "not_applicable":
        raise DecisionError("a narrative statement needs a number")
    out.update(cell=cell, value=value, prior=_current(reviewed.original, cell))
    if own:
        if not comment:
            raise DecisionError("say in the comment where your own value comes from")
        return {**out, "grounded": False}
    if doc is None:
        raise DecisionError("the source file is not available to check the value; "
                            "mark it as your own value (with a comment) to store it")
    span, where = locate_value(doc, value, near, region=region)
    if span is None:
        raise DecisionError(f"{value} is not printed anywhere in the source; check it, or mark it as your "
                            "own value (with a comment)")
    out.update(grounded=True, span=(span.start, span.end, span.page))
    if where != "near":
        out["comment"] = (comment + " " if comment else "") + f"[value found elsewhere in the document, at {span.start}]"
    return out


def _current(record: Record, key: str) -> str | None:
    if key.startswith("fact:"):
        f = find_fact(record, key)
        return None if f is None else str(f.value)
    c = find_cell(record, key)
    if c is None:
        return None
    return c.raw or (None if c.value is None else str(c.value))
