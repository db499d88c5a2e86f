"""Verification: grounding, the declared identities, and the decision. Reads Records only."""

from __future__ import annotations

from ..document import Document
from ..model import Finding, Record
from .decide import decide
from .engine import check_identities
from .grounding import check_grounding

__all__ = ["verify_record", "decide", "check_identities", "check_grounding"]


def verify_record(record: Record, doc: Document) -> list[Finding]:
    """Ground every cell, evaluate every identity, and return the findings (PASS included)."""
    findings = check_grounding(record, doc)
    findings.extend(check_identities(record))
    return findings
