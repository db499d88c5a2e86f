"""Which reporting body a report belongs to, and for which year: the identity behind a series.

The same body prints its name differently from year to year (淮安市洪泽区人民政府 / 洪泽区人民政府,
XX县人民政府办公室 / XX县人民政府, 管委会 / 管理委员会, a scan's 沐阳 for 沭阳). A name is reduced to
a canonical form with the data of ``rules/bodies.yaml`` (misreads, abbreviations, equivalent endings,
an area name standing for its government), then names that differ only by the higher-level units in
front (淮安市…) join the one longer name they are a suffix of — never when two different longer names
would fit (南京市鼓楼区 and 福州市鼓楼区 both end with 鼓楼区: the bare 鼓楼区 stays on its own and the
assignment says why).

The year is the record's (title, else the statistics period: :func:`extractor.layout.find_organ_year`).

An explicit mapping file overrides everything (YAML)::

    bodies:
      淮安市洪泽区人民政府:                 # the body's id, shown as its name
        names: [洪泽区政府, 洪泽区人民政府办公室] # printed organ names (compared after normalization)
        documents: [3f2a9c1e]               # SHA-256 prefixes of documents that belong to it
    documents:
      3f2a9c1e: {year: 2022}                # the report's year when title and period are wrong
      77aa01bc: {exclude: true}             # not part of any series (a draft, a duplicate)

No I/O besides reading the two YAML files; the store and the CLI sit on top.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import ConfigError, ExtractorError
from .templates import rules_dir, safe_load

_CJK = r"\u4e00-\u9fff"


@dataclass(frozen=True)
class DocKey:
    """What identity needs to know of a stored document."""

    sha256: str
    name: str
    organ: str | None
    year: int | None


@dataclass
class Assignment:
    """One document's place in a series (or why it has none)."""

    sha256: str
    body: str | None  # the body's id (its canonical, most qualified name); None when unplaced
    year: int | None
    organ: str | None  # as printed
    how: str  # how the body was decided (for the reviewer): "name", "qualified name", "mapping", ...
    note: str = ""


@dataclass
class Mapping:
    """An explicit mapping file: organ names and documents to bodies, years per document."""

    names: dict[str, str] = field(default_factory=dict)  # canonical name -> body id
    documents: dict[str, str] = field(default_factory=dict)  # sha256 prefix -> body id
    years: dict[str, int] = field(default_factory=dict)  # sha256 prefix -> year
    exclude: set[str] = field(default_factory=set)  # sha256 prefixes
    path: str = ""

    def _match(self, table: dict[str, Any] | set[str], sha: str) -> Any:
        for prefix in table:
            if sha.startswith(prefix):
                return table[prefix] if isinstance(table, dict) else True
        return None

    def body_of_doc(self, sha: str) -> str | None:
        return self._match(self.documents, sha)

    def year_of_doc(self, sha: str) -> int | None:
        return self._match(self.years, sha)

    def excluded(self, sha: str) -> bool:
        return bool(self._match(self.exclude, sha))


# ----------------------------------------------------------------------------- the name data
@functools.lru_cache(maxsize=4)
def _data(root: str) -> dict[str, Any]:
    path = Path(root) / "bodies.yaml"
    try:
        data = safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    data.setdefault("misreads", {})
    data.setdefault("abbreviations", {})
    data.setdefault("suffixes", [])
    data.setdefault("committee_areas", [])
    data.setdefault("government_areas", [])
    data.setdefault("qualifying_units", [])
    return data


def name_data() -> dict[str, Any]:
    return _data(str(rules_dir()))


def canonical_name(name: str | None) -> str:
    """The canonical form of a printed organ name ('' when there is none)."""
    if not name:
        return ""
    d = name_data()
    s = unicodedata.normalize("NFKC", name)
    s = re.sub(r"\s+", "", s)
    quals = re.findall(r"\(([^()]*)\)", s)
    s = re.sub(r"\([^()]*\)", "", s)
    s = s.strip("《》“”\"'·:,.。、")
    for wrong, right in d["misreads"].items():
        s = s.replace(str(wrong), str(right))
    for short, full in sorted(d["abbreviations"].items(), key=lambda kv: -len(str(kv[0]))):
        short, full = str(short), str(full)
        if short in s and full not in s:
            s = s.replace(short, full)
    for end, repl in d["suffixes"]:
        if s.endswith(str(end)):
            s = s[: -len(str(end))] + str(repl)
            break
    if s.endswith("政府") and not s.endswith("人民政府"):
        s = s[:-2] + "人民政府"
    if not _has_organ(s):
        if any(s.endswith(a) for a in d["committee_areas"]):
            s += "管理委员会"
        elif any(s.endswith(a) for a in d["government_areas"]):
            s += "人民政府"
    if any("汇总" in q for q in quals):
        s += "(汇总)"
    return s


_ORGAN_END = re.compile(
    rf"(人民政府|管理委员会|委员会|办公室|办公厅|[局厅委办署院会所站处室队社行校馆]|中心|街道办事处)$"
)


def _has_organ(s: str) -> bool:
    return bool(_ORGAN_END.search(s))


def _qualifier_re() -> re.Pattern[str]:
    units = "|".join(sorted((re.escape(str(u)) for u in name_data()["qualifying_units"]), key=len, reverse=True))
    return re.compile(rf"^(?:[{_CJK}]{{1,8}}?(?:{units}))+$")



def _area_part(s: str) -> str:
    """The part of a canonical name before its organ ('' for a bare department name)."""
    areas = [str(a) for a in name_data()["government_areas"] + name_data()["committee_areas"]]
    best = ""
    for a in areas:
        i = s.rfind(a)
        if i > 0 and i + len(a) > len(best):
            best = s[: i + len(a)]
    return best


def qualifies(longer: str, shorter: str) -> bool:
    """``longer`` is ``shorter`` with higher-level units in front (淮安市 + 洪泽区人民政府)."""
    if len(longer) <= len(shorter) or not longer.endswith(shorter) or not _area_part(shorter):
        return False
    return bool(_qualifier_re().match(longer[: -len(shorter)]))


# ----------------------------------------------------------------------------- mapping file
def load_mapping(path: str | Path | None) -> Mapping:
    """Read a mapping file (see the module docstring); an empty mapping when ``path`` is None."""
    if path is None:
        return Mapping()
    p = Path(path)
    try:
        data = safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ExtractorError(f"cannot read the bodies mapping {p}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ExtractorError(f"the bodies mapping {p} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ExtractorError(f"the bodies mapping {p} must be a mapping with 'bodies' and/or 'documents'")
    m = Mapping(path=str(p))
    for body, spec in (data.get("bodies") or {}).items():
        body = str(body)
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ExtractorError(f"{p}: body {body!r} must map to names: [...] and/or documents: [...]")
        m.names[canonical_name(body)] = body
        for n in spec.get("names") or []:
            m.names[canonical_name(str(n))] = body
        for d in spec.get("documents") or []:
            m.documents[_prefix(d, p)] = body
    for d, spec in (data.get("documents") or {}).items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ExtractorError(f"{p}: document {d!r} must map to year: N, body: NAME or exclude: true")
        key = _prefix(d, p)
        if "year" in spec:
            try:
                m.years[key] = int(spec["year"])
            except (TypeError, ValueError) as exc:
                raise ExtractorError(f"{p}: document {d!r}: year must be a number") from exc
        if spec.get("body"):
            m.documents[key] = str(spec["body"])
        if spec.get("exclude"):
            m.exclude.add(key)
    return m


def _prefix(d: Any, p: Path) -> str:
    s = str(d).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{6,64}", s):
        raise ExtractorError(f"{p}: {d!r} is not a document SHA-256 (or a prefix of at least 6 hex digits)")
    return s


def default_mapping_path(db: str | Path) -> Path | None:
    """``bodies.yaml`` beside the database, when there is one."""
    p = Path(db).parent / "bodies.yaml"
    return p if p.is_file() else None


# ----------------------------------------------------------------------------- assignment
def assign(docs: Iterable[DocKey], mapping: Mapping | None = None) -> dict[str, Assignment]:
    """Every document's body and year. Deterministic: the same documents give the same bodies."""
    mapping = mapping or Mapping()
    docs = sorted(docs, key=lambda d: d.sha256)
    out: dict[str, Assignment] = {}
    by_canon: dict[str, list[DocKey]] = {}
    for d in docs:
        year = mapping.year_of_doc(d.sha256) or d.year
        if mapping.excluded(d.sha256):
            out[d.sha256] = Assignment(d.sha256, None, year, d.organ, "mapping", "excluded by the mapping file")
            continue
        body = mapping.body_of_doc(d.sha256)
        if body:
            out[d.sha256] = Assignment(d.sha256, body, year, d.organ, "mapping", f"document listed in {mapping.path}")
            continue
        canon = canonical_name(d.organ)
        if canon and canon in mapping.names:
            out[d.sha256] = Assignment(d.sha256, mapping.names[canon], year, d.organ, "mapping",
                                       f"name {d.organ!r} listed in {mapping.path}")
            continue
        if not canon:
            out[d.sha256] = Assignment(d.sha256, None, year, d.organ, "none", "no organ name found in the report")
            continue
        by_canon.setdefault(canon, []).append(d)

    # a name joins the one longer name it is a qualified form of (all its qualifiers agree)
    names = sorted(by_canon, key=len, reverse=True)
    target: dict[str, tuple[str, str, str]] = {}
    for n in names:
        longer = [m for m in names if qualifies(m, n)]
        if not longer:
            target[n] = (n, "name", "")
            continue
        top = max(longer, key=len)
        if all(m == top or qualifies(top, m) for m in longer):
            root = target.get(top, (top, "name", ""))[0]
            target[n] = (root, "qualified name", f"{n} is {root} without its higher-level units")
        else:
            target[n] = (n, "name", "ambiguous: " + " / ".join(sorted(longer))
                         + " all end with this name; add a mapping file to join it to one of them")
    for n, group in by_canon.items():
        body, how, note = target[n]
        for d in group:
            year = mapping.year_of_doc(d.sha256) or d.year
            out[d.sha256] = Assignment(d.sha256, body, year, d.organ, how, note)
    return out
