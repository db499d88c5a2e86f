"""Documents in a bounded thread pool (``extractor run --concurrency N``), SQLite writes serialized.

Worker threads read, download, load and extract (the slow parts: model calls, OCR, the network);
they read the database through their own connections but never write it. Each document's writes
are handed back and applied by the calling thread, one document at a time, so a record, its cells
and findings still land in one transaction and the database sees a single writer. At most ``N``
documents are in flight, which bounds concurrent model calls; the LLM client paces and retries on
429 itself. Ctrl-C stops taking new documents, lets the running ones finish and saves them.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

from .batch import BatchResult, process_file, tally
from .fetch import is_url
from .model import Record
from .pipeline import ModelSteps, failed_record


class _Readers:
    """One read connection per worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        self.all: list[sqlite3.Connection] = []
        self.lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        c = getattr(self.local, "conn", None)
        if c is None:
            c = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            c.row_factory = sqlite3.Row
            self.local.conn = c
            with self.lock:
                self.all.append(c)
        return c

    def close(self) -> None:
        for c in self.all:
            c.close()


class DeferredStore:
    """What ``process_file``/``process_url`` need of a Store, with every write queued for later."""

    def __init__(self, readers: _Readers) -> None:
        self._readers = readers
        self.path = readers.path
        self.ops: list[Callable[[Any], None]] = []

    @property
    def db(self) -> sqlite3.Connection:  # reads only
        return self._readers.get()

    def is_done(self, sha256: str) -> bool:
        row = self.db.execute("SELECT status FROM documents WHERE sha256=?", (sha256,)).fetchone()
        return row is not None and row["status"] in ("done", "failed")

    def save(self, record: Record) -> None:
        self.ops.append(lambda s: s.save(record))

    def defer(self, fn: Callable[[Any], None]) -> None:
        self.ops.append(fn)


def run_parallel(files: list, store, *, force: bool, llm: ModelSteps | None, skipped_reason: str | None,
                 on_progress: Callable | None, concurrency: int, downloads: Path, fetch_options: dict | None,
                 result: BatchResult) -> BatchResult:
    from .inputs import process_url  # noqa: PLC0415

    readers = _Readers(store.path)
    store.db.commit()  # make everything so far visible to the readers

    def work(item) -> tuple[str, Record | None, list]:
        d = DeferredStore(readers)
        try:
            if is_url(item):
                status, rec = process_url(str(item), d, downloads=downloads, force=force, llm=llm,
                                          skipped_reason=skipped_reason, fetch_options=fetch_options)
            else:
                status, rec = process_file(Path(item), d, force=force, llm=llm, skipped_reason=skipped_reason)
        except Exception as exc:  # noqa: BLE001 - whatever happens to one document, the batch goes on
            rec = failed_record(str(item), f"internal error: {type(exc).__name__}: {exc}")
            import hashlib  # noqa: PLC0415

            rec.document.sha256 = hashlib.sha256(str(item).encode()).hexdigest()
            d.ops = [lambda s: s.save(rec)]
            status = "failed"
        return status, rec, d.ops

    saved: set[str] = set()

    def commit(item, fut: Future) -> None:
        status, rec, ops = fut.result()
        sha = rec.document.sha256 if rec is not None else None
        if sha and not force and sha in saved:  # the same bytes twice in this run: keep the first
            status, rec, ops = "skipped", None, []
        for op in ops:
            op(store)
        if sha:
            saved.add(sha)
        tally(result, item, status, rec)
        if on_progress:
            on_progress(item, status, rec)

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="extractor-doc")
    inflight: dict[Future, object] = {}
    todo = iter(files)
    try:
        try:
            while True:
                while len(inflight) < concurrency * 2:
                    item = next(todo, None)
                    if item is None:
                        break
                    inflight[pool.submit(work, item)] = item
                if not inflight:
                    break
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in done:
                    commit(inflight.pop(fut), fut)
        except KeyboardInterrupt:
            for fut in list(inflight):
                if fut.cancel():
                    inflight.pop(fut)
            for fut, item in list(inflight.items()):  # running ones finish and are saved
                try:
                    fut.result()
                    commit(item, fut)
                except Exception:  # noqa: BLE001
                    pass
            raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        readers.close()
    return result
