"""Compare records with gold files (``gold-format.md``): cell accuracy, acceptance precision,
recall of the gold's ``source_violations``.

A cell is correct when its value *and* kind match the gold: a number equals the gold number, a
blank (``null``) is a blank, a not-applicable mark (``"-"``) is not-applicable. Legacy indicators
are matched by normalized label, in order of appearance.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .model import Finding, Record

TABLE_KEYS = ("table2", "table3", "table4")


def _same(gold: Any, cell_value: Any) -> bool:
    if gold is None or cell_value is None:
        return gold is None and cell_value is None
    if gold == "-" or cell_value == "-":
        return gold == cell_value
    if isinstance(gold, str) or isinstance(cell_value, str):
        return str(gold) == str(cell_value)
    try:
        return Decimal(str(gold)) == Decimal(str(cell_value))
    except Exception:
        return False


def legacy_label_key(label: str) -> str:
    s = unicodedata.normalize("NFKC", label or "")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"[(（][^()（）]*[)）]", "", s)  # parenthesised qualifiers and enumerators
    s = re.sub(r"^(?:[一二三四五六七八九十]+[、.]|\d+[、.．]?)+", "", s)
    s = re.sub(r"^其中[:：]?", "", s)
    return s


@dataclass
class CellDiff:
    table: str
    row: str
    col: str
    gold: Any
    got: Any
    got_kind: str


@dataclass
class DocEval:
    document: str
    format: str
    decision: str
    total: int = 0
    correct: int = 0
    per_table: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    wrong: list[CellDiff] = field(default_factory=list)
    violations_gold: int = 0
    violations_found: int = 0
    missing_gold: bool = False
    by_producer: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # correct, total

    def count(self, table: str, producer: str, ok: bool) -> None:
        self.total += 1
        self.per_table[table][1] += 1
        self.by_producer[producer][1] += 1
        if ok:
            self.correct += 1
            self.per_table[table][0] += 1
            self.by_producer[producer][0] += 1


def _finding_numbers(f: Finding) -> set[Decimal]:
    nums: set[Decimal] = set()
    for o in f.operands:
        if o.value is not None:
            nums.add(Decimal(str(o.value)))
    for k in ("lhs", "rhs"):
        if k in f.values:
            try:
                nums.add(Decimal(str(f.values[k])))
            except Exception:
                pass
    return nums


def _violation_numbers(text: str) -> set[Decimal]:
    t = re.sub(r"table\s*\d", "", text, flags=re.I)
    t = re.sub(r"row\s*\d+|column\s*\d+|rows?\s*\d+\s*[–-]\s*\d+", "", t)
    return {Decimal(x.replace(",", "")) for x in re.findall(r"-?\d[\d,]*(?:\.\d+)?", t)}


def _violation_table(text: str) -> str | None:
    m = re.search(r"table\s*([234])", text, re.I)
    if m:
        return f"table{m.group(1)}"
    if "legacy" in text.lower():
        return "legacy"
    return None


def violation_recalled(violation: Any, findings: list[Finding]) -> bool:
    """A gold violation is recalled by a FAIL finding on the same table whose operands and sums
    include every number the gold names (the numbers say which identity and column).

    Gold files write a violation as a sentence or as a mapping (identity, published total, sum…)."""
    if isinstance(violation, dict):
        text = " ".join(str(v) for v in violation.values() if isinstance(v, str))
        want = {Decimal(str(v)) for v in violation.values() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        table = _violation_table(text) or ("table3" if ("row" in violation or "column" in violation) else None)
    else:
        text = str(violation)
        want = _violation_numbers(text)
        table = _violation_table(text)
    fails = [f for f in findings if f.status == "FAIL" and f.rule not in ("G.GROUNDED",)]
    if table:
        fails = [f for f in fails if any(o.ref.startswith(table + ".") for o in f.operands)]
    if not want:
        return bool(fails)
    union: set[Decimal] = set()
    for f in fails:
        nums = _finding_numbers(f)
        if want <= nums:
            return True
        union |= nums
    # one gold line may summarise several columns (each pair of numbers one finding)
    return len(want) > 2 and want <= union


def evaluate_record(record: Record, gold: dict[str, Any]) -> DocEval:
    ev = DocEval(document=record.document.name, format=str(gold.get("format", record.format)), decision=record.decision)
    cells = {(c.table, c.row, c.col): c for c in record.cells()}
    for tkey in TABLE_KEYS:
        g = gold.get(tkey)
        if not isinstance(g, dict):
            continue
        for row, cols in g.items():
            if not isinstance(cols, dict):
                continue
            for col, gv in cols.items():
                c = cells.get((tkey, row, col))
                got = c.gold_value() if c is not None else None
                ok = c is not None and _same(gv, got) and c.kind != "ambiguous" and not c.missing
                ev.count(tkey, c.producer if c is not None else "parser", ok)
                if not ok:
                    ev.wrong.append(CellDiff(tkey, row, col, gv, got, c.kind if c else "missing"))
    if isinstance(gold.get("legacy"), list):
        got_cells = [c for c in record.cells() if c.table == "legacy"]
        used: set[int] = set()
        for item in gold["legacy"]:
            key = legacy_label_key(item.get("label", ""))
            col = item.get("column", "year")
            match = None
            for i, c in enumerate(got_cells):
                if i in used or c.col != col:
                    continue
                if legacy_label_key(c.label or "") == key:
                    match = i
                    break
            if match is not None:
                used.add(match)
                c = got_cells[match]
                ok = _same(item.get("value"), c.gold_value()) and c.kind != "ambiguous" and not c.missing
                ev.count("legacy", c.producer, ok)
                if ok:
                    continue
                ev.wrong.append(CellDiff("legacy", item.get("label", ""), col, item.get("value"), c.gold_value(), c.kind))
            else:
                ev.count("legacy", "parser", False)
                ev.wrong.append(CellDiff("legacy", item.get("label", ""), col, item.get("value"), None, "missing"))
    viol = gold.get("source_violations") or []
    ev.violations_gold = len(viol)
    ev.violations_found = sum(1 for v in viol if violation_recalled(v, record.findings))
    return ev


def find_gold(gold_dir: Path, record: Record) -> Path | None:
    name = record.document.name
    stem = Path(name).stem
    for cand in (gold_dir / f"{stem}.json", gold_dir / f"{name}.json"):
        if cand.exists():
            return cand
    # gold files also name their report in "document"
    for p in sorted(gold_dir.glob("*.json")):
        try:
            if json.loads(p.read_text(encoding="utf-8")).get("document") == name:
                return p
        except (OSError, ValueError):
            continue
    return None


def summarize(evals: list[DocEval]) -> dict[str, Any]:
    total = sum(e.total for e in evals)
    correct = sum(e.correct for e in evals)
    per_table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_format: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_producer: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in evals:
        for t, (c, n) in e.per_table.items():
            per_table[t][0] += c
            per_table[t][1] += n
        for p, (c, n) in e.by_producer.items():
            by_producer[p][0] += c
            by_producer[p][1] += n
        per_format[e.format][0] += e.correct
        per_format[e.format][1] += e.total
    accepted = [e for e in evals if e.decision == "accepted"]
    accepted_clean = [e for e in accepted if not e.wrong]
    vg = sum(e.violations_gold for e in evals)
    vf = sum(e.violations_found for e in evals)

    def pct(c: int, n: int) -> float | None:
        return round(100.0 * c / n, 2) if n else None

    return {
        "documents": len(evals),
        "cells": total,
        "cells_correct": correct,
        "cell_accuracy": pct(correct, total),
        "per_table": {t: {"correct": c, "total": n, "accuracy": pct(c, n)} for t, (c, n) in sorted(per_table.items())},
        "per_format": {f: {"correct": c, "total": n, "accuracy": pct(c, n)} for f, (c, n) in sorted(per_format.items())},
        "by_producer": {p: {"correct": c, "total": n, "accuracy": pct(c, n)} for p, (c, n) in sorted(by_producer.items())},
        "accepted": len(accepted),
        "accepted_with_wrong_cells": len(accepted) - len(accepted_clean),
        "acceptance_precision": pct(len(accepted_clean), len(accepted)),
        "source_violations_gold": vg,
        "source_violations_found": vf,
        "source_violation_recall": pct(vf, vg),
        "by_document": [
            {
                "document": e.document, "format": e.format, "decision": e.decision,
                "cells": e.total, "correct": e.correct, "accuracy": pct(e.correct, e.total),
                "violations": f"{e.violations_found}/{e.violations_gold}",
                "wrong": [
                    {"cell": f"{w.table}.{w.row}.{w.col}", "gold": _plain(w.gold), "got": _plain(w.got), "kind": w.got_kind}
                    for w in e.wrong[:50]
                ],
            }
            for e in evals
        ],
    }


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    return v
