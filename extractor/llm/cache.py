"""Response cache in SQLite, keyed by what determines the answer.

Key: (document hash, prompt id@version, part of the document, model, mode, response-schema hash).
``part`` names which call of the document it is (``section:一``, ``table:table3``): a document has
one narrative call per section kind, all with the same prompt. A re-run of the same document with
the same prompt, model, mode and schema costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .ledger import open_db

CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_cache (
  doc_sha TEXT NOT NULL,
  prompt TEXT NOT NULL,
  part TEXT NOT NULL,
  model TEXT NOT NULL,
  mode TEXT NOT NULL,
  schema_hash TEXT NOT NULL,
  response TEXT NOT NULL,   -- the validated response model as JSON
  validated INTEGER NOT NULL DEFAULT 1,
  created REAL NOT NULL,
  PRIMARY KEY (doc_sha, prompt, part, model, mode, schema_hash)
);
"""


def schema_hash(model: type[BaseModel]) -> str:
    schema = json.dumps(model.model_json_schema(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(schema.encode("utf-8")).hexdigest()[:16]


class ResponseCache:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path, self.db = open_db(path, CACHE_SCHEMA)
        self._lock = threading.Lock()

    @staticmethod
    def key(doc_sha: str, prompt: str, part: str, model: str, mode: str, response_model: type[BaseModel]) -> tuple:
        return (doc_sha, prompt, part, model, mode, schema_hash(response_model))

    def get(self, key: tuple, response_model: type[BaseModel]) -> tuple[Any, bool] | None:
        row = self.db.execute(
            "SELECT response, validated FROM llm_cache WHERE doc_sha=? AND prompt=? AND part=? AND model=?"
            " AND mode=? AND schema_hash=?",
            key,
        ).fetchone()
        if row is None:
            return None
        return response_model.model_validate_json(row[0]), bool(row[1])

    def put(self, key: tuple, value: BaseModel, *, validated: bool = True) -> None:
        with self._lock:
            self.db.execute(
                "INSERT OR REPLACE INTO llm_cache (doc_sha, prompt, part, model, mode, schema_hash, response,"
                " validated, created) VALUES (?,?,?,?,?,?,?,?,?)",
                (*key, value.model_dump_json(), int(validated), time.time()),
            )
            self.db.commit()

    def close(self) -> None:
        self.db.close()
