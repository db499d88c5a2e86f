"""Batch processing: find report files, skip finished ones, extract, store — resumable.

The library side of ``extractor run``: no printing here; progress goes through a callback. Every
input goes through :func:`extractor.sources.process`; worker processes are in :mod:`.parallel`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

from .files import (  # noqa: F401 - the batch API: extractor.batch.discover, …
    BatchResult,
    discover,
    display,
    path_sha256,
    tally,
)
from .model import Record
from .parallel import run_parallel
from .pipeline import ModelSteps, failed_record
from .sources import Source, process
from .store import Store, StoreError


def run_batch(files: list[Path], store: Store, *, force: bool = False, llm: ModelSteps | None = None,
              skipped_reason: str | None = None,
              on_progress: Callable[[Path, str, Record | None], None] | None = None,
              concurrency: int = 1, downloads: Path | None = None,
              fetch_options: dict | None = None, worker_init: Callable | None = None,
              worker_init_args: tuple = (), on_start: Callable[[], None] | None = None) -> BatchResult:
    """Process files and http(s) URLs given as ``str``, each through :func:`~extractor.sources.process`:
    one by one, or with ``concurrency`` > 1 in worker processes, this process the only writer (see
    :mod:`extractor.parallel`;
    there ``on_progress`` gets a :class:`~extractor.parallel.Summary` of a record built in a worker,
    and ``worker_init(*worker_init_args)`` runs in each worker process as it starts).
    ``on_start()`` is called once, before the first document is processed and, with worker
    processes, once they exist: a caller starts its own threads there (a live progress display),
    so that the workers are forked from a process of one thread (:func:`~extractor.parallel.start_method`)."""
    downloads = Path(downloads) if downloads else store.path.parent / "downloads"
    if concurrency > 1 and len(files) > 1:
        return run_parallel(files, store, force=force, llm=llm, skipped_reason=skipped_reason,
                            on_progress=on_progress, concurrency=concurrency, downloads=downloads,
                            fetch_options=fetch_options, result=BatchResult(), initializer=worker_init,
                            initargs=worker_init_args, on_start=on_start)
    if on_start:
        on_start()
    res = BatchResult()
    for f in files:
        try:
            o = process(Source.of(f), store, force=force, llm=llm, skipped_reason=skipped_reason,
                        downloads=downloads, fetch_options=fetch_options)
            status, rec = o.status, o.record
        except sqlite3.Error as exc:  # the database itself fails: no document can be saved, stop here
            raise StoreError(f"cannot write {store.path}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - whatever one input does, the batch goes on
            status, rec = "failed", failed_record(display(f), f"internal error: {type(exc).__name__}: {exc}")
            rec.document.sha256 = path_sha256(f)
            store.save(rec)
        tally(res, f, status, rec)
        if on_progress:
            on_progress(f, status, rec)
    return res
