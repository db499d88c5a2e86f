"""Layering, checked on the source: data flows one way and the library never imports the CLI."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "extractor"


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by one file (relative imports resolved)."""
    mod_parts = path.relative_to(PKG.parent).with_suffix("").parts
    package = mod_parts[:-1] if path.name != "__init__.py" else mod_parts[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ((node.module,) if node.module else ()))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def _files(sub: str = ""):
    root = PKG / sub if sub else PKG
    return [p for p in root.rglob("*.py")]


def test_the_library_never_imports_the_cli():
    offenders = [str(p) for p in _files() if "cli" not in p.relative_to(PKG).parts[:1]
                 and any(m.startswith("extractor.cli") for m in _imports(p))]
    assert offenders == []


def test_only_the_llm_package_imports_openai_or_instructor():
    offenders = [str(p) for p in _files() if p.relative_to(PKG).parts[0] != "llm"
                 and any(m.split(".")[0] in ("openai", "instructor") for m in _imports(p))]
    assert offenders == []


def test_layout_cells_and_parse_never_import_the_model_layer():
    for name in ("layout.py", "cells.py", "parse.py", "document.py", "templates.py"):
        assert not any(m.startswith("extractor.llm") for m in _imports(PKG / name)), name


def test_verify_reads_records_not_parser_internals_or_the_model():
    for p in _files("verify"):
        bad = [m for m in _imports(p) if m.startswith(("extractor.llm", "extractor.parse", "extractor.report",
                                                         "extractor.review", "extractor.store"))]
        assert bad == [], (p, bad)


def test_loaders_only_build_documents():
    for p in _files("loaders"):
        bad = [m for m in _imports(p) if m.startswith(("extractor.parse", "extractor.verify", "extractor.llm",
                                                         "extractor.layout", "extractor.store"))]
        assert bad == [], (p, bad)


# --------------------------------------------------------------------------- one description per table
# The modules that read tables read them from the table specs (extractor/tablespec.py, loaded from
# rules/templates and the rule entries of rules/*.yaml); none writes a label, title, group or identity
# of its own. What stays: the titles of the report's six sections (document structure: where a
# section starts, not what a table is), held by these names.
SPEC_READERS = ["parse.py", "reflow.py", "layout.py", "verify/engine.py", "verify/groups.py", "report/view.py",
                "report/series.py", "llm/tables.py"]
SECTION_WORDS = {"SECTION_KEYWORDS", "_SECTION", "_SECTION_TITLE", "_END_T4"}
OLD_COPIES = {"T3_ROW_GROUPS", "T4_GROUPS", "TABLE_TITLES", "T2_COLUMNS", "T2_BLOCKS", "T3_GROUPS", "T3_OUTCOME",
              "COL_LABELS", "_MARKERS", "_PROBES", "_T2_ITEM", "_T2_HEADERS", "_ROW_WORDS", "_STAT_TABLE"}


def _spec_vocabulary() -> tuple[set[str], set[str]]:
    """Every printed word the specs hold (titles, labels without and with their enumerators,
    keywords, header words, locate words; two characters or more) and every identity operand key."""
    import re

    from extractor.tablespec import split_enumerator, table_specs

    words: set[str] = set()
    keys: set[str] = set()
    for s in table_specs().values():
        loc = s.locate
        words.update([s.title, s.short, s.corner or "", *s.header_words, *loc.anchor, *loc.header, *loc.row_words,
                      *loc.heading, *loc.heading_start, *loc.footer, *loc.probes, *loc.flat_markers, *loc.mention])
        words.update(w for c in s.columns for w in (c.label, c.called, *c.keywords))
        words.update([g.label for g in s.column_groups] + [h.label for h in s.headings])
        for r in [*s.rows, *(r for v in s.variants.values() for r in v.rows)]:
            words.update([r.printed, *r.keywords, *r.exact])
        for v in s.variants.values():
            words.update(v.markers)
        for i in s.identities:
            keys.update(i.operands)
            keys.update(op["group"] for side in (i.lhs, i.rhs) for op in side if isinstance(op, dict))
    words |= {split_enumerator(w)[1] for w in words}
    cjk = re.compile(r"[\u4e00-\u9fff]")
    return {w for w in words if len(w) >= 2 and cjk.search(w)}, keys


def _strings(path: Path):
    """String constants of a module (f-string parts too), without docstrings and without the
    section-title assignments; white space patterns of regular expressions taken out."""
    import re

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id in SECTION_WORDS for t in targets):
                skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value, re.sub(r"\\s[*+]|\[\^\\S\\n\]\*", "", node.value)


def test_no_module_keeps_its_own_copy_of_a_table_description():
    offenders = []
    for p in _files():
        if p.name in ("tablespec.py", "templates.py"):
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            offenders += [f"{p.relative_to(PKG)}: {t.id}" for t in targets if isinstance(t, ast.Name) and t.id in OLD_COPIES]
    assert offenders == []


def test_no_label_title_or_identity_is_written_outside_the_table_specs():
    words, keys = _spec_vocabulary()
    assert {"三、收到和处理政府信息公开申请情况", "本年新收", "法人或其他组织", "本年增/减", "历年累计"} <= words
    assert {"new_received", "carried_forward", "outcomes", "upheld", "applications_received"} <= keys
    offenders = []
    for name in SPEC_READERS:
        for line, raw, text in _strings(PKG / name):
            hits = sorted(w for w in words if w in text)
            if hits:
                offenders.append(f"{name}:{line} {raw[:50]!r} has {', '.join(hits[:3])}")
            if raw in keys:
                offenders.append(f"{name}:{line} names identity operand {raw!r}")
    assert offenders == []


# --------------------------------------------------------------------------- imports at the top
# Imports inside functions only where a heavy optional library loads (OCR, PDF, DOCX, openai, FastAPI)
# or an optional command module registers itself; never to dodge a cycle (lint-imports forbids cycles).
LAZY_ON_PURPOSE = {
    ("loaders/__init__.py", "pdf"), ("loaders/__init__.py", "docx"), ("loaders/__init__.py", "ocr"),
    ("loaders/pdf.py", "ocr"), ("cli/core.py", "llm"), ("cli/core.py", "series"), ("cli/shards.py", "series"),
    ("cli/review.py", "review.app"), ("cli/serve.py", "service"),
    # commands other than `extractor run` load their library code when they run (start-up of every run)
    ("cli/report.py", "report"), ("cli/report.py", "export"), ("cli/shards.py", "merge"), ("cli/series.py", "dataset"),
}


def test_package_modules_are_imported_at_the_top_unless_a_heavy_library_loads():
    found = set()
    for p in _files():
        for fn in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.level:
                    found.add((str(p.relative_to(PKG)), node.module or ""))
    assert found <= LAZY_ON_PURPOSE, sorted(found - LAZY_ON_PURPOSE)


def test_the_verify_package_is_not_shadowed_by_a_function():
    import importlib

    import extractor

    narrative = importlib.import_module("extractor.verify.narrative")
    assert extractor.verify.narrative is narrative  # the attribute is the package, not a function
    assert callable(extractor.verify_record)
