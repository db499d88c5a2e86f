"""The one place the series layer (cross-year checks, the dataset, the series view) gets records
with reviewers' decisions applied.

Today the decision function lives in :mod:`extractor.review.decisions`; when it moves, re-point the
two functions below and nothing else changes.
"""

from __future__ import annotations

from typing import Any, Iterator

from .model import Record


def reviewed_records(store: Any) -> Iterator[Record]:
    """Every stored record as the reviewers left it (corrections applied, decision recomputed)."""
    from .review.decisions import reviewed_records as _reviewed  # noqa: PLC0415

    for rv in _reviewed(store):
        yield rv.record


def reviewed_record(store: Any, sha256: str) -> Record | None:
    from .review.decisions import reviewed_record as _reviewed_one  # noqa: PLC0415

    rv = _reviewed_one(store, sha256)
    return None if rv is None else rv.record
