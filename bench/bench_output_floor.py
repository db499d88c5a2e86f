"""The least one core spends on the outputs every document must get, next to the bare-scan floor.

    python bench/bench_output_floor.py DOCS [--repeat 3]

``bench/bench_scale.py`` sets ``extractor run`` against a floor (read + hash + normalize + number scan +
one JSONL line). This bench asks how much of the gap is work done in C that no Python speed-up can
remove, because the outputs need it whatever the Python around it costs: the record's JSON
(pydantic-core's serializer), the zlib/gzip compression of the stored record and of the three output
files' blocks (what keeps the folder under 40 KB per document), the CSV writer, and SQLite executing
exactly the statements ``Store.save_rows`` executes for the document (recorded once, then replayed on
a fresh database: no Python in between but the loop).

Each part is timed alone, on inputs made beforehand, best of ``--repeat``; figures only. The last
lines compare their sum with the floor of the same documents and with 20 % of that floor's
throughput (the whole-process target of issue 14): the time one document may take in all.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import sqlite3
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import floor_pass  # noqa: E402


class _Recorder:
    """Stands in for a Store's connection while it saves: runs every statement and keeps it (SQL,
    parameters) for the replay; a ``with`` block (the save's transaction) is kept as BEGIN/COMMIT."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.calls: list[tuple[str, str, Any]] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.calls.append(("execute", sql, params))
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        self.calls.append(("executemany", sql, rows))
        return self.db.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction

    def __enter__(self) -> "_Recorder":
        self.calls.append(("begin", "", None))
        return self

    def __exit__(self, *exc: Any) -> None:
        self.db.__exit__(*exc)
        self.calls.append(("commit", "", None))


def best(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("docs", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from extractor.batch import discover
    from extractor.loaders import load_bytes
    from extractor.pipeline import extract_document
    from extractor.store import ZLIB_LEVEL, Store, cell_rows, document_rows, finding_rows, record_utf8
    from extractor.reviewed import apply_reviews

    files = discover([args.docs])
    n = len(files)
    tmp = Path(tempfile.mkdtemp(prefix="extractor-outfloor-"))
    try:
        floor_s = best(args.repeat, lambda: floor_pass(files, tmp / "floor.jsonl"))

        records = [extract_document(load_bytes(f.read_bytes(), f.name, path=str(f))) for f in files]
        # the inputs of each C call, made beforehand
        texts = [record_utf8(r) for r in records]
        rows = [document_rows(r) for r in records]
        lines = []
        for r in records:
            rv = apply_reviews(r, [])
            lines.append((cell_rows(rv)[1], finding_rows(rv)[1], (r.document.name, r.document.sha256)))
        csv_bytes = []
        for cells, findings, lead in lines:
            for part in (cells, findings):
                buf = io.StringIO()
                csv.writer(buf).writerows([(*lead, *x) for x in part])
                csv_bytes.append(buf.getvalue().encode("utf-8"))
        heads = [zlib.decompress(row.record[6]) for row in rows]
        pair_views = [zlib.decompress(row.record[7]) for row in rows]

        # the statements of each document's save, recorded on a scratch store
        with Store(tmp / "record.db") as st:
            st.open_outputs(tmp / "rec-out")
            rec = _Recorder(st.db)
            st.db = rec  # type: ignore[assignment]
            per_doc = []
            for r, row in zip(records, rows):
                rec.calls = []
                st.save_rows(row, record=r)
                per_doc.append(rec.calls)
            st.db = rec.db

        def serialize() -> None:
            for r in records:
                record_utf8(r)

        def compress() -> None:
            for text, head, pv, i in zip(texts, heads, pair_views, range(n)):
                c = zlib.compressobj(ZLIB_LEVEL)  # the stored record (spliced into records.jsonl.gz)
                c.compress(text)
                c.flush(zlib.Z_SYNC_FLUSH)
                c.flush(zlib.Z_FINISH)
                zlib.compress(head, ZLIB_LEVEL)
                zlib.compress(pv, ZLIB_LEVEL)
                for data in (csv_bytes[2 * i], csv_bytes[2 * i + 1]):  # cells and findings blocks
                    g = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15)
                    g.compress(data)
                    g.flush()
                    zlib.crc32(data)
                zlib.crc32(text)

        def write_csv() -> None:
            for cells, findings, lead in lines:
                for part in (cells, findings):
                    csv.writer(io.StringIO()).writerows(part)

        def sqlite_replay() -> None:
            db_path = tmp / "replay.db"
            for p in tmp.glob("replay.db*"):
                p.unlink()
            with Store(db_path) as st:
                db = st.db
                for calls in per_doc:
                    for kind, sql, params in calls:
                        if kind == "execute":
                            db.execute(sql, params).fetchall()
                        elif kind == "executemany":
                            db.executemany(sql, params)
                        elif kind == "commit":  # (a transaction begins with its first write)
                            db.commit()

        parts = {
            "record JSON (pydantic-core serializer)": best(args.repeat, serialize),
            "zlib/gzip of the stored record and blocks": best(args.repeat, compress),
            "CSV writer (cells, findings rows)": best(args.repeat, write_csv),
            "SQLite: the save's statements, replayed": best(args.repeat, sqlite_replay),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    floor_ms = 1000 * floor_s / n
    budget_ms = floor_ms / 0.20
    total_ms = 0.0
    print(f"{n} documents; best of {args.repeat}")
    print(f"  floor (bench_scale.py's bare scan)          {floor_ms:6.3f} ms/doc = {n / floor_s:7.1f} docs/s")
    print(f"  20 % of the floor: one document may take     {budget_ms:6.3f} ms in all")
    print("  output work done in C (inputs made beforehand):")
    for k, v in parts.items():
        ms = 1000 * v / n
        total_ms += ms
        print(f"    {k:44s} {ms:6.3f} ms/doc")
    print(f"    {'sum':44s} {total_ms:6.3f} ms/doc = {100 * total_ms / budget_ms:5.1f} % of that budget, "
          f"{total_ms / floor_ms:4.1f}x the floor")
    print(f"  SQLite statements per document: {sum(len(c) for c in per_doc) / n:.1f}")


if __name__ == "__main__":
    main()
