"""The rule engine: evaluates the identities declared in ``rules/*.yaml`` on a Record.

Each identity is ``sum(lhs) = sum(rhs)``, evaluated per column (operands are row keys) or per row
(operands are column keys) or once (legacy indicators by canonical key). Outcomes:

* PASS / FAIL: every operand is a number; counts compare exactly, money with interval tolerance
  (a value printed with d decimals stands for ±½·10⁻ᵈ).
* UNCERTAIN: some operands are numbers and some are blank, not-applicable, ambiguous or missing —
  never silently read as 0. The message says whether the identity would hold with blanks as 0.
* NOT_ASSESSABLE: no operand is a number (a blank column), or required indicators are not printed.

A FAIL whose operands are all grounded, unambiguous and anchored by their printed labels is a
``source_inconsistency`` (the published report is wrong; its numbers are kept as printed);
otherwise it is a ``suspected_extraction_error``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

from ..model import Cell, Finding, Operand, Record, Table, build
from ..tablespec import Identity, balance, identities


def _num(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(int(v))


def _tolerance(cells: list[Cell]) -> Decimal | int:
    """±½·10⁻ᵈ for every operand printed with d decimals; counts (d = 0) are exact."""
    tol: Decimal | int = 0
    for c in cells:
        if c.decimals > 0:
            tol += Decimal(1).scaleb(-c.decimals) / 2
    return tol


def _operand(c: Cell | None, ref: str) -> Operand:
    if c is None:
        return build(Operand, ref=ref, value=None, kind="missing", span=None, decimals=0)
    return build(Operand, ref=c.ref, value=c.value, kind=c.kind, span=c.span, decimals=c.decimals)


_NUMERIC = ("number", "zero")


def _ref(ref: str | tuple[str, ...]) -> str:
    """Operand references are made when a finding needs them (a tuple is table, row, column)."""
    return ref if isinstance(ref, str) else ".".join(ref)


def evaluate_identity(
    rule: dict[str, Any], scope: str, lhs: list[tuple[Any, Cell | None]], rhs: list[tuple[Any, Cell | None]], doc_key: str
) -> Finding:
    """One identity ``sum(lhs) = sum(rhs)`` in one scope. Operands are kept on the findings a
    reviewer must look at (FAIL, UNCERTAIN); a PASS keeps its arithmetic only. An operand's
    reference is a string or a (table, row, column) tuple."""
    rid = rule["id"]
    title = rule.get("title", rid)
    numeric: list[Cell] = []
    lhs_parts: list[str] = []
    rhs_parts: list[str] = []
    lnums: list[Any] = []  # the numbers of each side
    rnums: list[Any] = []
    for side, parts, nums in ((lhs, lhs_parts, lnums), (rhs, rhs_parts, rnums)):
        for _, c in side:
            if c is None:
                parts.append("∅")
                continue
            v = c.value
            parts.append("∅" if v is None else str(v))
            if c.kind in _NUMERIC:
                numeric.append(c)
                nums.append(v)
    lhs_txt = " + ".join(lhs_parts)
    rhs_txt = " + ".join(rhs_parts)
    pairs = lhs + rhs
    base = dict(id=f"{rid}:{scope}", rule=rid, version=int(rule.get("version", 1)), scope=scope)
    if not numeric:
        return build(Finding, **base, status="NOT_ASSESSABLE", severity="info",
                     message=f"{title} [{scope}]: no numbers printed", arithmetic=f"{lhs_txt} = {rhs_txt}")
    tol = _tolerance(numeric)
    ls, rs, holds = balance(lnums, rnums, tol)  # the one arithmetic of identities (tablespec)
    if len(numeric) < len(pairs):
        bad = [(_ref(ref), c) for ref, c in pairs if c is None or c.kind not in _NUMERIC]
        kinds = ", ".join(f"{ref.rsplit('.', 1)[-1]}={'missing' if c is None else c.kind}" for ref, c in bad)
        would = "holds" if holds else "fails"
        ambiguous = any(c is not None and c.kind == "ambiguous" for _, c in pairs)
        return build(
            Finding, **base, operands=[_operand(c, _ref(ref)) for ref, c in pairs], status="UNCERTAIN",
            classification="ambiguous" if ambiguous else "suspected_extraction_error", severity="warning",
            message=f"{title} [{scope}]: cannot be checked, operands not numbers ({kinds}); "
                    f"with blanks read as 0 it {would} ({ls} vs {rs})",
            arithmetic=f"{lhs_txt} ? {rhs_txt}",
            values={"lhs_known": str(ls), "rhs_known": str(rs), "with_blanks_as_zero": would},
        )
    diff = ls - rs
    if holds:
        return build(Finding, **base, status="PASS", severity="info", message=f"{title} [{scope}]",
                     arithmetic=f"{lhs_txt} = {rhs_txt}" + (f" (±{tol})" if tol else ""),
                     values={"lhs": str(ls), "rhs": str(rs)})
    # a failure is the source's own when every operand was read where its printed label (or the
    # table's fixed printed order within one row) puts it, grounded, and without any inference
    trusted = all(
        c.grounded is not False and (c.anchor in ("label", "position") or c.producer == "reviewer") and not c.inferred
        for c in numeric
    )
    cls = "source_inconsistency" if trusted else "suspected_extraction_error"
    lhs_names = " + ".join(_ref(ref) for ref, _ in lhs)
    rhs_names = " + ".join(_ref(ref) for ref, _ in rhs)
    return build(
        Finding, **base, operands=[_operand(c, _ref(ref)) for ref, c in pairs], status="FAIL", classification=cls,
        severity="error",
        message=f"{title} [{scope}]: {lhs_names} ({ls}) ≠ {rhs_names} ({rs})"
                + (PUBLISHED_SUFFIX if cls == "source_inconsistency" else ""),
        arithmetic=f"{lhs_txt} ≠ {rhs_txt}" + (f"  ({ls} vs {rs}, ±{tol})" if tol else f"  ({ls} vs {rs})"),
        values={"lhs": str(ls), "rhs": str(rs), "difference": str(diff)},
    )


PUBLISHED_SUFFIX = "; the published table is inconsistent, numbers kept as printed"


def check_identities(record: Record) -> list[Finding]:
    """Every identity of the tables' specs (the rule entries of ``rules/*.yaml``) on the record."""
    doc_key = record.document.sha256
    return [x if isinstance(x, Finding) else evaluate_identity(*x, doc_key) for x in _instances(record)]


def failing_identities(record: Record) -> set[str]:
    """The ids of the findings of :func:`check_identities` whose status is FAIL, without making the
    findings (the grouping asks this of many corrected copies of a record)."""
    return {f"{x[0]['id']}:{x[1]}" for x in _instances(record) if not isinstance(x, Finding) and _fails(x[2], x[3])}


def _fails(lhs: list[tuple[Any, Cell | None]], rhs: list[tuple[Any, Cell | None]]) -> bool:
    """:func:`evaluate_identity` gives FAIL: every operand a number (else it is UNCERTAIN or
    NOT_ASSESSABLE) and the sums differ beyond the tolerance."""
    numeric: list[Cell] = []
    sums: tuple[list[Any], list[Any]] = ([], [])
    for side, nums in ((lhs, sums[0]), (rhs, sums[1])):
        for _, c in side:
            if c is None or c.kind not in _NUMERIC:
                return False
            numeric.append(c)
            nums.append(c.value)
    return bool(numeric) and not balance(sums[0], sums[1], _tolerance(numeric))[2]


_Instance = tuple[dict[str, Any], str, list[tuple[Any, Cell | None]], list[tuple[Any, Cell | None]]]


def _instances(record: Record) -> Iterator[_Instance | Finding]:
    """Each identity in each of its scopes on the record: (rule, scope, lhs, rhs) for
    :func:`evaluate_identity`, or the finding already known (indicators not printed)."""
    shapes: dict[str, tuple[list[str], list[str], dict[tuple[str, str], Cell]]] = {}
    for ident in identities():
        tkey = ident.table
        if tkey not in record.tables:
            continue
        table = record.tables[tkey]
        rule = ident.rule
        if ident.each is None:
            yield _legacy_rule(ident, table)
            continue
        if tkey not in shapes:  # rows, columns and cells of the table, once for all its rules
            shapes[tkey] = (list(dict.fromkeys(c.row for c in table.cells)),
                            list(dict.fromkeys(c.col for c in table.cells)),
                            {(c.row, c.col): c for c in table.cells})
        rows_present, cols_present, index = shapes[tkey]
        if ident.each == "column":
            lhs_k, rhs_k = ident.sides(set(rows_present))
            if not all(k in rows_present for k in lhs_k):
                continue
            for col in cols_present:
                lhs = [((tkey, r, col), index.get((r, col))) for r in lhs_k]
                rhs = [((tkey, r, col), index.get((r, col))) for r in rhs_k]
                yield rule, f"column {col}", lhs, rhs
        else:
            lhs_k, rhs_k = ident.sides()
            for row in rows_present:
                lhs = [((tkey, row, c), index.get((row, c))) for c in lhs_k]
                rhs = [((tkey, row, c), index.get((row, c))) for c in rhs_k]
                yield rule, f"row {row}", lhs, rhs


def _legacy_rule(ident: Identity, table: Table) -> _Instance | Finding:
    """An identity of indicators (evaluated once, on the year column where they are printed)."""
    by_key: dict[str, Cell] = {}
    for c in table.cells:
        if c.key and c.col == "year" and c.key not in by_key:
            by_key[c.key] = c
    lhs_k, rhs_k = ident.sides()
    req = lhs_k + rhs_k
    if not all(k in by_key for k in req):
        missing = [k for k in req if k not in by_key]
        return Finding(id=f"{ident.id}:year", rule=ident.id, version=ident.version,
                       status="NOT_ASSESSABLE", severity="info", scope="year",
                       message=f"{ident.title}: indicators not printed ({', '.join(missing)})")
    rhs_keys = rhs_k + [k for k in ident.optional if k in by_key]
    lhs = [(f"{table.key}.{k}", by_key[k]) for k in lhs_k]
    rhs = [(f"{table.key}.{k}", by_key[k]) for k in rhs_keys]
    return ident.rule, "year", lhs, rhs
