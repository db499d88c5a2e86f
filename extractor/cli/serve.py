"""`extractor serve`: the HTTP API (extractor.service) under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import app
from .core import model_steps

console = Console(stderr=True)


@app.command()
def serve(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="SQLite database (shared with `extractor run`)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, max=32, help="documents processed at once (worker threads)"),
    max_upload: Optional[int] = typer.Option(None, "--max-upload", min=1, help="upload limit in bytes (default EXTRACTOR_MAX_BYTES)"),
    llm: str = typer.Option("auto", "--llm", help="auto (use OPENAI_* if set) | off | local"),
    model: Optional[str] = typer.Option(None, "--model", help="model name for the OpenAI-compatible endpoint"),
    tables: str = typer.Option("auto", "--tables", help="auto | both (see `extractor run`)"),
) -> None:
    """Serve the HTTP API: POST /documents, GET /documents/{sha256}, GET /documents, /health, /docs."""
    import uvicorn  # noqa: PLC0415

    from ..service import create_app  # noqa: PLC0415

    steps, reason = model_steps(llm, model, tables, db)
    if reason:
        console.print(f"[yellow]{reason}[/yellow] — the deterministic path only")
    api = create_app(db, workers=workers, llm=steps, skipped_reason=reason, max_upload=max_upload)
    console.print(f"extractor API on http://{host}:{port} (docs at /docs, schema at /openapi.json), db {db}")
    uvicorn.run(api, host=host, port=port, log_level="info")
