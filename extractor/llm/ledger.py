"""Usage ledger: one SQLite row per model attempt (successful or not), and totals.

Every HTTP attempt the client makes is recorded — rate-limited, failed, invalid (a validation
re-ask follows), truncated (the answer was cut at ``max_tokens``) and ok — plus one ``cached`` row
when a response came from the cache at no cost. ``run_totals`` counts this run's rows only.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_ledger (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  doc_sha TEXT NOT NULL,
  prompt TEXT NOT NULL,          -- "<prompt id>@<version>"
  part TEXT NOT NULL DEFAULT '', -- which call of the document: "section:一", "table:table3"
  model TEXT NOT NULL,
  mode TEXT NOT NULL,
  call_id TEXT NOT NULL,         -- groups the attempts of one logical call
  attempt INTEGER NOT NULL,      -- 1-based HTTP attempt within the call (0 for a cache hit)
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  latency_ms INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL,         -- ok | invalid | truncated | rate_limited | server_error | timeout | connection | error | cached
  error TEXT,
  ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_ledger_doc ON llm_ledger(doc_sha);
"""

OUTCOMES = ("ok", "invalid", "truncated", "rate_limited", "server_error", "timeout", "connection", "error", "cached")


@dataclass
class Totals:
    calls: int = 0  # logical calls that reached the model (cache hits excluded)
    attempts: int = 0  # HTTP attempts, all outcomes
    failed_attempts: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def line(self) -> str:
        return (
            f"{self.calls} model call(s), {self.attempts} attempt(s) ({self.failed_attempts} failed), "
            f"{self.cached} cached, {self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, "
            f"{self.latency_ms / 1000:.1f} s"
        )


def open_db(path: str | Path, schema: str) -> tuple[str, sqlite3.Connection]:
    """The run's SQLite file (or memory) shared across threads, with ``schema`` applied."""
    p = str(path)
    if p != ":memory:":
        Path(p).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(p, timeout=30, check_same_thread=False)
    db.executescript(schema)
    db.commit()
    return p, db


class Ledger:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path, self.db = open_db(path, LEDGER_SCHEMA)
        self._lock = threading.Lock()
        self.opened_at_id = self.last_id()  # rows after it belong to this run (``run_totals``)

    def record(
        self, *, doc_sha: str, prompt: str, model: str, mode: str, call_id: str, attempt: int, outcome: str,
        part: str = "", prompt_tokens: int = 0, completion_tokens: int = 0, latency_ms: int = 0,
        error: str | None = None,
    ) -> None:
        assert outcome in OUTCOMES, outcome
        with self._lock:
            self.db.execute(
                "INSERT INTO llm_ledger (doc_sha, prompt, part, model, mode, call_id, attempt, prompt_tokens,"
                " completion_tokens, latency_ms, outcome, error, ts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc_sha, prompt, part, model, mode, call_id, attempt, prompt_tokens, completion_tokens,
                 latency_ms, outcome, (error or None) and error[:2000], time.time()),
            )
            self.db.commit()

    def rows(self, doc_sha: str | None = None) -> list[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            q = "SELECT * FROM llm_ledger" + (" WHERE doc_sha = ?" if doc_sha else "") + " ORDER BY id"
            return list(self.db.execute(q, (doc_sha,) if doc_sha else ()))
        finally:
            self.db.row_factory = None

    def totals(self, doc_sha: str | None = None, *, since_id: int = 0) -> Totals:
        where = "WHERE id > ?" + (" AND doc_sha = ?" if doc_sha else "")
        args: tuple = (since_id, doc_sha) if doc_sha else (since_id,)
        r = self.db.execute(
            "SELECT COUNT(DISTINCT CASE WHEN outcome != 'cached' THEN call_id END),"
            " SUM(outcome != 'cached'), SUM(outcome NOT IN ('ok', 'cached')), SUM(outcome = 'cached'),"
            " COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(latency_ms), 0)"
            f" FROM llm_ledger {where}",
            args,
        ).fetchone()
        return Totals(*(int(x or 0) for x in r))

    def run_totals(self) -> Totals:
        """Totals of the rows written since this ledger was opened (this run), not the whole history."""
        return self.totals(since_id=self.opened_at_id)

    def per_document(self) -> dict[str, Totals]:
        shas = [r[0] for r in self.db.execute("SELECT DISTINCT doc_sha FROM llm_ledger ORDER BY doc_sha")]
        return {s: self.totals(s) for s in shas}

    def last_id(self) -> int:
        r = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM llm_ledger").fetchone()
        return int(r[0])

    def close(self) -> None:
        self.db.close()
