"""The decision per record: accepted, needs_review (with reasons) or failed."""

from __future__ import annotations

from collections import Counter

from ..model import Record


def decide(record: Record) -> None:
    if record.error:
        record.decision = "failed"
        record.reasons = [record.error]
        return
    reasons: list[str] = []
    if not record.tables:
        reasons.append("no report table found")
    problems = [f for f in record.findings if f.status in ("FAIL", "UNCERTAIN")]
    by_class = Counter(f.classification for f in problems)
    by_rule = Counter(f.rule for f in problems)
    if by_class.get("source_inconsistency"):
        rules = sorted({f.rule for f in problems if f.classification == "source_inconsistency"})
        reasons.append(
            f"source_inconsistency: the published report breaks {by_class['source_inconsistency']} "
            f"identity check(s) ({', '.join(rules)}); numbers kept as printed"
        )
    for cls, n in sorted(by_class.items()):
        if cls == "source_inconsistency":
            continue
        rules = sorted({f.rule for f in problems if f.classification == cls})
        reasons.append(f"{cls}: {n} finding(s) ({', '.join(rules)})")
    ungrounded = [c for c in record.cells() if c.kind in ("number", "zero") and c.grounded is not True]
    if ungrounded and not by_rule.get("G.GROUNDED"):
        reasons.append(f"{len(ungrounded)} value(s) not grounded")
    record.reasons = reasons
    record.decision = "needs_review" if reasons else "accepted"
