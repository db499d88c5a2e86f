"""Worker-process set-up for tests of ``--concurrency``: make a worker die on one document, or hold one back.

Passed as ``run_batch(worker_init=die_on, worker_init_args=(name,))``; runs inside each worker
process (importable there because the workers get this process's ``sys.path``).
"""

from __future__ import annotations

import os
import signal


def die_on(name: str, how: str = "kill") -> None:
    import extractor.files as files

    real = files.extract_document

    def extract(doc, **kw):
        if doc.name == name:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
            os._exit(3)
        return real(doc, **kw)

    files.extract_document = extract


def hold_until_saved(name: str, db: str, count: int, limit: float = 60.0) -> None:
    """Hold the document ``name`` back until ``count`` documents are saved in ``db`` (read only;
    at most ``limit`` seconds, then it goes on)."""
    import sqlite3
    import time

    import extractor.files as files

    real = files.extract_document

    def extract(doc, **kw):
        if doc.name == name:
            end = time.monotonic() + limit
            while time.monotonic() < end:
                with sqlite3.connect(db, timeout=30) as c:
                    if c.execute("SELECT COUNT(*) FROM documents").fetchone()[0] >= count:
                        break
                time.sleep(0.02)
        return real(doc, **kw)

    files.extract_document = extract


# --- tasks for a ProcessPool of its own (tests/test_parallel_pool.py) ---------------------------------


def pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def exit_when(flag: str, code: int = 3) -> None:
    """End this worker process with ``code`` once the file ``flag`` exists."""
    wait_for(flag)
    os._exit(code)


def wait_for(flag: str, limit: float = 60.0) -> str:
    import time
    from pathlib import Path

    end = time.monotonic() + limit
    while not Path(flag).exists() and time.monotonic() < end:
        time.sleep(0.01)
    return "waited"


def frozen_objects() -> int:
    """How many objects this process's garbage collector leaves out (``gc.freeze``)."""
    import gc

    return gc.get_freeze_count()
