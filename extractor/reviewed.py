"""The one place the series layer (cross-year checks, the dataset, the series view, the review app's
cross-year items) gets what the reviewers left: records with their decisions applied — through the
one decision path, :func:`extractor.decisions.reviewed_documents` (``apply_reviews`` →
``verify.decide``) — and cross-year findings evaluated over those records with the decisions on
cross-year findings applied (:mod:`extractor.crossyear_reviews`).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from dataclasses import dataclass, field

from .bodies import DocKey, Mapping, assign, default_mapping_path, load_mapping
from .crossyear import (CrossResult, PairView, Series, StoredView, crossyear_rules, evaluate, evaluate_pairs,
                        pair_view_json, rules_fingerprint, view_stamp)
from pydantic import ValidationError

from .model import Record
from .decisions import apply_reviews, reviewed_documents
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
    rules = crossyear_rules()
    result = evaluate(reviewed_records(store), mapping_of(store) if mapping is None else mapping, rules)
    store.save_series(result.assignments.values(), result.findings, rules=rules_fingerprint(rules))
    return _with_decisions(store, result)


@dataclass
class CrossUpdate:
    """What :func:`update_store` did, and the figures of every stored cross-year finding after it."""

    full: bool  # every pair evaluated (first time, rules changed)
    documents: int = 0  # documents whose record, decisions, body or year changed
    pairs: int = 0  # pairs evaluated now
    findings: int = 0  # findings made now
    counts: dict[str, int] = field(default_factory=dict)  # Store.crossyear_counts()


def update_store(store: Any, mapping: Mapping | None = None) -> CrossUpdate:
    """The cross-year findings brought up to date with the store, evaluating only the pairs of the
    body-years that changed: a record saved or decided again since the last evaluation, a document
    that joined or left a body or changed year (``bodies.yaml``, a new name that qualifies an older
    one), a document no longer stored. Each such document's body-year and its neighbours are read
    (reviewed) and their consecutive pairs evaluated again; every other finding stays. The result is
    the same set of findings a full pass (:func:`evaluate_store`) saves. A change of the cross-year
    rules, or a store never evaluated, makes it a full pass."""
    mapping = mapping_of(store) if mapping is None else mapping
    rules = crossyear_rules()
    stamps = store.record_stamps()
    fingerprint = rules_fingerprint(rules)
    full = store.meta("crossyear_rules") != fingerprint  # never evaluated, or other rules: every pair
    keys = store.doc_keys()
    new = assign((DocKey(*k) for k in keys), mapping)  # names only: no record is read
    old = {} if full else store.series_state()
    gone = [sha for sha in old if sha not in new]
    changed = [sha for sha, a in new.items()
               if sha not in old or old[sha]["stamp"] != stamps.get(sha) or old[sha]["body"] != a.body
               or old[sha]["year"] != a.year or old[sha]["how"] != a.how or old[sha]["note"] != a.note
               or old[sha]["organ"] != a.organ]
    affected: dict[str, set[int]] = {}  # body -> years whose pairs are evaluated again
    for sha in changed + gone:
        for body, year in ((old[sha]["body"], old[sha]["year"]) if sha in old else (None, None),
                           (new[sha].body, new[sha].year) if sha in new else (None, None)):
            if body is not None and year is not None:
                affected.setdefault(body, set()).add(year)
    if not changed and not gone and not full:
        return CrossUpdate(False, 0, 0, 0, store.crossyear_counts())
    by_year: dict[tuple[str, int], list[str]] = {}
    for sha, a in new.items():
        if a.body in affected and a.year is not None:
            by_year.setdefault((a.body, a.year), []).append(sha)
    read: set[str] = set()  # the documents of the affected years and their neighbours
    touched: set[str] = set(gone)  # findings naming these are replaced
    for body, years in affected.items():
        for y in years:
            touched.update(by_year.get((body, y), []))
            if (body, y - 1) not in by_year and (body, y + 1) not in by_year:
                continue  # no neighbouring year: no pair, nothing to read
            for yy in (y - 1, y, y + 1):
                read.update(by_year.get((body, yy), []))
    touched.update(sha for sha in changed if sha in old)
    series: dict[str, Series] = {}
    for sha, rec in _pair_records(store, sorted(read)).items():
        a = new[sha]
        series.setdefault(a.body, Series(a.body)).years.setdefault(a.year, []).append(rec)
    for s in series.values():
        for recs in s.years.values():
            recs.sort(key=lambda r: r.document.sha256)
    pair_years = {b: {y0 for y in ys for y0 in (y - 1, y)} for b, ys in affected.items()}
    findings, pairs = evaluate_pairs(series, pair_years, rules)
    if full:
        store.save_series(new.values(), findings, rules=fingerprint, stamps=stamps)
    else:
        store.update_series([new[sha] for sha in changed], gone, touched, findings, stamps)
    return CrossUpdate(full, len(changed) + len(gone), pairs, len(findings), store.crossyear_counts())


def _pair_records(store: Any, shas: Iterable[str]) -> dict[str, Record | PairView]:
    """Stored records as the cross-year rules see them. A record with reviewers' decisions: read whole
    and the decisions applied (they change what is authoritative). Any other: its view stored beside
    it (:func:`extractor.crossyear.pair_view_json`; its decision is the one :func:`apply_reviews` would
    make again: the record was decided by the same function before it was stored) when the view was
    cut for these rules; else the record, read whole, and its view stored for the next time (a
    database of an earlier extractor, other rules)."""
    reviewed = store.reviewed_shas()
    stamp = view_stamp()
    out: dict[str, Record | PairView] = {}
    fresh: list[tuple[str, str]] = []  # views made now: (sha256, JSON)
    for sha in shas:
        if sha in reviewed:
            out[sha] = apply_reviews(store.record(sha), store.reviews(sha)).record
            continue
        view = _stored_view(store.pair_view(sha), stamp)
        if view is None:
            rec = store.record(sha)
            fresh.append((sha, pair_view_json(rec)))
            out[sha] = rec
        else:
            out[sha] = view
    if fresh:
        store.put_pair_views(fresh)
    return out


def _stored_view(text: str | None, stamp: str) -> StoredView | None:
    """A stored view when there is one of this ``stamp`` (one of another form may not even parse)."""
    if not text:
        return None
    try:
        view = StoredView.model_validate_json(text)
    except ValidationError:
        return None
    return view if view.stamp == stamp else None
