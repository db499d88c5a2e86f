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
