"""The one place the series layer (cross-year checks, the dataset, the series view, the review app's
cross-year items) gets what the reviewers left: records with their decisions applied — through the
one decision path, :func:`extractor.decisions.reviewed_documents` (``apply_reviews`` →
``verify.decide``) — and cross-year findings evaluated over those records with the decisions on
cross-year findings applied (:mod:`extractor.crossyear_reviews`).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from .bodies import Mapping, default_mapping_path, load_mapping
from .crossyear import CrossResult, evaluate
from .model import Record
from .decisions import reviewed_documents
from .crossyear_reviews import apply_cross_reviews


def reviewed_records(store: Any) -> Iterator[Record]:
    """Every stored record as the reviewers left it (corrections applied, decision recomputed)."""
    for rv in reviewed_documents(store):
        yield rv.record


def mapping_of(store: Any) -> Mapping:
    """The bodies mapping file beside the store's database (empty when there is none)."""
    return load_mapping(default_mapping_path(store.path))


def reviewed_crossyear(store: Any, records: Iterable[Record] | None = None, mapping: Mapping | None = None
                       ) -> CrossResult:
    """Cross-year findings over ``records`` (default: every stored record, reviewed) with the
    reviewers' decisions on cross-year findings applied (``result.stale`` lists those that settle
    nothing now). ``mapping``: the bodies mapping (default: the file beside the database)."""
    recs = reviewed_records(store) if records is None else records
    result = evaluate(recs, mapping_of(store) if mapping is None else mapping)
    return _with_decisions(store, result)


def _with_decisions(store: Any, result: CrossResult) -> CrossResult:
    applied = apply_cross_reviews(result.findings, store.crossyear_reviews())
    result.findings = applied.findings
    result.stale = applied.stale
    return result


def evaluate_store(store: Any, mapping: Mapping | None = None) -> CrossResult:
    """Evaluate the cross-year rules over the store's reviewed records, save the bodies and the
    findings as evaluated (replacing the previous ones; decisions are kept in their own table) and
    return them with the decisions applied."""
    result = evaluate(reviewed_records(store), mapping_of(store) if mapping is None else mapping)
    store.save_series(result.assignments.values(), result.findings)
    return _with_decisions(store, result)
