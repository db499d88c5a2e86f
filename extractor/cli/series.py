"""`extractor crossyear` (checks across a body's years) and `extractor dataset` (tables for analysts)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RTable

from . import app, console, out_console
from ..errors import ExtractorError
from ..bodies import default_mapping_path, load_mapping
from ..reviewed import evaluate_store, update_store
from ..store import Store



def _mapping(db: Path, bodies: Optional[Path]):
    if bodies is not None and not bodies.is_file():
        raise ExtractorError(f"no bodies mapping file at {bodies}")
    return load_mapping(bodies or default_mapping_path(db))


def run_crossyear(store, db: Path, bodies: Optional[Path] = None):
    """Evaluate the cross-year rules over the store (also called at the end of `extractor run`)."""
    return evaluate_store(store, _mapping(db, bodies))


def update_crossyear(store, db: Path, bodies: Optional[Path] = None) -> str:
    """The cross-year findings brought up to date with what changed (end of `extractor run`), and a
    summary line of every stored one."""
    u = update_store(store, _mapping(db, bodies))
    c = u.counts
    total = sum(c.get(k, 0) for k in ("PASS", "FAIL", "UNCERTAIN", "NOT_ASSESSABLE"))
    line = (f"across years: {c['bodies']} bodies ({c['series']} with more than one year), {c['pairs']} "
            f"consecutive pair(s) with checks, {total} checks: "
            + ", ".join(f"{c[k]} {k}" for k in ("PASS", "FAIL", "UNCERTAIN", "NOT_ASSESSABLE") if c.get(k)))
    if c["reviews"]:
        line += f"; {c['open']} open, {c['settled']} settled by review"
        if c["stale"]:
            line += f", {c['stale']} decision(s) no longer apply"
    how = "every pair evaluated" if u.full else f"{u.pairs} pair(s) evaluated again for {u.documents} changed document(s)"
    return line + f" ({how})"


def summary_line(result) -> str:
    st = Counter(f.status for f in result.findings)
    series = sum(1 for s in result.series.values() if len(s.years) > 1)
    settled = len(result.settled())
    line = (f"across years: {len(result.series)} bodies ({series} with more than one year), {result.pairs} "
            f"consecutive pair(s), {len(result.findings)} checks: "
            + ", ".join(f"{st[k]} {k}" for k in ("PASS", "FAIL", "UNCERTAIN", "NOT_ASSESSABLE") if st[k]))
    if settled or result.stale:
        line += f"; {len(result.open())} open, {settled} settled by review"
        if result.stale:
            line += f", {len(result.stale)} decision(s) no longer apply"
    return line


@app.command()
def crossyear(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="the run's database"),
    bodies: Optional[Path] = typer.Option(None, "--bodies", help="mapping file of bodies and years (default: bodies.yaml beside the database)"),
    show_all: bool = typer.Option(False, "--all", help="also list the checks that passed"),
) -> None:
    """Check numbers that must agree between a body's consecutive reports (carry-over, 现行有效, 历年累计)."""
    if not db.exists():
        raise ExtractorError(f"no database at {db} (run `extractor run PATHS --out DIR` first)")
    with Store(db) as store:
        result = run_crossyear(store, db, bodies)
    t = RTable(title="bodies across years", show_header=True)
    for col in ("body", "years", "documents"):
        t.add_column(col, overflow="fold")
    for name in sorted(result.series):
        s = result.series[name]
        t.add_row(name, " ".join(str(y) for y in sorted(s.years)) or "—",
                  str(sum(len(v) for v in s.years.values()) + len(s.unplaced)))
    out_console.print(t)
    shown = [f for f in result.findings if show_all or f.status != "PASS"]
    if shown:
        ft = RTable(title="cross-year findings", show_lines=False)
        for col in ("years", "status", "rule", "class", "scope", "arithmetic", "decision"):
            ft.add_column(col, overflow="fold")
        for f in shown:
            d = f.settled_by
            ft.add_row(f"{f.prev.year}→{f.next.year}", f.status, f"{f.rule}@{f.version}", f.classification, f.scope,
                       f.arithmetic, f"{d['action']} ({d.get('reviewer') or '?'})" if d else ("open" if f.open else ""))
        out_console.print(ft)
    for s in result.stale:
        r = s.review
        console.print(f"[yellow]decision no longer applies[/yellow] {r.finding_id} "
                      f"({r.prev_sha256[:12]}..{r.next_sha256[:12]}, {r.action} by {r.reviewer or '?'}): {s.why}")
    for sha, why in result.skipped:
        console.print(f"[yellow]not in a series[/yellow] {sha[:12]}: {why}")
    console.print(summary_line(result))


@app.command()
def dataset(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="the run's database"),
    out: Path = typer.Option(Path("out/dataset"), "--out", "-o", help="folder for long, wide and crossyear tables"),
    fmt: str = typer.Option("parquet", "--format", "-f", help="parquet | csv"),
    include_all: bool = typer.Option(False, "--all", help="every record with its decision, not only accepted ones"),
    bodies: Optional[Path] = typer.Option(None, "--bodies", help="mapping file of bodies and years (default: bodies.yaml beside the database)"),
) -> None:
    """Write the values of every report as tables for analysts (pandas, DuckDB, polars)."""
    from ..dataset import DATASET_FORMATS, dataset_from_store  # noqa: PLC0415 - loaded for this command only

    if fmt not in DATASET_FORMATS:
        raise ExtractorError(f"unknown format {fmt!r} (use {' or '.join(DATASET_FORMATS)})")
    if not db.exists():
        raise ExtractorError(f"no database at {db} (run `extractor run PATHS --out DIR` first)")
    with Store(db) as store:
        res = dataset_from_store(store, out, fmt, include_all=include_all, mapping=_mapping(db, bodies))
    for name, path in res.paths.items():
        console.print(f"{name}: {res.rows[name]} row(s) → {path}")
    left = ", ".join(f"{n} {k}" for k, n in sorted(res.skipped.items()))
    console.print(f"{res.records} record(s) written" + (f"; left out: {left} (--all includes them)" if left else ""))
