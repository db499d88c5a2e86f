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
  A document whose decisions changed, or whose copy was taken while decisions on it exist in
  either database, has the merged decisions applied again: ``documents.decision``, the record's
  decision and output head, its cells and findings, and its lines in the output files.
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

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExtractorError
from .reviewed import evaluate_store  # across years, over every merged record
from .store import Store, output_paths

DB_NAME = "extractor.db"


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
        seen: set[str] = set()  # auto-id tables whose rows are indexed in temp for this merge
        reviewed: set[str] = set()  # documents whose decisions changed
        changed = 0
        for src in dbs:
            if src.resolve() == target.resolve():
                continue
            res.sources.append(str(src))
            got = store.merge_from(src, seen, reviewed)  # the SQL is the Store's
            res.documents_taken += got.documents
            changed += got.changed
            for t, n in got.tables.items():
                res.tables[t] = res.tables.get(t, 0) + n
            dl = src.parent / "downloads"
            if dl.is_dir():
                res.downloads_copied += _copy_tree(dl, out / "downloads")
        store.end_merge(seen)
        for sha in sorted(reviewed):  # decisions merged, or a copy taken of a decided document: applied again
            store.refresh(sha)
        files = output_paths(out, bool(store.output_kind(out)))  # the kind there (gzip in a new folder)
        if changed or not all(p.exists() for p in files.values()):
            res.outputs = store.write_outputs(out)  # the new and changed documents appended
            res.outputs_rewritten = True
        else:  # nothing new: the output files already say it (no pass over every record for them)
            res.outputs = files
        res.crossyear = evaluate_store(store, mapping)
    return res


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
