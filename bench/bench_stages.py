"""Where one core's time goes in ``extractor run --llm off``, stage by stage, on a folder of reports.

    python bench/bench_stages.py DOCS [--repeat 2]

In this process, without a profiler (cProfile inflates call-heavy code): start-up (a fresh
interpreter importing the CLI and loading the rules), then per document: read + hash, load,
layout, table parsing, narrative checks, identities/grounding, the decision, turning the record
into rows (``store.document_rows``, which decides again), and the SQLite save; at the end the
cross-year update and the output files. Figures only: seconds per stage and ms per document,
best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("docs", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    t = time.perf_counter()
    for _ in range(3):
        subprocess.run([sys.executable, "-c", "from extractor.cli import main; from extractor.tablespec import "
                        "table_specs; table_specs()"], check=True)
    startup = (time.perf_counter() - t) / 3

    from extractor import __version__
    from extractor.batch import discover
    from extractor.budget import findings_for
    from extractor.layout import analyze
    from extractor.loaders import load_bytes
    from extractor.model import Record
    from extractor.parse import parse_tables
    from extractor.pipeline import info
    from extractor.reviewed import update_store
    from extractor.store import Store, document_rows
    from extractor.templates import rules_version
    from extractor.verify import decide, verify_record
    from extractor.verify.narrative import check_narrative

    files = discover([args.docs])
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="extractor-stages-"))
        acc: dict[str, float] = {}

        def clock(name: str, t0: float) -> float:
            now = time.perf_counter()
            acc[name] = acc.get(name, 0.0) + now - t0
            return now

        try:
            with Store(tmp / "extractor.db") as st:
                st.open_outputs(tmp)
                for f in files:
                    t0 = time.perf_counter()
                    raw = f.read_bytes()
                    hashlib.sha256(raw).hexdigest()
                    t0 = clock("read + hash", t0)
                    doc = load_bytes(raw, f.name, path=str(f))
                    t0 = clock("load", t0)
                    layout = analyze(doc)
                    t0 = clock("layout", t0)
                    rec = Record(document=info(doc), organ=layout.organ, year=layout.year,
                                 format=layout.format if layout.format in ("2021", "2019", "legacy") else "unknown",
                                 tables=parse_tables(doc, layout),
                                 versions={"extractor": __version__, "rules": rules_version()})
                    rec.reasons.extend(doc.notes)
                    t0 = clock("parse tables", t0)
                    check_narrative(doc, layout, rec)
                    t0 = clock("narrative", t0)
                    rec.findings.extend(verify_record(rec, doc))
                    rec.findings.extend(findings_for(doc.problems))
                    t0 = clock("verify (identities, grounding)", t0)
                    decide(rec)
                    t0 = clock("decide", t0)
                    rows = document_rows(rec)
                    t0 = clock("document_rows (decides again)", t0)
                    st.save_rows(rows, record=rec)
                    t0 = clock("save (SQLite, output lines)", t0)
                t0 = time.perf_counter()
                update_store(st)
                t0 = clock("cross-year update", t0)
                st.write_outputs(tmp)
                clock("output files (end of run)", t0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for k, v in acc.items():
            best[k] = min(best.get(k, v), v)
    n = len(files)
    total = startup + sum(best.values())
    print(f"{n} documents; best of {args.repeat}")
    print(f"  {'start-up (interpreter + imports + rules)':40s} {startup:6.2f} s")
    for k, v in best.items():
        print(f"  {k:40s} {v:6.2f} s  {1000 * v / n:6.2f} ms/doc  {100 * v / total:4.1f} %")
    print(f"  {'total':40s} {total:6.2f} s  = {n / total:.1f} docs/s")


if __name__ == "__main__":
    main()
