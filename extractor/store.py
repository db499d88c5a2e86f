"""SQLite state of a run: documents, records, cells, findings, reviews; and the output files.

Every document is keyed by the SHA-256 of its bytes. A document's record, cells and findings are
written in one transaction, so a run killed at any point leaves either all of a document or none
of it; the next run skips documents already done (``force`` redoes them).

Storage (schema version 3): a record is stored once, as zlib-compressed JSON without its default
values (``records.json``); beside it the head of its ``records.jsonl`` line (the canonical form,
reviewers' decisions applied, compressed) and, when reviewers changed it, the reviewed record
(``records.reviewed``). ``cells`` holds every cell, ``findings`` the checks that did not pass (every
check is in the record), both keyed by the document's number (``documents.id``); the views
``document_cells`` and ``document_findings`` add its SHA-256, name and the reviewers' decisions (and a
cell's table, row and column, which ``cells`` names by a number from ``cell_names``). A
database written before (schema 1, 2 or 3) is migrated when it is opened.

Output files (``records.jsonl.gz``, ``cells.csv.gz``, ``findings.csv.gz``; uncompressed
``records.jsonl``, ... with ``extractor run --plain-outputs``) grow by appending: each new
document's block (a gzip member of its own in the compressed files, the CSV header row another) is
written at the files' committed sizes inside its transaction, and its byte ranges are committed
with it (table ``outputs``; names, sizes and inodes of the files in ``output_files``): one commit
per document. A tail beyond the committed size (a kill between the append and the commit, a
transaction rolled back, or one lost with ``synchronous=NORMAL``) is overwritten by the next
append, cut off when the files are next opened, and the document is written again. A document
whose record or decisions changed is written again at the end of the run: the files are copied
without its old lines (bytes, no parsing) and the new ones appended, then renamed into place, so a
reader never sees two versions of a document. A full rewrite from the database
only on request (``extractor run --rewrite-outputs``), when the files do not match the database,
or when the other kind of files is asked for.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import json
import os
import re
import sqlite3
import struct
import time
import zlib
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from .crossyear import CrossFinding, pair_view_json
from .decisions import apply_reviews, canonical, reviews_by_document  # the one place reviews are applied
from .errors import ExtractorError
from .model import Record

SCHEMA_VERSION = 4

# Rows of a document in ``cells`` and ``findings`` name it by ``documents.id`` (a small integer, not the
# 64-character SHA-256); the views ``document_cells`` and ``document_findings`` give them with the
# document's SHA-256 and name and the reviewer's decision. What the record says and these rows would
# only repeat (a cell's printed label, how it was read) is in the record (``records.json``) only.
# A cell names its place by a number too (``cell_names``: table, row, column, the same few hundred
# in every report): the names would be most of a row's bytes.
CELL_NAMES_DDL = """CREATE TABLE IF NOT EXISTS cell_names (
  id INTEGER PRIMARY KEY,           -- cells.cell
  tbl TEXT NOT NULL, row TEXT NOT NULL, col TEXT NOT NULL,
  UNIQUE (tbl, row, col)
)"""
CELLS_DDL = """CREATE TABLE IF NOT EXISTS cells (
  doc_id INTEGER NOT NULL,          -- documents.id
  cell INTEGER NOT NULL,            -- cell_names.id: the table, row and column
  value TEXT, kind TEXT, raw TEXT, span_start INTEGER, span_end INTEGER, page INTEGER,
  producer TEXT,                    -- NULL: parser (the default, as in the record; the view says it)
  grounded INTEGER, unit TEXT, key TEXT,
  review TEXT,                      -- the finding id of the reviewer's decision that set the value (reviews)
  PRIMARY KEY (doc_id, cell)
) WITHOUT ROWID"""
FINDINGS_DDL = """CREATE TABLE IF NOT EXISTS findings (
  doc_id INTEGER NOT NULL, id TEXT NOT NULL, rule TEXT, version INTEGER, status TEXT,
  classification TEXT, severity TEXT, scope TEXT, message TEXT, arithmetic TEXT,
  group_key TEXT,                   -- the cause it belongs to (one question for a reviewer); NULL: none
  settled_by TEXT,                  -- the finding id of the reviewer's decision that settles it (reviews)
  PRIMARY KEY (doc_id, id)
) WITHOUT ROWID"""
DOCUMENTS_DDL = """CREATE TABLE IF NOT EXISTS documents (
  id INTEGER PRIMARY KEY,           -- this database's number for the document (cells/findings rows name it)
  sha256 TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  path TEXT,
  url TEXT,
  kind TEXT,
  status TEXT NOT NULL,             -- done | failed | error
  decision TEXT,
  error TEXT,
  updated_at REAL NOT NULL
)"""
DOCUMENT_COLUMNS = ("sha256", "name", "path", "url", "kind", "status", "decision", "error", "updated_at")
# a document saved again keeps its id (an INSERT OR REPLACE would give it a new one)
UPSERT_DOCUMENT = (f"INSERT INTO documents ({', '.join(DOCUMENT_COLUMNS)}) VALUES ({', '.join('?' * 9)}) "
                   "ON CONFLICT(sha256) DO UPDATE SET "
                   + ", ".join(f"{c}=excluded.{c}" for c in DOCUMENT_COLUMNS[1:]) + " RETURNING id")

INSERT_CELL = "INSERT OR REPLACE INTO cells VALUES (" + ", ".join("?" * 13) + ")"
INSERT_FINDING = "INSERT OR REPLACE INTO findings VALUES (" + ", ".join("?" * 12) + ")"

SCHEMA = """
PRAGMA journal_mode=WAL;
%DOCUMENTS%;
-- json: the record as the extractor made it (zlib of its JSON without default values);
-- head: its records.jsonl line without the record (zlib), reviewed: the record with the reviewers'
-- decisions applied (zlib; NULL when no decision changes it); out_stamp: when head/reviewed changed;
-- pair_view: what the cross-year rules read of the record (zlib; extractor.crossyear.pair_view_json)
CREATE TABLE IF NOT EXISTS records (
  sha256 TEXT PRIMARY KEY REFERENCES documents(sha256),
  format TEXT, organ TEXT, year INTEGER, decision TEXT,
  json BLOB NOT NULL,
  created_at REAL NOT NULL,
  head BLOB, reviewed BLOB, out_stamp REAL, pair_view BLOB
);
%CELL_NAMES%;
%CELLS%;
-- the checks that did not pass (and those a reviewer settled); every check is in the record
%FINDINGS%;
-- where each document's lines are in the output files (byte offset and length per file), as of stamp
CREATE TABLE IF NOT EXISTS outputs (
  sha256 TEXT PRIMARY KEY, stamp REAL,
  r0 INTEGER, rn INTEGER, c0 INTEGER, cn INTEGER, f0 INTEGER, fn INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS output_files (
  name TEXT PRIMARY KEY, folder TEXT NOT NULL, size INTEGER NOT NULL, ino INTEGER NOT NULL
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
  scope TEXT, message TEXT, arithmetic TEXT, json BLOB,  -- zlib of the finding's JSON without defaults
  PRIMARY KEY (prev_sha256, next_sha256, id)
);
CREATE INDEX IF NOT EXISTS crossyear_next ON crossyear_findings (next_sha256);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX IF NOT EXISTS bodies_body ON bodies (body, year);
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
SCHEMA = SCHEMA.replace("%CELL_NAMES%", CELL_NAMES_DDL).replace("%CELLS%", CELLS_DDL).replace("%FINDINGS%", FINDINGS_DDL).replace("%DOCUMENTS%", DOCUMENTS_DDL)

# Made once the tables are in their current form (after a migration).
VIEWS = """
-- cells and findings with their document's SHA-256 and name and the reviewer's decision, for SQL users
CREATE VIEW IF NOT EXISTS document_cells AS
  SELECT d.sha256, d.name AS document, n.tbl, n.row, n.col, c.value, c.kind, c.raw, c.span_start, c.span_end,
    c.page, COALESCE(c.producer, 'parser') AS producer, c.grounded, c.unit, c.key, r.reviewer, r.created_at AS reviewed_at,
    r.comment AS review_comment
  FROM cells c JOIN documents d ON d.id = c.doc_id JOIN cell_names n ON n.id = c.cell
  LEFT JOIN reviews r ON c.review IS NOT NULL AND r.sha256 = d.sha256 AND r.finding_id = c.review;
CREATE VIEW IF NOT EXISTS document_findings AS
  SELECT d.sha256, d.name AS document, f.id, f.rule || '@' || f.version AS ref, f.rule, f.version, f.status,
    f.classification, f.severity, f.scope, f.group_key, f.message, f.arithmetic,
    CASE WHEN f.status IN ('FAIL', 'UNCERTAIN') AND f.settled_by IS NULL THEN 1 ELSE 0 END AS open,
    r.reviewer AS decision_by, r.action AS decision, r.created_at AS decided_at
  FROM findings f JOIN documents d ON d.id = f.doc_id
  LEFT JOIN reviews r ON f.settled_by IS NOT NULL AND r.sha256 = d.sha256 AND r.finding_id = f.settled_by;
-- a document removed takes its cells and findings with it (recursive_triggers: a REPLACE too)
CREATE TRIGGER IF NOT EXISTS documents_gone AFTER DELETE ON documents BEGIN
  DELETE FROM cells WHERE doc_id = OLD.id;
  DELETE FROM findings WHERE doc_id = OLD.id;
END;
"""

# Columns added to existing tables after their first release (additive migration, see _migrate).
ADDED_COLUMNS = {
    "bodies": [("stamp", "REAL")],  # the record's out_stamp when its cross-year checks were evaluated
    "records": [("pair_view", "BLOB")],  # NULL (older extractor): made when the cross-year update reads it
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


# zlib level of every stored blob and output gzip member: level 5 is 1.4x faster than 6 on a record's
# JSON and 1 % bigger (bench/bench_scale.py prints the output size per document)
ZLIB_LEVEL = 5


def pack(text: str) -> bytes:
    """What a JSON column holds: zlib of the UTF-8 text (a record's JSON shrinks about 10x)."""
    return zlib.compress(text.encode("utf-8"), ZLIB_LEVEL)


def pack_spliced(data: bytes) -> bytes:
    """zlib of ``data`` whose deflate data ends on a byte boundary before an empty last block: still
    an ordinary zlib stream (:func:`unpack` reads it), and its deflate data can go unchanged into a
    gzip member around it (:func:`gz_around`), so a record is compressed once for the database and
    ``records.jsonl.gz``."""
    c = zlib.compressobj(ZLIB_LEVEL)
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH) + c.flush(zlib.Z_FINISH)


_SPLICE_TAIL = b"\x00\x00\xff\xff\x03\x00"  # sync flush (empty stored block), empty final block; then adler32


def unpack(blob: bytes | str | None) -> str:
    """The text of a JSON column (plain text as written before schema 2 is read as it is)."""
    if blob is None:
        return ""
    if isinstance(blob, str):
        return blob
    return zlib.decompress(blob).decode("utf-8")


def record_json(record: Record) -> str:
    """A record's stored JSON: its values without the defaults (``Record.model_validate_json`` fills them)."""
    return record_utf8(record).decode("utf-8")


def record_utf8(record: Record) -> bytes:
    """:func:`record_json` as UTF-8, the serializer's bytes (``model_dump_json`` decodes them)."""
    return record.__pydantic_serializer__.to_json(record, exclude_defaults=True)


# ----------------------------------------------------------------------------- gzip members
# Compressed output files are gzip files of one member per document (and one for a CSV's header row):
# a document's block can be appended, cut out by a byte copy and a torn tail cut off, exactly as in
# the plain files, and the file is still one gzip file to every reader (gzip, pandas, DuckDB, zcat).
_GZ_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0: the same bytes every run


def gz_member(data: bytes) -> bytes:
    """``data`` as one gzip member (nothing for nothing)."""
    if not data:
        return b""
    c = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15)
    return (_GZ_HEADER + c.compress(data) + c.flush()
            + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))


def gz_around(before: bytes, blob: bytes, inner: bytes, after: bytes) -> bytes:
    """The gzip member of ``before + inner + after`` where ``blob`` is ``inner`` as
    :func:`pack_spliced` stored it: its deflate data is used as it is (no second compression of the
    record); ``before`` and ``after`` are compressed around it. Any other zlib blob: compressed anew."""
    data_len = len(before) + len(inner) + len(after)
    crc = zlib.crc32(after, zlib.crc32(inner, zlib.crc32(before)))
    if len(blob) < 8 or blob[-10:-4] != _SPLICE_TAIL or blob[1] & 0x20:  # not spliceable (or a preset dict)
        return gz_member(before + inner + after)
    c = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15)
    head = c.compress(before) + c.flush(zlib.Z_SYNC_FLUSH)
    t = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15)
    tail = t.compress(after) + t.flush()
    return _GZ_HEADER + head + blob[2:-6] + tail + struct.pack("<II", crc, data_len & 0xFFFFFFFF)


class DocumentRows(NamedTuple):
    """One record as the rows :meth:`Store.save` writes (plain values: cheap to send between processes),
    with its lines for the output files (written as made: the writer redoes them when the document has
    reviewers' decisions)."""

    document: tuple  # documents row (DOCUMENT_COLUMNS) without updated_at
    record: tuple  # (sha256, format, organ, year, decision, json, head, pair_view): the last three compressed
    cells: list[tuple]  # rows of ``cells`` without the document id (the writer knows it)
    findings: list[tuple]  # rows of ``findings`` without the document id
    gz: tuple[bytes, bytes, bytes]  # its blocks of records.jsonl.gz, cells.csv.gz, findings.csv.gz (the
    # plain files' blocks are these decompressed: one form to send between processes)


def document_rows(record: Record) -> DocumentRows:
    d = record.document
    sha = d.sha256
    status = "failed" if record.decision == "failed" else "done"
    rv = apply_reviews(record, [])  # no decisions: decided again, as every output shows it
    text = record_utf8(record)
    blob = pack_spliced(text)
    head = line_head(rv)
    cells, cell_lines = cell_rows(rv)
    findings, finding_lines = finding_rows(rv)
    return DocumentRows(
        (sha, d.name, d.path, d.url, d.kind, status, record.decision, record.error),
        (sha, record.format, record.organ, record.year, record.decision, blob, pack(head),
         pack(pair_view_json(record))),
        cells,
        findings,
        (gz_line(head, blob, text), gz_member(_csv_text(cell_lines, _lead(record))),
         gz_member(_csv_text(finding_lines, _lead(record)))),
    )


def cell_rows(rv: Any) -> tuple[list[tuple], list[tuple]]:
    """A reviewed record's ``cells`` rows (without the document id; ``review``: the finding id of
    the reviewer's decision that set the value) and its ``cells.csv`` rows (values a reviewer set
    have producer ``reviewer`` and carry who and when), from one pass over its cells. A CSV field
    ``None`` is written empty; the CSV rows without their first two fields, the document's name and
    SHA-256 (:func:`_csv_text` puts them in front)."""
    r = rv.record
    corrected = rv.corrected
    rows, lines = [], []
    for c in r.cells():
        table, row, col, value, kind, raw, sp, producer, grounded, unit, key, label, note = _CELL_FIELDS(c)
        by = corrected.get(c.ref) if producer == "reviewer" else None
        s0, s1, page = (None, None, None) if sp is None else (sp.start, sp.end, sp.page)
        if value is not None:
            value = str(value)
        if grounded is not None:
            grounded = int(grounded)
        rows.append((table, row, col, value, kind, raw, s0, s1, page,
                     None if producer == "parser" else producer, grounded, unit, key,
                     by.finding_id if by else None))
        lines.append((table, row, col, value, kind, raw, s0, s1, page or None,
                      producer, grounded, label, unit, key, note,
                      *((by.reviewer, _iso(by.created_at), by.comment) if by else (None, None, None))))
    return rows, lines


# the fields of a Cell that its rows carry, read in one call (a cell's rows are made for every cell)
_CELL_FIELDS = attrgetter("table", "row", "col", "value", "kind", "raw", "span", "producer", "grounded", "unit",
                          "key", "label", "note")


def finding_rows(rv: Any) -> tuple[list[tuple], list[tuple]]:
    """A reviewed record's ``findings`` rows (without the document id) and ``findings.csv`` rows:
    the checks that did not pass, and those a reviewer settled (``settled_by``: by whom); the CSV rows
    without the document's name and SHA-256, as :func:`cell_rows`."""
    r = rv.record
    settled = rv.settled_by
    rows, lines = [], []
    for f in r.findings:
        by = settled.get(f.id)
        if f.status == "PASS" and by is None:
            continue
        rows.append((f.id, f.rule, f.version, f.status, f.classification, f.severity, f.scope, f.message,
                     f.arithmetic, f.group or None, by.finding_id if by else None))
        lines.append((f.id, f.rule, f.version, f.status, f.classification, f.severity,
                      f.scope, f.message, f.arithmetic,
                      "yes" if f.status in ("FAIL", "UNCERTAIN") and by is None else "no",
                      *((by.reviewer, by.action, _iso(by.created_at)) if by else ("", "", "")), f.ref, f.group))
    return rows, lines


def _csv_text(lines: list[tuple], lead: tuple = ()) -> bytes:
    """CSV rows as UTF-8 bytes, each after the fields ``lead`` (the same in every row: a document's
    name and SHA-256, half of a row's characters, written once and put in front of each row)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    if not lead:
        w.writerows(lines)
        return buf.getvalue().encode("utf-8")
    w.writerow(lead)
    head = buf.getvalue()[:-len(w.dialect.lineterminator)] + w.dialect.delimiter
    buf.seek(0)
    buf.truncate()
    for line in lines:
        buf.write(head)
        w.writerow(line)
    return buf.getvalue().encode("utf-8")


def _lead(record: Record) -> tuple[str, str]:
    """The first fields of a document's rows in ``cells.csv`` and ``findings.csv``."""
    return record.document.name, record.document.sha256


CELLS_HEADER = ["document", "sha256", "table", "row", "col", "value", "kind", "raw", "span_start",
                "span_end", "page", "producer", "grounded", "label", "unit", "key", "note",
                "reviewer", "reviewed_at", "review_comment"]
FINDINGS_HEADER = ["document", "sha256", "id", "rule", "version", "status", "classification", "severity",
                   "scope", "message", "arithmetic", "open", "decision_by", "decision", "decided_at",
                   "ref", "group"]


def line_head(rv: Any) -> str:
    """A reviewed record's ``records.jsonl`` line without the record itself (see :func:`output_line`)."""
    line = canonical(rv)
    line["skipped"] = rv.record.skipped
    return json.dumps(line, ensure_ascii=False)


def output_line(head: str, record_text: str) -> str:
    """The ``records.jsonl`` line: the head with the record (its stored JSON) as the last key."""
    return head[:-1] + ', "record": ' + record_text + "}\n"


def gz_line(head: str, blob: bytes, record_text: bytes) -> bytes:
    """:func:`output_line` as a gzip member, the record's deflate data taken from its stored ``blob``."""
    return gz_around((head[:-1] + ', "record": ').encode("utf-8"), blob, record_text, b"}\n")


# the output files, by kind: compressed (the default) or plain (``extractor run --plain-outputs``)
OUTPUT_NAMES = {
    "gzip": {"records": "records.jsonl.gz", "cells": "cells.csv.gz", "findings": "findings.csv.gz"},
    "plain": {"records": "records.jsonl", "cells": "cells.csv", "findings": "findings.csv"},
}
OUTPUT_FILES = tuple(OUTPUT_NAMES["gzip"])  # records, cells, findings


def output_paths(out_dir: str | Path, plain: bool = False) -> dict[str, Path]:
    """Where the output files of a folder are (``plain``: the uncompressed kind)."""
    return {k: Path(out_dir) / n for k, n in OUTPUT_NAMES["plain" if plain else "gzip"].items()}


class _Block(NamedTuple):
    sha256: str
    stamp: float
    parts: tuple[bytes, bytes, bytes]  # records.jsonl line, cells.csv rows, findings.csv rows


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
        self._names: dict[tuple[str, str, str], int] | None = None  # cell_names, read once
        self._new_names: dict[tuple[str, str, str], int] = {}  # added since: kept if their transaction commits
        try:
            self.db.row_factory = sqlite3.Row
            self.db.executescript(SCHEMA)
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses at most the last commits
            self._migrate()
            self.db.executescript(VIEWS)
            self.db.execute("PRAGMA recursive_triggers=ON")  # a replaced document row drops its cells too
        except sqlite3.Error as exc:
            self.db.close()
            raise StoreError(database_problem(self.path, exc)) from exc
        self._sink: Path | None = None  # output folder whose files grow as documents are saved
        self._plain = False  # the kind of output files the sink gets
        self._sink_folder = ""  # the sink's resolved path
        self._blocks: list[_Block] = []  # lines of the documents in the open transaction

    def _migrate(self) -> None:
        """Add columns introduced after a database was created; bring a database of an earlier schema
        (1: records as plain JSON, every finding's JSON again in ``findings``; 2: ``cells`` and
        ``findings`` keyed by SHA-256) to the current one."""
        with self.db:
            for table, cols in ADDED_COLUMNS.items():
                have = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
                for name, decl in cols:
                    if name not in have:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        if self.db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        have = {r["name"] for r in self.db.execute("PRAGMA table_info(documents)")}
        if "id" not in have:
            self._migrate_from_2()  # the cells rebuilt in their current form
        elif "tbl" in {r["name"] for r in self.db.execute("PRAGMA table_info(cells)")}:
            self._migrate_3_to_4()
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _migrate_3_to_4(self) -> None:
        """From schema 3: a cell's table, row and column named by a number (``cell_names``), then VACUUM.
        One transaction: a migration cut short leaves the database as it was."""
        db = self.db
        db.execute("BEGIN")
        with db:
            db.execute("DROP VIEW IF EXISTS document_cells")  # made again on the new table (VIEWS)
            db.execute("DROP TRIGGER IF EXISTS documents_gone")
            db.execute("INSERT OR IGNORE INTO cell_names (tbl, row, col) "
                       "SELECT DISTINCT tbl, row, col FROM cells ORDER BY tbl, row, col")
            db.execute(CELLS_DDL.replace("IF NOT EXISTS cells", "new_cells"))
            db.execute("INSERT INTO new_cells SELECT c.doc_id, n.id, c.value, c.kind, c.raw, c.span_start, c.span_end, "
                       "c.page, c.producer, c.grounded, c.unit, c.key, c.review FROM cells c "
                       "JOIN cell_names n ON n.tbl = c.tbl AND n.row = c.row AND n.col = c.col")
            db.execute("DROP TABLE cells")
            db.execute("ALTER TABLE new_cells RENAME TO cells")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("VACUUM")

    def _migrate_from_2(self) -> None:
        """From schema 1 or 2 to the current one: documents numbered (``documents.id``, in the order stored); ``cells``
        and ``findings`` rebuilt from the records, keyed by that number, without the columns the
        record alone keeps; records compressed without defaults (and so that ``records.jsonl.gz``
        reuses their deflate data), the head of each output line stored, cross-year findings
        compressed; then VACUUM to give the space back. One transaction: a migration cut short leaves
        the database as it was."""
        db = self.db
        db.execute("BEGIN")
        with db:
            have = {r["name"] for r in db.execute("PRAGMA table_info(records)")}
            for col, decl in (("head", "BLOB"), ("reviewed", "BLOB"), ("out_stamp", "REAL")):
                if col not in have:
                    db.execute(f"ALTER TABLE records ADD COLUMN {col} {decl}")
            cols = ", ".join(DOCUMENT_COLUMNS)
            db.execute(DOCUMENTS_DDL.replace("IF NOT EXISTS documents", "new_documents"))
            db.execute(f"INSERT INTO new_documents ({cols}) SELECT {cols} FROM documents ORDER BY rowid")
            db.execute("DROP TABLE documents")
            db.execute("ALTER TABLE new_documents RENAME TO documents")
            db.execute("DROP TABLE cells")
            db.execute("DROP TABLE findings")
            db.execute(CELL_NAMES_DDL)
            db.execute(CELLS_DDL)
            db.execute(FINDINGS_DDL)
            for row in db.execute("SELECT sha256, json FROM records").fetchall():
                rec = Record.model_validate_json(unpack(row["json"]))
                db.execute("UPDATE records SET json=? WHERE sha256=?",
                           (pack_spliced(record_utf8(rec)), row["sha256"]))
                self._write_authoritative(row["sha256"], rec)
            for row in db.execute("SELECT rowid, json FROM crossyear_findings WHERE typeof(json) = 'text'").fetchall():
                f = CrossFinding.model_validate_json(row["json"])
                db.execute("UPDATE crossyear_findings SET json=? WHERE rowid=?",
                           (pack(f.model_dump_json(exclude_defaults=True)), row["rowid"]))
            db.execute("DELETE FROM outputs")
            db.execute("DELETE FROM output_files")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("VACUUM")

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
        return document_done(self.db, sha256)

    def save(self, record: Record) -> None:
        """Write one document's record, cells and findings atomically (replacing earlier ones).

        ``records.json`` keeps the record as the extractor made it; the decision columns, the
        ``cells``/``findings`` rows and the output lines are the authoritative record: the reviewers'
        stored decisions on this document applied on top (so a re-run with ``--force`` re-applies them)."""
        self.save_rows(document_rows(record), record=record)

    def save_rows(self, rows: "DocumentRows", *, commit: bool = True, record: Record | None = None) -> None:
        """:meth:`save` for a record already turned into rows (by a worker process). With
        ``commit=False`` the rows join the open transaction (the caller saves several whole
        documents at once, calls :meth:`flush_outputs`, then commits)."""
        if not commit:
            self._write_rows(rows, record)
            return
        try:
            with self.db:
                self._write_rows(rows, record)
                self.flush_outputs()
        except BaseException:
            self.discard_outputs()
            raise

    def _write_rows(self, rows: "DocumentRows", record: Record | None = None) -> None:
        sha = rows.document[0]
        self._settle_names()
        now = time.time()
        doc_id = self.db.execute(UPSERT_DOCUMENT, (*rows.document, now)).fetchall()[0][0]
        self.db.execute("INSERT OR REPLACE INTO records (sha256, format, organ, year, decision, json, head, "
                        "pair_view, created_at, out_stamp) VALUES (?,?,?,?,?,?,?,?,?,?)", (*rows.record, now, now))
        if self.db.execute("SELECT 1 FROM reviews WHERE sha256=? LIMIT 1", (sha,)).fetchone():
            self._write_authoritative(sha, record if record is not None else self.record(sha), doc_id)
            return
        self.db.execute("DELETE FROM cells WHERE doc_id=?", (doc_id,))  # no reviews: the rows as made
        self.db.execute("DELETE FROM findings WHERE doc_id=?", (doc_id,))
        self._insert_cells(doc_id, rows.cells)
        self.db.executemany(INSERT_FINDING, [(doc_id, *r) for r in rows.findings])
        if self._sink is not None and not self.db.execute("SELECT 1 FROM outputs WHERE sha256=?", (sha,)).fetchone():
            # a new document: its lines go to the end of the files once this transaction commits
            # (a document already in the files is written again by write_outputs, without its old lines)
            parts = tuple(gzip.decompress(x) if x else b"" for x in rows.gz) if self._plain else rows.gz
            self._blocks.append(_Block(sha, now, parts))

    def _doc_id(self, sha: str) -> int:
        return self.db.execute("SELECT id FROM documents WHERE sha256=?", (sha,)).fetchone()[0]

    def _write_authoritative(self, sha: str, record: Record, doc_id: int | None = None) -> None:
        """Decision columns, ``cells`` and ``findings`` rows and the output line's head of the record
        with its reviews applied (inside the caller's transaction)."""
        rows = self.reviews(sha)
        rv = apply_reviews(record, rows)
        reviewed = rv.record
        if doc_id is None:
            doc_id = self._doc_id(sha)
        self.db.execute("UPDATE documents SET decision=? WHERE id=?", (reviewed.decision, doc_id))
        self.db.execute("UPDATE records SET decision=?, head=?, reviewed=?, out_stamp=? WHERE sha256=?",
                        (reviewed.decision, pack(line_head(rv)),
                         pack_spliced(record_utf8(reviewed)) if rows else None, time.time(), sha))
        self.db.execute("DELETE FROM cells WHERE doc_id=?", (doc_id,))
        self.db.execute("DELETE FROM findings WHERE doc_id=?", (doc_id,))
        self._insert_cells(doc_id, cell_rows(rv)[0])
        self.db.executemany(INSERT_FINDING, [(doc_id, *r) for r in finding_rows(rv)[0]])

    def _insert_cells(self, doc_id: int, rows: list[tuple]) -> None:
        """``cells`` rows of one document (rows of :func:`cell_rows`: table, row and column by name),
        inside the caller's transaction."""
        names = self._cell_names()
        if any(r[:3] not in names for r in rows):  # a place no report stored before: numbered now
            new = sorted({r[:3] for r in rows if r[:3] not in names})
            self.db.executemany("INSERT OR IGNORE INTO cell_names (tbl, row, col) VALUES (?, ?, ?)", new)
            for r in self.db.execute("SELECT id, tbl, row, col FROM cell_names"):
                key = (r[1], r[2], r[3])
                if key not in names:
                    names[key] = self._new_names[key] = r[0]
        self.db.executemany(INSERT_CELL, [(doc_id, names[r[:3]], *r[3:]) for r in rows])

    def _settle_names(self) -> None:
        """Between transactions: the places numbered in the last one are kept if it committed, all read
        again if it was rolled back; either way not checked again on every later document."""
        if self._new_names and not self.db.in_transaction:
            self._cell_names()  # no transaction open: forgotten when committed, all read again when not

    def _cell_names(self) -> dict[tuple[str, str, str], int]:
        """The numbers of the cells' places. Names numbered in a transaction that was rolled back
        since are forgotten (their numbers may be given to other names)."""
        if self._names is None:
            self._names = {(r[1], r[2], r[3]): r[0] for r in self.db.execute("SELECT id, tbl, row, col FROM cell_names")}
            self._new_names = {}
        elif self._new_names:
            new = self._new_names
            there = {(r[1], r[2], r[3]): r[0] for r in self.db.execute(
                f"SELECT id, tbl, row, col FROM cell_names WHERE id IN ({', '.join('?' * len(new))})", list(new.values()))}
            if there != new:  # rolled back: read them all again
                self._names = None
                return self._cell_names()
            if not self.db.in_transaction:  # committed
                self._new_names = {}
        return self._names

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
            self.db.execute(UPSERT_DOCUMENT, (sha256, name, path, None, None, "error", "failed", error,
                                              time.time())).fetchall()

    def records(self) -> Iterator[Record]:
        for row in self.db.execute("SELECT json FROM records ORDER BY rowid"):
            yield Record.model_validate_json(unpack(row["json"]))

    def record(self, sha256: str) -> Record | None:
        row = self.db.execute("SELECT json FROM records WHERE sha256=?", (sha256,)).fetchone()
        return Record.model_validate_json(unpack(row["json"])) if row else None

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
        return list(self.db.execute("SELECT * FROM documents ORDER BY id"))

    # ----------------------------------------------------------------- outputs
    def open_outputs(self, out_dir: str | Path, *, rewrite: bool = False, plain: bool = False) -> None:
        """Make the output files in ``out_dir`` match the database (cut an uncommitted tail; a full
        rewrite when ``rewrite``, when they do not match, or when they are of the other kind) and
        append each document saved from now on as its transaction commits. ``plain``: uncompressed
        files (``records.jsonl``, ...) instead of the gzip ones (``records.jsonl.gz``, ...)."""
        out = Path(out_dir)
        if rewrite or not self._outputs_match(out, plain):
            self.rewrite_outputs(out, plain=plain)
        self._sink, self._plain = out, plain
        self._sink_folder = str(out.resolve())  # as output_files names it (resolved once, not per document)

    def output_kind(self, out_dir: str | Path) -> bool | None:
        """True when the database last wrote plain output files in ``out_dir``, False for gzip ones,
        None when it wrote none there."""
        folder = str(Path(out_dir).resolve())
        names = {r["name"] for r in self.db.execute("SELECT name FROM output_files WHERE folder=?", (folder,))}
        for kind, files in OUTPUT_NAMES.items():
            if names == set(files.values()):
                return kind == "plain"
        return None

    def _plain_for(self, out: Path, plain: bool | None) -> bool:
        if plain is not None:
            return plain
        if self._sink is not None and self._sink.resolve() == out.resolve():
            return self._plain
        return bool(self.output_kind(out))

    def flush_outputs(self) -> None:
        """Append the lines of the documents saved in the open transaction to the output files, at
        their committed sizes (a tail a kill or a rollback left is overwritten and cut), and record
        where they are in that transaction: the caller's commit makes both hold."""
        blocks, self._blocks = self._blocks, []
        if not blocks or self._sink is None:
            return
        out = self._sink
        state = self._file_state(out, self._plain, self._sink_folder)
        if state is None:  # the files changed under us: write_outputs puts them right
            return
        names = OUTPUT_NAMES["plain" if self._plain else "gzip"]
        sizes = {k: state[k][0] for k in OUTPUT_FILES}
        bufs = {k: io.BytesIO() for k in OUTPUT_FILES}
        offsets = _append_blocks(bufs, blocks, sizes)
        for k in OUTPUT_FILES:
            with open(out / names[k], "r+b") as fh:  # one write per file: a kill leaves a tail beyond the commit
                fh.seek(state[k][0])
                fh.write(bufs[k].getvalue())
                fh.truncate()
        self.db.executemany("INSERT OR REPLACE INTO outputs VALUES (?,?,?,?,?,?,?,?)", offsets)
        self.db.executemany("UPDATE output_files SET size=? WHERE name=?", [(sizes[k], names[k]) for k in OUTPUT_FILES])

    def discard_outputs(self) -> None:
        """Forget the lines of a transaction that was rolled back."""
        self._blocks = []

    def _file_state(self, out: Path, plain: bool, folder: str = "") -> dict[str, tuple[int, int]] | None:
        """Committed size and inode of each output file of the kind asked for in ``out`` (None: the
        database wrote other files, or elsewhere); ``folder``: ``out`` resolved, when known."""
        names = OUTPUT_NAMES["plain" if plain else "gzip"]
        rows = {r["name"]: r for r in self.db.execute("SELECT * FROM output_files")}
        folder = folder or str(out.resolve())
        if set(rows) != set(names.values()) or any(r["folder"] != folder for r in rows.values()):
            return None
        return {k: (rows[n]["size"], rows[n]["ino"]) for k, n in names.items()}

    def _outputs_match(self, out: Path, plain: bool) -> bool:
        """True when the files in ``out`` are the ones the database describes (an uncommitted tail
        beyond the committed size, from a kill or a lost transaction, is cut off: for gzip files a
        partial member)."""
        state = self._file_state(out, plain)
        if state is None:
            return False
        paths = output_paths(out, plain)
        for k, p in paths.items():
            size, ino = state[k]
            try:
                st = p.stat()
            except OSError:
                return False
            if st.st_ino != ino or st.st_size < size:
                return False
        for k, p in paths.items():
            if p.stat().st_size > state[k][0]:
                os.truncate(p, state[k][0])
        return True

    def _block_of(self, sha: str, plain: bool) -> _Block:
        """A stored document's output lines: the records.jsonl line from the stored head and JSON (no
        parsing; compressed: the stored record's deflate data reused); the CSV rows from the record
        with its reviews applied."""
        row = self.db.execute("SELECT json, head, reviewed, out_stamp FROM records WHERE sha256=?", (sha,)).fetchone()
        raw = unpack(row["json"])
        rv = apply_reviews(Record.model_validate_json(raw), self.reviews(sha))
        head = unpack(row["head"]) if row["head"] is not None else line_head(rv)
        blob = row["reviewed"] if row["reviewed"] is not None else row["json"]
        text = unpack(row["reviewed"]) if row["reviewed"] is not None else raw
        lead = _lead(rv.record)
        cells, findings = _csv_text(cell_rows(rv)[1], lead), _csv_text(finding_rows(rv)[1], lead)
        if plain:
            parts = (output_line(head, text).encode("utf-8"), cells, findings)
        elif isinstance(blob, bytes):
            parts = (gz_line(head, blob, text.encode("utf-8")), gz_member(cells), gz_member(findings))
        else:
            parts = (gz_member(output_line(head, text).encode("utf-8")), gz_member(cells), gz_member(findings))
        return _Block(sha, row["out_stamp"] or 0.0, parts)

    def rewrite_outputs(self, out_dir: str | Path, *, plain: bool | None = None) -> dict[str, Path]:
        """The output files written again from the database (every record, in the order saved);
        ``plain``: uncompressed files (None: the kind written there before, else gzip). Files of the
        other kind that this database wrote there are removed (they would be out of date)."""
        out = Path(out_dir)
        plain = self._plain_for(out, plain)
        out.mkdir(parents=True, exist_ok=True)
        paths = output_paths(out, plain)
        tmp = {k: p.with_name(p.name + ".tmp") for k, p in paths.items()}
        heads = {"records": b"", "cells": _csv_text([CELLS_HEADER]), "findings": _csv_text([FINDINGS_HEADER])}
        if not plain:  # the header row: a gzip member of its own
            heads = {k: gz_member(h) for k, h in heads.items()}
        sizes = {k: len(h) for k, h in heads.items()}
        fhs = {k: open(tmp[k], "wb") for k in OUTPUT_FILES}
        try:
            for k in OUTPUT_FILES:
                fhs[k].write(heads[k])
            shas = self.db.execute("SELECT sha256 FROM records ORDER BY rowid").fetchall()
            offsets = _append_blocks(fhs, (self._block_of(sha, plain) for (sha,) in shas), sizes)
        finally:
            for fh in fhs.values():
                fh.close()
        was = self.output_kind(out)
        self._commit_files(out, paths, tmp, offsets, sizes, replace_all=True)
        if was is not None and was != plain:  # switched kind: the other files are out of date
            for p in output_paths(out, was).values():
                p.unlink(missing_ok=True)
        return paths

    def _commit_files(self, out: Path, paths: dict[str, Path], tmp: dict[str, Path], offsets: list[tuple],
                      sizes: dict[str, int], *, replace_all: bool, gone: Iterable[str] = ()) -> None:
        for k in OUTPUT_FILES:
            tmp[k].replace(paths[k])  # a kill between these renames: the inodes differ, a rewrite follows
        folder = str(out.resolve())
        with self.db:
            if replace_all:
                self.db.execute("DELETE FROM outputs")
            self.db.executemany("DELETE FROM outputs WHERE sha256=?", [(g,) for g in gone])
            self.db.executemany("INSERT OR REPLACE INTO outputs VALUES (?,?,?,?,?,?,?,?)", offsets)
            self.db.execute("DELETE FROM output_files")
            self.db.executemany("INSERT INTO output_files VALUES (?,?,?,?)",
                                [(paths[k].name, folder, sizes[k], paths[k].stat().st_ino) for k in OUTPUT_FILES])

    def write_outputs(self, out_dir: str | Path, *, rewrite: bool = False, plain: bool | None = None
                      ) -> dict[str, Path]:
        """Bring the output files up to date with the database: the authoritative records, i.e.
        each record with the reviewers' decisions applied. Documents not yet in the files are
        appended; those whose record or decisions changed (and those no longer stored) are dropped
        from the files by a byte copy and appended again; unchanged documents are not read.
        ``rewrite``: write every file again from the database. ``plain``: uncompressed files (None:
        the kind written there before, else gzip); another kind than the files there: a rewrite."""
        out = Path(out_dir)
        with self.db:
            self.flush_outputs()
        plain = self._plain_for(out, plain)
        paths = output_paths(out, plain)
        if rewrite or not self._outputs_match(out, plain):
            return self.rewrite_outputs(out, plain=plain)
        todo = [r["sha256"] for r in self.db.execute(
            "SELECT r.sha256 FROM records r LEFT JOIN outputs o ON o.sha256 = r.sha256 "
            "WHERE o.sha256 IS NULL OR o.stamp IS NOT r.out_stamp ORDER BY r.rowid")]
        old = {r["sha256"]: r for r in self.db.execute(
            "SELECT o.* FROM outputs o LEFT JOIN records r ON r.sha256 = o.sha256 "
            "WHERE r.sha256 IS NULL OR o.stamp IS NOT r.out_stamp")}
        if not todo and not old:
            return paths
        blocks = [self._block_of(sha, plain) for sha in todo]
        state = self._file_state(out, plain)
        assert state is not None
        sizes = {k: state[k][0] for k in OUTPUT_FILES}
        offsets: list[tuple] = []
        if old:  # copy each file without the old lines, then shift the offsets of what follows them
            tmp = {k: p.with_name(p.name + ".tmp") for k, p in paths.items()}
            cols = {"records": ("r0", "rn"), "cells": ("c0", "cn"), "findings": ("f0", "fn")}
            shifts: dict[str, list[tuple[int, int]]] = {}
            for k in OUTPUT_FILES:
                a, n = cols[k]
                cut = sorted((r[a], r[n]) for r in old.values())
                shifts[k] = _copy_without(paths[k], tmp[k], cut, sizes[k])
                sizes[k] -= sum(n_ for _, n_ in cut)
            moved = []
            for r in self.db.execute("SELECT * FROM outputs"):
                if r["sha256"] in old:
                    continue
                new = [_shifted(r[c], shifts[k]) for k in OUTPUT_FILES for c in cols[k][:1]]
                if new != [r["r0"], r["c0"], r["f0"]]:
                    moved.append((r["sha256"], r["stamp"], new[0], r["rn"], new[1], r["cn"], new[2], r["fn"]))
            offsets.extend(moved)
            fhs = {k: open(tmp[k], "ab") for k in OUTPUT_FILES}
        else:
            tmp = paths
            fhs = {k: open(paths[k], "ab") for k in OUTPUT_FILES}
        try:
            offsets.extend(_append_blocks(fhs, blocks, sizes))
        finally:
            for fh in fhs.values():
                fh.close()
        if old:
            self._commit_files(out, paths, tmp, offsets, sizes, replace_all=False, gone=list(old))
        else:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO outputs VALUES (?,?,?,?,?,?,?,?)", offsets)
                self.db.executemany("UPDATE output_files SET size=? WHERE name=?",
                                    [(sizes[k], paths[k].name) for k in OUTPUT_FILES])
        return paths

    # ----------------------------------------------------------------- series across years
    def save_series(self, assignments: Iterable[Any], findings: Iterable[Any], *, rules: str = "",
                    stamps: dict[str, float | None] | None = None) -> None:
        """Replace every body assignment and cross-year finding in one transaction
        (``extractor.bodies.Assignment`` and ``extractor.crossyear.CrossFinding`` objects; ``rules``:
        the fingerprint of the cross-year rules they were evaluated with; ``stamps``: the records'
        :meth:`record_stamps` when the caller has read them)."""
        stamps = self.record_stamps() if stamps is None else stamps
        with self.db:
            self.db.execute("DELETE FROM bodies")
            self.db.execute("DELETE FROM crossyear_findings")
            self._insert_series(assignments, findings, stamps)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('crossyear_rules', ?)", (rules,))

    def update_series(self, assignments: Iterable[Any], gone: Iterable[str], touched: Iterable[str],
                      findings: Iterable[Any], stamps: dict[str, float | None]) -> None:
        """Part of the series again, in one transaction: the assignments given replace those of their
        documents, ``gone`` documents leave, every cross-year finding naming a ``touched`` document
        is replaced by ``findings``."""
        with self.db:
            self.db.executemany("DELETE FROM bodies WHERE sha256=?", [(g,) for g in gone])
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (sha256 TEXT PRIMARY KEY)")
            self.db.execute("DELETE FROM temp.touched")
            self.db.executemany("INSERT OR IGNORE INTO temp.touched VALUES (?)", [(t,) for t in touched])
            self.db.execute("DELETE FROM crossyear_findings WHERE prev_sha256 IN (SELECT sha256 FROM temp.touched) "
                            "OR next_sha256 IN (SELECT sha256 FROM temp.touched)")
            self._insert_series(assignments, findings, stamps)

    def _insert_series(self, assignments: Iterable[Any], findings: Iterable[Any], stamps: dict[str, float | None]
                       ) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO bodies (sha256, body, year, organ, how, note, stamp) VALUES (?,?,?,?,?,?,?)",
            [(a.sha256, a.body, a.year, a.organ, a.how, a.note, stamps.get(a.sha256)) for a in assignments],
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO crossyear_findings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(f.prev.sha256, f.next.sha256, f.id, f.body, f.rule, f.version, f.status, f.classification,
              f.severity, f.scope, f.message, f.arithmetic, pack(f.model_dump_json(exclude_defaults=True)))
             for f in findings],
        )

    def record_stamps(self) -> dict[str, float | None]:
        """When each stored record (or the decisions on it) last changed."""
        return {r[0]: r[1] for r in self.db.execute("SELECT sha256, out_stamp FROM records")}

    def pair_view(self, sha256: str) -> str | None:
        """What the cross-year rules read of a stored record, as saved beside it (None when not)."""
        row = self.db.execute("SELECT pair_view FROM records WHERE sha256=?", (sha256,)).fetchone()
        return unpack(row[0]) if row and row[0] is not None else None

    def put_pair_views(self, views: list[tuple[str, str]]) -> None:
        """Store (sha256, view JSON) pairs beside their records (made from the stored record)."""
        with self.db:
            self.db.executemany("UPDATE records SET pair_view=? WHERE sha256=?", [(pack(v), s) for s, v in views])

    def reviewed_shas(self) -> set[str]:
        """The documents with reviewers' decisions."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT sha256 FROM reviews")}

    def doc_keys(self) -> list[tuple[str, str, str | None, int | None]]:
        """(sha256, name, organ, year) of every stored record, read without parsing a record."""
        return [tuple(r) for r in self.db.execute(
            "SELECT r.sha256, d.name, r.organ, r.year FROM records r JOIN documents d ON d.sha256 = r.sha256")]

    def series_state(self) -> dict[str, sqlite3.Row]:
        """The stored body assignments (with the stamp of the record they were evaluated on)."""
        return {r["sha256"]: r for r in self.db.execute("SELECT * FROM bodies")}

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def crossyear_counts(self) -> dict[str, int]:
        """Figures of the stored cross-year findings with the reviewers' decisions (for a summary
        line without reading every finding): per status, pairs, open, settled, stale decisions."""
        out = {r[0]: r[1] for r in self.db.execute("SELECT status, COUNT(*) FROM crossyear_findings GROUP BY status")}
        out["pairs"] = self.db.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT prev_sha256, next_sha256 FROM crossyear_findings)").fetchone()[0]
        out["open"] = self.db.execute("SELECT COALESCE(SUM(open), 0) FROM crossyear_decided").fetchone()[0]
        out["settled"] = self.db.execute(
            "SELECT COUNT(*) FROM crossyear_decided WHERE decision IS NOT NULL AND open = 0 "
            "AND status IN ('FAIL', 'UNCERTAIN')").fetchone()[0]
        out["reviews"] = self.db.execute("SELECT COUNT(*) FROM crossyear_reviews").fetchone()[0]
        out["stale"] = out["reviews"] - out["settled"]
        out["bodies"] = self.db.execute("SELECT COUNT(DISTINCT body) FROM bodies WHERE body IS NOT NULL").fetchone()[0]
        out["series"] = self.db.execute(
            "SELECT COUNT(*) FROM (SELECT body FROM bodies WHERE body IS NOT NULL AND year IS NOT NULL "
            "GROUP BY body HAVING COUNT(DISTINCT year) > 1)").fetchone()[0]
        return out

    def bodies(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT sha256, body, year, organ, how, note FROM bodies ORDER BY body, year, sha256"))

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

    def stored_crossyear(self, sha256: str | None = None) -> list[CrossFinding]:
        """The cross-year findings saved (naming ``sha256`` when given), as evaluated: reviewers'
        decisions are applied on top by :func:`extractor.reviewed.reviewed_crossyear`."""
        return [CrossFinding.model_validate_json(unpack(r["json"])) for r in self.crossyear_findings(sha256)]

    # ================================================================== SQL of other modules (issue 13)
    # The statements of inputs.py, parallel.py, the service's document list and merge.py, moved here
    # unchanged so that this class owns every statement on the extractor database. merge.py keeps
    # the orchestration (which shards, downloads, output files, cross-year evaluation).

    def forget_url_failure(self, sha256: str, url: str) -> None:
        """Drop the failed record of a URL (keyed by the URL's hash) once its download succeeded."""
        db = self.db
        with db:
            db.execute("DELETE FROM records WHERE sha256=? AND EXISTS "
                       "(SELECT 1 FROM documents WHERE sha256=? AND url=? AND status IN ('failed','error'))",
                       (sha256, sha256, url))
            db.execute("DELETE FROM documents WHERE sha256=? AND url=? AND status IN ('failed','error')",
                       (sha256, url))

    def document_page(self, limit: int, offset: int, decision: str | None = None) -> tuple[int, list[sqlite3.Row]]:
        """(how many documents, one page of their summaries), most recently updated first."""
        db = self.db
        where, args = ("WHERE decision=?", [decision]) if decision else ("", [])
        total = db.execute(f"SELECT COUNT(*) FROM documents {where}", args).fetchone()[0]
        rows = db.execute(f"SELECT sha256, name, url, kind, status, decision, error, updated_at FROM documents "
                          f"{where} ORDER BY updated_at DESC LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        return total, rows

    def merge_from(self, src: Path, seen: set[str], reviewed: set[str]) -> "ShardMerge":
        """Merge one shard database (see :mod:`extractor.merge`). ``seen``: auto-id tables whose rows
        are indexed in temp for this merge (dropped by :meth:`end_merge`); ``reviewed`` gains the
        documents whose decisions must be applied again."""
        db = self.db
        db.commit()
        db.execute("ATTACH DATABASE ? AS src", (str(src),))
        taken = changed = 0
        tables: dict[str, int] = {}
        try:
            names = [r[0] for r in db.execute("SELECT name FROM src.sqlite_master WHERE type='table' "
                                              "AND name NOT LIKE 'sqlite_%'")]
            with db:
                if "documents" in names:
                    taken = _merge_documents(db, names, reviewed)
                    changed += taken
                if "reviews" in names:
                    reviewed.update(r[0] for r in db.execute(
                        "SELECT DISTINCT s.sha256 FROM src.reviews s WHERE NOT EXISTS (SELECT 1 FROM main.reviews m "
                        "WHERE m.sha256 = s.sha256 AND m.finding_id = s.finding_id AND m.created_at >= s.created_at)"))
                    changed += _merge_copy(db, "reviews", newer="created_at", key=("sha256", "finding_id"))
                if "crossyear_reviews" in names:
                    changed += _merge_copy(db, "crossyear_reviews", newer="created_at",
                                           key=("prev_sha256", "next_sha256", "finding_id"))
                for t in names:
                    if t in MERGE_CORE or t in NOT_MERGED:
                        continue
                    tables[t] = tables.get(t, 0) + _merge_table(db, t, seen)
        finally:
            db.execute("DETACH DATABASE src")
        return ShardMerge(taken, changed, tables)

    def end_merge(self, seen: set[str]) -> None:
        """Drop the temp indexes :meth:`merge_from` built."""
        for t in seen:
            self.db.execute(f"DROP TABLE IF EXISTS temp.{_q('seen_' + t)}")


def _append_blocks(files: dict[str, Any], blocks: Iterable[_Block], sizes: dict[str, int]) -> list[tuple]:
    """Write each document's lines to ``files`` (by output file) after their ``sizes`` (advanced as
    they grow); the ``outputs`` rows that say where they are."""
    offsets = []
    for b in blocks:
        offsets.append((b.sha256, b.stamp, *[x for i, k in enumerate(OUTPUT_FILES) for x in (sizes[k], len(b.parts[i]))]))
        for i, k in enumerate(OUTPUT_FILES):
            files[k].write(b.parts[i])
            sizes[k] += len(b.parts[i])
    return offsets


def _copy_without(src: Path, dst: Path, cut: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """Copy the first ``size`` bytes of ``src`` to ``dst`` leaving out the ranges ``cut`` (offset,
    length; sorted). Returns (offset, bytes cut before it) steps for :func:`_shifted`."""
    steps: list[tuple[int, int]] = []
    removed = 0
    pos = 0
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        for off, n in cut + [(size, 0)]:
            fi.seek(pos)
            left = off - pos
            while left > 0:
                chunk = fi.read(min(left, 1 << 20))
                if not chunk:
                    break
                fo.write(chunk)
                left -= len(chunk)
            pos = off + n
            removed += n
            steps.append((pos, removed))
    return steps


def _shifted(offset: int, steps: list[tuple[int, int]]) -> int:
    """Where a kept block starting at ``offset`` is after the cuts."""
    i = bisect.bisect_right(steps, (offset, float("inf")))
    return offset - (steps[i - 1][1] if i else 0)


def _iso(ts: float | None) -> str:
    import datetime as _dt  # noqa: PLC0415

    return "" if not ts else _dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds")


# ================================================================== SQL of other modules (issue 13)


def document_done(db: sqlite3.Connection, sha256: str) -> bool:
    """Whether a document is finished (done or failed), through any connection to the database
    (a worker process's or a thread's own, read only)."""
    row = db.execute("SELECT status FROM documents WHERE sha256=?", (sha256,)).fetchone()
    return row is not None and row[0] in ("done", "failed")


# Merging shard databases (extractor merge): the statements of merge.py, unchanged.
MERGE_CORE = ("documents", "records", "cell_names", "cells", "findings", "reviews", "crossyear_reviews")
# a server's queue; series results (re-evaluated); where the lines are in each folder's output files
NOT_MERGED = {"jobs", "bodies", "crossyear_findings", "outputs", "output_files"}


class ShardMerge(NamedTuple):
    documents: int  # documents whose copy was taken
    changed: int  # documents and decisions that changed (they show in the output files)
    tables: dict[str, int]  # rows copied per other table


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(db: sqlite3.Connection, schema: str, table: str) -> list[sqlite3.Row]:
    return list(db.execute(f"PRAGMA {schema}.table_info({_q(table)})"))


def _common(db: sqlite3.Connection, table: str) -> list[str]:
    src_cols = {r["name"] for r in _columns(db, "src", table)}
    return [r["name"] for r in _columns(db, "main", table) if r["name"] in src_cols]


def _merge_documents(db: sqlite3.Connection, names: list[str], reviewed: set[str]) -> int:
    """Take the shard's copy of each document that is new or newer, with its record, cells and
    findings; ``reviewed`` gains those with decisions in either database (the copy's decision columns
    and output head were made with the shard's decisions, or none: they are applied again after the
    merge). ``cells``/``findings`` name a document by its number, which differs between databases:
    the shard's numbers are mapped to main's through the SHA-256 (a document main has keeps its own)."""
    db.execute("DROP TABLE IF EXISTS temp.pick")
    db.execute("DROP TABLE IF EXISTS temp.idmap")
    db.execute("CREATE TEMP TABLE pick (sha256 TEXT PRIMARY KEY)")
    db.execute(
        "INSERT INTO temp.pick SELECT s.sha256 FROM src.documents s LEFT JOIN main.documents m "
        "ON m.sha256 = s.sha256 WHERE m.sha256 IS NULL OR s.updated_at > m.updated_at"
    )
    n = db.execute("SELECT COUNT(*) FROM temp.pick").fetchone()[0]
    if not n:
        db.execute("DROP TABLE temp.pick")
        return 0
    decided = ["main.reviews"] + (["src.reviews"] if "reviews" in names else [])
    reviewed.update(r[0] for r in db.execute(
        "SELECT p.sha256 FROM temp.pick p WHERE " + " OR ".join(
            f"EXISTS (SELECT 1 FROM {t} r WHERE r.sha256 = p.sha256)" for t in decided)))
    cols = ", ".join(DOCUMENT_COLUMNS)
    db.execute(  # an UPSERT: a document main already has keeps its number (never INSERT OR REPLACE)
        f"INSERT INTO main.documents ({cols}) SELECT {cols} FROM src.documents "
        "WHERE sha256 IN (SELECT sha256 FROM temp.pick) ORDER BY id "
        "ON CONFLICT(sha256) DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in DOCUMENT_COLUMNS[1:]))
    db.execute("CREATE TEMP TABLE idmap AS SELECT s.id AS src_id, m.id AS main_id FROM src.documents s "
               "JOIN main.documents m ON m.sha256 = s.sha256 WHERE s.sha256 IN (SELECT sha256 FROM temp.pick)")
    for t in ("cells", "findings"):
        db.execute(f"DELETE FROM main.{t} WHERE doc_id IN (SELECT main_id FROM temp.idmap)")
    db.execute("DELETE FROM main.records WHERE sha256 IN (SELECT sha256 FROM temp.pick)")
    if "records" in names:
        c = ", ".join(_q(x) for x in _common(db, "records"))
        db.execute(f"INSERT OR REPLACE INTO main.records ({c}) SELECT {c} FROM src.records "
                   "WHERE sha256 IN (SELECT sha256 FROM temp.pick)")
    if "cells" in names:  # a cell's place by its name: the shard numbers them itself too
        db.execute("INSERT OR IGNORE INTO main.cell_names (tbl, row, col) SELECT tbl, row, col FROM src.cell_names")
        rest = [x for x in _common(db, "cells") if x not in ("doc_id", "cell")]
        c = ", ".join(_q(x) for x in rest)
        sc = ", ".join("s." + _q(x) for x in rest)
        db.execute(f"INSERT OR REPLACE INTO main.cells (doc_id, cell, {c}) SELECT i.main_id, mn.id, {sc} "
                   "FROM temp.idmap i JOIN src.cells s ON s.doc_id = i.src_id JOIN src.cell_names sn ON sn.id = s.cell "
                   "JOIN main.cell_names mn ON mn.tbl = sn.tbl AND mn.row = sn.row AND mn.col = sn.col")
    if "findings" in names:
        rest = [x for x in _common(db, "findings") if x != "doc_id"]
        c = ", ".join(_q(x) for x in rest)
        sc = ", ".join("s." + _q(x) for x in rest)
        db.execute(f"INSERT OR REPLACE INTO main.findings (doc_id, {c}) SELECT i.main_id, {sc} "
                   "FROM temp.idmap i JOIN src.findings s ON s.doc_id = i.src_id")
    db.execute("DROP TABLE temp.pick")
    db.execute("DROP TABLE temp.idmap")
    return n


def _merge_copy(db: sqlite3.Connection, table: str, *, newer: str, key: tuple[str, ...]) -> int:
    """Rows of ``src.table`` newer than their twin in main (by ``key``; an equal time keeps main's)."""
    cols = ", ".join(_q(c) for c in _common(db, table))
    on = " AND ".join(f"m.{_q(k)} = s.{_q(k)}" for k in key)
    before = db.total_changes
    db.execute(
        f"INSERT OR REPLACE INTO main.{_q(table)} ({cols}) SELECT {cols} FROM src.{_q(table)} AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM main.{_q(table)} m WHERE {on} AND m.{_q(newer)} >= s.{_q(newer)})"
    )
    return db.total_changes - before


def _merge_table(db: sqlite3.Connection, table: str, seen: set[str]) -> int:
    """Copy one other table, work in proportion to the shard's rows (index lookups in main)."""
    exists = db.execute("SELECT 1 FROM main.sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
    if not exists:
        sql = db.execute("SELECT sql FROM src.sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
        db.execute(re.sub(r"^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?", "CREATE TABLE IF NOT EXISTS ", sql,
                          flags=re.I))
        for (isql,) in db.execute("SELECT sql FROM src.sqlite_master WHERE type='index' AND tbl_name=? "
                                  "AND sql IS NOT NULL", (table,)).fetchall():
            db.execute(re.sub(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?",
                              lambda m: f"CREATE {m.group(1) or ''}INDEX IF NOT EXISTS ", isql, flags=re.I))
    info = _columns(db, "main", table)
    pk = [r["name"] for r in sorted(info, key=lambda r: r["pk"]) if r["pk"]]
    rowid_key = len(pk) == 1 and next(r for r in info if r["name"] == pk[0])["type"].upper() == "INTEGER"
    unique = any(r["unique"] for r in db.execute(f"PRAGMA main.index_list({_q(table)})")
                 if r["origin"] != "pk")
    cols = _common(db, table)
    t = _q(table)
    before = db.total_changes
    if pk and not rowid_key:  # a natural key: new rows and changed twins (found by the key's index)
        c = ", ".join(_q(x) for x in cols)
        same = " AND ".join(f"m.{_q(x)} IS s.{_q(x)}" for x in cols)
        db.execute(f"INSERT OR REPLACE INTO main.{t} ({c}) SELECT {c} FROM src.{t} AS s "
                   f"WHERE NOT EXISTS (SELECT 1 FROM main.{t} AS m WHERE {same})")
    elif unique and not rowid_key:
        c = ", ".join(_q(x) for x in cols)
        db.execute(f"INSERT OR REPLACE INTO main.{t} ({c}) SELECT {c} FROM src.{t}")
    else:  # keyed by an auto-increment id (or nothing): add the rows not already present
        data = [x for x in cols if x not in pk]
        c = ", ".join(_q(x) for x in data)
        idx = _q("seen_" + table)
        if table not in seen:  # main's rows, indexed once for this merge (main has no index on them)
            db.execute(f"CREATE TEMP TABLE {idx} AS SELECT DISTINCT {c} FROM main.{t}")
            db.execute(f"CREATE INDEX temp.{_q('seen_i_' + table)} ON {idx} ({c})")
            seen.add(table)
        same = " AND ".join(f"x.{_q(x)} IS s.{_q(x)}" for x in data)
        db.execute(f"INSERT INTO main.{t} ({c}) SELECT DISTINCT {c} FROM src.{t} AS s "
                   f"WHERE NOT EXISTS (SELECT 1 FROM temp.{idx} AS x WHERE {same})")
        db.execute(f"INSERT INTO temp.{idx} SELECT DISTINCT {c} FROM src.{t}")
    return db.total_changes - before


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
