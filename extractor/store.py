"""SQLite state of a run: documents, records, cells, findings, reviews; and the output files.

Every document is keyed by the SHA-256 of its bytes. A document's record, cells and findings are
written in one transaction, so a run killed at any point leaves either all of a document or none
of it; the next run skips documents already done (``force`` redoes them) and the output files
are regenerated from the database, so they never hold duplicates.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from .decisions import apply_reviews, canonical, reviews_by_document  # the one place reviews are applied
from .errors import ExtractorError
from .model import Record

SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS documents (
  sha256 TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT,
  url TEXT,
  kind TEXT,
  status TEXT NOT NULL,             -- done | failed | error
  decision TEXT,
  error TEXT,
  updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  sha256 TEXT PRIMARY KEY REFERENCES documents(sha256),
  format TEXT, organ TEXT, year INTEGER, decision TEXT,
  json TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
  sha256 TEXT NOT NULL, tbl TEXT NOT NULL, row TEXT NOT NULL, col TEXT NOT NULL,
  value TEXT, kind TEXT, raw TEXT, span_start INTEGER, span_end INTEGER, page INTEGER,
  producer TEXT, label TEXT, unit TEXT, key TEXT, grounded INTEGER, note TEXT,
  PRIMARY KEY (sha256, tbl, row, col)
);
CREATE TABLE IF NOT EXISTS findings (
  sha256 TEXT NOT NULL, id TEXT NOT NULL, rule TEXT, version INTEGER, status TEXT,
  classification TEXT, severity TEXT, scope TEXT, message TEXT, arithmetic TEXT, json TEXT,
  PRIMARY KEY (sha256, id)
);
CREATE TABLE IF NOT EXISTS reviews (
  sha256 TEXT NOT NULL, finding_id TEXT NOT NULL,
  action TEXT NOT NULL,              -- accept | correct | confirm_source
  cell TEXT, value TEXT, grounded INTEGER, comment TEXT,
  reviewer TEXT, created_at REAL NOT NULL,
  PRIMARY KEY (sha256, finding_id)
);
-- every decision ever taken (reviews holds the current one per finding; reopen is logged too)
CREATE TABLE IF NOT EXISTS review_log (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  sha256 TEXT NOT NULL, finding_id TEXT NOT NULL,
  action TEXT NOT NULL,              -- accept | correct | confirm_source | reopen
  cell TEXT, value TEXT, grounded INTEGER, comment TEXT,
  reviewer TEXT, created_at REAL NOT NULL
);
-- series across years (extractor/crossyear.py), recomputed as a whole from the records
CREATE TABLE IF NOT EXISTS bodies (
  sha256 TEXT PRIMARY KEY, body TEXT, year INTEGER, organ TEXT, how TEXT, note TEXT
);
CREATE TABLE IF NOT EXISTS crossyear_findings (
  prev_sha256 TEXT NOT NULL, next_sha256 TEXT NOT NULL, id TEXT NOT NULL,
  body TEXT, rule TEXT, version INTEGER, status TEXT, classification TEXT, severity TEXT,
  scope TEXT, message TEXT, arithmetic TEXT, json TEXT,
  PRIMARY KEY (prev_sha256, next_sha256, id)
);
-- reviewers' decisions on cross-year findings (extractor/crossyear_reviews.py), keyed by both reports and the
-- finding's stable id: they outlive `extractor run --force` and `extractor crossyear` (which replace
-- crossyear_findings); `arithmetic` is what the reviewer saw (a decision on other numbers settles nothing)
CREATE TABLE IF NOT EXISTS crossyear_reviews (
  prev_sha256 TEXT NOT NULL, next_sha256 TEXT NOT NULL, finding_id TEXT NOT NULL,
  action TEXT NOT NULL,              -- accept | confirm_source | explained
  comment TEXT, reviewer TEXT, created_at REAL NOT NULL, arithmetic TEXT,
  quote TEXT, quote_doc TEXT, span_start INTEGER, span_end INTEGER, page INTEGER,
  PRIMARY KEY (prev_sha256, next_sha256, finding_id)
);
CREATE TABLE IF NOT EXISTS crossyear_review_log (
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  prev_sha256 TEXT NOT NULL, next_sha256 TEXT NOT NULL, finding_id TEXT NOT NULL,
  action TEXT NOT NULL,              -- accept | confirm_source | explained | reopen
  comment TEXT, reviewer TEXT, created_at REAL NOT NULL, arithmetic TEXT, quote TEXT
);
-- the cross-year findings with their decisions, for SQL users (open = failing/uncertain, not settled)
CREATE VIEW IF NOT EXISTS crossyear_decided AS
  SELECT f.prev_sha256, f.next_sha256, f.id, f.body, f.rule, f.version, f.status,
    CASE WHEN r.action = 'confirm_source' AND f.status = 'FAIL' AND (r.arithmetic IS NULL OR r.arithmetic = f.arithmetic)
      THEN 'source_inconsistency' ELSE f.classification END AS classification,
    f.scope, f.message, f.arithmetic,
    CASE WHEN f.status IN ('FAIL', 'UNCERTAIN') AND (r.action IS NULL OR (r.arithmetic IS NOT NULL AND r.arithmetic != f.arithmetic))
      THEN 1 ELSE 0 END AS open,
    r.action AS decision, r.reviewer AS decided_by, r.created_at AS decided_at, r.comment AS decision_comment
  FROM crossyear_findings f LEFT JOIN crossyear_reviews r
    ON r.prev_sha256 = f.prev_sha256 AND r.next_sha256 = f.next_sha256 AND r.finding_id = f.id;
"""

# Columns added to existing tables after their first release (additive migration, see _migrate).
ADDED_COLUMNS = {
    "reviews": [
        ("span_start", "INTEGER"),  # where a corrected value was found in the original text
        ("span_end", "INTEGER"),
        ("page", "INTEGER"),
        ("prior", "TEXT"),  # the cell's value when the decision was taken
    ],
}


class StoreError(ExtractorError):
    """The database cannot be used (not SQLite, corrupt, locked, read-only, folder not writable)."""


def database_problem(path: str | Path, exc: BaseException) -> str:
    """One line saying why the database at ``path`` cannot be used."""
    msg = str(exc) or type(exc).__name__
    low = msg.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        why = f"it is not an extractor database or it is damaged ({msg})"
    elif "locked" in low or "busy" in low:
        why = f"it is locked by another process ({msg}); wait for it or use another folder"
    elif "readonly" in low or "read-only" in low or "permission" in low or "unable to open" in low:
        why = f"it cannot be written ({msg}); check the permissions of the file and its folder"
    else:
        why = msg
    return f"cannot use the database {path}: {why}"


def check_database(path: str | Path) -> Path:
    """Open an existing database read-only and read its schema: a clear :class:`StoreError` when it
    is missing, not SQLite, damaged or locked (commands that only read a database call this first)."""
    p = Path(path)
    if not p.exists():
        raise StoreError(f"no database at {p} (run `extractor run PATHS --out DIR` first)")
    if not p.is_file():
        raise StoreError(f"{p} is not a database file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise StoreError(f"cannot read the database {p}: {exc.strerror or exc}") from exc
    if head and head != b"SQLite format 3\x00":
        raise StoreError(f"cannot use the database {p}: it is not an SQLite database")
    try:
        c = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            c.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
            c.execute("PRAGMA quick_check(1)").fetchall() if p.stat().st_size < 64 * 1024 * 1024 else None
        finally:
            c.close()
    except sqlite3.Error as exc:
        raise StoreError(database_problem(p, exc)) from exc
    return p


class DocumentRows(NamedTuple):
    """One record as the rows :meth:`Store.save` writes (plain values: cheap to send between processes)."""

    document: tuple  # documents row without updated_at
    record: tuple  # records row without created_at
    cells: list[tuple]
    findings: list[tuple]


def document_rows(record: Record) -> DocumentRows:
    d = record.document
    sha = d.sha256
    status = "failed" if record.decision == "failed" else "done"
    return DocumentRows(
        (sha, d.name, d.path, d.url, d.kind, status, record.decision, record.error),
        (sha, record.format, record.organ, record.year, record.decision, record.model_dump_json()),
        cell_rows(sha, record),
        finding_rows(sha, record),
    )


def cell_rows(sha: str, record: Record) -> list[tuple]:
    return [
        (sha, c.table, c.row, c.col, None if c.value is None else str(c.value), c.kind, c.raw,
         c.span.start if c.span else None, c.span.end if c.span else None,
         c.span.page if c.span else None, c.producer, c.label, c.unit, c.key,
         None if c.grounded is None else int(c.grounded), c.note)
        for c in record.cells()
    ]


def finding_rows(sha: str, record: Record) -> list[tuple]:
    return [
        (sha, f.id, f.rule, f.version, f.status, f.classification, f.severity, f.scope, f.message,
         f.arithmetic, f.model_dump_json())
        for f in record.findings
    ]


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder {self.path.parent}: {exc.strerror or exc}") from exc
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path} is not a database file")
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(database_problem(self.path, exc)) from exc
        try:
            self.db.row_factory = sqlite3.Row
            self.db.executescript(SCHEMA)
            self._migrate()
        except sqlite3.Error as exc:
            self.db.close()
            raise StoreError(database_problem(self.path, exc)) from exc

    def _migrate(self) -> None:
        """Add columns introduced after a database was created (never drops or renames anything)."""
        with self.db:
            for table, cols in ADDED_COLUMNS.items():
                have = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
                for name, decl in cols:
                    if name not in have:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        self.db.close()

    def check_writable(self, wait: float = 5.0) -> None:
        """Take and release a write lock: a clear :class:`StoreError` now (read-only file, locked by
        another process: given up after ``wait`` seconds) instead of on the first document."""
        self.db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("CREATE TABLE IF NOT EXISTS _extractor_probe (x)")
            self.db.execute("DROP TABLE _extractor_probe")
            self.db.rollback()
        except sqlite3.Error as exc:
            try:
                self.db.rollback()
            except sqlite3.Error:
                pass
            raise StoreError(database_problem(self.path, exc)) from exc
        finally:
            self.db.execute("PRAGMA busy_timeout = 30000")

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----------------------------------------------------------------- documents
    def is_done(self, sha256: str) -> bool:
        row = self.db.execute("SELECT status FROM documents WHERE sha256=?", (sha256,)).fetchone()
        return row is not None and row["status"] in ("done", "failed")

    def save(self, record: Record) -> None:
        """Write one document's record, cells and findings atomically (replacing earlier ones).

        ``records.json`` keeps the record as the extractor made it; the decision columns and the
        ``cells``/``findings`` rows are the authoritative record: the reviewers' stored decisions on
        this document applied on top (so a re-run with ``--force`` re-applies them)."""
        with self.db:
            self._write_rows(document_rows(record), record)

    def save_rows(self, rows: "DocumentRows", *, commit: bool = True) -> None:
        """:meth:`save` for a record already turned into rows (by a worker process). With
        ``commit=False`` the rows join the open transaction (the caller commits several whole
        documents at once)."""
        if commit:
            with self.db:
                self._write_rows(rows)
        else:
            self._write_rows(rows)

    def _write_rows(self, rows: "DocumentRows", record: Record | None = None) -> None:
        sha = rows.document[0]
        now = time.time()
        self.db.execute("INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?)", (*rows.document, now))
        self.db.execute("INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?)", (*rows.record, now))
        if self.db.execute("SELECT 1 FROM reviews WHERE sha256=? LIMIT 1", (sha,)).fetchone():
            self._write_authoritative(sha, record if record is not None else self.record(sha))
            return
        self.db.execute("DELETE FROM cells WHERE sha256=?", (sha,))  # no reviews: the rows as made
        self.db.execute("DELETE FROM findings WHERE sha256=?", (sha,))
        self.db.executemany("INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows.cells)
        self.db.executemany("INSERT OR REPLACE INTO findings VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows.findings)

    def _write_authoritative(self, sha: str, record: Record) -> None:
        """Decision columns, ``cells`` and ``findings`` rows of the record with its reviews applied
        (inside the caller's transaction)."""
        rows = self.reviews(sha)
        if rows:
            record = apply_reviews(record, rows).record
        self.db.execute("UPDATE documents SET decision=? WHERE sha256=?", (record.decision, sha))
        self.db.execute("UPDATE records SET decision=? WHERE sha256=?", (record.decision, sha))
        self.db.execute("DELETE FROM cells WHERE sha256=?", (sha,))
        self.db.execute("DELETE FROM findings WHERE sha256=?", (sha,))
        self.db.executemany("INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            cell_rows(sha, record))
        self.db.executemany("INSERT OR REPLACE INTO findings VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                            finding_rows(sha, record))

    def refresh(self, sha256: str) -> None:
        """Re-apply the stored decisions on one document (the decision columns, cells, findings)."""
        with self.db:
            self._refresh_in(sha256)

    def _refresh_in(self, sha256: str) -> None:
        rec = self.record(sha256)
        if rec is not None:
            self._write_authoritative(sha256, rec)

    def save_error(self, sha256: str, name: str, path: str, error: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                (sha256, name, path, None, None, "error", "failed", error, time.time()),
            )

    def records(self) -> Iterator[Record]:
        for row in self.db.execute("SELECT json FROM records ORDER BY rowid"):
            yield Record.model_validate_json(row["json"])

    def record(self, sha256: str) -> Record | None:
        row = self.db.execute("SELECT json FROM records WHERE sha256=?", (sha256,)).fetchone()
        return Record.model_validate_json(row["json"]) if row else None

    def authoritative_record(self, sha256: str) -> Record | None:
        """The record as every output shows it: the reviewers' decisions on it applied."""
        rec = self.record(sha256)
        rows = self.reviews(sha256) if rec is not None else []
        if not rows:
            return rec

        return apply_reviews(rec, rows).record

    def counts(self) -> dict[str, int]:
        return {
            r["decision"] or "?": r["n"]
            for r in self.db.execute("SELECT decision, COUNT(*) AS n FROM documents GROUP BY decision")
        }

    # ----------------------------------------------------------------- reviews
    def reviews(self, sha256: str | None = None) -> list[sqlite3.Row]:
        if sha256:
            return list(self.db.execute("SELECT * FROM reviews WHERE sha256=?", (sha256,)))
        return list(self.db.execute("SELECT * FROM reviews"))

    def review(self, sha256: str, finding_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM reviews WHERE sha256=? AND finding_id=?", (sha256, finding_id)
        ).fetchone()

    def put_review(
        self, sha256: str, finding_id: str, action: str, *, reviewer: str, comment: str = "",
        cell: str | None = None, value: str | None = None, grounded: bool | None = None,
        span: tuple[int, int, int | None] | None = None, prior: str | None = None,
        created_at: float | None = None,
    ) -> None:
        """Store the decision on one finding (replacing an earlier one) and log it."""
        if action not in ("accept", "correct", "confirm_source"):
            raise ValueError(f"unknown review action {action!r}")
        now = time.time() if created_at is None else created_at
        g = None if grounded is None else int(grounded)
        s0, s1, page = span if span else (None, None, None)
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO reviews (sha256, finding_id, action, cell, value, grounded, comment, "
                "reviewer, created_at, span_start, span_end, page, prior) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (sha256, finding_id, action, cell, value, g, comment, reviewer, now, s0, s1, page, prior),
            )
            self.db.execute(
                "INSERT INTO review_log (sha256, finding_id, action, cell, value, grounded, comment, reviewer, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (sha256, finding_id, action, cell, value, g, comment, reviewer, now),
            )
            self._refresh_in(sha256)

    def delete_review(self, sha256: str, finding_id: str, *, reviewer: str = "", comment: str = "") -> bool:
        """Reopen a finding: drop its decision (the log keeps it). True when there was one."""
        with self.db:
            cur = self.db.execute("DELETE FROM reviews WHERE sha256=? AND finding_id=?", (sha256, finding_id))
            if cur.rowcount:
                self.db.execute(
                    "INSERT INTO review_log (sha256, finding_id, action, comment, reviewer, created_at) "
                    "VALUES (?,?,?,?,?,?)",
                    (sha256, finding_id, "reopen", comment, reviewer, time.time()),
                )
                self._refresh_in(sha256)
        return bool(cur.rowcount)

    def review_log(self, sha256: str | None = None) -> list[sqlite3.Row]:
        if sha256:
            return list(self.db.execute("SELECT * FROM review_log WHERE sha256=? ORDER BY n", (sha256,)))
        return list(self.db.execute("SELECT * FROM review_log ORDER BY n"))

    def documents(self) -> list[sqlite3.Row]:
        """Every document of the run (failed ones included), in the order they were first stored."""
        return list(self.db.execute("SELECT * FROM documents ORDER BY rowid"))

    # ----------------------------------------------------------------- outputs
    def write_outputs(self, out_dir: str | Path) -> dict[str, Path]:
        """records.jsonl, cells.csv and findings.csv, regenerated from the database: the authoritative
        records, i.e. each record with the reviewers' decisions applied (values a reviewer set have
        producer ``reviewer`` and carry who and when; settled findings say by whom)."""

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "records": out / "records.jsonl",
            "cells": out / "cells.csv",
            "findings": out / "findings.csv",
        }
        tmp = {k: p.with_suffix(p.suffix + ".tmp") for k, p in paths.items()}
        reviews = reviews_by_document(self)
        with open(tmp["records"], "w", encoding="utf-8") as rf, \
                open(tmp["cells"], "w", encoding="utf-8", newline="") as cf, \
                open(tmp["findings"], "w", encoding="utf-8", newline="") as ff:
            cw, fw = csv.writer(cf), csv.writer(ff)
            cw.writerow(["document", "sha256", "table", "row", "col", "value", "kind", "raw", "span_start",
                         "span_end", "page", "producer", "grounded", "label", "unit", "key", "note",
                         "reviewer", "reviewed_at", "review_comment"])
            fw.writerow(["document", "sha256", "id", "rule", "version", "status", "classification", "severity",
                         "scope", "message", "arithmetic", "open", "decision_by", "decision", "decided_at"])
            for rec in self.records():
                rv = apply_reviews(rec, reviews.get(rec.document.sha256, []))
                r = rv.record
                name, sha = r.document.name, r.document.sha256
                line = canonical(rv)
                line["skipped"] = r.skipped
                line["record"] = json.loads(r.model_dump_json())
                rf.write(json.dumps(line, ensure_ascii=False) + "\n")
                for c in r.cells():
                    by = rv.corrected.get(c.ref) if c.producer == "reviewer" else None
                    sp = c.span
                    cw.writerow([name, sha, c.table, c.row, c.col, "" if c.value is None else str(c.value), c.kind,
                                 c.raw, sp.start if sp else "", sp.end if sp else "", sp.page if sp and sp.page else "",
                                 c.producer, "" if c.grounded is None else int(c.grounded), c.label or "",
                                 c.unit or "", c.key or "", c.note, by.reviewer if by else "",
                                 _iso(by.created_at) if by else "", by.comment if by else ""])
                for f in r.findings:
                    if f.status == "PASS" and f.id not in rv.settled_by:
                        continue
                    by = rv.settled_by.get(f.id)
                    fw.writerow([name, sha, f.id, f.rule, f.version, f.status, f.classification, f.severity,
                                 f.scope, f.message, f.arithmetic,
                                 "yes" if f.status in ("FAIL", "UNCERTAIN") and by is None else "no",
                                 by.reviewer if by else "", by.action if by else "",
                                 _iso(by.created_at) if by else ""])
        for k, p in paths.items():
            tmp[k].replace(p)
        return paths

    # ----------------------------------------------------------------- series across years
    def save_series(self, assignments: Iterable[Any], findings: Iterable[Any]) -> None:
        """Replace every body assignment and cross-year finding in one transaction
        (``extractor.bodies.Assignment`` and ``extractor.crossyear.CrossFinding`` objects)."""
        with self.db:
            self.db.execute("DELETE FROM bodies")
            self.db.execute("DELETE FROM crossyear_findings")
            self.db.executemany(
                "INSERT OR REPLACE INTO bodies VALUES (?,?,?,?,?,?)",
                [(a.sha256, a.body, a.year, a.organ, a.how, a.note) for a in assignments],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO crossyear_findings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(f.prev.sha256, f.next.sha256, f.id, f.body, f.rule, f.version, f.status, f.classification,
                  f.severity, f.scope, f.message, f.arithmetic, f.model_dump_json()) for f in findings],
            )

    def bodies(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM bodies ORDER BY body, year, sha256"))

    def crossyear_reviews(self) -> list[sqlite3.Row]:
        """Every reviewer's decision on a cross-year finding (one per pair of reports and finding)."""
        return list(self.db.execute("SELECT * FROM crossyear_reviews ORDER BY created_at"))

    def put_crossyear_review(
        self, prev_sha256: str, next_sha256: str, finding_id: str, action: str, *, reviewer: str,
        comment: str = "", arithmetic: str | None = None, quote: str | None = None, quote_doc: str | None = None,
        span: tuple[int, int, int | None] | None = None, created_at: float | None = None,
    ) -> None:
        """Store the decision on one cross-year finding (replacing an earlier one) and log it."""
        if action not in ("accept", "confirm_source", "explained"):
            raise ValueError(f"unknown cross-year decision {action!r}")
        now = time.time() if created_at is None else created_at
        s0, s1, page = span if span else (None, None, None)
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO crossyear_reviews (prev_sha256, next_sha256, finding_id, action, comment, "
                "reviewer, created_at, arithmetic, quote, quote_doc, span_start, span_end, page) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (prev_sha256, next_sha256, finding_id, action, comment, reviewer, now, arithmetic, quote, quote_doc,
                 s0, s1, page),
            )
            self.db.execute(
                "INSERT INTO crossyear_review_log (prev_sha256, next_sha256, finding_id, action, comment, reviewer, "
                "created_at, arithmetic, quote) VALUES (?,?,?,?,?,?,?,?,?)",
                (prev_sha256, next_sha256, finding_id, action, comment, reviewer, now, arithmetic, quote),
            )

    def delete_crossyear_review(self, prev_sha256: str, next_sha256: str, finding_id: str, *, reviewer: str = "",
                                comment: str = "") -> bool:
        """Reopen a cross-year finding: drop its decision (the log keeps it). True when there was one."""
        with self.db:
            cur = self.db.execute(
                "DELETE FROM crossyear_reviews WHERE prev_sha256=? AND next_sha256=? AND finding_id=?",
                (prev_sha256, next_sha256, finding_id))
            if cur.rowcount:
                self.db.execute(
                    "INSERT INTO crossyear_review_log (prev_sha256, next_sha256, finding_id, action, comment, "
                    "reviewer, created_at) VALUES (?,?,?,?,?,?,?)",
                    (prev_sha256, next_sha256, finding_id, "reopen", comment, reviewer, time.time()))
        return bool(cur.rowcount)

    def crossyear_review_log(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM crossyear_review_log ORDER BY n"))

    def crossyear_findings(self, sha256: str | None = None) -> list[sqlite3.Row]:
        """Cross-year findings (those naming ``sha256`` as either report, when given)."""
        if sha256:
            return list(self.db.execute(
                "SELECT * FROM crossyear_findings WHERE prev_sha256=? OR next_sha256=? ORDER BY rowid",
                (sha256, sha256)))
        return list(self.db.execute("SELECT * FROM crossyear_findings ORDER BY rowid"))


def _iso(ts: float | None) -> str:
    import datetime as _dt  # noqa: PLC0415

    return "" if not ts else _dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- one writer per folder

LOCK_NAME = ".extractor.lock"


@contextmanager
def folder_lock(folder: str | Path, option: str = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on an output folder (``<folder>/.extractor.lock``, flock) for one
    writing command; a second one on the same folder stops at once with a clear error. Creates the
    folder, and says clearly when it cannot (a file in the way, no permission)."""
    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise StoreError(f"{option} {d} is a file, not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the output folder {d}: {exc.strerror or exc}") from exc
    p = d / LOCK_NAME
    try:
        fh = open(p, "a+", encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot write in the output folder {d}: {exc.strerror or exc}") from exc
    try:
        try:
            import fcntl  # noqa: PLC0415 - POSIX only; elsewhere the folder is not locked
        except ImportError:
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                fh.seek(0)
                holder = fh.read().strip()[:200] or "another process"
                raise StoreError(f"{d} is in use by another extractor command ({holder}); wait for it to finish "
                                 f"or use another {option}") from exc
        os.ftruncate(fh.fileno(), 0)
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        yield p
    finally:
        fh.close()  # releases the lock
