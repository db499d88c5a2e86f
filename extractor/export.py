"""Exports of accepted records (CSV, XLSX, JSONL), with reviewers' decisions applied.

A record is exported when it is accepted: by the extractor, or after review (its last open finding
settled). Every value says who produced it; values a reviewer set have ``producer = reviewer`` and
carry the reviewer, the time and the comment (in XLSX they are also shaded). ``include_all`` exports
every record with its decision instead.

* ``csv``  — one row per cell;
* ``xlsx`` — sheets ``records`` (one row per document), ``cells`` (one row per cell), ``reviews``
  (every decision in force); needs openpyxl; text starting with ``= + - @`` is written as text
  (quote-prefixed), never as a formula;
* ``jsonl`` — one record per line in the canonical form of ``gold-format.md`` plus ``reviewer_values``,
  ``reviews`` and ``sha256``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from .errors import ExtractorError
from .decisions import Review, Reviewed, reviewed_documents
from .decisions import canonical
from .store import Store

EXPORT_FORMATS = ("csv", "xlsx", "jsonl")
CELL_COLUMNS = [
    "document", "sha256", "organ", "year", "format", "decision", "table", "row", "col", "label", "unit", "key",
    "value", "kind", "raw", "producer", "grounded", "span_start", "span_end", "page",
    "reviewer", "reviewed_at", "review_comment", "was",
]
RECORD_COLUMNS = ["document", "sha256", "organ", "year", "format", "decision", "accepted_by", "cells",
                  "reviewer_values", "findings_settled", "source_violations", "reasons", "path"]
REVIEW_COLUMNS = ["document", "sha256", "finding_id", "action", "cell", "value", "grounded", "comment", "reviewer",
                  "created_at"]


def _iso(ts: float | None) -> str:
    return "" if not ts else _dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds")


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and v.as_tuple().exponent >= 0 else float(v)  # type: ignore[operator]
    return v


def selected(store: Store, include_all: bool = False) -> list[Reviewed]:
    return [rv for rv in reviewed_documents(store) if include_all or rv.record.decision == "accepted"]


def exported_cells(rv: Reviewed) -> Iterable[dict[str, Any]]:
    r = rv.record
    originals = {c.ref: c for c in rv.original.cells()}
    for c in r.cells():
        rev: Review | None = rv.corrected.get(c.ref)
        was = originals.get(c.ref)
        yield {
            "document": r.document.name, "sha256": r.document.sha256, "organ": r.organ, "year": r.year,
            "format": r.format, "decision": r.decision, "table": c.table, "row": c.row, "col": c.col,
            "label": c.label or "", "unit": c.unit or "", "key": c.key or "",
            "value": _plain(c.gold_value()), "kind": c.kind, "raw": c.raw, "producer": c.producer,
            "grounded": c.grounded, "span_start": c.span.start if c.span else None,
            "span_end": c.span.end if c.span else None, "page": c.span.page if c.span else None,
            "reviewer": rev.reviewer if rev else "", "reviewed_at": _iso(rev.created_at) if rev else "",
            "review_comment": rev.comment if rev else "",
            "was": (_plain(was.gold_value()) if rev and was is not None else None),
        }


def record_row(rv: Reviewed) -> dict[str, Any]:
    r = rv.record
    return {
        "document": r.document.name, "sha256": r.document.sha256, "organ": r.organ, "year": r.year,
        "format": r.format, "decision": r.decision,
        "accepted_by": ("review" if rv.accepted_by_review else "extractor") if r.decision == "accepted" else "",
        "cells": len(r.cells()), "reviewer_values": len(rv.corrected), "findings_settled": len(rv.settled),
        "source_violations": len([f for f in r.findings if f.classification == "source_inconsistency"
                                  and f.status in ("FAIL", "PASS")]),  # PASS: as published, repaired by a correction
        "reasons": " · ".join(r.reasons), "path": r.document.path,
    }


def review_rows(rv: Reviewed) -> Iterable[dict[str, Any]]:
    for f, rev in rv.settled:
        yield {"document": rv.record.document.name, "sha256": rv.record.document.sha256, "finding_id": f.id,
               "action": rev.action, "cell": rev.cell or "", "value": rev.value or "", "grounded": rev.grounded,
               "comment": rev.comment, "reviewer": rev.reviewer, "created_at": _iso(rev.created_at)}


def export_records(store: Store, fmt: str, out: str | Path, *, include_all: bool = False) -> int:
    """Write the accepted records (or all, ``include_all``) to ``out``; returns how many records."""
    if fmt not in EXPORT_FORMATS:
        raise ExtractorError(f"unknown export format {fmt!r} (choose from {', '.join(EXPORT_FORMATS)})")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    recs = selected(store, include_all)
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel opens the Chinese right
            w = csv.DictWriter(fh, fieldnames=CELL_COLUMNS)
            w.writeheader()
            for rv in recs:
                for row in exported_cells(rv):
                    w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    elif fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as fh:
            for rv in recs:
                fh.write(json.dumps(canonical(rv), ensure_ascii=False, default=str) + "\n")
    else:
        _xlsx(recs, tmp)
    tmp.replace(path)
    return len(recs)


def _xlsx(recs: list[Reviewed], path: Path) -> None:
    try:
        from openpyxl import Workbook  # noqa: PLC0415
        from openpyxl.styles import Font, PatternFill  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise ExtractorError("XLSX export needs openpyxl (pip install openpyxl)") from exc
    wb = Workbook()
    bold = Font(bold=True)
    reviewer_fill = PatternFill("solid", start_color="D6E4FF", end_color="D6E4FF")

    def sheet(title: str, columns: list[str], rows: Iterable[dict[str, Any]], first: bool = False):
        ws = wb.active if first else wb.create_sheet()
        ws.title = title
        ws.append(columns)
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
        for row in rows:
            ws.append([_cell(row.get(c)) for c in columns])
            for cell in ws[ws.max_row]:
                _as_text(cell)
            if row.get("producer") == "reviewer":
                for cell in ws[ws.max_row]:
                    cell.fill = reviewer_fill
        for i, c in enumerate(columns, 1):
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = max(8, min(40, len(c) + 4))
        return ws

    sheet("records", RECORD_COLUMNS, (record_row(rv) for rv in recs), first=True)
    sheet("cells", CELL_COLUMNS, (row for rv in recs for row in exported_cells(rv)))
    sheet("reviews", REVIEW_COLUMNS, (row for rv in recs for row in review_rows(rv)))
    wb.save(path)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _as_text(cell) -> None:
    """A string is written as text, never as a formula or an error value: openpyxl makes a string
    starting with ``=`` a formula (and ``#N/A`` an error), and Excel evaluates ``+ - @`` on edit.
    The text is kept as it is (quote prefix style, nothing added to the value)."""
    v = cell.value
    if isinstance(v, str) and (v.startswith(FORMULA_START) or cell.data_type in ("f", "e")):
        cell.data_type = "s"
        cell.quotePrefix = True


def _cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (int, float, str, bool)):
        return v
    return str(v)
