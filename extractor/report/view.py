"""What a document page shows, computed from a reviewed record and its source document.

* the source text with every extracted number (table cells, narrative statements) marked at its span,
  coloured by status (confirmed / disputed / source inconsistency / ungrounded / set by a reviewer);
  for HTML sources the visible text is shown (the normalized text, mapped through the offset map);
* the tables laid out as the report prints them, row and column labels from ``rules/templates``;
* every finding that is not a PASS with its rule id, operands (with their source excerpts) and
  arithmetic, and the competing values side by side (parser / model / reviewer).

Pure data plus a little HTML for the source text (escaped here, so templates can take it as is).
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from ..document import Document
from ..errors import ExtractorError
from ..loaders import load
from ..model import Cell, Fact, Finding, Record, Span, Table
from ..decisions import OPEN_STATUSES, Review, Reviewed, fact_key
from ..tablespec import TableSpec, table_specs

STATUS_LABELS = {
    "confirmed": "confirmed",
    "disputed": "disputed",
    "source": "source inconsistency",
    "ungrounded": "ungrounded",
    "reviewer": "set by reviewer",
    "fact": "narrative statement",
    "fact-bad": "narrative statement in a finding",
    "blank": "blank",
}
CLASS_LABELS = {
    "source_inconsistency": "source inconsistency",
    "suspected_extraction_error": "suspected extraction error",
    "ungrounded": "ungrounded",
    "ambiguous": "ambiguous",
    "disagreement": "disagreement",
    "narrative": "narrative",
    "reviewer_question": "reviewer's question",
    "ok": "ok",
}

# ----------------------------------------------------------------------------- source text
@dataclass
class Mark:
    id: str
    start: int  # display offsets
    end: int
    status: str
    title: str
    target: str = ""  # element id of the table cell (cells) or "" (facts)


@dataclass
class Source:
    """The text shown in the source pane and the map from original offsets to it."""

    doc: Document | None
    display: str = ""
    problem: str | None = None
    # mapped display (HTML): pieces of the original -> display, sorted by original offset:
    # (orig start, orig end, display start, display end, linear)
    _segs: list[tuple[int, int, int, int, bool]] | None = None
    _seg_ends: list[int] = field(default_factory=list)

    @property
    def mapped(self) -> bool:
        return self._segs is not None

    def to_display(self, span: Span | None) -> tuple[int, int] | None:
        if span is None or self.doc is None:
            return None
        s, e = span.start, max(span.end, span.start + 1)
        if self._segs is None:
            if s >= len(self.display):
                return None
            return s, min(e, len(self.display))
        k = bisect.bisect_right(self._seg_ends, s)  # first piece ending after s
        lo, hi = None, None
        while k < len(self._segs) and self._segs[k][0] < e:
            o0, o1, n0, n1, linear = self._segs[k]
            if linear:
                a, b = n0 + (max(s, o0) - o0), n0 + (min(e, o1) - o0)
            else:
                a, b = n0, n1
            lo = a if lo is None else min(lo, a)
            hi = b if hi is None else max(hi, b)
            k += 1
        if lo is None or hi is None:
            return None
        return lo, max(hi, lo + 1)

    def excerpt(self, span: Span | None, ctx: int = 24) -> tuple[str, str, str] | None:
        r = self.to_display(span)
        if r is None:
            return None
        a, b = r
        clean = (lambda t: re.sub(r"[ \t]*\n[ \t]*", "⏎", t))
        before = self.display[max(0, a - ctx):a]
        after = self.display[b:b + ctx]
        return (("…" if a > ctx else "") + clean(before), clean(self.display[a:b]),
                clean(after) + ("…" if b + ctx < len(self.display) else ""))


def load_source(record: Record) -> Source:
    """Re-load the report file the record was made from; the page still works without it."""
    path = record.document.path
    if not path:
        return Source(doc=None, problem="the record does not say where its file is")
    try:
        doc = load(path)
    except ExtractorError as exc:
        return Source(doc=None, problem=f"source not available: {exc}")
    except Exception as exc:  # a loader bug must not take the report down
        return Source(doc=None, problem=f"source not available: {type(exc).__name__}: {exc}")
    if record.document.sha256 and doc.sha256 != record.document.sha256:
        return Source(doc=None, problem=f"{path} changed since it was extracted (SHA-256 differs); "
                                         "run `extractor run --force` to extract it again")
    return source_of(doc)


def source_of(doc: Document) -> Source:
    if doc.kind == "html":  # show the visible text, not the markup
        m = doc.map
        bounds = list(m.norm) + [len(doc.text)]
        segs = []
        for k in range(len(m.norm)):
            n0, n1 = bounds[k], bounds[k + 1]
            o0 = m.orig[k]
            o1 = o0 + (n1 - n0) if m.linear[k] else m.orig_end[k]
            if o1 > o0 and n1 > n0:  # synthetic separators stand for no original characters
                segs.append((o0, o1, n0, n1, m.linear[k]))
        segs.sort()
        return Source(doc=doc, display=doc.text, _segs=segs, _seg_ends=[x[1] for x in segs])
    return Source(doc=doc, display=doc.original)


def render_source(src: Source, marks: list[Mark]) -> Markup:
    """The display text, escaped, with ``<span>``s for the marks (overlaps split into segments)."""
    text = src.display
    inserts: dict[int, list[str]] = {}
    if src.doc is not None and src.doc.geometry and not src.mapped:
        seen: set[int] = set()
        for g in src.doc.geometry:
            if g.page not in seen:
                seen.add(g.page)
                inserts.setdefault(g.start, []).append(
                    f'<span class="page-sep" id="page-{g.page}">page {g.page}</span>\n')
    ms = sorted((m for m in marks if m.end > m.start), key=lambda m: (m.start, -m.end))
    points = {0, len(text), *inserts}
    for m in ms:
        points.add(m.start)
        points.add(m.end)
    bounds = sorted(p for p in points if 0 <= p <= len(text))
    out: list[str] = []
    active: list[Mark] = []
    k = 0
    for i, pos in enumerate(bounds[:-1]):
        nxt = bounds[i + 1]
        out.extend(inserts.get(pos, ()))
        active = [m for m in active if m.end > pos]
        while k < len(ms) and ms[k].start <= pos:
            if ms[k].end > pos:
                active.append(ms[k])
                out.append(f'<a class="anchor" id="{ms[k].id}"></a>')
            k += 1
        seg = html.escape(text[pos:nxt], quote=False)
        if not active:
            out.append(seg)
            continue
        inner = min(active, key=lambda m: m.end - m.start)
        ids = " ".join(m.id for m in active)
        tgt = f' data-target="{html.escape(inner.target)}"' if inner.target else ""
        out.append(f'<span class="hl st-{inner.status}" data-m="{ids}"{tgt} '
                   f'title="{html.escape(inner.title)}">{seg}</span>')
    return Markup("".join(out))


# ----------------------------------------------------------------------------- cells and labels
def _spec(key: str) -> TableSpec | None:
    return table_specs().get(key)


def _row_labels(key: str) -> dict[str, str]:
    spec = _spec(key)
    return spec.row_labels() if spec else {}


def _col_labels(key: str) -> dict[str, str]:
    spec = _spec(key)
    return spec.column_labels() if spec else {}


def cell_label(record: Record, ref: str) -> str:
    """A reader's name for a cell ref: table · row label · column label."""
    parts = ref.split(".")
    if ref.startswith("fact:"):
        return "narrative · " + ref[5:]
    if len(parts) < 3:
        return ref
    tkey, row, col = parts[0], parts[1], ".".join(parts[2:])
    if tkey == "legacy":
        t = record.tables.get("legacy")
        c = t.get(row, col) if t else None
        if c is not None and c.label:
            return f"legacy · {c.label} · {_col_labels('legacy').get(col, col)}"
    spec = _spec(tkey)
    if spec is None:
        return f"{tkey} · {row} · {col}"
    return f"{spec.short} · {spec.row_name(row)} · {spec.column_labels().get(col, col)}"


@dataclass
class CellView:
    ref: str
    text: str
    status: str
    title: str
    mark: str | None = None  # id of the source mark
    was: str | None = None  # the extracted value a reviewer replaced
    kind: str = "number"
    findings: list[str] = field(default_factory=list)  # ids of non-PASS findings with this cell


def _cell_text(c: Cell) -> str:
    if c.kind in ("number", "zero"):
        return str(c.value) if c.producer == "reviewer" or not c.raw else c.raw
    if c.kind == "not_applicable":
        return c.raw or "-"
    if c.kind == "ambiguous":
        return " | ".join(str(x.value) for x in c.candidates) or c.raw or "?"
    if c.kind == "text":
        return c.raw
    return "" if c.note == "blank cell" else "?"


def _involvement(rv: Reviewed) -> dict[str, list[tuple[Finding, Review | None]]]:
    out: dict[str, list[tuple[Finding, Review | None]]] = {}
    for f in rv.record.findings:
        if f.status not in OPEN_STATUSES:
            continue
        for op in f.operands:
            key = op.ref
            if op.ref.startswith("fact:") and op.span is not None:
                key = f"{op.ref}@{op.span.start}-{op.span.end}"
            lst = out.setdefault(key, [])
            if all(x[0].id != f.id for x in lst):
                lst.append((f, None if rv.is_open(f.id) else rv.review_of(f.id)))
    return out


def cell_status(c: Cell, involved: list[tuple[Finding, Review | None]]) -> str:
    if c.producer == "reviewer":
        return "reviewer"
    if c.kind == "ambiguous":
        return "disputed"
    if c.kind in ("number", "zero", "not_applicable") and c.grounded is False:
        return "ungrounded"
    if any(f.classification == "source_inconsistency" and f.status == "FAIL" for f, _ in involved):
        return "source"
    if any(r is None for _, r in involved):
        return "disputed"
    if c.kind in ("empty",):
        return "blank" if c.note == "blank cell" else "disputed"
    return "confirmed"


# ----------------------------------------------------------------------------- the page
@dataclass
class OperandView:
    ref: str
    label: str
    value: str
    kind: str
    mark: str | None
    cell_id: str | None
    excerpt: tuple[str, str, str] | None
    page: int | None
    where: str = ""  # "chars a–b of the original (page n)"
    was: str | None = None  # the extracted value, when a reviewer set this operand since the check ran


@dataclass
class FindingView:
    f: Finding
    review: Review | None
    open: bool
    reopened: bool
    operands: list[OperandView]
    values: list[tuple[str, Any]]
    keys: list[tuple[str, str]]  # (operand key, label) a correction may target

    @property
    def id(self) -> str:
        return self.f.id


@dataclass
class DocPage:
    reviewed: Reviewed
    source: Source
    source_html: Markup
    tables: list[dict[str, Any]]
    findings: list[FindingView]  # non-PASS (open first)
    passed: list[Finding]
    marks: int
    counts: dict[str, int]  # cell statuses

    @property
    def record(self) -> Record:
        return self.reviewed.record


def cell_dom_id(ref: str) -> str:
    return "c-" + ref


def build_page(rv: Reviewed, source: Source | None = None) -> DocPage:
    rec = rv.record
    src = source if source is not None else load_source(rv.original)
    involved = _involvement(rv)
    marks: list[Mark] = []
    by_span: dict[tuple[int, int], str] = {}
    cell_views: dict[str, CellView] = {}
    counts: dict[str, int] = {}
    original_cells = {c.ref: c for c in rv.original.cells()}

    def add_mark(span: Span | None, status: str, title: str, target: str = "") -> str | None:
        r = src.to_display(span)
        if r is None or span is None:
            return None
        key = (span.start, span.end)
        if key in by_span:
            return by_span[key]
        mid = f"m{len(marks) + 1}"
        marks.append(Mark(id=mid, start=r[0], end=r[1], status=status, title=title, target=target))
        by_span[key] = mid
        return mid

    for c in rec.cells():
        inv = involved.get(c.ref, [])
        st = cell_status(c, inv)
        counts[st] = counts.get(st, 0) + 1
        text = _cell_text(c)
        title = f"{cell_label(rec, c.ref)} = {text or '(blank)'} · {STATUS_LABELS.get(st, st)} · {c.producer}"
        if c.note:
            title += f" · {c.note}"
        was = None
        if c.producer == "reviewer":
            oc = original_cells.get(c.ref)
            was = _cell_text(oc) if oc is not None else None
        mark = None
        if c.span is not None and c.kind != "empty":
            mark = add_mark(c.span, st, title, cell_dom_id(c.ref))
        cell_views[c.ref] = CellView(ref=c.ref, text=text, status=st, title=title, mark=mark, was=was,
                                     kind=c.kind, findings=[f.id for f, _ in inv])

    def fact_marks(f: Fact) -> None:
        key = fact_key(f)
        bad = bool(involved.get(key))
        st = "reviewer" if f.producer == "reviewer" else ("fact-bad" if bad else "fact")
        add_mark(f.span, st, f"{f.label or f.metric} = {f.value}{f.unit} ({f.kind}, {f.producer})")
        for p in f.parts:
            fact_marks(p)

    for f in rec.facts:
        fact_marks(f)
    # operand spans that are neither cells nor facts (rules may point anywhere)
    for f in rec.findings:
        if f.status in OPEN_STATUSES:
            for op in f.operands:
                add_mark(op.span, "disputed", f"{op.ref} = {op.value}")

    html_src = render_source(src, marks) if src.doc is not None else Markup("")
    findings = [_finding_view(rv, f, src, by_span) for f in rec.findings
                if f.status != "PASS" or rv.review_of(f.id) is not None]
    order = {"source_inconsistency": 0, "suspected_extraction_error": 1, "ambiguous": 2, "disagreement": 3,
             "ungrounded": 4, "narrative": 5}
    findings.sort(key=lambda v: (not v.open, v.f.status not in OPEN_STATUSES,
                                 order.get(v.f.classification, 9), v.f.rule))
    return DocPage(reviewed=rv, source=src, source_html=html_src, tables=_tables(rec, cell_views),
                   findings=findings,
                   passed=[f for f in rec.findings if f.status == "PASS" and rv.review_of(f.id) is None],
                   marks=len(marks), counts=counts)


def _fmt_value(v: Any) -> str:
    if v is None:
        return "∅"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return " | ".join(_fmt_value(x) for x in v)
    return str(v)


def _finding_view(rv: Reviewed, f: Finding, src: Source, by_span: dict[tuple[int, int], str]) -> FindingView:
    ops: list[OperandView] = []
    keys: list[tuple[str, str]] = []
    original_ops = {o.ref: o for x in rv.original.findings if x.id == f.id for o in x.operands}
    for op in f.operands:
        was = None
        if op.ref in rv.corrected and op.ref in original_ops:
            was = _fmt_value(original_ops[op.ref].value)
        mark = by_span.get((op.span.start, op.span.end)) if op.span else None
        is_cell = not op.ref.startswith("fact:") and op.ref.count(".") >= 2
        ops.append(OperandView(
            ref=op.ref, label=cell_label(rv.record, op.ref), value=_fmt_value(op.value), kind=str(op.kind),
            mark=mark, cell_id=cell_dom_id(op.ref) if is_cell else None, excerpt=src.excerpt(op.span),
            page=op.span.page if op.span else None,
            where=(f"characters {op.span.start}–{op.span.end} of the original"
                   + (f", page {op.span.page}" if op.span.page else "")) if op.span else "",
            was=was,
        ))
        k = f"{op.ref}@{op.span.start}-{op.span.end}" if op.ref.startswith("fact:") and op.span else op.ref
        if (is_cell or op.ref.startswith("fact:")) and all(k != x for x, _ in keys):
            keys.append((k, f"{cell_label(rv.record, op.ref)} (now {_fmt_value(op.value)})"))
    values = [(f"statement {int(k) + 1}" if k.isdigit() else k, _fmt_value(v))
              for k, v in f.values.items() if k != "reviewer"]
    review = rv.review_of(f.id)
    return FindingView(f=f, review=review, open=rv.is_open(f.id),
                       reopened=f.id in rv.reopened, operands=ops, values=values, keys=keys)


# ----------------------------------------------------------------------------- tables as printed
def _label_rows(paths: list[list[str]], depth: int) -> list[list[dict[str, Any]]]:
    """Label cells for rows given their label paths: merged vertically (rowspan) where consecutive
    rows share a prefix, widened (colspan) where a path is shorter than ``depth``."""
    out: list[list[dict[str, Any]]] = []
    for i, p in enumerate(paths):
        cells = []
        for lvl in range(len(p)):
            if i > 0 and paths[i - 1][: lvl + 1] == p[: lvl + 1]:
                continue
            span = 1
            while i + span < len(paths) and paths[i + span][: lvl + 1] == p[: lvl + 1]:
                span += 1
            cells.append({"text": p[lvl], "rowspan": span, "colspan": depth - lvl if lvl == len(p) - 1 else 1,
                          "leaf": lvl == len(p) - 1})
        out.append(cells)
    return out


def _tables(rec: Record, cv: dict[str, CellView]) -> list[dict[str, Any]]:
    out = []
    for key, t in rec.tables.items():
        if key == "table3":
            out.append(_table3(t, cv))
        elif key == "table2":
            out.append(_table2(t, cv))
        elif key == "table4":
            out.append(_table4(t, cv))
        elif key == "legacy":
            out.append(_legacy(t, cv))
        else:
            out.append(_generic(key, t, cv))
    return out


def _present(t: Table) -> tuple[list[str], list[str]]:
    return list(dict.fromkeys(c.row for c in t.cells)), list(dict.fromkeys(c.col for c in t.cells))


def _meta(key: str, t: Table) -> dict[str, Any]:
    spec = _spec(key)
    return {"key": key, "title": spec.title if spec else key, "template": t.template, "encoding": t.encoding,
            "complete": t.complete, "notes": t.notes}


def _table3(t: Table, cv: dict[str, CellView]) -> dict[str, Any]:
    spec = table_specs()["table3"]
    labels = spec.row_labels()
    order = spec.row_keys
    rows, cols = _present(t)
    rows = sorted(rows, key=lambda r: order.index(r) if r in order else len(order))
    tcols = [c for c in spec.column_keys if c in cols] + [c for c in cols if c not in spec.column_keys]
    # each row's label under the headings it stands under (三、本年度办理结果 › (三)不予公开 › 1.…)
    paths = [[h.label for h in spec.heading_path(r)] + [labels.get(r, r)] for r in rows]
    depth = max((len(p) for p in paths), default=1)
    lrows = _label_rows(paths, depth)
    col_labels = spec.column_labels()
    # the printed header: the corner, then each column (rowspan 2) or its group (one cell over its
    # members, whose labels make the second header row)
    top: list[dict[str, Any]] = [{"text": spec.corner or "", "rowspan": 2, "colspan": depth}]
    second: list[dict[str, Any]] = []
    ordered_cols: list[str] = []
    done: set[str] = set()
    for c in tcols:
        if c in done:
            continue
        group = spec.column_group(c)
        if group is None:
            top.append({"text": col_labels.get(c, c), "rowspan": 2})
            ordered_cols.append(c)
            continue
        members = [m for m in tcols if m in group.columns]
        top.append({"text": group.label, "colspan": len(members)})
        second.extend({"text": col_labels.get(m, m)} for m in members)
        ordered_cols.extend(members)
        done.update(members)
    body = []
    for r, lcells in zip(rows, lrows):
        body.append({"labels": lcells, "cells": [cv.get(f"table3.{r}.{c}") for c in ordered_cols], "row": r})
    return {**_meta("table3", t), "header": [top, second], "rows": body, "numeric_cols": len(ordered_cols)}


def _table2(t: Table, cv: dict[str, CellView]) -> dict[str, Any]:
    spec = table_specs()["table2"]
    labels = spec.row_labels()
    variant = spec.variant(t.template.split(".", 1)[1]) if t.template.split(".", 1)[-1] in spec.variants \
        else spec.variant_for(None)
    tpl_rows = {r.key: r for r in variant.rows}
    col_labels = spec.column_labels()
    rows, _ = _present(t)
    blocks = []
    placed: set[str] = set()
    width = max((len(tpl_rows[r].columns) if r in tpl_rows else 0 for r in rows), default=1)

    def columns(k: str) -> list[str]:
        return list(tpl_rows[k].columns) if k in tpl_rows else []

    for head in spec.headings:  # the printed blocks (第二十条第(x)项) and the rows under them (any variant's)
        under = [r.key for r in variant.rows if r.under == head.key]
        under += [r.key for r in spec.rows if r.under == head.key and r.key not in under]
        ks = [k for k in under if k in rows]
        if not ks:
            continue
        placed.update(ks)
        cols = columns(ks[0]) or sorted({c.col for c in t.cells if c.row == ks[0]})
        blocks.append({"title": head.label, "columns": [col_labels.get(c, c) for c in cols],
                       "rows": [{"label": labels.get(k, k), "cells": [cv.get(f"table2.{k}.{c}") for c in
                                 (columns(k) or cols)]} for k in ks]})
    rest = [r for r in rows if r not in placed]
    if rest:
        cols = sorted({c.col for c in t.cells if c.row in rest})
        blocks.append({"title": "", "columns": [col_labels.get(c, c) for c in cols],
                       "rows": [{"label": labels.get(k, k), "cells": [cv.get(f"table2.{k}.{c}") for c in cols]}
                                for k in rest]})
    return {**_meta("table2", t), "blocks": blocks, "width": width}


def _table4(t: Table, cv: dict[str, CellView]) -> dict[str, Any]:
    spec = table_specs()["table4"]
    rows, cols = _present(t)
    tcols = [c for c in spec.column_keys if c in cols]
    col_labels = spec.column_labels()
    # each row's printed group: its label under its heading (行政诉讼 › 复议后起诉), or its label alone
    groups = [(r.key, r.printed, spec.heading(r.under).label if r.under else None) for r in spec.rows if r.key in rows]
    top: list[dict[str, Any]] = []
    for k, lab, parent in groups:
        if parent is None:
            top.append({"text": lab, "colspan": len(tcols), "rowspan": 2})
        elif top and top[-1].get("parent") == parent:
            top[-1]["colspan"] += len(tcols)
        else:
            top.append({"text": parent, "colspan": len(tcols), "parent": parent})
    second = [{"text": lab, "colspan": len(tcols)} for k, lab, parent in groups if parent is not None]
    third = [{"text": col_labels.get(c, c)} for _ in groups for c in tcols]
    cells = [cv.get(f"table4.{k}.{c}") for k, _, _ in groups for c in tcols]
    return {**_meta("table4", t), "header": [top, second, third], "cells": cells}


def _legacy(t: Table, cv: dict[str, CellView]) -> dict[str, Any]:
    rows, cols = _present(t)
    cum = "cumulative" in cols
    by_row: dict[str, dict[str, Cell]] = {}
    for c in t.cells:
        by_row.setdefault(c.row, {})[c.col] = c
    body = []
    for r in rows:
        cs = by_row[r]
        first = cs.get("year") or next(iter(cs.values()))
        body.append({"label": first.label or r, "unit": first.unit or "", "key": first.key or "",
                     "cells": [cv.get(f"legacy.{r}.year")] + ([cv.get(f"legacy.{r}.cumulative")] if cum else [])})
    return {**_meta("legacy", t), "cumulative": cum, "rows": body}


def _generic(key: str, t: Table, cv: dict[str, CellView]) -> dict[str, Any]:
    rows, cols = _present(t)
    return {**_meta(key, t), "columns": cols,
            "rows": [{"label": r, "cells": [cv.get(f"{key}.{r}.{c}") for c in cols]} for r in rows]}
