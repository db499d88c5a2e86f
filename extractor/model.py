"""Types shared by every stage: spans, cells, tables, facts, findings and the record.

Every number that leaves the extractor is a :class:`Cell` (a table value) or a :class:`Fact` (a
narrative statement). Both carry the characters they were read from (:class:`Span`, offsets into
the *original* document text) and who produced them (``parser``, ``model`` or ``reviewer``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Producer = Literal["parser", "model", "reviewer"]
CellKind = Literal["number", "zero", "empty", "not_applicable", "text", "ambiguous"]
# ADVISORY: a check that does not hold but cannot prove a problem (e.g. two narrative statements that
# may not count the same quantity): shown to reviewers, never blocks acceptance.
Status = Literal["PASS", "FAIL", "UNCERTAIN", "NOT_ASSESSABLE", "ADVISORY"]
OPEN_STATUSES = ("FAIL", "UNCERTAIN")  # a finding in one of these is open until a reviewer settles it
Decision = Literal["accepted", "needs_review", "failed"]
Classification = Literal[
    "ok",
    "source_inconsistency",  # every operand grounded and unambiguous, yet the identity fails
    "suspected_extraction_error",  # an operand is ungrounded, ambiguous or missing
    "ungrounded",  # a value whose span does not re-read to the value
    "ambiguous",  # several readings fit; a reviewer must choose
    "disagreement",  # parser and model read different values
    "narrative",  # a narrative statement that does not check out
    "printed_blank",  # cells the report prints blank (kept blank, never 0) where the identities hold with 0
]
Number = int | Decimal


class Span(BaseModel):
    """Characters ``[start, end)`` of the original document text (and, for PDF/OCR, where on the page)."""

    model_config = ConfigDict(frozen=True)

    start: int
    end: int
    page: int | None = None  # 1-based page number (PDF, OCR)
    bbox: tuple[float, float, float, float] | None = None  # x0, top, x1, bottom in PDF points


class Candidate(BaseModel):
    """One possible reading of an ambiguous cell (e.g. one split of run-together digits)."""

    value: Number | None
    raw: str
    note: str = ""
    span: Span | None = None  # the characters of this reading (a model may resolve the cell only to one)


class Cell(BaseModel):
    table: str  # "table2" | "table3" | "table4" | "legacy"
    row: str  # canonical row key (legacy: "L<index>")
    col: str  # canonical column key (legacy: "year" | "cumulative")
    value: Number | None = None
    kind: CellKind = "empty"
    raw: str = ""  # the characters as printed (after normalization)
    span: Span | None = None
    producer: Producer = "parser"
    decimals: int = 0  # printed decimals (money); drives interval tolerance
    label: str | None = None  # printed row label, as read
    unit: str | None = None  # legacy tables print a unit per indicator
    key: str | None = None  # legacy: canonical key of a known indicator
    candidates: list[Candidate] = Field(default_factory=list)
    confidence: float | None = None  # OCR confidence of the digits, when known
    grounded: bool | None = None  # set by the grounding rule
    anchor: str = ""  # how the cell's row was identified: label | position | order (| reviewer)
    inferred: str = ""  # the reading relied on identities: "split" (run-together digits) | "displaced"
    missing: bool = False  # a template cell not found in the source (as opposed to a printed blank)
    note: str = ""  # human-readable: how the value was read

    @property
    def ref(self) -> str:
        return f"{self.table}.{self.row}.{self.col}"

    def gold_value(self) -> Any:
        """The cell as gold files write it: a number, ``None`` for blank, ``"-"`` for not-applicable."""
        if self.kind in ("number", "zero"):
            return self.value
        if self.kind == "not_applicable":
            return "-"
        if self.kind == "text":
            return self.raw
        return None


class Table(BaseModel):
    key: str  # "table2" | "table3" | "table4" | "legacy"
    template: str  # e.g. "2021.table3", "2019.table2", "legacy"
    cells: list[Cell] = Field(default_factory=list)
    span: Span | None = None  # the region the table was read from
    encoding: str = ""  # how the table was encoded in the source (pipe-lines, tabs, html-grid, ...)
    complete: bool = True  # every template cell was found
    notes: list[str] = Field(default_factory=list)

    def get(self, row: str, col: str) -> Cell | None:
        for c in self.cells:
            if c.row == row and c.col == col:
                return c
        return None


class Fact(BaseModel):
    """A quantitative statement from the narrative, with its verbatim quote."""

    metric: str  # canonical key when known, else the printed label
    value: Number
    unit: str = ""
    quote: str
    span: Span | None = None
    section: str = ""
    parts: list["Fact"] = Field(default_factory=list)  # 其中 parts of a sum statement
    rate_of: list[str] = Field(default_factory=list)  # for rates: [numerator metric, denominator metric]
    kind: Literal["count", "sum", "rate", "money"] = "count"
    decimals: int = 0
    producer: Producer = "model"
    prompt: str | None = None  # "<prompt id>@<version>" that produced it
    model: str | None = None
    grounded: bool | None = None
    label: str = ""  # the printed label, when ``metric`` is a canonical key
    approximate: bool = False  # printed as an approximation ("300余条", "40多家"): never summed or matched
    implicit: bool = False  # a sum whose parts follow the total in a separate list (no 其中)
    # How ``metric`` is known: the id of the vocabulary anchor (rules/narrative_vocabulary.yaml) that
    # proves it, "" when the key is a guess (a guessed key never blocks acceptance).
    anchor: str = ""
    # Whose count it is: "" for the report's own body and period; else the scope word that narrows it
    # (其中, 各乡镇, 专栏, a named unit, ...). Only report-wide facts are compared with the tables.
    scope: str = ""


class Operand(BaseModel):
    ref: str
    value: Number | None
    kind: CellKind | str = "number"
    span: Span | None = None
    decimals: int = 0


class Finding(BaseModel):
    id: str  # stable: rule id + scope (survives a re-run of the same document)
    rule: str  # e.g. "T3.BALANCE"
    version: int = 1
    status: Status
    classification: Classification = "ok"
    severity: Literal["error", "warning", "info"] = "error"
    scope: str = ""  # e.g. "column total", "row new_received"
    message: str = ""
    arithmetic: str = ""  # e.g. "5 + 0 ≠ 0 + 0"
    operands: list[Operand] = Field(default_factory=list)
    values: dict[str, Any] = Field(default_factory=dict)  # competing values (parser / model / reviewer)
    # The cause this finding belongs to (extractor/verify/groups.py): findings with one group key are
    # one question for a reviewer (e.g. a total row printed 0 breaks four identities). "" = not grouped.
    group: str = ""

    @property
    def ref(self) -> str:
        """``rule@version`` (``T3.BALANCE@1``): the rule entry of ``rules/*.yaml`` this finding cites."""
        return f"{self.rule}@{self.version}"


class DocumentInfo(BaseModel):
    name: str
    path: str = ""
    sha256: str = ""
    kind: str = ""  # text | html | markdown | pdf | docx | image
    encoding: str = ""
    chars: int = 0
    url: str | None = None


class Record(BaseModel):
    document: DocumentInfo
    organ: str | None = None
    year: int | None = None
    format: Literal["2021", "2019", "legacy", "unknown"] = "unknown"
    tables: dict[str, Table] = Field(default_factory=dict)
    facts: list[Fact] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    decision: Decision = "needs_review"
    reasons: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)  # steps not run (e.g. model steps without a key)
    error: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)  # extractor, rules, prompts

    def cells(self) -> list[Cell]:
        return [c for t in self.tables.values() for c in t.cells]

    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status != "PASS"]

    def to_canonical(self) -> dict[str, Any]:
        """The record in the canonical form of ``gold-format.md`` (plus the findings)."""
        out: dict[str, Any] = {
            "document": self.document.name,
            "organ": self.organ,
            "year": self.year,
            "format": self.format,
        }
        for key, table in self.tables.items():
            if key == "legacy":
                out["legacy"] = [
                    {
                        "label": c.label,
                        "unit": c.unit,
                        "value": _jsonable(c.gold_value()),
                        "column": c.col,
                        **({"key": c.key} if c.key else {}),
                    }
                    for c in table.cells
                ]
                continue
            rows: dict[str, dict[str, Any]] = {}
            for c in table.cells:
                rows.setdefault(c.row, {})[c.col] = _jsonable(c.gold_value())
            out[key] = rows
        out["source_violations"] = [
            f.message for f in self.findings if f.classification == "source_inconsistency"
        ]
        out["decision"] = self.decision
        return out


_DEFAULTS: dict[type, tuple[dict[str, Any], list[tuple[str, Any]], set[str]]] = {}


def build(cls: type[BaseModel], **kw: Any) -> Any:
    """Construct a model from trusted internal values without validation (hot paths: cells,
    spans, operands, findings). Every field is filled, so pydantic never inspects default factories."""
    spec = _DEFAULTS.get(cls)
    if spec is None:
        plain = {n: f.default for n, f in cls.model_fields.items() if f.default_factory is None}
        factories = [(n, f.default_factory) for n, f in cls.model_fields.items() if f.default_factory is not None]
        spec = _DEFAULTS[cls] = (plain, factories, set(cls.model_fields))
    plain, factories, names = spec
    data = dict(plain)
    for name, factory in factories:
        if name not in kw:
            data[name] = factory()
    data.update(kw)
    obj = cls.__new__(cls)
    _set = object.__setattr__
    _set(obj, "__dict__", data)
    _set(obj, "__pydantic_fields_set__", names)  # every field is set: shared, adding to it is a no-op
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def set_field(obj: BaseModel, name: str, value: Any) -> None:
    """``obj.name = value`` for a plain field, as pydantic does it without assignment validation
    (the hot path: the grounding rule marks every cell)."""
    obj.__dict__[name] = value
    obj.__pydantic_fields_set__.add(name)


_CELL_FIELDS = set(Cell.model_fields)
_new = object.__new__
_set = object.__setattr__
# the slots of a pydantic model instance, set directly by the hot constructors (here and document._plain_span)
SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


def new_cell(table: str, row: str, col: str, kind: str, value: Any = None, raw: str = "", span: Span | None = None,
             decimals: int = 0, label: str | None = None, anchor: str = "", inferred: str = "", note: str = "",
             confidence: float | None = None, missing: bool = False) -> Cell:
    """A parser :class:`Cell` from trusted values, without validation (one per table cell: the hot path).
    Same result as ``build(Cell, ...)`` with these fields."""
    obj = _new(Cell)
    _set(obj, "__dict__", {
        "table": table, "row": row, "col": col, "value": value, "kind": kind, "raw": raw, "span": span,
        "producer": "parser", "decimals": decimals, "label": label, "unit": None, "key": None, "candidates": [],
        "confidence": confidence, "grounded": None, "anchor": anchor, "inferred": inferred, "missing": missing,
        "note": note,
    })
    SET_FIELDS_SET(obj, _CELL_FIELDS)
    SET_EXTRA(obj, None)
    SET_PRIVATE(obj, None)
    return obj


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and v.as_tuple().exponent >= 0 else float(v)
    return v


# The fields trusted() fills for each model, in declaration order.
_TRUSTED_FIELDS: dict[type, tuple[str, ...]] = {
    Fact: (
        "metric", "value", "unit", "quote", "span", "section", "parts", "rate_of", "kind", "decimals", "producer",
        "prompt", "model", "grounded", "label", "approximate", "implicit", "anchor", "scope",
    ),
    Finding: (
        "id", "rule", "version", "status", "classification", "severity", "scope", "message", "arithmetic",
        "operands", "values", "group",
    ),
    Operand: ("ref", "value", "kind", "span", "decimals"),
}
_DIRECT = {cls: tuple(cls.model_fields) == names for cls, names in _TRUSTED_FIELDS.items()}
_ALL_SET = {cls: set(names) for cls, names in _TRUSTED_FIELDS.items()}


def trusted(cls: type[Any], data: dict[str, Any]) -> Any:
    """A Fact, Finding or Operand from trusted values (each of its field's type), without validation.

    ``data`` has every field, in declaration order (:func:`build` would put the fields with default
    factories last, and dumps follow that order). Should the model's fields change, :func:`build`
    takes over. (The narrative reader and its checks make many of these.)
    """
    if not _DIRECT[cls]:
        return build(cls, **data)
    obj = cls.__new__(cls)
    _setattr = object.__setattr__
    _setattr(obj, "__dict__", data)
    _setattr(obj, "__pydantic_fields_set__", _ALL_SET[cls])  # every field is set: shared, adding is a no-op
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj
