"""Tables through the model, and per-cell reconciliation with the parser.

The model reads a table region and answers the cells it is asked for (canonical gold-format keys)
with a verbatim quote per cell. Only the cells the parser left missing or ambiguous are asked for
by default; ``every=True`` (``--tables both``) asks for every cell of every table, as an independent
second reading.

What a model answer must show before any value of it is used (rules ``rules/model.yaml``):

* the answer passes validation (instructor re-asks with the failing rule's message); an answer that
  still fails after the last re-ask is dropped whole, never used;
* only cells that were asked for; anything else in the answer is dropped;
* its quote is found inside that table's region (never elsewhere in the document), and the value is
  printed in the quote as a whole number (``260`` is not in ``26029``) — those characters become the
  cell's span, so ``G.GROUNDED`` re-reads them like a parser cell's;
* the characters are not another cell's (a number the parser read for one cell is not evidence for
  another).

What a model value may do, per cell (parser, model, rules):

* the parser has no cell (missing) → the model's value fills it, if the identities of the table
  then hold (none fails with it);
* the parser's cell is ``ambiguous`` (run-together digits) → the model may choose one of the
  parser's own candidates, whose characters become the span, if the identities then hold;
* the parser read the cell (a number, a blank, a not-applicable mark) → the parser's cell stays.
  Blanks never become 0. A model value that is grounded, differs and is not another cell's is a
  disagreement for a reviewer (``M.CELL_AGREE``, UNCERTAIN) — unless the parser's value keeps the
  identities and the model's breaks them; then, as for an ungrounded one, it is noted only (PASS).

Every model value that changed a cell is an ``M.CELL_FILL`` finding (UNCERTAIN, with the parser's,
the model's and the rules' values): a record is never accepted because a model filled it, until a
reviewer has seen it. A published inconsistency is never repaired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from ..document import Document, normalize
from ..model import Cell, Finding, Operand, Record, Table
from ..numbers import NA_TOKEN, WHOLE_FIGURE, as_number
from ..tablespec import table_spec
from ..templates import rule_version
from .client import LLMClient
from .prompts import load_prompt

TABLES_PROMPT = "table_cells"
RULE = "M.CELL_AGREE"  # a grounded model reading that disagrees with the parser's
FILL_RULE = "M.CELL_FILL"  # a model value that filled a missing cell or resolved an ambiguous one
TABLES = ("table2", "table3", "table4")

# a whole printed number and a not-applicable mark standing alone: numbers.WHOLE_FIGURE, numbers.NA_TOKEN
_WS = re.compile(r"\s+")

# The identities of a record as findings (extractor.verify.engine.check_identities), given by the caller: the
# model layer sits below verification and never imports it.
IdentityCheck = Callable[[Record], list[Finding]]


# --- grounding a quote and a value in a table region -------------------------------------------------


def quote_spans(text: str, quote: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Every place ``quote`` occurs in ``text[start:end]`` (normalized; whitespace-tolerant). Never
    outside ``[start, end)``."""
    end = len(text) if end is None else end
    q = normalize(quote or "").strip()
    if not q:
        return []
    compact = _WS.sub("", q)
    if not compact:
        return []
    pat = re.compile(r"\s*".join(re.escape(ch) for ch in compact))
    return [(m.start(), m.end()) for m in pat.finditer(text, start, end) if m.end() <= end]


def _inside(pattern: re.Pattern[str], text: str, a: int, b: int) -> list[re.Match[str]]:
    """The matches of ``pattern`` within ``text[a:b]``, judged on the whole text: what follows ``b`` is
    still seen (a quote cut right after the "260" of "26029", or the "5" of an enumerator "5.", does
    not make a whole number of it)."""
    out = []
    for m in pattern.finditer(text, a):
        if m.start() >= b:
            break
        if m.end() <= b:
            out.append(m)
    return out


def value_spans(text: str, a: int, b: int, value: Any) -> list[tuple[int, int]]:
    """Where ``value`` is printed as a whole number (or, for ``"-"``, a not-applicable mark standing
    alone) in ``text[a:b]``."""
    if value == "-":
        return [(m.start(), m.end()) for m in _inside(NA_TOKEN, text, a, b)]
    want = as_number(value)
    if want is None:
        return []
    out = []
    for m in _inside(WHOLE_FIGURE, text, a, b):
        got = as_number(m.group())
        s = m.start()
        if got is not None and want < 0 and s > a and text[s - 1] == "-":
            got, s = -got, s - 1
        if got is not None and got == want:
            out.append((s, m.end()))
    return out


def _value_of(v: Any) -> Any:
    """A model's value as compared: a number, ``"-"`` (not applicable) or None (blank)."""
    if v is None:
        return None
    if isinstance(v, str):
        t = normalize(v).strip().replace(" ", "")
        if not t:
            return None
        if NA_TOKEN.fullmatch(t):
            return "-"
        n = as_number(t)
        return n if n is not None else t
    if isinstance(v, bool):
        return None
    return as_number(v)


# --- the answer --------------------------------------------------------------------------------------


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
        """Each asked-for cell's quote is in the table text and prints its value as a whole number
        (or, for an ambiguous cell, the value is one of its candidate readings)."""
        ctx = info.context or {}
        text = ctx.get("text")
        if text is None:
            return self
        keys = ctx.get("keys") or set()
        candidates: dict[tuple[str, str], list[Any]] = ctx.get("candidates") or {}
        problems = []
        for c in self.cells:
            key = (c.row, c.col)
            if keys and key not in keys:
                problems.append(f"M.CELL_KEYS: {c.row}.{c.col} was not asked for; answer only the wanted cells")
                continue
            v = _value_of(c.value)
            if v is None:
                continue
            if isinstance(v, str) and v != "-":
                problems.append(f"M.CELL_VALUE: {c.row}.{c.col} = {c.value!r} is not a number, null or \"-\"")
                continue
            spans = quote_spans(text, c.quote)
            if not spans:
                problems.append(f"G.GROUNDED: the quote for {c.row}.{c.col} is not in the table text; copy it exactly")
            elif key in candidates:
                allowed = candidates[key]
                if not any(v == a for a in allowed):
                    problems.append(f"M.CANDIDATES: {c.row}.{c.col} is printed as run-together digits; its value is "
                                    f"one of {', '.join(str(a) for a in allowed)}")
            elif not any(value_spans(text, a, b, v) for a, b in spans):
                problems.append(f"G.GROUNDED: {c.value} is not printed as a whole number in the quote for "
                                f"{c.row}.{c.col}; quote the characters of this cell's own number")
        if problems:
            raise ValueError("; ".join(problems[:12]))
        return self


# --- which cells a table has -----------------------------------------------------------------------


def template_cells(key: str, fmt: str, variant: str | None = None) -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    """(rows, columns, cell keys) of a table's spec, for the prompt and the validator: the rows of
    the variant the parser read (``variant``, e.g. ``single_other`` from ``table3.single_other``),
    else of the variant the report's format prints; each row's own columns where it has them
    (table 二), else the table's."""
    spec = table_spec(key)
    v = spec.variants[variant] if variant in spec.variants else spec.variant_for(fmt)
    labels = spec.column_labels()
    col_keys = list(dict.fromkeys(c for r in v.rows for c in r.columns)) or spec.column_keys
    rows = [{"key": r.key, "label": r.printed} for r in v.rows]
    cols = [{"key": c, "label": labels.get(c, c)} for c in col_keys]
    cells = [(r.key, c) for r in v.rows for c in (r.columns or spec.column_keys)]
    return rows, cols, cells


def _variant(table: Table | None) -> str | None:
    """The template variant the parser read the table by (``table3.single_other`` → ``single_other``)."""
    if table is None or "." not in table.template:
        return None
    return table.template.split(".", 1)[1]


def _unread(cell: Cell | None) -> bool:
    """The parser has no value for this cell: not found, or several readings fit."""
    return cell is None or cell.missing or cell.kind == "ambiguous"


def needs_model(table: Table | None) -> bool:
    return table is None or not table.complete or any(_unread(c) for c in table.cells)


# --- reading a table ---------------------------------------------------------------------------------


@dataclass
class CellReading:
    """One cell of a validated model answer, located in the table region."""

    row: str
    col: str
    value: Any  # a number, "-" (not applicable) or None (blank)
    quote: str
    quotes: list[tuple[int, int]] = field(default_factory=list)  # where the quote is, in the region
    hits: list[tuple[int, int]] = field(default_factory=list)  # where the value is printed, in the quotes


def _candidates(table: Table | None, asked: list[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    if table is None:
        return out
    for r, c in asked:
        cell = table.get(r, c)
        if cell is not None and cell.kind == "ambiguous" and cell.candidates:
            out[(r, c)] = [x.value for x in cell.candidates]
    return out


def read_table(
    client: LLMClient, doc: Document, key: str, start: int, end: int, fmt: str, *,
    wanted: list[tuple[str, str]] | None = None, parser: Table | None = None,
) -> tuple[list[CellReading], str | None]:
    """The model's readings of the asked-for cells of table ``key`` in ``doc.text[start:end]``
    (every template cell when ``wanted`` is None). An answer that fails validation is dropped."""
    prompt = load_prompt(TABLES_PROMPT)
    rows, cols, keys = template_cells(key, fmt, _variant(parser))
    text = doc.text[start:end]
    asked = list(wanted) if wanted is not None else keys
    cands = _candidates(parser, asked)
    hints = [f"{r}.{c}: one of {' | '.join(str(v) for v in vs)}" for (r, c), vs in cands.items()]
    res = client.extract(
        TableCellsOut,
        prompt.messages(table_key=key, table_text=text, rows=rows, columns=cols,
                        wanted=[f"{r}.{c}" for r, c in asked] if wanted is not None else [], hints=hints),
        doc_sha=doc.sha256,
        prompt=prompt.ref,
        part=f"table:{key}" + (":" + ",".join(f"{r}.{c}" for r, c in asked) if wanted is not None else ""),
        context={"text": text, "keys": set(asked), "candidates": cands},
    )
    if res.value is None or not res.validated:
        why = res.error or "answer not validated"
        if not why.startswith("invalid"):
            return [], f"{key}: model call failed ({why})"
        rules = sorted(set(re.findall(r"\b[A-Z]\.[A-Z_]+\b", why)))
        return [], (f"{key}: the model's answer failed validation after re-asks and was dropped"
                    + (f" ({', '.join(rules)})" if rules else ""))
    allowed = set(asked)
    out: list[CellReading] = []
    seen: set[tuple[str, str]] = set()
    for o in res.value.cells:
        if (o.row, o.col) not in allowed or (o.row, o.col) in seen:
            continue  # not asked for, or answered twice: dropped
        seen.add((o.row, o.col))
        v = _value_of(o.value)
        rd = CellReading(row=o.row, col=o.col, value=v, quote=o.quote)
        if v is not None:
            rd.quotes = quote_spans(doc.text, o.quote, start, end)
            rd.hits = sorted({h for a, b in rd.quotes for h in value_spans(doc.text, a, b, v)})
        out.append(rd)
    return out, None


# --- reconciling ------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if value == "-":
        return "not_applicable"
    return "zero" if value == 0 else "number"


def _overlaps(a: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


def _claimed(table: Table, exclude: str) -> list[tuple[int, int]]:
    """The characters (offsets of the original text, as spans keep them) read for the table's other cells."""
    return [(c.span.start, c.span.end) for c in table.cells
            if c.span is not None and c.ref != exclude and c.kind in ("number", "zero", "not_applicable")]


def _identities(record: Record, key: str, table: Table, check: IdentityCheck) -> dict[str, Finding]:
    probe = record.model_copy(update={"tables": {key: table}, "findings": []})
    return {f.id: f for f in check(probe)}


def _rule_results(record: Record, key: str, table: Table, ref: str, check: IdentityCheck) -> tuple[list[str], bool]:
    """The identities of ``table`` that involve ``ref``, as a reviewer reads them
    ("T4.GROUP_TOTAL[row review] PASS: 2 + 0 + 0 + 0 = 2"), and whether any of them fails."""
    row, col = ref.split(".", 1)[1].split(".", 1)
    # which identities take the cell as an operand: those left uncertain without it
    blanked = _with(table, Cell(table=key, row=row, col=col, kind="empty", missing=True))
    involved = [fid for fid, f in _identities(record, key, blanked, check).items() if any(o.ref == ref for o in f.operands)]
    now = _identities(record, key, table, check)
    lines = [f"{f.rule}[{f.scope}] {f.status}: {f.arithmetic}" for fid in involved if (f := now.get(fid)) is not None]
    fails = any(now[fid].status == "FAIL" for fid in involved if fid in now)
    return lines or ["no identity of the table involves it"], fails


def _identities_hold(record: Record, key: str, table: Table, cell: Cell, ref: str,
                     values: dict[str, Any], check: IdentityCheck) -> Table | None:
    """``table`` with the model's ``cell`` put in, when no identity involving ``ref`` then fails; else None.
    The identities as a reviewer reads them go to ``values["rules"]`` either way."""
    trial = _with(table, cell)
    values["rules"], fails = _rule_results(record, key, trial, ref, check)
    return None if fails else trial


def _finding(rule: str, ref: str, status: str, message: str, values: dict[str, Any],
             ops: list[Operand]) -> Finding:
    return Finding(
        id=f"{rule}:{ref}", rule=rule, version=rule_version(rule), status=status,  # type: ignore[arg-type]
        classification="ok" if status == "PASS" else "disagreement",
        severity="info" if status == "PASS" else "warning", scope=f"cell {ref}", message=message,
        operands=ops, values=values,
    )


def _shown(v: Any) -> Any:
    return "blank" if v is None else v


def reconcile(record: Record, key: str, parser: Table | None, readings: list[CellReading], doc: Document,
              *, identities: IdentityCheck, model: str = "", prompt: str = "") -> tuple[Table, list[Finding]]:
    """Per-cell reconciliation of the parser's table with the model's readings (see module doc)."""
    check = identities
    table = parser.model_copy(deep=True) if parser is not None else Table(key=key, template=f"model.{key}", complete=False)
    findings: list[Finding] = []
    by = f"{prompt} {model}".strip()
    for rd in readings:
        ref = f"{key}.{rd.row}.{rd.col}"
        p = table.get(rd.row, rd.col)
        mval = rd.value
        if p is not None and not _unread(p) and p.kind == _kind(mval) and (
                p.kind in ("empty", "not_applicable") or p.value == mval):
            continue  # agreement: the parser's cell stays
        claimed = _claimed(table, ref)
        free = [h for h in rd.hits if not _overlaps(_orig(doc, h), claimed)]
        pval = None if p is None or _unread(p) else p.gold_value()
        values: dict[str, Any] = {"parser": "missing" if p is None or p.missing else
                                  ("ambiguous: " + " | ".join(str(c.value) for c in p.candidates)
                                   if p.kind == "ambiguous" else _shown(pval)),
                                  "model": _shown(mval), "model_quote": rd.quote}

        # 1. the parser has no value: a missing cell may be filled, an ambiguous one resolved
        if p is None or p.missing:
            why = _ungrounded(rd, free)
            if why is None:
                a, b = free[-1]
                cell = Cell(table=key, row=rd.row, col=rd.col, value=None if mval == "-" else mval,
                            kind=_kind(mval), raw=doc.text[a:b], span=doc.span(a, b), producer="model",
                            decimals=_decimals(doc.text[a:b]), label=p.label if p is not None else None,
                            anchor="model", note=f"read by the model ({by}); the parser did not find this cell")
                trial = _identities_hold(record, key, table, cell, ref, values, check)
                if trial is not None:
                    table = trial
                    findings.append(_finding(FILL_RULE, ref, "UNCERTAIN",
                                             f"{ref}: the parser did not find this cell; the model read {mval} "
                                             f"(quote {rd.quote!r}, printed at characters {cell.span.start}–{cell.span.end}). "
                                             "Filled: confirm it", values,
                                             [Operand(ref=ref, value=cell.value, kind=cell.kind, span=cell.span)]))
                    continue
                why = "an identity of the table fails with it"
            findings.append(_finding(FILL_RULE, ref, "PASS", f"{ref}: the model's {_shown(mval)} not used: {why}",
                                     values, [Operand(ref=ref, value=None, kind="missing")]))
            continue
        if p.kind == "ambiguous":
            why, cand = _resolution(rd, p, doc, claimed)
            if cand is not None:
                cell = p.model_copy(update={
                    "value": cand.value, "kind": "zero" if cand.value == 0 else "number", "raw": cand.raw,
                    "span": cand.span, "producer": "model", "candidates": list(p.candidates),
                    "decimals": _decimals(cand.raw), "grounded": None,
                    "note": f"run-together digits {p.raw!r}: the model ({by}) chose {cand.value} among the parser's "
                            f"candidates {' | '.join(str(c.value) for c in p.candidates)}"})
                trial = _identities_hold(record, key, table, cell, ref, values, check)
                if trial is not None:
                    table = trial
                    findings.append(_finding(FILL_RULE, ref, "UNCERTAIN",
                                             f"{ref}: {p.raw!r} has several readings; the model chose {cand.value}. "
                                             "Resolved: confirm it", values,
                                             [Operand(ref=ref, value=cell.value, kind=cell.kind, span=cell.span)]))
                    continue
                why = "an identity of the table fails with it"
            findings.append(_finding(FILL_RULE, ref, "PASS", f"{ref}: the model's {_shown(mval)} not used: {why}",
                                     values, [Operand(ref=ref, value=None, kind="ambiguous", span=p.span)]))
            continue

        # 2. the parser read the cell: it stays; a grounded, different model reading goes to a reviewer
        why = "the model reads a blank" if mval is None else _ungrounded(rd, free)
        ops = [Operand(ref=ref, value=p.value, kind=p.kind, span=p.span)]
        if why is None:
            a, b = free[-1]
            mspan = doc.span(a, b)
            ops.append(Operand(ref=ref, value=None if mval == "-" else mval, kind=_kind(mval), span=mspan))
            trial = _with(table, Cell(table=key, row=rd.row, col=rd.col, value=None if mval == "-" else mval,
                                      kind=_kind(mval), raw=doc.text[a:b], span=mspan, producer="model"))
            m_rules, m_fails = _rule_results(record, key, trial, ref, check)
            p_rules, p_fails = _rule_results(record, key, table, ref, check)
            values["rules"] = {"parser": p_rules, "model": m_rules}
            if m_fails and not p_fails:
                why = f"it breaks an identity the parser's value keeps ({'; '.join(m_rules)})"
        if why is None:
            findings.append(_finding(RULE, ref, "UNCERTAIN",
                                     f"parser reads {_shown(pval)}, model reads {mval} (printed at characters "
                                     f"{mspan.start}–{mspan.end}): the parser's value is kept; a reviewer must choose",
                                     values, ops))
            table = _with(table, p.model_copy(update={"note": (p.note + f"; the model read {mval}").strip("; ")}))
        else:
            findings.append(_finding(RULE, ref, "PASS", f"parser {_shown(pval)} kept: the model's {_shown(mval)} — {why}",
                                     values, ops))
    return table, findings


def _ungrounded(rd: CellReading, free: list[tuple[int, int]]) -> str | None:
    """Why a reading cannot be used as a value of its own (None when it can)."""
    if rd.value is None:
        return "a blank has no characters to check (blanks are never filled)"
    if not rd.quotes:
        return "its quote is not in the table's region"
    if not rd.hits:
        return f"{rd.value} is not printed as a whole number in its quote"
    if not free:
        return "its characters are another cell's"
    return None


def _resolution(rd: CellReading, p: Cell, doc: Document, claimed: list[tuple[int, int]]) -> tuple[str, Any]:
    """(why not, None) or ("", the parser's candidate the model chose)."""
    if rd.value is None or rd.value == "-":
        return "an ambiguous cell is resolved only to one of the parser's candidates", None
    if not rd.quotes:
        return "its quote is not in the table's region", None
    matches = [c for c in p.candidates if c.value is not None and c.value == rd.value]
    if len(matches) != 1:
        return (f"{rd.value} is not one of the parser's candidates "
                f"({' | '.join(str(c.value) for c in p.candidates)})"), None
    cand = matches[0]
    if cand.span is None or p.span is None:
        return "the candidate's characters are not known", None
    # the quote must show the run-together digits, and the chosen characters must be nobody else's
    if not any(_overlaps((p.span.start, p.span.end), [_orig(doc, q)]) for q in rd.quotes):
        return "its quote does not show the cell's digits", None
    if _overlaps((cand.span.start, cand.span.end), claimed):
        return "those digits are already another cell's", None
    return "", cand


def _orig(doc: Document, span: tuple[int, int]) -> tuple[int, int]:
    """Offsets of the normalized text as offsets of the original (the offsets spans keep)."""
    s = doc.span(*span)
    return s.start, s.end


def _decimals(raw: str) -> int:
    s = raw.replace(",", "")
    return len(s.split(".", 1)[1]) if "." in s else 0


def _with(table: Table, cell: Cell) -> Table:
    cells = [cell if (c.row == cell.row and c.col == cell.col) else c for c in table.cells]
    if not any(c.row == cell.row and c.col == cell.col for c in table.cells):
        cells.append(cell)
    return table.model_copy(update={"cells": cells})


def model_tables(client: LLMClient, doc: Document, layout: Any, record: Record, *, identities: IdentityCheck,
                 every: bool = False) -> tuple[list[Finding], list[str]]:
    """Send the tables that need it (or all, with ``every``) to the model and reconcile them into ``record``.

    ``identities``: the identity check of the verification layer (``extractor.verify.engine.check_identities``),
    given by the caller: a model value goes in only where no identity of its table then fails."""
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
        if not every:
            _, _, keys = template_cells(key, fmt, _variant(table))
            wanted = [(r, c) for r, c in keys if _unread(table.get(r, c) if table is not None else None)]
            if not wanted:
                continue
        readings, note = read_table(client, doc, key, region.start, region.end, fmt, wanted=wanted, parser=table)
        if note:
            notes.append(note)
        if readings:
            new, fs = reconcile(record, key, table, readings, doc, model=client.config.model,
                                prompt=load_prompt(TABLES_PROMPT).ref, identities=identities)
            record.tables[key] = new
            findings.extend(fs)
    return findings, notes
