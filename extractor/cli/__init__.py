"""The command line: thin typer commands over the library (nothing here is imported by it)."""

from __future__ import annotations

import sys

import typer

from ..errors import ExtractorError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Verified structured records from 政府信息公开工作年度报告 (government information-disclosure annual reports).",
    pretty_exceptions_enable=False,
)

# command modules register themselves on `app`
from . import core  # noqa: E402,F401

for _optional in ("report", "review", "serve", "shards", "series"):
    try:
        __import__(f"{__name__}.{_optional}")
    except ImportError as _exc:  # a command whose extra is not installed stays out of the list
        if _exc.name and _exc.name.startswith(f"{__name__}.{_optional}"):
            continue
        if _exc.name and _exc.name.split(".")[0] in ("fastapi", "uvicorn", "openpyxl", "playwright", "multipart"):
            continue
        raise


def main() -> None:
    try:
        app()
    except ExtractorError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="yellow", err=True)
        sys.exit(130)
