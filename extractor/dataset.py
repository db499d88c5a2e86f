"""A dataset analysts can query: every value of every report, by body and year.

``build_dataset(store, out_dir, fmt)`` writes three tables (Parquet or CSV), each loadable as it is
by pandas, DuckDB and polars:

* ``long``  — one row per extracted value: body, year, table, row, column, value (float) and
  value_exact (the decimal as a string), kind, decision, producer, grounded, document and its
  SHA-256, and the value's span in the source file (span_start, span_end, page);
* ``wide``  — one row per body and year: the report's identity and decision, its cross-year
  findings, and one column per value (``table3__new_received__total``; statistical-table
  indicators by their canonical key, ``legacy__applications_received__year``);
* ``crossyear`` — one row per cross-year finding, naming both reports, with the reviewer's decision
  on it (``open``, ``decision``, ``decided_by``, ``decided_at``, ``decision_comment``, ``decision_quote``).

Records and cross-year findings come with reviewers' decisions applied (:mod:`extractor.reviewed`;
:func:`dataset_from_store`); only accepted records unless ``include_all``. Bodies come from :mod:`extractor.bodies` (a mapping file wins). Values that are not
numbers (blank, not applicable, ambiguous, text) have no ``value``; their kind says which — a blank
is never written as 0.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from .bodies import Mapping
from .crossyear import CrossFinding, CrossResult, evaluate
from .errors import ExtractorError
from .model import Cell, Record
from .reviewed import reviewed_crossyear, reviewed_records

DATASET_FORMATS = ("parquet", "csv")
LONG_COLUMNS: list[tuple[str, str]] = [
    ("body", "string"), ("year", "int"), ("organ", "string"), ("format", "string"), ("decision", "string"),
    ("table", "string"), ("row", "string"), ("column", "string"), ("label", "string"), ("unit", "string"),
    ("value", "float"), ("value_exact", "string"), ("kind", "string"), ("raw", "string"), ("producer", "string"),
    ("grounded", "bool"), ("document", "string"), ("sha256", "string"), ("span_start", "int"),
    ("span_end", "int"), ("page", "int"),
]
WIDE_FIXED: list[tuple[str, str]] = [
    ("body", "string"), ("year", "int"), ("organ", "string"), ("format", "string"), ("decision", "string"),
    ("document", "string"), ("sha256", "string"), ("documents", "int"), ("other_sha256", "string"),
    ("crossyear_checks", "int"), ("crossyear_open", "int"), ("crossyear_open_rules", "string"),
    ("crossyear_settled", "int"),
]
CROSS_COLUMNS: list[tuple[str, str]] = [
    ("body", "string"), ("rule", "string"), ("version", "int"), ("status", "string"),
    ("classification", "string"), ("scope", "string"), ("year_n", "int"), ("year_n1", "int"),
    ("document_n", "string"), ("document_n1", "string"), ("sha256_n", "string"), ("sha256_n1", "string"),
    ("arithmetic", "string"), ("message", "string"), ("operands", "string"),
    ("open", "bool"), ("decision", "string"), ("decided_by", "string"), ("decided_at", "string"),
    ("decision_comment", "string"), ("decision_quote", "string"),
]


@dataclass
class DatasetResult:
    paths: dict[str, Path]
    rows: dict[str, int]
    records: int
    skipped: dict[str, int] = field(default_factory=dict)  # why records were left out, by reason


def _number(c: Cell) -> tuple[float | None, str | None]:
    if c.kind not in ("number", "zero") or c.value is None:
        return None, None
    v = c.value
    exact = format(v, "f") if isinstance(v, Decimal) else str(v)
    return float(v), exact


def _row_key(c: Cell) -> str:
    return c.key or c.row if c.table == "legacy" else c.row


def long_rows(rec: Record, body: str | None, year: int | None) -> list[dict[str, Any]]:
    out = []
    for c in rec.cells():
        value, exact = _number(c)
        out.append({
            "body": body, "year": year, "organ": rec.organ, "format": rec.format, "decision": rec.decision,
            "table": c.table, "row": _row_key(c), "column": c.col, "label": c.label, "unit": c.unit,
            "value": value, "value_exact": exact, "kind": c.kind, "raw": c.raw, "producer": c.producer,
            "grounded": c.grounded, "document": rec.document.name, "sha256": rec.document.sha256,
            "span_start": c.span.start if c.span else None, "span_end": c.span.end if c.span else None,
            "page": c.span.page if c.span else None,
        })
    return out


def wide_values(rec: Record) -> dict[str, float | None]:
    vals: dict[str, float | None] = {}
    for c in rec.cells():
        if c.table == "legacy" and not c.key:
            continue  # an indicator without a canonical key has no stable column; it is in the long table
        name = f"{c.table}__{_row_key(c)}__{c.col}"
        if name not in vals:
            vals[name] = _number(c)[0]
    return vals


def _representative(recs: list[Record]) -> Record:
    """The report that stands for a body-year printed more than once: accepted first, then the one
    with the most numbers, then by SHA-256 (deterministic)."""
    def score(r: Record) -> tuple[int, int, str]:
        nums = sum(1 for c in r.cells() if c.kind in ("number", "zero"))
        return (0 if r.decision == "accepted" else 1, -nums, r.document.sha256)
    return sorted(recs, key=score)[0]


def cross_rows(findings: Iterable[CrossFinding]) -> list[dict[str, Any]]:
    out = []
    for f in findings:
        d = f.settled_by or {}
        out.append({
            "body": f.body, "rule": f.rule, "version": f.version, "status": f.status,
            "classification": f.classification, "scope": f.scope, "year_n": f.prev.year, "year_n1": f.next.year,
            "document_n": f.prev.name, "document_n1": f.next.name, "sha256_n": f.prev.sha256,
            "sha256_n1": f.next.sha256, "arithmetic": f.arithmetic, "message": f.message,
            "operands": json.dumps([json.loads(o.model_dump_json()) for o in f.operands], ensure_ascii=False),
            "open": f.open, "decision": d.get("action"), "decided_by": d.get("reviewer"),
            "decided_at": _iso(d.get("at")), "decision_comment": d.get("comment"), "decision_quote": d.get("quote"),
        })
    return out


def _iso(ts: Any) -> str | None:
    import datetime as _dt  # noqa: PLC0415

    return None if not ts else _dt.datetime.fromtimestamp(float(ts)).isoformat(timespec="seconds")


def dataset_from_store(store: Any, out_dir: str | Path, fmt: str = "parquet", *, include_all: bool = False,
                       mapping: Mapping | None = None) -> DatasetResult:
    """``extractor dataset``: the store's records and cross-year findings as the reviewers left them."""
    recs = list(reviewed_records(store))
    return build_dataset(recs, out_dir, fmt, include_all=include_all, mapping=mapping,
                         cross=reviewed_crossyear(store, recs, mapping))


def build_dataset(records: Iterable[Record], out_dir: str | Path, fmt: str = "parquet", *,
                  include_all: bool = False, mapping: Mapping | None = None,
                  cross: CrossResult | None = None) -> DatasetResult:
    """Write ``long``, ``wide`` and ``crossyear`` into ``out_dir`` (records: decisions applied;
    ``cross``: the cross-year findings with their decisions, else evaluated here without any)."""
    if fmt not in DATASET_FORMATS:
        raise ExtractorError(f"unknown dataset format {fmt!r} (use {' or '.join(DATASET_FORMATS)})")
    recs = list(records)
    cross = cross if cross is not None else evaluate(recs, mapping)
    assignments = cross.assignments
    kept: list[Record] = []
    skipped: dict[str, int] = {}
    for r in recs:
        if r.decision == "failed":
            skipped["failed"] = skipped.get("failed", 0) + 1
        elif not include_all and r.decision != "accepted":
            skipped[r.decision] = skipped.get(r.decision, 0) + 1
        else:
            kept.append(r)
    long: list[dict[str, Any]] = []
    groups: dict[tuple[str, int | None, str], list[Record]] = {}  # (body, year, sha256 when no body)
    for r in kept:
        a = assignments.get(r.document.sha256)
        body = a.body if a else None
        year = a.year if a else r.year
        long.extend(long_rows(r, body, year))
        groups.setdefault((body or "", year, "" if body else r.document.sha256), []).append(r)

    problems: dict[str, list[CrossFinding]] = {}
    checks: dict[str, int] = {}
    settled: dict[str, int] = {}
    for f in cross.findings:
        for sha in (f.prev.sha256, f.next.sha256):
            checks[sha] = checks.get(sha, 0) + 1
            if f.open:
                problems.setdefault(sha, []).append(f)
            elif f.settled_by is not None:
                settled[sha] = settled.get(sha, 0) + 1
    wide: list[dict[str, Any]] = []
    value_cols: dict[str, None] = {}
    for (body, year, _), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2])):
        rep = _representative(rs)
        sha = rep.document.sha256
        vals = wide_values(rep)
        value_cols.update(dict.fromkeys(vals))
        probs = problems.get(sha, [])
        wide.append({
            "body": body or None, "year": year, "organ": rep.organ, "format": rep.format, "decision": rep.decision,
            "document": rep.document.name, "sha256": sha, "documents": len(rs),
            "other_sha256": " ".join(r.document.sha256 for r in rs if r is not rep) or None,
            "crossyear_checks": checks.get(sha, 0), "crossyear_open": len(probs),
            "crossyear_open_rules": " ".join(sorted({f"{f.rule}@{f.version}" for f in probs})) or None,
            "crossyear_settled": settled.get(sha, 0),
            **vals,
        })
    wide_cols = WIDE_FIXED + [(c, "float") for c in sorted(value_cols)]
    for row in wide:
        for c, _ in wide_cols:
            row.setdefault(c, None)
    cross_kept = [f for f in cross.findings
                  if include_all or (f.prev.decision == "accepted" and f.next.decision == "accepted")]
    tables = {"long": (LONG_COLUMNS, long), "wide": (wide_cols, wide), "crossyear": (CROSS_COLUMNS, cross_rows(cross_kept))}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, (cols, rows) in tables.items():
        path = out / f"{name}.{fmt}"
        tmp = path.with_name(path.name + ".tmp")
        (_write_parquet if fmt == "parquet" else _write_csv)(tmp, cols, rows)
        tmp.replace(path)
        paths[name] = path
    return DatasetResult(paths=paths, rows={k: len(v[1]) for k, v in tables.items()}, records=len(kept),
                         skipped=skipped)


def _write_csv(path: Path, cols: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([c for c, _ in cols])
        for r in rows:
            w.writerow([_csv_cell(r.get(c), t) for c, t in cols])


def _csv_cell(v: Any, t: str) -> Any:
    if v is None:
        return ""
    if t == "bool":
        return str(v).lower()
    if t == "float" and float(v).is_integer():
        return int(v)
    return v


def _write_parquet(path: Path, cols: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    try:
        import pyarrow as pa  # noqa: PLC0415
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise ExtractorError("writing Parquet needs pyarrow (pip install pyarrow), or use --format csv") from exc
    types = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(c, types[t]) for c, t in cols])
    arrays = [pa.array([r.get(c) for r in rows], type=types[t]) for c, t in cols]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)
