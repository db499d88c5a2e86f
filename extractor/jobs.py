"""The HTTP service's job queue: the ``jobs`` table, beside the extractor's tables in the same
SQLite file but owned by the service alone (:mod:`extractor.service`; ``extractor merge`` leaves it
out). Every call opens its own short connection, so any thread may use it. The queue's states:
queued → running → done | failed; a job left ``running`` by a process that died is queued again
(:meth:`JobQueue.recover`), or failed after ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

MAX_ATTEMPTS = 3

JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sha256 TEXT NOT NULL,
  name TEXT NOT NULL,
  path TEXT NOT NULL,                 -- the uploaded bytes, under <db folder>/uploads/
  status TEXT NOT NULL,               -- queued | running | done | failed
  attempts INTEGER NOT NULL DEFAULT 0,
  stage TEXT,                         -- where a failure happened: load | extract | worker
  decision TEXT,
  error TEXT,
  created_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, id);
CREATE INDEX IF NOT EXISTS jobs_sha ON jobs(sha256, id);
"""


class JobQueue:
    """The ``jobs`` table. Every call opens its own short connection, so any thread may use it."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._conn()) as c:
            c.executescript("PRAGMA journal_mode=WAL;" + JOBS_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        c = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        c.row_factory = sqlite3.Row
        return c

    def enqueue(self, sha256: str, name: str, path: str) -> dict:
        """A job for these bytes: the pending one if there is one, else a new queued job."""
        with closing(self._conn()) as c:
            c.execute("BEGIN IMMEDIATE")
            row = c.execute("SELECT * FROM jobs WHERE sha256=? AND status IN ('queued','running') "
                            "ORDER BY id DESC LIMIT 1", (sha256,)).fetchone()
            if row is None:
                cur = c.execute("INSERT INTO jobs (sha256, name, path, status, created_at) VALUES (?,?,?,?,?)",
                                (sha256, name, path, "queued", time.time()))
                row = c.execute("SELECT * FROM jobs WHERE id=?", (cur.lastrowid,)).fetchone()
            c.execute("COMMIT")
            return dict(row)

    def claim(self) -> dict | None:
        """The oldest queued job, marked running (atomically), or None."""
        with closing(self._conn()) as c:
            c.execute("BEGIN IMMEDIATE")
            row = c.execute("SELECT * FROM jobs WHERE status='queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                c.execute("COMMIT")
                return None
            c.execute("UPDATE jobs SET status='running', attempts=attempts+1, started_at=? WHERE id=?",
                      (time.time(), row["id"]))
            row = c.execute("SELECT * FROM jobs WHERE id=?", (row["id"],)).fetchone()
            c.execute("COMMIT")
            return dict(row)

    def finish(self, job_id: int, status: str, *, decision: str | None = None, error: str | None = None,
               stage: str | None = None) -> None:
        with closing(self._conn()) as c:
            c.execute("UPDATE jobs SET status=?, decision=?, error=?, stage=?, finished_at=? WHERE id=?",
                      (status, decision, error, stage, time.time(), job_id))

    def recover(self, max_attempts: int = MAX_ATTEMPTS) -> tuple[int, int]:
        """Jobs left ``running`` by a process that died: back to ``queued``, or ``failed`` after too many
        attempts. Returns (requeued, given up)."""
        with closing(self._conn()) as c:
            c.execute("BEGIN IMMEDIATE")
            gave_up = c.execute(
                "UPDATE jobs SET status='failed', stage='worker', finished_at=?, error='processing stopped the "
                "server ' || attempts || ' times; given up' WHERE status='running' AND attempts>=?",
                (time.time(), max_attempts)).rowcount
            requeued = c.execute("UPDATE jobs SET status='queued' WHERE status='running'").rowcount
            c.execute("COMMIT")
            return requeued, gave_up

    def get(self, job_id: int) -> dict | None:
        with closing(self._conn()) as c:
            row = c.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            return dict(row) if row else None

    def latest(self, sha256: str) -> dict | None:
        with closing(self._conn()) as c:
            row = c.execute("SELECT * FROM jobs WHERE sha256=? ORDER BY id DESC LIMIT 1", (sha256,)).fetchone()
            return dict(row) if row else None

    def counts(self) -> dict[str, int]:
        with closing(self._conn()) as c:
            out = {k: 0 for k in ("queued", "running", "done", "failed")}
            for r in c.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"):
                out[r["status"]] = r["n"]
            return out
