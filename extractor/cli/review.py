"""`extractor review`: the local review web app over a run's database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from . import app, console
from ..errors import ExtractorError
from ..store import Store, StoreError, check_database, folder_lock



@app.command()
def review(
    db: Path = typer.Option(Path("out/extractor.db"), "--db", help="the run's database"),
    port: int = typer.Option(8765, "--port", help="port on 127.0.0.1 (0 = any free port)"),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="interface to listen on; anything but loopback needs --token"),
    token: Optional[str] = typer.Option(None, "--token", envvar="EXTRACTOR_REVIEW_TOKEN", show_envvar=True,
                                        help="access token every request must present (required off loopback)"),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="name recorded with decisions (default $USER)"),
) -> None:
    """Serve the review queue: settle findings (accept / correct / confirm source), decisions kept in the db."""
    check_database(db)
    try:
        import uvicorn  # noqa: PLC0415

        from ..review.app import TOKEN_ENV, create_review_app, is_loopback  # noqa: PLC0415 - FastAPI, loaded for this command only
    except ImportError as exc:
        raise ExtractorError(f"the review app needs fastapi and uvicorn ({exc.name} is missing)") from exc
    token = (token or os.environ.get(TOKEN_ENV) or "").strip() or None
    if not is_loopback(host) and token is None:
        raise ExtractorError(
            f"--host {host} is not loopback: anyone who can reach the port could change decisions. "
            f"Give an access token with --token or {TOKEN_ENV} (e.g. `--token $(openssl rand -hex 16)`), "
            "or keep the default --host 127.0.0.1")
    if token is not None and len(token) < 12:
        raise ExtractorError("the access token is too short: use at least 12 characters")
    application = create_review_app(db, reviewer=reviewer, token=token)
    shown = f"[{host}]" if ":" in host else host
    if token is None:
        console.print(f"review app on http://{shown}:{port}/queue  (Ctrl+C to stop)")
    else:
        console.print(f"review app on http://{shown}:{port}/queue?token={token}  (Ctrl+C to stop)\n"
                      "every request must present the access token (the link sets it once; "
                      "or send Authorization: Bearer <token>)")
    uvicorn.run(application, host=host, port=port, log_level="warning")
    refresh_outputs(db)


def refresh_outputs(db: Path) -> None:
    """When the review app stops: the output files a run wrote beside the database (records.jsonl,
    cells.csv, findings.csv) brought up to date with the decisions taken — the documents decided are
    written again, the others are not read. Skipped, saying so, while another command holds the folder."""
    out = Path(db).parent
    with Store(db) as st:
        if st.output_kind(out) is None:
            return  # no run wrote output files there
    try:
        with folder_lock(out), Store(db) as st:
            paths = st.write_outputs(out)
    except StoreError as exc:
        console.print(f"output files not updated ({exc}); the next `extractor run --out {out}` updates them")
        return
    console.print(f"output files updated with the decisions: {', '.join(str(p) for p in paths.values())}")
