"""`extractor merge`: combine the output folders of shard runs (`extractor run --shard i/N`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from . import app
from ..merge import merge

console = Console(stderr=True)


@app.command("merge")
def merge_cmd(
    sources: list[Path] = typer.Argument(..., help="shard output folders (each holding extractor.db) or .db files"),
    out: Path = typer.Option(..., "--out", "-o", help="merged output folder (created; may already hold a merge)"),
) -> None:
    """Merge shard databases into one (idempotent) and regenerate records.jsonl, cells.csv, findings.csv.

    Fan-out example (Slurm array, Kubernetes indexed Job or GNU parallel all work the same way):
    extractor run reports/ --shard $I/8 --out out/shard-$I   for I in 0..7, then
    extractor merge out/shard-* --out out/all
    """
    res = merge(sources, out)
    console.print(f"merged {len(res.sources)} database(s) into {out / 'extractor.db'}: "
                  f"{res.documents_taken} document(s) copied"
                  + "".join(f", {t}: {n} row(s)" for t, n in sorted(res.tables.items()))
                  + (f", {res.downloads_copied} download file(s)" if res.downloads_copied else ""))
    console.print("outputs: " + ", ".join(str(p) for p in res.outputs.values()))
