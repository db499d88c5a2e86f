"""Findings grouped by cause: one question for a reviewer per cause, listing every check it breaks.

A published table with one wrong number breaks several identities at once (a 总计 row printed 0
breaks the balance and the outcome total in two columns, and the narrative's 办结 count); a report
that prints five columns blank makes every row's applicant total uncertain. Those are one question
each. :func:`group_findings` sets ``Finding.group`` on every finding a reviewer sees (FAIL,
UNCERTAIN, ADVISORY) and returns the groups; the decision and the review queue count groups.

Causes, tried in this order:

1. **Columns printed blank** (``blank:table3:commercial+research+…``): every cell of a column is a
   printed blank (not missing, placed by its label), and the checks they make uncertain are one
   group. When every one of those checks would hold with the blanks read as 0, the group is
   advisory (status ``ADVISORY``, classification ``printed_blank``): the cells stay blank, nothing
   is read as 0, and nothing is left for a reviewer to decide.
2. **One line of a table** (``line:table3:row:total``): the failing identities that a correction of
   the cells of one row (or one column) would all repair, without breaking any identity that holds,
   re-evaluated with :func:`~extractor.verify.engine.check_identities` on a corrected copy; narrative
   table matches that the same correction would repair join the group. The line that explains the
   most findings is taken first.
3. **One row of cell findings** (``G.DISPLACED:table3.carried_forward``): the same cell-level rule on
   several cells of one row.
   **One table not found** (``G.COMPLETE:table4:missing``): every cell of a table missing.
   **One model failure** (``D.MODEL_STEP:timeout:APITimeoutError``): the model steps of a document
   that failed the same way (every section timed out) — the model did not answer, one question.
4. **One narrative quantity** (``narrative:applications_received``): the narrative findings about
   one metric.
5. Everything else is a group of its own (its key is the finding's id).

Grouping never changes a number and never settles anything; it only says which findings are one
question (and, for printed blanks, that the question is already answered by the identities).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from ..model import OPEN_STATUSES, Finding, Record, set_field
from ..tablespec import identities, table_specs
from .engine import failing_identities  # the same identities, re-evaluated on a corrected copy

SHOWN = ("FAIL", "UNCERTAIN", "ADVISORY")
_SEVERITY = {"source_inconsistency": 0, "suspected_extraction_error": 1, "ambiguous": 2, "ungrounded": 3,
             "disagreement": 4, "narrative": 5, "printed_blank": 6, "ok": 7}
_TABLE_REF = re.compile(r"^(table[234]|legacy)\.([^.]+)\.([^.]+)$")
_NARRATIVE_SCOPE = re.compile(r"^(?:fact|quantity) (.+)$")
_PLACED = ("label", "position")  # a printed blank placed by its label or position (not inferred)


@dataclass
class Group:
    key: str
    title: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """A group blocks acceptance while any of its findings is FAIL or UNCERTAIN."""
        return any(f.status in OPEN_STATUSES for f in self.findings)

    @property
    def classification(self) -> str:
        blocking = [f for f in self.findings if f.status in OPEN_STATUSES] or self.findings
        return min((f.classification for f in blocking), key=lambda c: _SEVERITY.get(c, 9))

    @property
    def rules(self) -> list[str]:
        return sorted({f.rule for f in self.findings})

    def summary(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "blocking": self.blocking,
                "classification": self.classification, "rules": self.rules,
                "findings": [f.id for f in self.findings]}


def groups_of(record: Record) -> list[Group]:
    """The groups of a record whose findings already carry their keys (e.g. a stored record)."""
    out: dict[str, Group] = {}
    for f in record.findings:
        if f.status not in SHOWN:
            continue
        key = getattr(f, "group", "") or f.id
        g = out.get(key)
        if g is None:
            g = out[key] = Group(key, _title_of_key(key, f))
        g.findings.append(f)
    return list(out.values())


def group_findings(record: Record) -> list[Group]:
    """Group the findings a reviewer sees by cause; sets ``Finding.group`` and returns the groups."""
    for f in record.findings:
        if getattr(f, "group", ""):
            set_field(f, "group", "")
    rest = [f for f in record.findings if f.status in SHOWN]
    groups: list[Group] = []
    rest = _blank_columns(record, rest, groups)
    rest = _line_causes(record, rest, groups)
    rest = _missing_tables(record, rest, groups)
    rest = _cell_rows(rest, groups)
    rest = _model_steps(rest, groups)
    rest = _narrative_metrics(rest, groups)
    for f in rest:
        groups.append(Group(f.id, f.message[:120], [f]))
    for g in groups:
        for f in g.findings:
            set_field(f, "group", g.key)
    return groups


# ----------------------------------------------------------------------------- 1. printed blanks


def blank_columns(record: Record) -> dict[str, list[str]]:
    """Per table, the columns printed blank in every row (each cell a printed blank placed by its
    label or position, none missing), in a table that has numbers elsewhere."""
    out: dict[str, list[str]] = {}
    for key, table in record.tables.items():
        if key == "legacy":
            continue
        cells = table.cells
        # the columns of the printed blanks, in the order the columns first appear (most tables have none)
        blanks = Counter(c.col for c in cells if c.kind == "empty" and not c.missing and c.anchor in _PLACED)
        if not blanks or not any(c.kind in ("number", "zero") for c in cells):
            continue
        per_col = Counter(c.col for c in cells)
        blank = [col for col, n in blanks.items() if n >= 2 and n == per_col[col]]  # every cell of the column
        if blank:
            out[key] = blank
    return out


def _blank_columns(record: Record, rest: list[Finding], groups: list[Group]) -> list[Finding]:
    blanks = blank_columns(record)
    if not blanks:
        return rest
    members: dict[str, list[Finding]] = {}
    left: list[Finding] = []
    for f in rest:
        table = _blank_operand_table(f, blanks)
        if table is None:
            left.append(f)
        else:
            members.setdefault(table, []).append(f)
    for table, fs in members.items():
        cols = blanks[table]
        holds = all((f.values or {}).get("with_blanks_as_zero") == "holds" for f in fs)
        key = f"blank:{table}:{'+'.join(cols)}"
        title = (f"{table}: column(s) {', '.join(cols)} printed blank in every row ({len(fs)} check(s) cannot "
                 f"be evaluated); kept blank, never read as 0")
        if holds:
            title += "; with the blanks read as 0 every one of them holds — advisory"
            for f in fs:  # (grouped again: the status the check gave is the one kept)
                set_field(f, "values", {"checked_status": f.status, **(f.values or {})})
                set_field(f, "status", "ADVISORY")
                set_field(f, "classification", "printed_blank")
                set_field(f, "severity", "info")
        groups.append(Group(key, title, fs))
    return left


def _blank_operand_table(f: Finding, blanks: dict[str, list[str]]) -> str | None:
    """The table whose blank columns are the only non-numbers of an UNCERTAIN identity (or of one
    this step made advisory before: grouping a record again gives the same groups)."""
    checked = f.status if f.status != "ADVISORY" else (f.values or {}).get("checked_status")
    if checked != "UNCERTAIN" or not f.operands:
        return None
    odd = [o for o in f.operands if o.kind not in ("number", "zero")]
    if not odd:
        return None
    tables = set()
    for o in odd:
        m = _TABLE_REF.match(o.ref)
        if not m or o.kind != "empty" or m.group(3) not in blanks.get(m.group(1), ()):
            return None
        tables.add(m.group(1))
    return tables.pop() if len(tables) == 1 else None


# ----------------------------------------------------------------------------- 2. one line of a table


@dataclass
class _Failure:
    finding: Finding
    refs: list[str]
    lhs_count: int
    diff: Decimal
    places: list[tuple[str, str, str]]  # each operand's (table, row, column), as in ``refs``


def _failure(f: Finding) -> _Failure | None:
    """An identity FAIL with its operands split into the two sides (from the printed values)."""
    if f.status != "FAIL" or not f.operands or not f.rule[:2] in ("T2", "T3", "T4", "L."):
        return None
    refs = [o.ref for o in f.operands]
    matches = [_TABLE_REF.match(r) for r in refs]
    if not all(matches):
        return None
    try:
        ls, rs = Decimal(str(f.values["lhs"])), Decimal(str(f.values["rhs"]))
        vals = [Decimal(str(o.value)) for o in f.operands]
    except Exception:
        return None
    k = None
    lhs_txt = (f.arithmetic or "").split(" ≠ ")[0]
    if " ≠ " in (f.arithmetic or ""):
        k = len(lhs_txt.split(" + "))  # the engine prints "a + b ≠ c + d": one item per operand
    if k is None or k >= len(vals) or sum(vals[:k], Decimal(0)) != ls or sum(vals[k:], Decimal(0)) != rs:
        k = None
        acc = Decimal(0)
        for i, v in enumerate(vals):  # else the shortest prefix adding up to the left side
            acc += v
            if acc == ls and sum(vals[i + 1:], Decimal(0)) == rs:
                k = i + 1
                break
    if k is None:
        return None
    return _Failure(f, refs, k, ls - rs, [m.groups() for m in matches])  # type: ignore[union-attr]


def _on_line(place: tuple[str, str, str], line: tuple[str, str, str]) -> bool:
    if place[0] != line[0]:
        return False
    return place[1] == line[2] if line[1] == "row" else place[2] == line[2]


def _corrections(fails: list[_Failure], line: tuple[str, str, str]) -> dict[str, Decimal] | None:
    """The change of each cell of ``line`` that a failing identity with exactly one cell on the line
    requires; None when two identities require different changes of one cell."""
    out: dict[str, Decimal] = {}
    for fl in fails:
        on = [i for i, p in enumerate(fl.places) if _on_line(p, line)]
        if len(on) != 1:
            continue
        i = on[0]
        delta = -fl.diff if i < fl.lhs_count else fl.diff
        ref = fl.refs[i]
        if ref in out and out[ref] != delta:
            return None
        out[ref] = delta
    return out or None


def _values_by_ref(record: Record) -> dict[str, list[Any]]:
    """The value of every cell by its ref (a list: one per cell of that ref)."""
    out: dict[str, list[Any]] = {}
    for t in record.tables.values():
        for c in t.cells:
            out.setdefault(c.ref, []).append(c.value)
    return out


def _negative(values: dict[str, list[Any]], corrections: dict[str, Decimal]) -> bool:
    """A correction that would make a count negative explains nothing (``values``: :func:`_values_by_ref`)."""
    for ref, d in corrections.items():
        for v in values.get(ref, ()):
            if v is None or Decimal(str(v)) + d < 0:
                return True
    return False


def _corrected(record: Record, corrections: dict[str, Decimal]) -> Record:
    tables = {}
    for key, t in record.tables.items():
        if not any(ref.startswith(key + ".") for ref in corrections):
            tables[key] = t
            continue
        cells = []
        for c in t.cells:
            d = corrections.get(c.ref)
            if d is not None and c.value is not None:
                v = Decimal(str(c.value)) + d
                v2: Any = int(v) if v == v.to_integral_value() else v
                c = c.model_copy(update={"value": v2, "kind": "zero" if v2 == 0 else "number"})
            cells.append(c)
        tables[key] = t.model_copy(update={"cells": cells})
    return record.model_copy(update={"tables": tables, "findings": []})


def _narrative_join(f: Finding, corrections: dict[str, Decimal]) -> bool:
    """A narrative table match that the correction would repair (its table cells corrected to the
    narrative's value)."""
    if f.rule != "N.TABLE_MATCH" or f.status not in ("FAIL", "ADVISORY"):
        return False
    table_ops = [o for o in f.operands if _TABLE_REF.match(o.ref)]
    if not table_ops or not any(o.ref in corrections for o in table_ops):
        return False
    try:
        total = sum((Decimal(str(o.value)) + corrections.get(o.ref, Decimal(0)) for o in table_ops), Decimal(0))
        return total == Decimal(str(f.values.get("narrative")))
    except Exception:
        return False


# The identities failing after a correction, by what they depend on: a record is decided more than
# once (the pipeline, then every output applies the reviews and decides again), and re-evaluating
# every identity on a corrected copy per candidate line is most of a decision's cost.
_AFTER: dict[tuple, dict[tuple, frozenset[str]]] = {}
_AFTER_MAX = 2048  # records remembered (cleared when full)
_AFTER_RULES: list[Any] = [None]  # the identities the memo was made with (a new rule set clears it)


def _after_memo(record: Record) -> dict[tuple, frozenset[str]]:
    """The memo of :func:`_failing_after` for the record's tables as they are now: keyed by everything
    an identity's status reads (the document key, each cell's place, kind, value, decimals)."""
    rules = identities()
    if rules is not _AFTER_RULES[0]:
        _AFTER.clear()
        _AFTER_RULES[0] = rules
    key = (record.document.sha256,
           tuple((k, t.template, tuple((c.row, c.col, c.key, c.kind, c.value, c.decimals) for c in t.cells))
                 for k, t in record.tables.items()))
    memo = _AFTER.get(key)
    if memo is None:
        if len(_AFTER) >= _AFTER_MAX:
            _AFTER.clear()
        memo = _AFTER[key] = {}
    return memo


def _failing_after(record: Record, corr: dict[str, Decimal], memo: dict[tuple, frozenset[str]]) -> frozenset[str]:
    """The ids of the identities that FAIL on the record with ``corr`` applied."""
    k = tuple(sorted(corr.items()))
    after = memo.get(k)
    if after is None:
        after = memo[k] = frozenset(failing_identities(_corrected(record, corr)))
    return after


def _totals(table: str) -> set[str]:
    """The keys of a table's totals: the one left-hand operand of an identity (its 总计 row or column)."""
    specs = table_specs()
    return specs[table].totals if table in specs else set()


def _line_causes(record: Record, rest: list[Finding], groups: list[Group]) -> list[Finding]:
    fails = [fl for f in rest if (fl := _failure(f)) is not None]
    narrative = [f for f in rest if f.rule == "N.TABLE_MATCH" and f.status in ("FAIL", "ADVISORY")]
    if not fails or len(fails) + len(narrative) < 2:
        return rest
    taken: set[int] = set()
    memo = _after_memo(record)
    values = _values_by_ref(record)
    while True:
        live = [fl for fl in fails if id(fl.finding) not in taken]
        if not live:
            break
        best: tuple[Any, ...] | None = None
        lines = sorted({(p[0], kind, p[1] if kind == "row" else p[2])
                        for fl in live for p in fl.places for kind in ("row", "col")})
        before = {fl.finding.id for fl in live}
        all_failing = {f.id for f in rest if f.status == "FAIL"}
        for line in lines:
            corr = _corrections(live, line)
            if corr is None or _negative(values, corr):
                continue
            after = _failing_after(record, corr, memo)
            if after - all_failing:
                continue  # the correction would break an identity that holds
            fixed = [fl.finding for fl in live if fl.finding.id in before - after]
            joined = [f for f in narrative if id(f) not in taken and _narrative_join(f, corr)]
            if not fixed or len(fixed) + len(joined) < 2:
                continue
            # the most findings; then a total line (a 总计 printed wrong is the usual cause); then rows
            score = (len(fixed) + len(joined), line[2] in _totals(line[0]), line[1] == "row", -len(corr))
            if best is None or score > best[0]:
                best = (score, line, fixed, joined)
        if best is None:
            break
        _, line, fixed, joined = best
        what = "row" if line[1] == "row" else "column"
        n = len(fixed) + len(joined)
        title = (f"{line[0]} {what} {line[2]}: one correction of this {what} would repair all {n} failing "
                 f"check(s) ({', '.join(sorted({f.rule for f in fixed + joined}))}) — one question")
        groups.append(Group(f"line:{line[0]}:{line[1]}:{line[2]}", title, [*fixed, *joined]))
        taken.update(id(f) for f in fixed + joined)
    return [f for f in rest if id(f) not in taken]


# ----------------------------------------------------------------------------- 3. cells of one row


def _cell_rows(rest: list[Finding], groups: list[Group]) -> list[Finding]:
    by_row: dict[str, list[Finding]] = {}
    for f in rest:
        if f.rule.startswith("G.") and (m := _TABLE_REF.match(f.scope or "")):
            by_row.setdefault(f"{f.rule}:{m.group(1)}.{m.group(2)}", []).append(f)
    taken: set[int] = set()
    for key, fs in by_row.items():
        if len(fs) < 2:
            continue
        cols = ", ".join(_TABLE_REF.match(f.scope).group(3) for f in fs)  # type: ignore[union-attr]
        groups.append(Group(key, f"{fs[0].rule} on {len(fs)} cells of {key.split(':', 1)[1]} ({cols}) — one question", fs))
        taken.update(id(f) for f in fs)
    return [f for f in rest if id(f) not in taken]


# ----------------------------------------------------------------------------- 3a. a table not found


def _missing_tables(record: Record, rest: list[Finding], groups: list[Group]) -> list[Finding]:
    """A table none of whose cells was found (a national-format report without it, or a table the
    layout missed) is one question — its G.COMPLETE findings, whatever their rows."""
    taken: set[int] = set()
    for key, table in record.tables.items():
        if key == "legacy" or not table.cells or not all(c.missing for c in table.cells):
            continue
        fs = [f for f in rest if f.rule == "G.COMPLETE" and (f.scope or "").startswith(key + ".")]
        if len(fs) < 2:
            continue
        groups.append(Group(f"G.COMPLETE:{key}:missing", f"{key} was not found: its {len(fs)} cells are missing — one "
                            "question", fs))
        taken.update(id(f) for f in fs)
    return [f for f in rest if id(f) not in taken]


# ----------------------------------------------------------------------------- 3b. one model failure

_STEP_CAUSE = re.compile(r"model call failed \((\w+)(?::\s*(\w+))?")


def _model_steps(rest: list[Finding], groups: list[Group]) -> list[Finding]:
    """The model steps of one document that failed the same way (a timeout, the server's 5xx, an answer
    that is not the tool call) are one question: the model did not answer, nothing of it was used."""
    by_cause: dict[str, list[Finding]] = {}
    for f in rest:
        if f.rule == "D.MODEL_STEP" and (m := _STEP_CAUSE.search(f.message or "")):
            by_cause.setdefault(":".join(x for x in m.groups() if x), []).append(f)
    taken: set[int] = set()
    for cause, fs in by_cause.items():
        if len(fs) < 2:
            continue
        steps = ", ".join(f.scope for f in fs)
        groups.append(Group(f"D.MODEL_STEP:{cause}", f"model steps failed ({cause}): {steps} — one question", fs))
        taken.update(id(f) for f in fs)
    return [f for f in rest if id(f) not in taken]


# ----------------------------------------------------------------------------- 4. one narrative quantity


def _narrative_metrics(rest: list[Finding], groups: list[Group]) -> list[Finding]:
    by_metric: dict[str, list[Finding]] = {}
    for f in rest:
        if f.rule in ("N.TABLE_MATCH", "N.SAME_QUANTITY", "N.AGREE") and (m := _NARRATIVE_SCOPE.match(f.scope or "")):
            by_metric.setdefault(m.group(1), []).append(f)
    taken: set[int] = set()
    for metric, fs in by_metric.items():
        if len(fs) < 2:
            continue
        groups.append(Group(f"narrative:{metric}", f"narrative {metric}: {len(fs)} findings about one quantity", fs))
        taken.update(id(f) for f in fs)
    return [f for f in rest if id(f) not in taken]


def _title_of_key(key: str, f: Finding) -> str:
    if key.startswith(("line:", "blank:", "narrative:")) or key != f.id:
        return key
    return f.message[:120]


def count_questions(groups: Iterable[Group]) -> int:
    return sum(1 for g in groups if g.blocking)
