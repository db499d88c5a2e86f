"""`extractor serve`: the HTTP API (extractor.service) under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app, console
from ..store import Store
from .core import LLMChoice, TablesChoice, steps_for_options



@app.command()
def serve(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="SQLite database (shared with `extractor run`)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, max=32, help="documents processed at once (worker threads)"),
    max_upload: Optional[int] = typer.Option(None, "--max-upload", min=1, help="upload limit in bytes (default EXTRACTOR_MAX_BYTES)"),
    max_queue: int = typer.Option(100, "--max-queue", min=1, help="jobs queued or running at most; past it uploads get 503 + Retry-After"),
    llm: LLMChoice = typer.Option(LLMChoice.auto, "--llm", help="auto (use OPENAI_* if set) | off | local"),
    model: Optional[str] = typer.Option(None, "--model", help="model name for the OpenAI-compatible endpoint"),
    tables: TablesChoice = typer.Option(TablesChoice.auto, "--tables", help="auto | both | off (see `extractor run`)"),
    llm_timeout: Optional[float] = typer.Option(None, "--llm-timeout", min=1, help="seconds per model HTTP attempt (default 180, or EXTRACTOR_LLM_TIMEOUT)"),
    doc_timeout: Optional[float] = typer.Option(None, "--doc-timeout", min=0, help="time budget per document in seconds, 0 = none (default 600, or EXTRACTOR_DOC_SECONDS)"),
) -> None:
    """Serve the HTTP API: POST /documents, GET /documents/{sha256}, GET /documents, /health, /docs."""
    import uvicorn  # noqa: PLC0415

    from ..service import create_service_app  # noqa: PLC0415 - FastAPI, loaded for this command only

    import os  # noqa: PLC0415

    if doc_timeout is not None:
        os.environ["EXTRACTOR_DOC_SECONDS"] = f"{doc_timeout:g}"
    Store(db).close()  # a database that cannot be used is one clear error before the server starts
    steps, reason = steps_for_options(llm, model, tables, db, timeout=llm_timeout)
    if reason:
        console.print(f"[yellow]{reason}[/yellow] — the deterministic path only")
    api = create_service_app(db, workers=workers, llm=steps, skipped_reason=reason, max_upload=max_upload,
                     max_queue=max_queue)
    console.print(f"extractor API on http://{host}:{port} (docs at /docs, schema at /openapi.json), db {db}")
    uvicorn.run(api, host=host, port=port, log_level="info")
