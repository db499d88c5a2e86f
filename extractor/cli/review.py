"""`extractor review`: the local review web app over a run's database."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import app
from ..errors import ExtractorError

console = Console(stderr=True)


@app.command()
def review(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="the run's database"),
    port: int = typer.Option(8765, "--port", help="port on 127.0.0.1 (0 = any free port)"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on (keep it local)"),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="name recorded with decisions (default $USER)"),
) -> None:
    """Serve the review queue: settle findings (accept / correct / confirm source), decisions kept in the db."""
    if not db.exists():
        raise ExtractorError(f"no database at {db} (run `extractor run PATHS --out DIR` first)")
    try:
        import uvicorn  # noqa: PLC0415

        from ..review.app import create_app  # noqa: PLC0415
    except ImportError as exc:
        raise ExtractorError(f"the review app needs fastapi and uvicorn ({exc.name} is missing)") from exc
    application = create_app(db, reviewer=reviewer)
    console.print(f"review app on http://{host}:{port}/queue  (Ctrl+C to stop)")
    uvicorn.run(application, host=host, port=port, log_level="warning")
