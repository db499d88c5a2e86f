"""Storage owns the SQL: no SQL statement, and no call that runs one, outside the storage modules.

The scan reads every module of extractor/ (its syntax tree: string literals and f-strings that are
not docstrings, and calls of ``.execute``/``.executemany``/``.executescript``). A statement written
anywhere else fails the test with the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "extractor"

# The modules allowed to hold SQL, each with the tables it owns.
STORAGE = {
    "store.py": "the extractor database: documents, records, cells, findings, reviews, output index, "
                "cross-year tables; also merging shard databases into it and the reads other modules need",
    "jobs.py": "the HTTP service's job queue (table jobs), owned by the service alone and not merged",
    "llm/cache.py": "the model response cache (table llm_cache); the llm layer sits below store",
    "llm/ledger.py": "the model call ledger (table llm_ledger) and the connection both llm tables use",
}

SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\S+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\bCREATE\s+(?:TEMP\s+|TEMPORARY\s+|UNIQUE\s+)?(?:TABLE|INDEX|VIEW)\b|\bDROP\s+(?:TABLE|INDEX|VIEW)\b"
    r"|\bALTER\s+TABLE\b|\bPRAGMA\s+\w|\b(?:ATTACH|DETACH)\s+DATABASE\b|\bBEGIN\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED)\b"
    r"|^\s*(?:BEGIN|COMMIT|ROLLBACK|VACUUM)\s*;?\s*$"
)
RUNS_SQL = {"execute", "executemany", "executescript"}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
    return out


def sql_in(source: str) -> list[tuple[int, str]]:
    """(line, what) of every SQL statement and SQL-running call in one module's source."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_SQL:
            hits.append((node.lineno, f".{node.func.attr}(…)"))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)
            if SQL.search(text):
                hits.append((node.lineno, text[:60]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                and id(node) not in inside_fstring and SQL.search(node.value):
            hits.append((node.lineno, node.value.strip()[:60]))
    return hits


def test_the_scan_finds_statements_and_the_calls_that_run_them():
    src = '''
def f(db, t, sha):
    """SELECT name FROM documents, in a docstring, is prose."""
    q = "SELECT status FROM documents WHERE sha256=?"
    db.execute(f"DELETE FROM main.{t} WHERE sha256 IN (SELECT sha256 FROM temp.pick)")
    db.execute("INSERT OR REPLACE INTO x VALUES (?)", (1,))
    c.execute("BEGIN IMMEDIATE")
    run(q)
    return "Select the rows from the list"  # prose
'''
    lines = sorted({line for line, _ in sql_in(src)})
    assert lines == [4, 5, 6, 7]


def test_only_the_storage_modules_hold_sql():
    found: dict[str, list[tuple[int, str]]] = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        hits = sql_in(path.read_text(encoding="utf-8"))
        if hits:
            found[rel] = hits
    outside = {f"{rel}:{line}": what for rel, hits in found.items() if rel not in STORAGE for line, what in hits}
    assert outside == {}, "SQL outside the storage modules (move it into one of STORAGE):\n" + "\n".join(
        f"  {k}: {v}" for k, v in outside.items())
    assert set(found) == set(STORAGE), "every storage module listed holds SQL (drop a stale entry)"
