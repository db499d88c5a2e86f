"""The decision per record: accepted, needs_review (with reasons) or failed."""

from __future__ import annotations

from collections import Counter

from ..model import Record
from .groups import group_findings


def decide(record: Record) -> None:
    if record.error:
        record.decision = "failed"
        record.reasons = [record.error]
        return
    reasons: list[str] = []
    if not record.tables:
        reasons.append("no report table found")
    # one question per cause (verify/groups.py); ADVISORY findings never block
    groups = [g for g in group_findings(record) if g.blocking]
    problems = [f for g in groups for f in g.findings if f.status in ("FAIL", "UNCERTAIN")]
    by_rule = Counter(f.rule for f in problems)
    by_class: dict[str, list] = {}
    for g in groups:
        by_class.setdefault(g.classification, []).append(g)
    for cls in sorted(by_class, key=lambda c: (c != "source_inconsistency", c)):
        gs = by_class[cls]
        fs = [f for g in gs for f in g.findings if f.status in ("FAIL", "UNCERTAIN")]
        rules = ", ".join(sorted({f.rule for f in fs}))
        if cls == "source_inconsistency":
            reasons.append(f"source_inconsistency: {len(gs)} question(s) — the published report breaks {len(fs)} "
                           f"check(s) ({rules}); numbers kept as printed")
        else:
            reasons.append(f"{cls}: {len(gs)} question(s), {len(fs)} finding(s) ({rules})")
    ungrounded = [c for c in record.cells() if c.kind in ("number", "zero") and c.grounded is not True]
    if ungrounded and not by_rule.get("G.GROUNDED"):
        reasons.append(f"{len(ungrounded)} value(s) not grounded")
    record.reasons = reasons
    record.decision = "needs_review" if reasons else "accepted"
