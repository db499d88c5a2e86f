"""One description per table: a ``TableSpec`` loaded from ``rules/templates/<table>.yaml`` with the
identities of ``rules/*.yaml`` that name the table.

A TableSpec holds everything the code knows about one printed table — its title, rows (keys, printed
labels, keywords that find them, enumerators, the headings they stand under), columns (keys, printed
labels, header groups, signed and money columns), printed variants, operand groups, the words that
locate it in a report, and its identities (by reference: the rule entries stay in ``rules/*.yaml``,
the one place an identity is written). The parser, reflow, layout, the rule engine, the report and
the model prompt all read it; none of them writes a label, a title or an identity of its own.

Identities are evaluated here, once for everybody: ``Identity.holds`` / ``Identity.solve`` on values
(the parser, choosing among splits of run-together digits) and ``balance`` on numbers (the rule
engine, with its tolerance) are the same arithmetic on the same rule entries.

Loaded once per rule directory (``EXTRACTOR_RULES_DIR`` points elsewhere) and validated at load: a
malformed or inconsistent file is a ``ConfigError`` naming the file and the entry.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from .errors import ConfigError
from .model import Number
from .templates import load_rules, load_templates, read_yaml, rules_dir


# printed enumerators in front of a (normalized) label: 一、 (一) 1. 3、 — nested ones too (三、(一))
ENUMERATOR = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|[(][一二三四五六七八九十]+[)]|\d+[、.]?)+")
_ENUM_ONE = re.compile(r"^(?:\d+[.．、]|[（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)")
_WS = re.compile(r"\s+")


def compact(s: str) -> str:
    return _WS.sub("", s)


def strip_enumerator(s: str) -> str:
    """A printed label without white space and without its enumerator(s)."""
    return ENUMERATOR.sub("", compact(s))


def split_enumerator(label: str) -> tuple[str, str]:
    """(enumerator, body) of a label as the spec writes it: ``5.属于三类内部事务信息`` → (``5.``, …)."""
    m = _ENUM_ONE.match(label)
    enum = m.group() if m else ""
    return enum, label[len(enum):]


# --------------------------------------------------------------------------- the parts of a table
class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Part):
    key: str
    label: str
    name: str | None = None  # what a message calls it (else its label)
    keywords: tuple[str, ...] = ()  # header words that show the column is printed
    signed: bool = False  # may be negative (本年增/减)
    money: bool = False  # an amount (万元): decimals allowed
    unit: str | None = None

    @property
    def called(self) -> str:
        return self.name or self.label


class ColumnGroup(_Part):
    key: str
    label: str
    columns: tuple[str, ...]


class Heading(_Part):
    key: str
    label: str
    parent: str | None = None
    names_rows: bool = False  # part of each row's name (行政诉讼·复议后起诉)


class RowSpec(_Part):
    key: str
    label: str | None = None  # as printed, enumerator first
    keywords: tuple[str, ...] = ()  # found in a printed label: the longest found wins
    exact: tuple[str, ...] = ()  # match only the whole printed label
    columns: tuple[str, ...] = ()  # table 二: this row's own columns
    under: str | None = None  # the heading it stands under
    after: str | None = None  # legacy: only after this indicator was printed
    before: str | None = None  # legacy: only before this indicator was printed
    not_after: tuple[str, ...] = ()  # characters before the label that make it another word (行政规章)

    @property
    def printed(self) -> str:
        return self.label or self.key

    @property
    def enumerator(self) -> str:
        """The label's own enumerator as printed: 一、 (三) 5. (empty when none)."""
        return split_enumerator(self.printed)[0]

    @property
    def body(self) -> str:
        return split_enumerator(self.printed)[1]

    @functools.cached_property
    def exact_forms(self) -> tuple[tuple[str, str], ...]:
        """(without enumerator, compact) of each exact label."""
        return tuple((strip_enumerator(e), compact(e)) for e in self.exact)


class Variant(_Part):
    name: str
    rows: tuple[RowSpec, ...]
    formats: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.rows]


class Locate(_Part):
    """Words and patterns that find the table in a report's text (layout.py, reflow.py)."""

    anchor: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    header_columns: tuple[str, ...] = ()
    last_row: str | None = None
    row_words: tuple[str, ...] = ()
    heading: tuple[str, ...] = ()
    heading_start: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()
    flat_markers: tuple[str, ...] = ()
    mention: tuple[str, ...] = ()
    start: re.Pattern[str] | None = None
    header_pattern: re.Pattern[str] | None = None
    flat_start: re.Pattern[str] | None = None
    flat_end: re.Pattern[str] | None = None
    flat_head_end: re.Pattern[str] | None = None
    flat_header_words: re.Pattern[str] | None = None

    @field_validator("start", "header_pattern", "flat_start", "flat_end", "flat_head_end", "flat_header_words",
                     mode="before")
    @classmethod
    def _compile(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc}): {v!r}") from exc
        return v


# --------------------------------------------------------------------------- identities
def balance(lhs: Iterable[Number], rhs: Iterable[Number], tolerance: Number = 0) -> tuple[Number, Number, bool]:
    """``sum(lhs) = sum(rhs)`` within ``tolerance``: (left sum, right sum, holds). The one arithmetic
    of every identity, for the engine and the parser alike."""
    ls = sum(lhs, 0)
    rs = sum(rhs, 0)
    return ls, rs, abs(ls - rs) <= tolerance


class Identity(_Part):
    """One rule entry of ``rules/*.yaml`` that is an identity of a table: ``sum(lhs) = sum(rhs)``,
    per column (operands are row keys; ``{group: NAME}`` stands for the group's rows present), per
    row (operands are column keys) or once (legacy: indicator keys; ``optional`` ones join the sum
    when printed)."""

    id: str
    version: int = 1
    table: str
    title: str = ""
    each: Literal["column", "row"] | None = None
    lhs: tuple[str | dict[str, str], ...]
    rhs: tuple[str | dict[str, str], ...]
    optional: tuple[str, ...] = ()
    file: str = ""
    rule: dict[str, Any] = Field(default_factory=dict, repr=False)  # the entry as written
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict, repr=False)  # the table's operand groups

    def _expand(self, items: Sequence[Any], present: Collection[str] | None) -> list[str]:
        out: list[str] = []
        for it in items:
            if isinstance(it, dict):
                out.extend(k for k in self.groups.get(it["group"], ()) if present is None or k in present)
            else:
                out.append(str(it))
        return out

    def sides(self, present: Collection[str] | None = None) -> tuple[list[str], list[str]]:
        """The operand keys of each side; a group stands for its members in ``present``."""
        return self._expand(self.lhs, present), self._expand(self.rhs, present)

    @property
    def operands(self) -> set[str]:
        lk, rk = self.sides()
        return set(lk) | set(rk) | set(self.optional)

    def holds(self, value: Callable[[str], Any], sides: tuple[list[str], list[str]] | None = None,
              numbers: tuple[type, ...] = (int,)) -> bool | None:
        """Whether the identity holds on ``value(key)`` (exactly): None when an operand is not a
        number of the given types (the parser's digit runs are whole numbers)."""
        lk, rk = sides if sides is not None else self.sides()
        lv = [value(k) for k in lk]
        rv = [value(k) for k in rk]
        if not all(isinstance(x, numbers) and not isinstance(x, bool) for x in (*lv, *rv)):
            return None
        return balance(lv, rv)[2]

    def solve(self, key: str, value: Callable[[str], Any], sides: tuple[list[str], list[str]] | None = None,
              numbers: tuple[type, ...] = (int,)) -> Number | None:
        """The value of operand ``key`` that makes the identity hold given the others (None when
        ``key`` is not one operand of it, or another operand is not a number)."""
        lk, rk = sides if sides is not None else self.sides()
        if (lk + rk).count(key) != 1:
            return None
        own, other = (lk, rk) if key in lk else (rk, lk)
        rest = [value(k) for k in own if k != key]
        far = [value(k) for k in other]
        if not all(isinstance(x, numbers) and not isinstance(x, bool) for x in (*rest, *far)):
            return None
        ls, rs, _ = balance(far, rest)
        return ls - rs


class LineIdentities:
    """The row identities of a table along one printed line of values: one row, or ``n_rows`` rows
    printed one after another (table 四 as a single run of 15 values).

    ``groups`` is their positional form where an identity has it (a total right after the cells it
    adds up: ``value[end] == sum(value[start:end])``), which the split search uses to cut digit runs;
    every candidate is then checked by the identities themselves (``holds``)."""

    def __init__(self, columns: Sequence[str], identities: Sequence[Identity], n_rows: int = 1):
        self.columns = list(columns)
        self.identities = list(identities)
        self.n_rows = n_rows
        self.width = len(self.columns) * n_rows
        pos = {c: i for i, c in enumerate(self.columns)}
        self._sides = [ident.sides() for ident in self.identities]
        groups: list[tuple[int, int]] = []
        for lk, rk in self._sides:
            if len(lk) == 1 and lk[0] in pos and rk and all(c in pos for c in rk):
                end = pos[lk[0]]
                idx = [pos[c] for c in rk]
                if idx == list(range(idx[0], idx[0] + len(idx))) and idx[-1] + 1 == end:
                    groups.append((idx[0], end))
        k = len(self.columns)
        self.groups = sorted((a + r * k, e + r * k) for r in range(n_rows) for a, e in groups)

    def __eq__(self, other: object) -> bool:  # compared with the positional form (tests, callers)
        if isinstance(other, LineIdentities):
            return self.groups == other.groups and self.width == other.width
        if isinstance(other, list):
            return self.groups == other
        return NotImplemented

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return bool(self.identities)

    def _results(self, values: Sequence[Any]):
        k = len(self.columns)
        for r in range(self.n_rows):
            row = dict(zip(self.columns, values[r * k:(r + 1) * k]))
            for ident, sides in zip(self.identities, self._sides):
                yield ident.holds(row.get, sides)

    def holds(self, values: Sequence[Any]) -> bool:
        """Every identity holds on every row of ``values`` (each operand a whole number)."""
        return len(values) == self.width and all(r is True for r in self._results(values))

    def contradicts(self, values: Sequence[Any]) -> bool:
        """Some identity fails on ``values`` (one whose operands are all whole numbers)."""
        return len(values) == self.width and any(r is False for r in self._results(values))


# --------------------------------------------------------------------------- a table
class TableSpec(_Part):
    key: str
    version: int = 1
    title: str
    short: str
    section: str | None = None  # the report section that prints it (二 三 四)
    corner: str | None = None
    columns: tuple[Column, ...] = ()
    column_groups: tuple[ColumnGroup, ...] = ()
    headings: tuple[Heading, ...] = ()
    rows: tuple[RowSpec, ...] = ()  # every row any variant prints (the first definition of a key)
    variants: dict[str, Variant] = Field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    one_line: bool = False
    units: tuple[str, ...] = ()
    header_words: tuple[str, ...] = ()
    locate: Locate = Field(default_factory=Locate)
    identities: tuple[Identity, ...] = ()
    crossyear: tuple[str, ...] = ()  # ids of the checks across years that name the table
    _memo: dict[str, Any] = PrivateAttr(default_factory=dict)

    # -- lookups
    def row(self, key: str) -> RowSpec:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(f"{self.key} has no row {key!r}")

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(f"{self.key} has no column {key!r}")

    @property
    def column_keys(self) -> list[str]:
        return [c.key for c in self.columns]

    @property
    def row_keys(self) -> list[str]:
        return [r.key for r in self.rows]

    def column_labels(self) -> dict[str, str]:
        return {c.key: c.label for c in self.columns}

    def row_labels(self) -> dict[str, str]:
        return {r.key: r.printed for r in self.rows}

    def variant(self, name: str) -> Variant:
        return self.variants[name]

    def variant_for(self, fmt: str | None) -> Variant:
        """The variant a report of format ``fmt`` prints (the first variant when none says so)."""
        for v in self.variants.values():
            if fmt in v.formats:
                return v
        return next(iter(self.variants.values()))

    def heading(self, key: str) -> Heading:
        for h in self.headings:
            if h.key == key:
                return h
        raise KeyError(f"{self.key} has no heading {key!r}")

    def heading_path(self, row: str) -> list[Heading]:
        """The headings a row stands under, outermost first."""
        try:
            h = self.row(row).under
        except KeyError:
            return []
        out: list[Heading] = []
        while h:
            head = self.heading(h)
            out.append(head)
            h = head.parent
        return out[::-1]

    def row_name(self, row: str) -> str:
        """A reader's name for a row: its label, after the headings that name their rows."""
        try:
            label = self.row(row).printed
        except KeyError:
            return row
        return "·".join([h.label for h in self.heading_path(row) if h.names_rows] + [label])

    def column_group(self, col: str) -> ColumnGroup | None:
        return next((g for g in self.column_groups if col in g.columns), None)

    @property
    def signed_columns(self) -> set[str]:
        return {c.key for c in self.columns if c.signed}

    @property
    def money_columns(self) -> set[str]:
        return {c.key for c in self.columns if c.money}

    @property
    def printed_header(self) -> frozenset[str]:
        """Every word of the printed column header (corner, group labels, column labels), compact
        (made once per spec)."""
        def build() -> frozenset[str]:
            words = [c.label for c in self.columns] + [g.label for g in self.column_groups]
            if self.corner:
                words.append(self.corner)
            return frozenset(compact(w) for w in words)
        return self.memo("printed_header", build)

    # -- identities
    @property
    def row_identities(self) -> list[Identity]:
        return [i for i in self.identities if i.each == "row"]

    @property
    def column_identities(self) -> list[Identity]:
        return [i for i in self.identities if i.each == "column"]

    @property
    def totals(self) -> set[str]:
        """Keys of the table's totals: the one left-hand operand of an identity (总计)."""
        return {str(i.lhs[0]) for i in self.identities if len(i.lhs) == 1 and isinstance(i.lhs[0], str)}

    def line(self, n_rows: int = 1) -> LineIdentities:
        """The row identities along a line of ``n_rows`` printed rows (made once per spec)."""
        return self.memo(f"line:{n_rows}", lambda: LineIdentities(self.column_keys, self.row_identities, n_rows))

    def memo(self, name: str, build: Callable[[], Any]) -> Any:
        """A value derived from this spec, made once (compiled patterns, positional forms)."""
        try:
            return self._memo[name]
        except KeyError:
            v = self._memo[name] = build()
            return v


# --------------------------------------------------------------------------- loading
def _where(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        loc = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return "; ".join(parts)


def _rows(raw: Any, where: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list")
    return raw


def _build(key: str, data: dict[str, Any], path: str) -> TableSpec:
    data = dict(data)
    data.pop("id", None)
    where = str(data.pop("_path", path))
    try:
        # columns: a list of {key, label, …}
        columns = [Column(**c) if isinstance(c, dict) else Column(key=str(c), label=str(c))
                   for c in _rows(data.pop("columns", None), f"{where}: columns")]
        # rows: the table's own (indicators for the statistical table) and each variant's
        own_rows = [RowSpec(**r) for r in _rows(data.pop("rows", None) or data.pop("indicators", None), f"{where}: rows")]
        if d := _dupes(r.key for r in own_rows):
            raise ConfigError(f"{where}: row key(s) defined twice: {', '.join(d)}")
        by_key = {r.key: r for r in own_rows}
        variants: dict[str, Variant] = {}
        all_rows = list(own_rows)
        for name, v in (data.pop("variants", None) or {}).items():
            if not isinstance(v, dict):
                raise ConfigError(f"{where}: variant {name!r}: expected a mapping with `rows`")
            vrows: list[RowSpec] = []
            for r in _rows(v.get("rows"), f"{where}: variant {name}: rows"):
                if isinstance(r, str):
                    if r not in by_key:
                        raise ConfigError(f"{where}: variant {name!r} names row {r!r}, which is not one of the table's rows")
                    vrows.append(by_key[r])
                else:
                    row = RowSpec(**r)
                    vrows.append(row)
                    if row.key not in {x.key for x in all_rows}:
                        all_rows.append(row)
            extra = set(v) - {"rows", "formats", "markers"}
            if extra:
                raise ConfigError(f"{where}: variant {name!r}: unknown field(s) {', '.join(sorted(extra))}")
            variants[str(name)] = Variant(name=str(name), rows=tuple(vrows), formats=tuple(str(f) for f in v.get("formats") or ()),
                                          markers=tuple(v.get("markers") or ()))
        if not variants:
            variants[key] = Variant(name=key, rows=tuple(own_rows))
        spec = TableSpec(key=key, columns=tuple(columns), rows=tuple(all_rows), variants=variants, **data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_where(exc)}") from exc
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    _check_table(spec, where)
    return spec


def _dupes(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({k for k in keys if k in seen or seen.add(k)})  # type: ignore[func-returns-value]


def _check_table(spec: TableSpec, where: str) -> None:
    """References inside one table file: every key named exists, none is defined twice."""
    cols = set(spec.column_keys)
    heads = {h.key for h in spec.headings}
    for what, keys in (("column", spec.column_keys), ("heading", [h.key for h in spec.headings])):
        if d := _dupes(keys):
            raise ConfigError(f"{where}: {what} key(s) defined twice: {', '.join(d)}")
    for name, v in spec.variants.items():
        if d := _dupes(v.keys):
            raise ConfigError(f"{where}: variant {name!r} prints row(s) twice: {', '.join(d)}")
        for r in v.rows:
            bad = [c for c in r.columns if c not in cols]
            if bad:
                raise ConfigError(f"{where}: row {r.key!r} names column(s) {', '.join(bad)} not in the table's columns")
    for r in spec.rows:
        if r.under and r.under not in heads:
            raise ConfigError(f"{where}: row {r.key!r} stands under heading {r.under!r}, which is not defined")
        if spec.key != "legacy" and not r.label:
            raise ConfigError(f"{where}: row {r.key!r} has no label")
        if not (r.keywords or r.exact):
            raise ConfigError(f"{where}: row {r.key!r} has neither keywords nor exact labels: it can never be found")
    for h in spec.headings:
        if h.parent and h.parent not in heads:
            raise ConfigError(f"{where}: heading {h.key!r} has parent {h.parent!r}, which is not defined")
    for g in spec.column_groups:
        bad = [c for c in g.columns if c not in cols]
        if bad:
            raise ConfigError(f"{where}: column group {g.key!r} names column(s) {', '.join(bad)} not in the table")
    rows = set(spec.row_keys)
    for name, members in spec.groups.items():
        bad = [k for k in members if k not in rows]
        if bad:
            raise ConfigError(f"{where}: group {name!r} names row(s) {', '.join(bad)} not in the table")
    loc = spec.locate
    if loc.last_row and loc.last_row not in rows:
        raise ConfigError(f"{where}: locate.last_row {loc.last_row!r} is not a row of the table")
    bad = [c for c in loc.header_columns if c not in cols]
    if bad:
        raise ConfigError(f"{where}: locate.header_columns names {', '.join(bad)}, not columns of the table")
    if spec.key == "legacy":
        for r in spec.rows:
            for ref in (r.after, r.before):
                if ref and ref not in rows:
                    raise ConfigError(f"{where}: indicator {r.key!r} refers to {ref!r}, which is not an indicator")


def _identity(rule: dict[str, Any], spec: TableSpec, root: str) -> Identity:
    where = f"{root}/{rule.get('file', '?')}: rule {rule['id']}"
    try:
        ident = Identity(
            id=rule["id"], version=int(rule.get("version", 1)), table=rule["table"], title=rule.get("title", rule["id"]),
            each=rule.get("each"), lhs=tuple(rule.get("lhs") or ()), rhs=tuple(rule.get("rhs") or ()),
            optional=tuple(str(x) for x in rule.get("optional") or ()), file=rule.get("file", ""), rule=rule,
            groups=dict(spec.groups),
        )
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_where(exc)}") from exc
    if not ident.lhs or not ident.rhs:
        raise ConfigError(f"{where}: an identity needs operands on both sides (lhs and rhs)")
    if ident.each is None and spec.key != "legacy":
        raise ConfigError(f"{where}: an identity of table {spec.key} is evaluated per column or per row "
                          "(each: column | row)")
    if ident.each == "column":
        known, what = set(spec.row_keys), "row"
    elif ident.each == "row":
        known, what = set(spec.column_keys), "column"
    else:
        known, what = set(spec.row_keys), "indicator"
    for side in (ident.lhs, ident.rhs):
        for op in side:
            if isinstance(op, dict):
                if ident.each != "column" or set(op) != {"group"}:
                    raise ConfigError(f"{where}: {op!r}: only a rule evaluated per column takes a {{group: NAME}} operand")
                if op["group"] not in spec.groups:
                    raise ConfigError(f"{where}: group {op['group']!r} is not a group of table {spec.key}")
            elif op not in known:
                raise ConfigError(f"{where}: operand {op!r} is not a {what} of table {spec.key}")
    bad = [k for k in ident.optional if k not in known]
    if bad:
        raise ConfigError(f"{where}: optional operand(s) {', '.join(bad)} not {what}s of table {spec.key}")
    return ident


class _RuleSet:
    """The specs and identities of one rule directory, and what modules derive from them."""

    def __init__(self, specs: dict[str, TableSpec], identities: tuple[Identity, ...]):
        self.specs = specs
        self.identities = identities
        self.memo: dict[str, Any] = {}


@functools.lru_cache(maxsize=4)
def _load(root: str) -> _RuleSet:
    raw = load_templates()
    tdir = f"{root}/templates"
    specs: dict[str, TableSpec] = {}
    for key, data in raw.items():
        specs[key] = _build(key, data, f"{tdir}/{key}.yaml")
    identities: list[Identity] = []
    crossyear: dict[str, list[str]] = {k: [] for k in specs}
    for rule in load_rules():
        tkey = rule.get("table")
        if tkey and "lhs" in rule:
            if tkey not in specs:
                raise ConfigError(f"{root}/{rule.get('file', '?')}: rule {rule['id']} names table {tkey!r}, "
                                  f"which has no template in {tdir}")
            identities.append(_identity(rule, specs[tkey], root))
        elif rule.get("kind") == "crossyear":
            terms = " ".join(str(t) for t in (*(rule.get("lhs") or ()), *(rule.get("rhs") or ())))
            for key in specs:
                if f":{key}." in terms:
                    crossyear[key].append(rule["id"])
    for key in specs:
        mine = tuple(i for i in identities if i.table == key)
        specs[key] = specs[key].model_copy(update={"identities": mine, "crossyear": tuple(crossyear[key])})
    _check_references(root, specs)
    return _RuleSet(specs, tuple(identities))


def _check_references(root: str, specs: dict[str, TableSpec]) -> None:
    """Other rule files that name table cells name cells the specs define (narrative.yaml's
    table_map: ``table.row.column``; its legacy_keys: indicator keys)."""
    path = Path(root) / "narrative.yaml"
    if not path.exists():
        return
    data = read_yaml(path)

    def refs(v: Any) -> Iterable[str]:
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            for x in v:
                yield from refs(x)

    for metric, entry in (data.get("table_map") or {}).items():
        for ref in refs(entry):
            table, _, rest = ref.partition(".")
            row, _, col = rest.partition(".")
            spec = specs.get(table)
            if spec is None or row not in spec.row_keys or col not in spec.column_keys:
                raise ConfigError(f"{path}: table_map {metric}: {ref} is not a cell of a table spec (table.row.column)")
    legacy = specs.get("legacy")
    for metric, key in (data.get("legacy_keys") or {}).items():
        if legacy is not None and key not in legacy.row_keys:
            raise ConfigError(f"{path}: legacy_keys {metric}: {key!r} is not an indicator of {legacy.key}")


_LAST: tuple[str | None, _RuleSet] | None = None


def _ruleset() -> _RuleSet:
    """The rule set of the current rules directory (looked up on every call: cheap, so that a
    changed EXTRACTOR_RULES_DIR takes effect at once)."""
    global _LAST
    env = os.environ.get("EXTRACTOR_RULES_DIR")
    last = _LAST
    if last is not None and last[0] == env:
        return last[1]
    rs = _load(str(rules_dir()))
    _LAST = (env, rs)
    return rs


def table_specs() -> dict[str, TableSpec]:
    """Every table's spec, by key (``table2``, ``table3``, ``table4``, ``legacy``)."""
    return _ruleset().specs


def table_spec(key: str) -> TableSpec:
    specs = table_specs()
    try:
        return specs[key]
    except KeyError:
        raise ConfigError(f"no table spec {key!r} (rules/templates has {', '.join(sorted(specs))})") from None


def identities() -> tuple[Identity, ...]:
    """Every table identity, in the order of the rule files."""
    return _ruleset().identities


def derived(name: str, build: Callable[[dict[str, TableSpec]], Any]) -> Any:
    """A value a module derives from every table's spec (a pattern over all tables' markers), made
    once per rule set: ``build(specs)``."""
    rs = _ruleset()
    try:
        return rs.memo[name]
    except KeyError:
        v = rs.memo[name] = build(rs.specs)
        return v
