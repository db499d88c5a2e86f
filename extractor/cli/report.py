"""`extractor report` (static HTML disagreement report) and `extractor export` (accepted records)."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app, console
from ..errors import ExtractorError
from ..store import Store, check_database, folder_lock



@app.command()
def report(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="the run's database (extractor run --out DIR writes DIR/extractor.db)"),
    out: Path = typer.Option(Path("out/report"), "--out", "-o", help="folder for index.html and one page per document"),
) -> None:
    """Write the reviewer's disagreement report: self-contained HTML pages (no network needed)."""
    from ..report import build_report  # noqa: PLC0415 - jinja2 and the page code, loaded for this command only

    check_database(db)
    with folder_lock(out):
        paths = build_report(db, out)
    series = sum(1 for p in paths[1:] if p.name.startswith("series-"))
    console.print(f"wrote {len(paths) - 1 - series} document page(s), {series} series page(s) and {paths[0]}")


@app.command()
def export(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="the run's database"),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv | xlsx | jsonl"),
    out: Path = typer.Option(None, "--out", "-o", help="output file (default out/accepted.<format>)"),
    include_all: bool = typer.Option(False, "--all", help="export every record with its decision, not only accepted ones"),
) -> None:
    """Export accepted records (reviewers' decisions applied; reviewer values marked as such)."""
    from ..export import export_records  # noqa: PLC0415 - loaded for this command only (openpyxl for xlsx)

    check_database(db)
    out = out or db.parent / f"accepted.{fmt}"
    if out.is_dir():
        raise ExtractorError(f"--out {out} is a folder; give a file name (e.g. {out / ('accepted.' + fmt)})")
    with Store(db) as store:
        n = export_records(store, fmt, out, include_all=include_all)
    console.print(f"exported {n} {'record(s)' if include_all else 'accepted record(s)'} to {out}")
