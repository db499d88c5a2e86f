"""The decision per record: accepted, needs_review (with reasons) or failed — the one function.

Every caller decides through :func:`decide`: the pipeline (no review yet), and the application of
reviewers' decisions (:mod:`extractor.decisions`, used by the review app, the report, the
exports, ``records.jsonl``/``cells.csv``/``findings.csv``, the run summary and ``extractor eval --db``).

A record is ``accepted`` when no finding is open: every failing or uncertain check (``FAIL``,
``UNCERTAIN``) is either gone or *settled* by a reviewer's decision on it, and every value is
grounded — a number that does not re-read from its span is a ``G.GROUNDED`` finding, and a value
with no grounding finding at all that is not grounded keeps the record open too. Otherwise it
``needs_review``, with one reason per kind of open finding; ``failed`` when unreadable.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..model import OPEN_STATUSES, Record
from .groups import group_findings

_VALUES = ("number", "zero", "not_applicable")


def decide(record: Record, settled: Mapping[str, Any] | None = None) -> None:
    """Set ``record.decision`` and ``record.reasons``.

    ``settled`` maps finding ids to the reviewer decisions that settle them (objects with
    ``action``, ``reviewer`` and ``own``; see :class:`extractor.decisions.Review`). The
    pipeline passes none."""
    settled = settled or {}
    if record.error:
        record.decision = "failed"
        record.reasons = [record.error]
        return
    reasons: list[str] = []
    if not record.tables and not any(f.id == "G.COMPLETE:document" for f in record.findings):
        reasons.append("no report table found")  # a record stored before the finding said so
    # one question per cause (verify/groups.py): ADVISORY findings never block, settled ones are answered
    by_class: dict[str, list[list[Any]]] = {}
    for g in group_findings(record):
        open_ = [f for f in g.findings if f.status in OPEN_STATUSES and f.id not in settled]
        if open_:
            by_class.setdefault(g.classification, []).append(open_)
    for cls in sorted(by_class, key=lambda c: (c != "source_inconsistency", c)):
        questions = by_class[cls]
        fs = [f for q in questions for f in q]
        rules = ", ".join(sorted({f.rule for f in fs}))
        if cls == "source_inconsistency":
            reasons.append(f"source_inconsistency: {len(questions)} question(s) — the published report breaks "
                           f"{len(fs)} check(s) ({rules}); numbers kept as printed")
        else:
            reasons.append(f"{cls}: {len(questions)} question(s), {len(fs)} finding(s) ({rules})")
    checked = {f.scope for f in record.findings if f.rule == "G.GROUNDED"}
    ungrounded = [c for c in record.cells()
                  if c.kind in _VALUES and c.grounded is not True and c.ref not in checked and
                  (c.kind != "not_applicable" or c.grounded is False)]
    if ungrounded:
        reasons.append(f"{len(ungrounded)} value(s) not grounded ({', '.join(c.ref for c in ungrounded[:5])})")
    mine = [rv for fid, rv in settled.items() if any(f.id == fid for f in record.findings)]
    if reasons:
        record.decision = "needs_review"
        if mine:
            reasons.append(f"{len(mine)} finding(s) settled by review")
        record.reasons = reasons
        return
    record.decision = "accepted"
    record.reasons = []
    if mine:
        who = sorted({getattr(rv, "reviewer", "") for rv in mine} - {""})
        record.reasons.append(f"accepted after review: {len(mine)} finding(s) settled"
                              + (f" by {', '.join(who)}" if who else ""))
        repaired = [f for f in record.findings if f.classification == "source_inconsistency" and f.status == "PASS"]
        if repaired:
            record.reasons.append(f"{len(repaired)} published inconsistenc{'y' if len(repaired) == 1 else 'ies'} "
                                  "repaired by a reviewer's correction; listed as published")
        sources = [rv for rv in mine if getattr(rv, "action", "") == "confirm_source"]
        if sources:
            record.reasons.append(f"{len(sources)} source inconsistenc{'y' if len(sources) == 1 else 'ies'} "
                                  "confirmed; numbers kept as printed")
        own = {getattr(rv, "cell", None) for rv in mine if getattr(rv, "own", False)}
        if own:
            record.reasons.append(f"{len(own)} value(s) are the reviewer's own, not printed in the source "
                                  f"({', '.join(sorted(k for k in own if k))})")
