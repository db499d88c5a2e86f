"""`extractor run`, `extractor check`, `extractor eval`."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table as RTable

from . import app, console, out_console
from .. import gcpolicy
from ..batch import discover, run_batch
from ..evaluate import DocEval, evaluate_record, find_gold, summarize
from ..errors import ExtractorError
from ..sources import Source, process
from ..verify.engine import check_identities
from ..verify.groups import groups_of
from ..store import Store, folder_lock
from ..tablespec import table_specs
from ..decisions import apply_reviews, reviews_by_document
from ..fetch import is_url, read_url_list
from ..inputs import discover_inputs, parse_shard, select_shard



class LLMChoice(str, Enum):
    auto = "auto"
    off = "off"
    local = "local"


class TablesChoice(str, Enum):
    auto = "auto"
    both = "both"
    off = "off"


class ModeChoice(str, Enum):
    tools = "tools"
    md_json = "md_json"
    json = "json"


def _value(v):
    return v.value if isinstance(v, Enum) else v


def steps_for_options(llm, model: Optional[str], tables, db_path: Path, mode=None, timeout: Optional[float] = None):
    """The LLM layer's steps for this run's command-line options, or None with the reason they are skipped."""
    llm, tables, mode = _value(llm), _value(tables), _value(mode)
    if llm == "off":
        return None, "model steps skipped: --llm off"
    from ..llm import model_steps as make  # noqa: PLC0415 - deliberately lazy: openai/instructor are heavy

    extra = {"timeout": timeout} if timeout else {}
    return make(llm=None if llm == "auto" else llm, model=model, mode=mode, db_path=db_path, tables=tables,
                identities=check_identities, **extra)


@app.command()
def run(
    paths: Optional[list[str]] = typer.Argument(None, help="report files and/or folders (searched recursively) and/or http(s) URLs"),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="output folder (records.jsonl.gz, cells.csv.gz, findings.csv.gz, extractor.db)"),
    force: bool = typer.Option(False, "--force", help="redo documents already finished in this output folder"),
    llm: LLMChoice = typer.Option(LLMChoice.auto, "--llm", help="auto (use OPENAI_* if set) | off | local"),
    model: Optional[str] = typer.Option(None, "--model", help="model name for the OpenAI-compatible endpoint"),
    tables: TablesChoice = typer.Option(TablesChoice.auto, "--tables", help="auto (model reads only tables the parser left incomplete) | both | off"),
    mode: Optional[ModeChoice] = typer.Option(None, "--mode", help="structured-output mode: tools | md_json | json (default: tools; md_json for --llm local)"),
    llm_timeout: Optional[float] = typer.Option(None, "--llm-timeout", min=1, help="seconds per model HTTP attempt (default 180, or EXTRACTOR_LLM_TIMEOUT)"),
    doc_timeout: Optional[float] = typer.Option(None, "--doc-timeout", min=0, help="time budget per document in seconds, 0 = none (default 600, or EXTRACTOR_DOC_SECONDS)"),
    urls: Optional[Path] = typer.Option(None, "--urls", help="file of report URLs, one per line (# comments)"),
    allow_private: bool = typer.Option(False, "--allow-private", help="allow URLs on loopback/private/link-local addresses (refused by default)"),
    shard: Optional[str] = typer.Option(None, "--shard", help="i/N: process only slice i (0-based) of N, by content hash"),
    concurrency: int = typer.Option(1, "--concurrency", min=1, max=64, help="worker processes loading and extracting documents (also bounds concurrent model calls)"),
    rewrite_outputs: bool = typer.Option(False, "--rewrite-outputs", help="write the output files again from the database (otherwise new and changed documents are appended)"),
    plain_outputs: bool = typer.Option(False, "--plain-outputs", help="write records.jsonl, cells.csv, findings.csv uncompressed (default: .gz files, about 10x smaller, read as they are by gzip, pandas, DuckDB); switching kind rewrites the files"),
) -> None:
    """Extract and verify every report under PATHS (files, folders, URLs); resumable (re-run to continue)."""
    table_specs()  # a malformed rule set stops here, once, not on every document
    gcpolicy.for_batch()  # start-up done: the collector set for a batch (also in the worker processes)
    items: list = list(paths or [])
    if urls is not None:
        items += read_url_list(urls)
    if not items:
        raise ExtractorError("nothing to do: give report files, folders or URLs (or --urls FILE)")
    missing = [p for p in items if not is_url(p) and not Path(p).exists()]
    if missing:
        raise ExtractorError(f"no such file or folder: {missing[0]}")
    files = discover_inputs(items)
    if not files:
        raise ExtractorError("no report files found (.txt .md .html .htm .pdf .docx .png .jpg)")
    if shard:
        index, count = parse_shard(shard)
        total = len(files)
        files = select_shard(files, index, count)
        console.print(f"shard {index}/{count}: {len(files)} of {total} inputs")
    if doc_timeout is not None:
        os.environ["EXTRACTOR_DOC_SECONDS"] = f"{doc_timeout:g}"  # read by every worker (threads, processes)
    with folder_lock(out):
        _run(files, out, force=force, llm=llm, model=model, tables=tables, mode=mode, llm_timeout=llm_timeout,
             concurrency=concurrency, fetch_options={"allow_private": True} if allow_private else None,
             rewrite_outputs=rewrite_outputs, plain_outputs=plain_outputs)


def _run(files, out: Path, *, force: bool, llm, model, tables, mode, llm_timeout, concurrency: int,
         fetch_options: dict | None, rewrite_outputs: bool = False, plain_outputs: bool = False) -> None:
    db_path = out / "extractor.db"
    with Store(db_path) as store:
        store.check_writable()
    steps, reason = steps_for_options(llm, model, tables, db_path, mode, timeout=llm_timeout)
    if reason:
        console.print(f"[yellow]{reason}[/yellow] — running the deterministic path only")
    with Store(db_path) as store:
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[current]}"),
            console=console, transient=False, disable=not console.is_terminal and bool(os.environ.get("CI")),
        )
        interrupted = False
        res = None
        # each document's lines appended as it is saved
        store.open_outputs(out, rewrite=rewrite_outputs, plain=plain_outputs)
        task = progress.add_task("extracting", total=len(files), current="")

        def tick(path: Path, status: str, rec) -> None:
            label = path[-40:] if isinstance(path, str) else path.name[:40]
            progress.update(task, advance=1, current=f"{label} {status}")

        # the display (and its refresh thread) starts once the worker processes exist: forked from a
        # process of one thread, they start at once instead of importing everything again (parallel.py)
        try:
            res = run_batch(files, store, force=force, llm=steps, skipped_reason=reason, on_progress=tick,
                            concurrency=concurrency, fetch_options=fetch_options, worker_init=gcpolicy.for_batch,
                            on_start=progress.start)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            progress.stop()
        paths_out = store.write_outputs(out)
        counts = store.counts()
        across = _crossyear(store, db_path)
        usage = steps.totals().line() if steps is not None else None
    t = RTable(title="extractor run", show_header=True)
    t.add_column("")
    t.add_column("count", justify="right")
    if res is not None:
        t.add_row("processed now", str(res.processed))
        t.add_row("skipped (already done)", str(res.skipped))
    for k in ("accepted", "needs_review", "failed"):
        t.add_row(f"{k} (all in {out})", str(counts.get(k, 0)))
    if usage:
        t.add_row("model usage", usage)
    console.print(t)
    if res is not None:
        for f, err in res.errors[:20]:
            console.print(f"[red]failed[/red] {f}: {err}")
    if across:
        console.print(across)
    console.print("outputs: " + ", ".join(str(p) for p in paths_out.values()) + f", {db_path}")
    if interrupted:
        console.print("[yellow]interrupted: finished documents are saved; run the same command again to resume[/yellow]")
        raise typer.Exit(130)


def _crossyear(store, db_path: Path) -> str | None:
    """Cross-year checks brought up to date: only the pairs of the body-years this run changed are
    evaluated (`extractor crossyear` evaluates and prints them all)."""
    try:
        from .series import update_crossyear  # noqa: PLC0415
    except ImportError:  # the series commands are optional (pyarrow)
        return None
    return update_crossyear(store, db_path)


@app.command()
def check(
    file: Path = typer.Argument(..., help="one report file"),
    as_json: bool = typer.Option(False, "--json", help="print the record as JSON"),
    all_findings: bool = typer.Option(False, "--all", help="also list the checks that passed"),
) -> None:
    """Print one report's tables and findings readably."""
    table_specs()  # a malformed rule set is its own error, not the document's
    if not file.exists():
        raise ExtractorError(f"no such file: {file}")
    rec = _extract_one(file)
    if as_json:  # plain JSON (rich's highlighter took 0.3 s on a 200 KB record)
        sys.stdout.write(rec.model_dump_json(indent=2) + "\n")
        if rec.decision == "failed":
            raise typer.Exit(2)
        return
    if rec.decision == "failed":
        raise ExtractorError(f"{rec.document.name}: {rec.error}")
    colour = {"accepted": "green", "needs_review": "yellow", "failed": "red"}[rec.decision]
    out_console.print(f"[bold]{rec.document.name}[/bold]  organ={rec.organ}  year={rec.year}  format={rec.format}  "
                      f"decision=[{colour}]{rec.decision}[/{colour}]")
    for r in rec.reasons:
        out_console.print(f"  · {r}")
    for s in rec.skipped:
        out_console.print(f"  · skipped: {s}")
    for key, table in rec.tables.items():
        out_console.print(_render_table(key, table))
    groups = groups_of(rec)  # one question per cause (verify/groups.py)
    if groups:
        qt = RTable(title="questions (findings grouped by cause)", show_lines=False)
        for col in ("", "question", "findings", "rules"):
            qt.add_column(col, overflow="fold")
        for g in sorted(groups, key=lambda g: not g.blocking):
            qt.add_row("open" if g.blocking else "advisory", g.key, str(len(g.findings)), ", ".join(g.rules))
        out_console.print(qt)
    shown = [f for f in rec.findings if all_findings or f.status != "PASS"]
    if shown:
        ft = RTable(title="findings", show_lines=False)
        for col in ("status", "rule", "class", "scope", "arithmetic / message"):
            ft.add_column(col, overflow="fold")
        for f in shown:
            ft.add_row(f.status, f.rule, f.classification, f.scope, f.arithmetic or f.message)
        out_console.print(ft)
    elif rec.decision == "accepted":
        out_console.print("no findings: every value grounded, every identity holds")
    else:
        out_console.print(f"no failing check, but the record is {rec.decision}: see the reasons above")


def _extract_one(path: Path, llm=None):
    """One file's record, within its budgets; an unreadable file gives a failed record, never a traceback."""
    return process(Source.from_path(path), llm=llm).record


def _read_gold(path: Path) -> dict:
    """A gold file as a dict, or one clear error (unreadable, not JSON, not an object)."""
    try:
        gold = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExtractorError(f"cannot read the gold file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ExtractorError(f"gold file {path} is not UTF-8 text") from exc
    except ValueError as exc:
        raise ExtractorError(f"gold file {path} is not valid JSON: {exc}") from exc
    if not isinstance(gold, dict):
        raise ExtractorError(f"gold file {path} must hold a JSON object (gold-format.md), not {type(gold).__name__}")
    return gold


def _render_table(key: str, table) -> RTable:
    rows = list(dict.fromkeys(c.row for c in table.cells))
    cols = list(dict.fromkeys(c.col for c in table.cells))
    if key == "legacy":
        t = RTable(title=f"{key} ({table.encoding})")
        for col in ("label", "unit", "value", "column", "key"):
            t.add_column(col, overflow="fold")
        for c in table.cells:
            t.add_row(c.label or "", c.unit or "", _show(c), c.col, c.key or "")
        return t
    t = RTable(title=f"{key} [{table.template}] ({table.encoding})" + ("" if table.complete else " INCOMPLETE"))
    t.add_column("row")
    for col in cols:
        t.add_column(col, justify="right")
    index = {(c.row, c.col): c for c in table.cells}
    for r in rows:
        t.add_row(r, *[_show(index.get((r, c))) for c in cols])
    return t


def _show(c) -> str:
    if c is None:
        return ""
    if c.kind == "empty":
        return "[dim]·[/dim]" if c.note == "blank cell" else "[red]?[/red]"
    if c.kind == "not_applicable":
        return c.raw or "-"
    if c.kind == "ambiguous":
        return "[magenta]" + "|".join(str(x.value) for x in c.candidates) + "[/magenta]"
    v = str(c.value)
    return v if c.grounded is not False else f"[red]{v}![/red]"


@app.command("eval")
def eval_cmd(
    paths: Optional[list[Path]] = typer.Argument(None, help="report files and/or folders (with --db: only these documents)"),
    gold: Path = typer.Option(..., "--gold", help="folder of gold JSON files (gold-format.md)"),
    db: Optional[Path] = typer.Option(None, "--db", help="score the stored records of a run (its extractor.db), "
                                      "as records.jsonl shows them: model values and reviewers' decisions included"),
    unreviewed: bool = typer.Option(False, "--unreviewed", help="with --db: the records as the extractor made them, "
                                    "without the reviewers' decisions"),
    llm: LLMChoice = typer.Option(LLMChoice.off, "--llm", help="fresh pass: off (deterministic) | auto (OPENAI_*) | local"),
    model: Optional[str] = typer.Option(None, "--model", help="fresh pass: model name"),
    tables: TablesChoice = typer.Option(TablesChoice.auto, "--tables", help="fresh pass with a model: auto | both | off"),
    mode: Optional[ModeChoice] = typer.Option(None, "--mode", help="fresh pass: structured-output mode"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    show_wrong: int = typer.Option(10, "--show-wrong", help="wrong cells to list per document"),
) -> None:
    """Compare records with gold files: cell accuracy, acceptance precision, violation recall.

    Either a fresh pass over PATHS (deterministic by default; --llm to use a model), or the stored
    records of a run with --db (what `extractor run` produced, with whatever model it used, and the
    reviewers' decisions applied)."""
    table_specs()  # a malformed rule set is its own error, not every document's
    llm, tables, mode = _value(llm), _value(tables), _value(mode)
    if not gold.is_dir():
        raise ExtractorError(f"gold folder not found: {gold}")
    if db is None and not paths:
        raise ExtractorError("give report files or folders, or --db FILE to score a run's stored records")
    if db is not None and llm != "off":
        raise ExtractorError("--db scores the stored records as they are; --llm is for a fresh pass over PATHS")
    for gp in sorted(gold.glob("*.json")):  # a broken gold file is one clear error, before any work
        _read_gold(gp)
    evals: list[DocEval] = []
    no_gold: list[str] = []
    notes: list[str] = []
    for rec in (_stored_records(db, paths, unreviewed) if db is not None
                else _fresh_records(paths or [], llm, model, tables, mode, notes)):
        gp = find_gold(gold, rec)
        if gp is None:
            no_gold.append(rec.document.name)
            continue
        try:
            evals.append(evaluate_record(rec, _read_gold(gp)))
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise ExtractorError(f"gold file {gp} does not follow gold-format.md: {type(exc).__name__}: {exc}") from exc
    summary = summarize(evals)
    summary["without_gold"] = no_gold
    summary["source"] = (f"stored records of {db}" + (" (without reviews)" if unreviewed else "")
                         if db is not None else f"fresh pass (--llm {llm})")
    if notes:
        summary["notes"] = notes
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
        return
    t = RTable(title=f"per document · {summary['source']}")
    for col in ("document", "format", "decision", "cells", "accuracy %", "violations found"):
        t.add_column(col)
    for d in summary["by_document"]:
        t.add_row(d["document"], d["format"], d["decision"], str(d["cells"]), str(d["accuracy"]), d["violations"])
    out_console.print(t)
    for d in summary["by_document"]:
        for w in d["wrong"][:show_wrong]:
            out_console.print(f"  wrong {d['document']} {w['cell']}: gold={w['gold']!r} got={w['got']!r} ({w['kind']})")
    for name, s in summary["per_table"].items():
        out_console.print(f"table {name}: {s['correct']}/{s['total']} = {s['accuracy']}%")
    for name, s in summary["per_format"].items():
        out_console.print(f"format {name}: {s['correct']}/{s['total']} = {s['accuracy']}%")
    for name, s in summary["by_producer"].items():
        out_console.print(f"cells by {name}: {s['correct']}/{s['total']} = {s['accuracy']}%")
    for n in notes:
        out_console.print(n)
    if no_gold:
        out_console.print(f"no gold for: {', '.join(no_gold)}")
    out_console.print(
        f"cell accuracy {summary['cell_accuracy']}% ({summary['cells_correct']}/{summary['cells']}) · "
        f"accepted {summary['accepted']} (with wrong cells: {summary['accepted_with_wrong_cells']}, "
        f"precision {summary['acceptance_precision']}%) · source violations recalled "
        f"{summary['source_violations_found']}/{summary['source_violations_gold']}"
    )


def _stored_records(db: Path, paths: Optional[list[Path]], unreviewed: bool):
    """The run's records as its outputs show them (reviews applied), optionally only for PATHS."""
    if not db.is_file():
        raise ExtractorError(f"no database at {db} (run `extractor run PATHS --out DIR` first)")
    names = {f.name for f in discover(paths)} if paths else None
    with Store(db) as store:
        reviews = {} if unreviewed else reviews_by_document(store)
        for rec in store.records():
            if names is not None and rec.document.name not in names:
                continue
            yield apply_reviews(rec, reviews.get(rec.document.sha256, [])).record


def _fresh_records(paths: list[Path], llm: str, model: Optional[str], tables: str, mode: Optional[str],
                   notes: list[str]):
    import tempfile  # noqa: PLC0415

    files = discover(paths)
    with tempfile.TemporaryDirectory(prefix="extractor-eval-") as tmp:
        steps, reason = steps_for_options(llm, model, tables, Path(tmp) / "model.db", mode)
        if reason and llm != "off":
            notes.append(reason)
        for f in files:
            yield _extract_one(f, llm=steps)  # within its budgets; unreadable: a failed record with its reason
        if steps is not None:
            notes.append("model usage: " + steps.totals().line())
