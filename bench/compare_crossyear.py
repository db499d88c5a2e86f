"""Are two runs' stored cross-year results the same? Compares the ``bodies`` and ``crossyear_findings`` tables of
two ``extractor.db`` files (findings' JSON unpacked), ignoring when they were written.

    python bench/compare_crossyear.py A/extractor.db B/extractor.db
"""

from __future__ import annotations

import sqlite3
import sys
import zlib


def rows(path: str) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    out = {}
    for table in ("bodies", "crossyear_findings"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")
                if r[1] not in ("created_at", "updated_at", "stamp", "evaluated_at")]
        got = []
        for r in db.execute(f"SELECT {', '.join(cols)} FROM {table}"):
            got.append(tuple(zlib.decompress(v).decode() if isinstance(v, bytes) else v for v in r))
        out[table] = sorted(got, key=repr)
    return out


if __name__ == "__main__":
    a, b = rows(sys.argv[1]), rows(sys.argv[2])
    bad = 0
    for t in a:
        same = a[t] == b[t]
        bad += not same
        print(f"{t}: {'identical' if same else 'DIFFERS'} ({len(a[t])} / {len(b[t])} rows)")
    sys.exit(1 if bad else 0)
