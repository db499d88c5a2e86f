"""Tables through the model, and per-cell reconciliation with the parser.

The model reads a table region and fills canonical cells (gold-format keys) with a verbatim quote
per cell. Only tables the parser left incomplete or ambiguous are sent by default; ``every=True``
(``--tables both``) sends every table as an independent second reading.

Reconciliation, per cell (parser, model, rules):

* both read the same value → kept (the parser's cell, span and all);
* they disagree → the value that is grounded (the quote is in the region and the value is printed
  in it) *and* keeps the table's identities wins, but only when exactly one of them does; otherwise
  the cell goes to review with both values (finding ``M.CELL_AGREE``, classification
  ``disagreement``). A published inconsistency is never repaired: a grounded parser value that
  breaks an identity is not replaced by an ungrounded model value that would satisfy it;
* only the model read it → the model's cell, if grounded; the identities then check it like any other.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from ..document import Document
from ..model import Cell, Finding, Operand, Record, Table
from ..verify.narrative import as_number, compact, locate, numbers_in, same_number
from .client import LLMClient
from .prompts import load_prompt

PROMPT = "table_cells"
RULE = "M.CELL_AGREE"
RULE_VERSION = 1
TABLES = ("table2", "table3", "table4")


class CellOut(BaseModel):
    row: str = Field(description="canonical row key")
    col: str = Field(description="canonical column key")
    value: float | str | None = Field(description='the printed number; null when blank; "-" when not applicable')
    quote: str = Field(description="verbatim characters of the table text: the row label up to this cell's number")


class TableCellsOut(BaseModel):
    cells: list[CellOut]

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"cells": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> "TableCellsOut":
        ctx = info.context or {}
        text = ctx.get("text")
        if text is None:
            return self
        keys = ctx.get("keys") or set()
        problems = []
        ctext = compact(text)
        for c in self.cells:
            if keys and (c.row, c.col) not in keys:
                problems.append(f"M.CELL_KEYS: ({c.row}, {c.col}) is not a cell of this table; use the given keys")
            elif isinstance(c.value, (int, float)):
                if compact(c.quote) not in ctext:
                    problems.append(f"G.GROUNDED: the quote for {c.row}.{c.col} is not in the table text; copy it exactly")
                elif not any(same_number(n, as_number(c.value)) for n in numbers_in(c.quote)):
                    problems.append(f"G.GROUNDED: {c.value:g} is not printed in the quote for {c.row}.{c.col}")
        if problems:
            raise ValueError("; ".join(problems[:12]))
        return self


# --- which cells a table has -----------------------------------------------------------------------


def template_cells(key: str, fmt: str) -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    """(rows, columns, cell keys) of a table's template, for the prompt and the validator."""
    from ..templates import load_templates

    t = load_templates()[key]
    if key == "table2":
        rows = t["variants"]["2019" if fmt == "2019" else "2021"]["rows"]
        cols = sorted({c for r in rows for c in r["columns"]})
        cells = [(r["key"], c) for r in rows for c in r["columns"]]
        return ([{"key": r["key"], "label": r["label"]} for r in rows], [{"key": c, "label": c} for c in cols], cells)
    cols = [{"key": k, "label": lab} for k, lab in zip(t["columns"], t.get("column_labels", t["columns"]))]
    rows = [{"key": r["key"], "label": r["label"]} for r in t["rows"]]
    if key == "table3":
        variant = "single_other" if fmt == "2019" else "three_other"
        order = t.get("variants", {}).get(variant)
        if order:
            rows = [r for r in rows if r["key"] in order]
    return rows, cols, [(r["key"], c["key"]) for r in rows for c in cols]


def needs_model(table: Table | None) -> bool:
    return table is None or not table.complete or any(c.kind == "ambiguous" for c in table.cells)


# --- reading a table ---------------------------------------------------------------------------------


def read_table(
    client: LLMClient, doc: Document, key: str, start: int, end: int, fmt: str, *, wanted: list[tuple[str, str]] | None = None
) -> tuple[list[Cell], str | None]:
    """The model's cells for table ``key`` in ``doc.text[start:end]`` (producer="model", spans located)."""
    prompt = load_prompt(PROMPT)
    rows, cols, keys = template_cells(key, fmt)
    text = doc.text[start:end]
    want = wanted if wanted is not None else keys
    res = client.extract(
        TableCellsOut,
        prompt.messages(table_key=key, table_text=text, rows=rows, columns=cols,
                        wanted=[f"{r}.{c}" for r, c in want] if wanted is not None else []),
        doc_sha=doc.sha256,
        prompt=prompt.ref,
        part=f"table:{key}" + (":" + ",".join(f"{r}.{c}" for r, c in want) if wanted is not None else ""),
        context={"text": text, "keys": set(keys)},
    )
    if res.value is None:
        return [], f"{key}: model call failed ({res.error})"
    note = None if res.validated else f"{key}: model answer kept unvalidated after re-asks ({res.error})"
    cells = []
    allowed = set(keys)
    for o in res.value.cells:
        if (o.row, o.col) not in allowed:
            continue
        cells.append(_to_cell(doc, key, o, start, end, model=client.config.model, prompt=prompt.ref))
    return cells, note


def _to_cell(doc: Document, key: str, o: CellOut, start: int, end: int, *, model: str, prompt: str) -> Cell:
    if o.value is None:
        value, kind = None, "empty"
    elif isinstance(o.value, str):
        p = numbers_in(o.value)
        value, kind = (p[0], "zero" if p[0] == 0 else "number") if p else (None, "not_applicable")
    else:
        value = as_number(o.value)
        kind = "zero" if value == 0 else "number"
    cell = Cell(table=key, row=o.row, col=o.col, value=value, kind=kind, producer="model",
                note=f"{prompt} {model}", raw=str(o.value) if o.value is not None else "")
    hit = locate(doc, o.quote, start, end) if o.quote else None
    if hit and value is not None:
        # the value's characters: the last occurrence of its digits inside the quote
        seg = doc.text[hit[0] : hit[1]]
        digits = str(value)
        i = seg.rfind(digits)
        if i >= 0:
            cell.span = doc.span(hit[0] + i, hit[0] + i + len(digits))
            cell.raw = digits
            cell.grounded = True
    if cell.span is None and kind in ("number", "zero"):
        cell.grounded = False
    return cell


# --- reconciling ------------------------------------------------------------------------------------


def _identity_failures(record: Record, key: str, table: Table) -> set[str]:
    """Cell refs that take part in a failing identity of ``table`` (the deterministic engine)."""
    from ..verify.engine import check_identities

    probe = record.model_copy(update={"tables": {key: table}, "findings": []})
    bad: set[str] = set()
    for f in check_identities(probe):
        if f.status in ("FAIL", "UNCERTAIN"):
            bad.update(o.ref for o in f.operands)
    return bad


def _with(table: Table, cell: Cell) -> Table:
    cells = [c for c in table.cells if not (c.row == cell.row and c.col == cell.col)] + [cell]
    return table.model_copy(update={"cells": cells})


def reconcile(record: Record, key: str, parser: Table | None, model_cells: list[Cell]) -> tuple[Table, list[Finding]]:
    """Per-cell reconciliation of the parser's table with the model's cells (see module doc)."""
    table = parser.model_copy(deep=True) if parser is not None else Table(key=key, template=f"model.{key}", complete=False)
    findings: list[Finding] = []
    for m in model_cells:
        p = table.get(m.row, m.col)
        ref = m.ref
        if p is None or p.kind in ("empty", "ambiguous") and m.kind in ("number", "zero") and m.grounded:
            if m.grounded is not False:
                table = _with(table, m)
            continue
        if p.kind == m.kind and (p.value == m.value or same_number(p.value, m.value)):
            continue  # agreement: keep the parser's cell
        p_ok = p.grounded is not False and ref not in _identity_failures(record, key, table)
        m_ok = bool(m.grounded) and ref not in _identity_failures(record, key, _with(table, m))
        values = {"parser": p.gold_value(), "model": m.gold_value()}
        ops = [Operand(ref=ref, value=p.value, kind=p.kind, span=p.span), Operand(ref=ref, value=m.value, kind=m.kind, span=m.span)]
        if p_ok and not m_ok:
            status, msg = "PASS", f"parser {p.gold_value()} kept: the model's {m.gold_value()} is ungrounded or breaks an identity"
        elif m_ok and not p_ok and p.grounded is False:
            table = _with(table, m)
            status, msg = "PASS", f"model {m.gold_value()} taken: the parser's {p.gold_value()} is not grounded"
        else:
            status, msg = "UNCERTAIN", f"parser reads {p.gold_value()}, model reads {m.gold_value()}: a reviewer must choose"
            p.candidates = [*p.candidates]
            table = _with(table, p.model_copy(update={"note": (p.note + f" model read {m.gold_value()}").strip()}))
        findings.append(Finding(
            id=f"{RULE}:{ref}", rule=RULE, version=RULE_VERSION, status=status,  # type: ignore[arg-type]
            classification="ok" if status == "PASS" else "disagreement",
            severity="info" if status == "PASS" else "error", scope=f"cell {ref}", message=msg,
            operands=ops, values=values,
        ))
    return table, findings


def model_tables(client: LLMClient, doc: Document, layout: Any, record: Record, *, every: bool = False) -> tuple[list[Finding], list[str]]:
    """Send the tables that need it (or all, with ``every``) to the model and reconcile them into ``record``."""
    findings: list[Finding] = []
    notes: list[str] = []
    regions = getattr(layout, "regions", {}) or {}
    fmt = record.format if record.format in ("2021", "2019") else "2021"
    if record.format == "legacy":
        return findings, notes
    for key in TABLES:
        region = regions.get(key)
        table = record.tables.get(key)
        if region is None or not (every or needs_model(table)):
            continue
        wanted = None
        if not every and table is not None:
            _, _, keys = template_cells(key, fmt)
            wanted = [(r, c) for r, c in keys if (cell := table.get(r, c)) is None or cell.kind == "ambiguous"]
            if not wanted:
                continue
        cells, note = read_table(client, doc, key, region.start, region.end, fmt, wanted=wanted)
        if note:
            notes.append(note)
        if cells:
            new, fs = reconcile(record, key, table, cells)
            record.tables[key] = new
            findings.extend(fs)
    return findings, notes
