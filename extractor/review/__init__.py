"""Reviewers' decisions: applying them to records (:mod:`.decisions`, no web framework) and the local
review web app (:mod:`.app`, FastAPI; imported only by ``extractor review``)."""

from .decisions import (
    ACTIONS,
    DecisionError,
    Review,
    Reviewed,
    apply_reviews,
    locate_value,
    prepare_decision,
    reviewed_record,
    reviewed_records,
)

__all__ = [
    "ACTIONS", "DecisionError", "Review", "Reviewed", "apply_reviews", "locate_value", "prepare_decision",
    "reviewed_record", "reviewed_records",
]
