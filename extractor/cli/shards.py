"""`extractor merge`: combine the output folders of shard runs (`extractor run --shard i/N`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app, console
from ..errors import ExtractorError
from ..bodies import load_mapping
from ..store import check_database, folder_lock



@app.command("merge")
def merge_cmd(
    sources: list[Path] = typer.Argument(..., help="shard output folders (each holding extractor.db) or .db files"),
    out: Path = typer.Option(..., "--out", "-o", help="merged output folder (created; may already hold a merge)"),
    bodies: Optional[Path] = typer.Option(None, "--bodies", help="mapping file of bodies and years for the checks across years (default: bodies.yaml beside the merged database)"),
) -> None:
    """Merge shard databases into one (idempotent) and bring the output files up to date.

    Fan-out (a Slurm array, a Kubernetes Indexed Job or GNU parallel; see docs/urls-shards-service.md):
    extractor run reports/ --shard $I/8 --out out/shard-$I   for I in 0..7, then
    extractor merge out/shard-* --out out/all
    The checks across years are evaluated again over the merged records (a body's years may be spread
    over shards); decisions on them are carried like the others.
    """
    from ..merge import DB_NAME, merge  # noqa: PLC0415 - loaded for this command only

    if bodies is not None and not bodies.is_file():
        raise ExtractorError(f"no bodies mapping file at {bodies}")
    for src in sources:  # every source is a usable SQLite database, before anything is merged
        check_database(src / DB_NAME if src.is_dir() else src)
    with folder_lock(out):
        res = merge(sources, out, load_mapping(bodies) if bodies is not None else None)
    console.print(f"merged {len(res.sources)} database(s) into {out / 'extractor.db'}: "
                  f"{res.documents_taken} document(s) copied"
                  + "".join(f", {t}: {n} row(s)" for t, n in sorted(res.tables.items()))
                  + (f", {res.downloads_copied} download file(s)" if res.downloads_copied else ""))
    if res.crossyear is not None:
        from .series import summary_line  # noqa: PLC0415 - an optional command module (registers its commands)

        console.print(summary_line(res.crossyear) + " (evaluated over the merged records)")
    console.print(("outputs: " if res.outputs_rewritten else "outputs (nothing new, left as they were): ")
                  + ", ".join(str(p) for p in res.outputs.values()))
