"""Combine the databases of shard runs (``extractor merge OUT_DIRS... --out DIR``).

Each shard of ``extractor run --shard i/N`` writes its own output folder; merging copies every
shard's documents into one database and regenerates the output files from it. Idempotent: merging
the same shards again (or a shard into a folder that already holds it) changes nothing.

- ``documents``/``records``/``cells``/``findings`` move per document (keyed by content SHA-256): a
  document's rows are replaced as a unit by the copy updated last, so no stale cells survive. Each
  database numbers its documents itself (``documents.id``, which ``cells``/``findings`` rows name):
  a shard's numbers are mapped to the merged database's through the SHA-256.
- The output files keep the kind the merged folder has (gzip unless it holds plain ones).
- ``reviews`` and ``crossyear_reviews`` (decisions on cross-year findings): the later decision wins.
- ``bodies`` and ``crossyear_findings`` are not copied: each shard saw only its own documents, so a
  body's years may be split over shards. They are evaluated again over the merged records (with the
  bodies mapping file beside the merged database, or ``mapping``), as ``extractor crossyear`` does.
- Any other table (the LLM cache and ledger, …) is created when missing and copied: rows with a
  natural primary key replace their twin; tables keyed only by an auto-increment id (a ledger) get
  the rows whose other columns are not already present, so re-merging adds no duplicates.
- ``jobs`` (the HTTP service's queue) belongs to one server and is not merged.
- ``downloads/`` (fetched bytes and their URL index) are copied too, so provenance survives.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from typing import Any

from .errors import ExtractorError
from .reviewed import evaluate_store  # across years, over every merged record
from .store import DOCUMENT_COLUMNS, Store, output_paths

DB_NAME = "extractor.db"
CORE = ("documents", "records", "cells", "findings", "reviews", "crossyear_reviews")
# a server's queue; series results (re-evaluated); where the lines are in each folder's output files
NOT_MERGED = {"jobs", "bodies", "crossyear_findings", "outputs", "output_files"}


@dataclass
class MergeResult:
    sources: list[str] = field(default_factory=list)
    documents_taken: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # rows copied per extra table
    downloads_copied: int = 0
    outputs: dict[str, Path] = field(default_factory=dict)
    crossyear: Any = None  # the cross-year result over the merged store (extractor.crossyear.CrossResult)
    outputs_rewritten: bool = False  # False when nothing that shows in them changed


def _db_of(src: Path) -> Path:
    p = Path(src)
    db = p / DB_NAME if p.is_dir() else p
    if not db.is_file():
        raise ExtractorError(f"no {DB_NAME} in {p}" if p.is_dir() else f"no such database: {p}")
    return db


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(db: sqlite3.Connection, schema: str, table: str) -> list[sqlite3.Row]:
    return list(db.execute(f"PRAGMA {schema}.table_info({_q(table)})"))


def merge(sources: list[str | Path], out: str | Path, mapping: Any = None) -> MergeResult:
    """Merge shard databases into ``out`` and evaluate the cross-year rules over the result
    (``mapping``: the bodies mapping; default the file beside the merged database)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / DB_NAME
    dbs = [_db_of(Path(s)) for s in sources]
    for src in dbs:  # a shard written by an older version: brought to the current schema first
        if src.resolve() != target.resolve():
            Store(src).close()
    res = MergeResult()
    with Store(target) as store:
        db = store.db
        seen: set[str] = set()  # auto-id tables whose rows are indexed in temp for this merge
        reviewed: set[str] = set()  # documents whose decisions changed
        changed = 0
        for src in dbs:
            if src.resolve() == target.resolve():
                continue
            res.sources.append(str(src))
            changed += _merge_one(db, src, res, seen, reviewed)
            dl = src.parent / "downloads"
            if dl.is_dir():
                res.downloads_copied += _copy_tree(dl, out / "downloads")
        for t in seen:
            db.execute(f"DROP TABLE IF EXISTS temp.{_q('seen_' + t)}")
        for sha in sorted(reviewed):  # decisions merged without their document: its rows and lines again
            store.refresh(sha)
        files = output_paths(out, bool(store.output_kind(out)))  # the kind there (gzip in a new folder)
        if changed or not all(p.exists() for p in files.values()):
            res.outputs = store.write_outputs(out)  # the new and changed documents appended
            res.outputs_rewritten = True
        else:  # nothing new: the output files already say it (no pass over every record for them)
            res.outputs = files
        res.crossyear = evaluate_store(store, mapping)
    return res


def _merge_one(db: sqlite3.Connection, src: Path, res: MergeResult, seen: set[str], reviewed: set[str]) -> int:
    """Merge one shard database; returns how many documents and reviews changed (they show in
    the output files)."""
    db.commit()
    db.execute("ATTACH DATABASE ? AS src", (str(src),))
    changed = 0
    try:
        names = [r[0] for r in db.execute("SELECT name FROM src.sqlite_master WHERE type='table' "
                                          "AND name NOT LIKE 'sqlite_%'")]
        with db:
            if "documents" in names:
                taken = _merge_documents(db, names)
                res.documents_taken += taken
                changed += taken
            if "reviews" in names:
                reviewed.update(r[0] for r in db.execute(
                    "SELECT DISTINCT s.sha256 FROM src.reviews s WHERE NOT EXISTS (SELECT 1 FROM main.reviews m "
                    "WHERE m.sha256 = s.sha256 AND m.finding_id = s.finding_id AND m.created_at >= s.created_at)"))
                changed += _copy(db, "reviews", newer="created_at", key=("sha256", "finding_id"))
            if "crossyear_reviews" in names:
                changed += _copy(db, "crossyear_reviews", newer="created_at",
                                 key=("prev_sha256", "next_sha256", "finding_id"))
            for t in names:
                if t in CORE or t in NOT_MERGED:
                    continue
                res.tables[t] = res.tables.get(t, 0) + _merge_table(db, t, seen)
    finally:
        db.execute("DETACH DATABASE src")
    return changed


def _common(db: sqlite3.Connection, table: str) -> list[str]:
    src_cols = {r["name"] for r in _columns(db, "src", table)}
    return [r["name"] for r in _columns(db, "main", table) if r["name"] in src_cols]


def _merge_documents(db: sqlite3.Connection, names: list[str]) -> int:
    """Take the shard's documents that main lacks or holds an older copy of, with their records,
    cells and findings. ``cells``/``findings`` name a document by its number, which differs between
    databases: the shard's numbers are mapped to main's through the SHA-256."""
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
    cols = ", ".join(DOCUMENT_COLUMNS)
    db.execute(  # a document main already has keeps its number
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
    for t in ("cells", "findings"):
        if t not in names:
            continue
        rest = [x for x in _common(db, t) if x != "doc_id"]
        c = ", ".join(_q(x) for x in rest)
        sc = ", ".join("s." + _q(x) for x in rest)
        db.execute(f"INSERT OR REPLACE INTO main.{t} (doc_id, {c}) SELECT i.main_id, {sc} "
                   f"FROM temp.idmap i JOIN src.{t} s ON s.doc_id = i.src_id")
    db.execute("DROP TABLE temp.pick")
    db.execute("DROP TABLE temp.idmap")
    return n


def _copy(db: sqlite3.Connection, table: str, *, newer: str, key: tuple[str, ...]) -> int:
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


def _copy_tree(src: Path, dst: Path) -> int:
    n = 0
    for f in src.rglob("*"):
        if not f.is_file() or f.name.startswith("."):
            continue
        t = dst / f.relative_to(src)
        if t.exists() and t.stat().st_size == f.stat().st_size:
            continue
        t.parent.mkdir(parents=True, exist_ok=True)
        tmp = t.with_name(f".{t.name}.merge.tmp")
        shutil.copyfile(f, tmp)
        tmp.replace(t)
        n += 1
    return n
