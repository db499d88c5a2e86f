"""The command line: thin typer commands over the library (nothing here is imported by it)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import ExtractorError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Verified structured records from 政府信息公开工作年度报告 (government information-disclosure annual reports).",
    pretty_exceptions_enable=False,
)

console = Console(stderr=True)  # progress, messages and errors of every command
out_console = Console()  # what a command prints as its result (stdout)

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


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """The exception class ``name`` of the click that typer uses (vendored as typer._click in recent
    typer, the click package before), as a tuple for ``except``."""
    import importlib  # noqa: PLC0415

    out = []
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(mod), name, None)
        except ImportError:
            continue
        if cls is not None and cls not in out:
            out.append(cls)
    return tuple(out)


def _error(msg: str, code: int = 2) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    sys.exit(code)


def main() -> None:
    """The console entry point: every error is one line (``error: …``, exit code 2), never a traceback."""
    import sqlite3  # noqa: PLC0415

    no_args, usage, abort, click_error = (_click_classes(n) for n in
                                          ("NoArgsIsHelpError", "UsageError", "Abort", "ClickException"))
    try:
        rv = app(standalone_mode=False)
    except no_args as exc:  # bare `extractor` / `extractor run`: the help
        exc.show()
        sys.exit(exc.exit_code)
    except usage as exc:  # a bad option value, an unknown option, a missing argument
        msg = exc.format_message().rstrip(".")
        msg = msg.removeprefix("Value error, ").replace("Value error, ", "")
        ctx = getattr(exc, "ctx", None)
        cmd = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        _error(f"{msg[:1].lower()}{msg[1:]}{cmd}", exc.exit_code)
    except abort:
        typer.secho("interrupted", fg="yellow", err=True)
        sys.exit(130)
    except click_error as exc:
        _error(exc.format_message(), exc.exit_code)
    except ExtractorError as exc:
        _error(str(exc))
    except sqlite3.Error as exc:  # a database that went bad under a command (disk full, corrupt page, locked)
        _error(f"database error: {exc} (is the database corrupt, locked by another process or read-only?)")
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="yellow", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
