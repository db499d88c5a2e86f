"""Reviewers' decisions applied to records: which findings are still open, which values a reviewer set.

A decision (a row of the store's ``reviews`` table) is keyed by the document's SHA-256 and the
finding's stable id, so it outlives ``extractor run --force``: records are stored as the extractor
made them and the decisions are applied on top (:func:`apply_reviews`) by everything that shows a
record — ``records.jsonl``/``cells.csv``/``findings.csv`` and the run summary (:mod:`extractor.store`),
the report, the review app, the exports and ``extractor eval --db``. Three actions:

* ``accept`` — the values are right as extracted, or, with a value, one of the competing values
  (parser / model) is;
* ``correct`` — a cell (or narrative fact) gets the reviewer's value (``producer="reviewer"``);
* ``confirm_source`` — the published report itself is inconsistent; its numbers stay as printed.

A value a reviewer sets (``accept`` with a value, ``correct``) passes the same checks as the parser's
and the model's (:func:`prepare_decision`, when the decision is taken, against the source file):
it must be printed in the source — near the cell, else anywhere in the document, its characters
kept as the cell's span — or be marked explicitly as the reviewer's own value, with a comment
saying where it comes from. When the decision is applied the table identities are evaluated again
on the corrected record: a correction that makes its identity hold settles it; one that leaves it
failing leaves it open (say ``confirm_source`` then: the correction is kept); one that breaks
another identity opens that one. A value not verified in the source is a ``G.GROUNDED`` finding,
settled only by an explicit own-value decision.

The record's decision is then taken by the one decision function, :func:`extractor.verify.decide`.
No web framework here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from .document import Document, normalize
from .model import OPEN_STATUSES, Cell, Fact, Finding, Number, Record, Span
from .numbers import NA_TOKEN, STANDALONE_FIGURE, has_number, parse_value
from .verify.decide import decide
from .verify.engine import PUBLISHED_SUFFIX, check_identities
from .verify.narrative import recheck_values

ACTIONS = ("accept", "correct", "confirm_source")
NEAR_CHARS = 400  # a corrected value found within this many characters of the cell counts as "near"
CELL_RULES = ("G.GROUNDED", "G.UNAMBIGUOUS", "G.COMPLETE", "G.OCR_CONFIDENCE", "G.DISPLACED")
# how a value was read — by the parser, the model, the OCR — not what the report publishes: never settled by
# confirming a source inconsistency (nor listed as one)
READING_RULES = ("G.GROUNDED", "G.UNAMBIGUOUS", "G.OCR_CONFIDENCE", "G.DISPLACED", "M.CELL_FILL", "M.CELL_AGREE",
                 "N.AGREE", "N.QUOTE_GROUNDED", "N.VALUE_REPARSES", "D.MODEL_STEP", "D.PAGE_DEGRADED", "D.BUDGET")

# Where a typed value is printed: numbers.STANDALONE_FIGURE (not an enumerator such as "5." before a
# label) and numbers.NA_TOKEN (a mark standing as a cell of its own, not the 无 of 无法提供 nor 无。).


def row_reader(row: Mapping[str, Any]) -> tuple[Any, Span | None]:
    """A stored decision row read leniently (columns added later may be missing from older rows): a
    getter giving None for an absent column, and the quoted span when the row has one."""
    keys = row.keys() if hasattr(row, "keys") else row
    get = (lambda k: row[k] if k in keys else None)
    span = None
    if get("span_start") is not None and get("span_end") is not None:
        span = Span(start=int(get("span_start")), end=int(get("span_end")), page=get("page"))
    return get, span


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
        get, span = row_reader(row)
        g = get("grounded")
        return cls(
            sha256=row["sha256"], finding_id=row["finding_id"], action=row["action"],
            reviewer=get("reviewer") or "", created_at=float(get("created_at") or 0), cell=get("cell"),
            value=get("value"), grounded=None if g is None else bool(g), comment=get("comment") or "",
            span=span, prior=get("prior"),
        )

    @property
    def sets_value(self) -> bool:
        return bool(self.cell) and self.value is not None

    @property
    def verified(self) -> bool:
        """The value was found printed in the source when the decision was taken (its span kept)."""
        return self.sets_value and self.grounded is True and self.span is not None

    @property
    def own(self) -> bool:
        """A value the reviewer supplied that is not printed in the source, said so with a comment."""
        return self.sets_value and self.grounded is False and bool(self.comment.strip())

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "reviewer": self.reviewer, "at": self.created_at}
        if self.cell:
            out["cell"] = self.cell
        if self.value is not None:
            out["value"] = self.value
        if self.sets_value:
            out["grounded"] = self.grounded
            if self.own:
                out["own"] = True
        if self.comment:
            out["comment"] = self.comment
        return out


@dataclass
class Reviewed:
    """A record with its decisions applied."""

    original: Record
    record: Record  # corrected cells, re-evaluated identities, the decision (a copy when reviewed)
    reviews: dict[str, Review]  # by finding id (those that match a finding of the record)
    open: list[Finding]
    settled: list[tuple[Finding, Review]]
    stale: list[Review]  # decisions whose finding the extractor no longer produces
    corrected: dict[str, Review] = field(default_factory=dict)  # cell ref / fact key -> decision
    reopened: list[str] = field(default_factory=list)  # finding ids opened by a correction
    settled_by: dict[str, Review] = field(default_factory=dict)  # finding id -> the decision settling it

    @property
    def decision(self) -> str:
        return self.record.decision

    @property
    def accepted_by_review(self) -> bool:
        return self.record.decision == "accepted" and self.original.decision != "accepted"

    def review_of(self, finding_id: str) -> Review | None:
        return self.settled_by.get(finding_id) or self.reviews.get(finding_id)

    def is_open(self, finding_id: str) -> bool:
        return any(f.id == finding_id for f in self.open)

    def problems(self) -> list[Finding]:
        return [f for f in self.record.findings if f.status in OPEN_STATUSES]


# ----------------------------------------------------------------------------- values
def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _claimed_by(span: Span, claimed: Mapping[tuple[int, int], str]) -> str | None:
    """The ref of a cell read from characters ``span`` overlaps (``claimed``: (start, end) → ref), or None."""
    return next((ref for (a, b), ref in claimed.items() if span.start < b and a < span.end), None)


def locate_value(doc: Document, text: str, near: int | None = None, window: int = NEAR_CHARS,
                 region: Span | None = None, avoid: Mapping[tuple[int, int], str] | None = None,
                 ) -> tuple[Span | None, str | None]:
    """Where the value ``text`` is printed in the document: (span in the original, "near"|"document").

    Numbers are compared by value (``1,234`` = ``1234``; ``12.50`` = ``12.5``) and must be printed as a
    whole number (``260`` is not in ``26029``); a not-applicable value is any not-applicable mark standing
    alone. The occurrence closest to ``near`` (an offset of the original) wins — among those outside
    ``avoid`` (the characters other cells were read from, (start, end) → ref) when there are any. It
    is "near" when it lies within ``window`` characters of ``near`` or inside ``region`` (the cell's
    table). (None, None) when the value is printed nowhere.
    """
    kind, value = parse_value(text)
    hits: list[tuple[int, int]] = []
    if kind == "not_applicable":
        marks = [(m.start(), m.end()) for m in NA_TOKEN.finditer(doc.text)]
        typed = normalize(text.strip()).replace(" ", "")
        hits.extend([h for h in marks if doc.text[h[0]:h[1]] == typed] or marks)  # the mark typed, else any
    else:
        want = Decimal(value)  # type: ignore[arg-type]
        for m in STANDALONE_FIGURE.finditer(doc.text):
            d = _decimal(m.group())
            if d is not None and d == want:
                hits.append((m.start(), m.end()))
    if not hits:
        return None, None
    spans = [doc.span(a, b) for a, b in hits]
    free = [sp for sp in spans if _claimed_by(sp, avoid or {}) is None]
    spans = free or spans
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
    cell.grounded = rv.verified
    cell.candidates = []
    cell.missing = False
    cell.inferred = ""
    cell.confidence = None
    # the characters the value was found at; an unverified value has none (the old span read another value)
    cell.span = rv.span if rv.verified else None
    cell.decimals = max(0, -value.as_tuple().exponent) if isinstance(value, Decimal) else 0  # type: ignore[operator]
    note = f"set by reviewer {rv.reviewer}" + (f" (was {was!r})" if was else "")
    if rv.own:
        note += "; the reviewer's own value, not printed in the source"
    elif not rv.verified:
        note += "; not verified in the source"
    cell.note = note + (f"; {cell.note}" if cell.note and "reviewer" not in cell.note else "")


def _grounding_finding(ref: str, cell: Cell, rv: Review) -> Finding:
    """G.GROUNDED for a cell a reviewer set: PASS when the value was found in the source."""
    base = dict(id=f"G.GROUNDED:{ref}", rule="G.GROUNDED", scope=ref,
                values={"reviewer": rv.summary(), **({"was": rv.prior} if rv.prior is not None else {})})
    if cell.grounded:
        sp = cell.span
        return Finding(**base, status="PASS", severity="info",
                       message=f"{ref}: set by reviewer {rv.reviewer} to {rv.value}, printed in the source"
                               + (f" (characters {sp.start}–{sp.end})" if sp else ""))
    why = (f"the reviewer's own value ({rv.comment})" if rv.own else
           "not verified in the source: enter it again where the source is at hand, or mark it as your "
           "own value with a comment")
    return Finding(**base, status="FAIL", classification="ungrounded",
                   message=f"{ref}: {rv.value} set by reviewer {rv.reviewer} is not printed in the source — {why}")


def _corrected_operands(f: Finding, corrected: Mapping[str, Any]) -> str:
    """The cells among a finding's operands that a reviewer corrected, by ref."""
    return ", ".join(sorted({op.ref for op in f.operands if op.ref in corrected}))


def apply_reviews(record: Record, rows: Iterable[Mapping[str, Any] | Review]) -> Reviewed:
    """The record as the reviewers left it. ``rows`` are the document's ``reviews`` rows.

    Without decisions the record is returned as is (decided again by the same function)."""
    reviews_all = [r if isinstance(r, Review) else Review.from_row(r) for r in rows]
    if not reviews_all:
        decide(record)
        return Reviewed(original=record, record=record, reviews={}, settled=[], stale=[],
                        open=[f for f in record.findings if f.status in OPEN_STATUSES])
    rec = record.model_copy(deep=True)
    known = {f.id for f in record.findings}
    reviews = {r.finding_id: r for r in reviews_all if r.finding_id in known}
    corrected: dict[str, Review] = {}

    # 1. values set by reviewers (corrections, accepted competing values, kept under a confirmation)
    for rv in sorted(reviews.values(), key=lambda r: r.created_at):
        if not rv.sets_value:
            continue
        try:
            kind, value = parse_value(rv.value or "")
        except ValueError:
            continue
        assert rv.cell is not None
        if rv.cell.startswith("fact:"):
            fact = find_fact(rec, rv.cell)
            if fact is None or value is None or (fact.value == value and rv.action != "correct"):
                continue
            fact.value = value
            fact.producer = "reviewer"
            fact.grounded = rv.verified
            corrected[rv.cell] = rv
            continue
        cell = find_cell(rec, rv.cell)
        if cell is None:
            continue
        if rv.action != "correct" and cell.value == value and cell.kind == kind:
            continue  # accepted as extracted
        _set_cell(cell, rv, kind, value)
        corrected[rv.cell] = rv

    # 2. the checks again over the corrected values: grounding of each corrected cell, every identity
    reopened: list[str] = []
    reevaluated: set[str] = set()
    cell_refs = [k for k in corrected if not k.startswith("fact:")]
    if cell_refs:

        fresh = {f.id: f for f in check_identities(rec)}
        reevaluated.update(fresh)
        before = {f.id: f for f in rec.findings}
        out: list[Finding] = []
        for f in rec.findings:
            nf = fresh.pop(f.id, None)
            if nf is None:
                out.append(f)
                continue
            if nf.status in OPEN_STATUSES and f.status not in OPEN_STATUSES:
                reopened.append(f.id)
            if (f.status == "FAIL" and f.classification == "source_inconsistency" and nf.status == "PASS"
                    and any(op.ref in corrected for op in f.operands)):
                # the published table still breaks it: a correction repairs the record, not the report
                who = _corrected_operands(f, corrected)
                nf.classification = "source_inconsistency"
                nf.message = (f"{f.message.replace(PUBLISHED_SUFFIX, '')} — as published ({f.arithmetic}); holds with "
                              f"the reviewer's correction of {who} ({nf.arithmetic})")
            out.append(nf)
        for nf in fresh.values():  # identities that only now apply
            out.append(nf)
            if nf.status in OPEN_STATUSES and nf.id not in before:
                reopened.append(nf.id)
        grounding: dict[str, Finding] = {}
        for ref in cell_refs:
            cell = find_cell(rec, ref)
            if cell is not None:
                grounding[ref] = _grounding_finding(ref, cell, corrected[ref])
        for i, f in enumerate(out):
            if f.rule not in CELL_RULES or f.scope not in corrected:
                continue
            rv = corrected[f.scope]
            reevaluated.add(f.id)
            if f.rule == "G.GROUNDED":
                out[i] = grounding.pop(f.scope)
            else:  # the reviewer's value replaced the ambiguous / missing / displaced / low-confidence reading
                f.status, f.classification, f.severity = "PASS", "ok", "info"
                f.message = f"{f.scope}: set by reviewer {rv.reviewer} to {rv.value}"
        for g in grounding.values():
            reevaluated.add(g.id)
            if g.status != "PASS":
                out.append(g)
        for f in out:  # a check the published values satisfy, broken by a correction: not the source's fault
            if f.id in reopened and f.classification == "source_inconsistency":
                who = _corrected_operands(f, corrected)
                f.classification = "disagreement"
                f.message = (f.message.replace(PUBLISHED_SUFFIX, "")
                             + f" — opened by the reviewer's correction of {who}: the published values satisfy it")
        rec.findings = out
        # operands of findings refer to the corrected values
        for f in rec.findings:
            for op in f.operands:
                if op.ref in corrected:
                    cell = find_cell(rec, op.ref)
                    if cell is not None:
                        op.value, op.kind, op.span = cell.value, cell.kind, cell.span

    # 2b. the narrative checks that compare values (N.TABLE_MATCH, N.SUM, N.RATE, N.SAME_QUANTITY, N.AGREE),
    # again, where a corrected cell or fact takes part (before or after): a narrative correction that still
    # disagrees with its table does not settle the finding, a table correction that repairs it does
    if corrected:
        def touches(f: Finding) -> bool:
            return any(op.ref in corrected or operand_key(op.ref, op.span) in corrected for op in f.operands)

        fresh_n = {f.id: f for f in recheck_values(rec)}
        had = {f.id for f in rec.findings}
        for i, f in enumerate(rec.findings):
            nf = fresh_n.get(f.id)
            if nf is None or f.rule != nf.rule or not (touches(f) or touches(nf)):
                continue
            if nf.status in OPEN_STATUSES and f.status not in OPEN_STATUSES:
                reopened.append(f.id)
            rec.findings[i] = nf
            reevaluated.add(f.id)
        for fid, nf in fresh_n.items():  # a check that only now applies (or only now fails)
            if fid not in had and nf.status in OPEN_STATUSES and touches(nf):
                rec.findings.append(nf)
                reevaluated.add(fid)
                reopened.append(fid)

    # 3. what each decision does to its finding
    final = {f.id for f in rec.findings}
    reviews = {r.finding_id: r for r in reviews_all if r.finding_id in final}
    stale = [r for r in reviews_all if r.finding_id not in final]
    settled_by: dict[str, Review] = {}
    for f in rec.findings:
        rv = reviews.get(f.id)
        setter = corrected.get(f.scope) if f.rule == "G.GROUNDED" else None
        if setter is not None and rv is not setter:
            # a reviewer's value is vouched for only by the decision that set it: found in the source,
            # or the reviewer's own (with a comment) — never by accepting / confirming its finding
            if rv is not None:
                f.values = {**f.values, "reviewer": rv.summary()}
            if setter.own and f.status in OPEN_STATUSES:
                settled_by[f.id] = setter
            continue
        if rv is None:
            continue
        f.values = {**f.values, "reviewer": rv.summary()}
        if f.rule == "G.UNAMBIGUOUS" and f.status in OPEN_STATUSES and not rv.sets_value:
            # a cell with several readings has no value to accept or keep as printed: one must be chosen
            f.message += f" — {rv.reviewer}'s decision ({rv.action}) chose no reading; accept one of them or correct"
            continue
        if rv.action == "confirm_source" and f.status == "FAIL" and f.id not in reopened and f.rule not in READING_RULES:
            f.classification = "source_inconsistency"
        if rv.sets_value and not rv.verified and not rv.own:
            f.message += (f" — {rv.reviewer}'s value {rv.cell} = {rv.value} was not verified in the source; "
                          "decide again")
            continue
        if rv.sets_value and rv.action != "confirm_source" and f.id in reevaluated and f.status in OPEN_STATUSES:
            f.message += (f" — still {'fails' if f.status == 'FAIL' else 'uncertain'} with {rv.reviewer}'s "
                          f"value {rv.cell} = {rv.value}: confirm a source inconsistency (the value is kept) "
                          "or correct again")
            continue
        settled_by[f.id] = rv

    open_ = [f for f in rec.findings if f.status in OPEN_STATUSES and f.id not in settled_by]
    settled = [(f, settled_by[f.id]) for f in rec.findings if f.id in settled_by]
    decide(rec, settled_by)
    return Reviewed(original=record, record=rec, reviews=reviews, open=open_, settled=settled, stale=stale,
                    corrected=corrected, reopened=reopened, settled_by=settled_by)


def reviews_by_document(store: Any) -> dict[str, list[Any]]:
    by_doc: dict[str, list[Any]] = {}
    for row in store.reviews():
        by_doc.setdefault(row["sha256"], []).append(row)
    return by_doc


def reviewed_documents(store: Any) -> Iterable[Reviewed]:
    """Every stored record with its decisions applied (``store`` is an :class:`~extractor.store.Store`)."""
    by_doc = reviews_by_document(store)
    for rec in store.records():
        yield apply_reviews(rec, by_doc.get(rec.document.sha256, []))


def reviewed_record(store: Any, sha256: str) -> Reviewed | None:
    rec = store.record(sha256)
    if rec is None:
        return None
    return apply_reviews(rec, store.reviews(sha256))


def canonical(rv: Reviewed) -> dict[str, Any]:
    """The reviewed record in the canonical form of ``gold-format.md``, with who set which value and
    which decisions settled which findings (``records.jsonl`` and the JSONL export)."""
    r = rv.record
    out = r.to_canonical()
    out["sha256"] = r.document.sha256
    out["accepted_by"] = ("review" if rv.accepted_by_review else "extractor") if r.decision == "accepted" else ""
    out["reasons"] = r.reasons
    out["reviewer_values"] = [
        {"cell": key, "value": rev.value, "grounded": rev.grounded, "own": rev.own, "reviewer": rev.reviewer,
         "at": _iso(rev.created_at), "comment": rev.comment, "was": rev.prior}
        for key, rev in rv.corrected.items()
    ]
    out["reviews"] = [
        {"finding_id": f.id, "action": rev.action, "cell": rev.cell or "", "value": rev.value or "",
         "grounded": rev.grounded, "comment": rev.comment, "reviewer": rev.reviewer, "at": _iso(rev.created_at),
         **({"for": rev.finding_id} if rev.finding_id != f.id else {})}
        for f, rev in rv.settled
    ]
    out["open_decisions"] = [  # decisions in force that do not settle their finding (yet)
        {"finding_id": fid, "action": rev.action, "reviewer": rev.reviewer, "at": _iso(rev.created_at)}
        for fid, rev in rv.reviews.items() if fid not in rv.settled_by
    ]
    out["stale_decisions"] = [{"finding_id": rev.finding_id, "action": rev.action, "reviewer": rev.reviewer}
                              for rev in rv.stale]
    return out


def _iso(ts: float | None) -> str:
    import datetime as _dt  # noqa: PLC0415

    return "" if not ts else _dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds")


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

    A value (``correct``, or ``accept`` with a value) must be printed in the source — near the cell,
    else anywhere in the document (``doc``) — unless ``own`` marks it as the reviewer's own value,
    which then needs a comment saying where it comes from. ``confirm_source`` and ``accept`` without
    a value keep a value an earlier decision on the same finding set.
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
    setter = reviewed.corrected.get(finding.scope) if finding.rule == "G.GROUNDED" else None
    if setter is not None and setter.finding_id != finding_id and action != "correct":
        raise DecisionError(f"{finding.scope} holds a value a reviewer set ({setter.value}) that is not printed in "
                            "the source: correct it (the value must be printed in the source) or mark it as your "
                            "own value with a comment")
    cell = (cell or "").strip() or None
    value = (value or "").strip() or None
    if finding_id in reviewed.reopened and action == "confirm_source":
        raise DecisionError(f"{finding_id} holds with the published values; only a reviewer's correction breaks it — "
                            "correct again, or reopen that correction")
    if finding.rule in READING_RULES and action == "confirm_source":
        raise DecisionError(f"{finding.id}: this is about how a value was read, not a published inconsistency — "
                            "accept the reading or correct the value")
    if finding.rule == "G.UNAMBIGUOUS" and action == "accept" and value is None:
        c0 = find_cell(reviewed.original, finding.scope)
        readings = ", ".join(str(x.value) for x in (c0.candidates if c0 else []))
        raise DecisionError(f"{finding.scope} has no single reading ({readings}): accept the one printed as the cell's "
                            "value, or correct it")
    out: dict[str, Any] = {"reviewer": reviewer, "comment": comment}
    if action == "confirm_source" or (action == "accept" and value is None):
        prev = reviewed.reviews.get(finding_id)
        if prev is not None and prev.sets_value:  # keep the value set earlier on this finding
            out.update(cell=prev.cell, value=prev.value, grounded=prev.grounded, prior=prev.prior,
                       span=(prev.span.start, prev.span.end, prev.span.page) if prev.span else None)
            if prev.own and not comment:
                out["comment"] = prev.comment
        return out
    if cell is None:
        keys = operand_keys(finding)
        if len(keys) != 1:
            raise DecisionError("choose the cell to correct" if action == "correct"
                                else "say which cell the accepted value is for")
        cell = keys[0]
    region: Span | None = None
    c: Cell | None = None
    fact: Fact | None = None
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
    if fact is not None:
        # a statement's value is printed in the statement: a number elsewhere is another statement's
        printed = doc.original[fact.span.start:fact.span.end] if doc is not None and fact.span else fact.quote
        if fact.span is not None and has_number(printed, parse_value(value)[1]):
            return {**out, "grounded": True, "span": (fact.span.start, fact.span.end, fact.span.page)}
        raise DecisionError(f"{value} is not printed in the statement {fact.quote!r}: if the statement itself is "
                            "wrong, confirm the source inconsistency (it is kept as printed); or mark the value as "
                            "your own (with a comment)")
    span, where = (_reading_span(c, value), "near") if c is not None else (None, None)
    if span is not None:  # the cell's own characters (or one of its candidate readings) print the value
        return {**out, "grounded": True, "span": (span.start, span.end, span.page)}
    if doc is None:
        raise DecisionError("the source file is not available to check the value; "
                            "mark it as your own value (with a comment) to store it")
    others = {(x.span.start, x.span.end): x.ref for x in reviewed.original.cells()
              if x.span is not None and x.ref != cell}
    span, where = locate_value(doc, value, near, region=region, avoid=others)
    if span is None:
        raise DecisionError(f"{value} is not printed anywhere in the source; check it, or mark it as your "
                            "own value (with a comment)")
    out.update(grounded=True, span=(span.start, span.end, span.page))
    taken = _claimed_by(span, others)
    if taken is not None:  # printed only where another cell was read: say so, it is not this cell's own print
        out["comment"] = (comment + " " if comment else "") + f"[value printed only as {taken}, at {span.start}]"
    elif where != "near":
        out["comment"] = (comment + " " if comment else "") + f"[value found elsewhere in the document, at {span.start}]"
    return out


def _reading_span(c: Cell, value: str) -> Span | None:
    """The characters of the cell that already print ``value``: its own grounded reading, or one of
    its candidate readings (run-together digits)."""
    try:
        kind, v = parse_value(value)
    except ValueError:
        return None
    if c.kind == kind and c.span is not None and c.grounded is not False and (kind == "not_applicable" or c.value == v):
        return c.span
    if c.kind == "ambiguous" and v is not None:
        spans = [x.span for x in c.candidates if x.value is not None and x.value == v and x.span is not None]
        if len(spans) == 1:
            return spans[0]
    return None


def _current(record: Record, key: str) -> str | None:
    if key.startswith("fact:"):
        f = find_fact(record, key)
        return None if f is None else str(f.value)
    c = find_cell(record, key)
    if c is None:
        return None
    return c.raw or (None if c.value is None else str(c.value))
