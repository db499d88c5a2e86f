"""Per-document budgets: time, PDF pages, OCR pages (the DOCX XML cap lives with the DOCX loader).

A budget is read from the environment each time it is used (so worker threads and processes started
by ``extractor run`` see the value its options set):

=============================  =======  ==========================================================
``EXTRACTOR_DOC_SECONDS``       600      seconds of work one document may take (load, extract, checks;
                                         time waiting for the model is not counted: model calls have
                                         their own timeout and attempts); 0 = no limit.
                                         ``extractor run --doc-timeout``.
``EXTRACTOR_MAX_PAGES``         500      PDF pages; a longer PDF is refused before any page is read
``EXTRACTOR_MAX_OCR_PAGES``     50       pages of one document handed to OCR; blank pages are never
                                         OCR'd and do not count; pages past the budget are not read
                                         (a ``D.BUDGET`` finding says which)
``EXTRACTOR_MAX_DOCX_XML``      10 MB    XML a DOCX may expand to (parsed in memory at ~30x its size:
                                         10 MB of XML took 330 MB, 20 MB 640 MB)
=============================  =======  ==========================================================

The time budget is enforced by a watchdog thread (one per process) that raises :class:`TimeBudgetExceeded` in the
thread doing the work (``PyThreadState_SetAsyncExc``): it stops pure-Python work anywhere (a runaway
check, a slow loop) at the next bytecode; a call into C (an OCR inference, a socket read) finishes
first. It derives from ``BaseException`` so no ``except Exception`` on the way swallows it; the
caller that set the budget catches it and fails the document with a message naming the budget.

Degradations (a stage that failed on part of a document, a budget that cut a document short) are
recorded on the :class:`~extractor.document.Document` as ``problems`` and become findings
(``D.PAGE_DEGRADED``, ``D.BUDGET``; ``rules/limits.yaml``) so the record goes to review and says
what was not read.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .model import Finding
from .templates import rule_version

DEFAULTS = {
    "EXTRACTOR_DOC_SECONDS": 600.0,
    "EXTRACTOR_MAX_PAGES": 500,
    "EXTRACTOR_MAX_OCR_PAGES": 50,
    "EXTRACTOR_MAX_DOCX_XML": 10 * 1024 * 1024,
}


def _env_number(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    if raw:
        try:
            v = float(raw)
            if v >= 0:
                return v
        except ValueError:
            pass
    return float(DEFAULTS[name])


def doc_seconds() -> float:
    """Seconds one document may take; 0 means no limit."""
    return _env_number("EXTRACTOR_DOC_SECONDS")


def max_pages() -> int:
    return int(_env_number("EXTRACTOR_MAX_PAGES"))


def max_ocr_pages() -> int:
    return int(_env_number("EXTRACTOR_MAX_OCR_PAGES"))


def max_docx_xml() -> int:
    return int(_env_number("EXTRACTOR_MAX_DOCX_XML"))


class TimeBudgetExceeded(BaseException):
    """Raised in a thread whose document ran past its time budget (see the module docstring)."""


_PKG = str(Path(__file__).resolve().parent)


def where(exc: BaseException) -> str:
    """The extractor module (``verify/narrative.py``) the exception was raised in, or ''."""
    last = ""
    for fs in traceback.extract_tb(exc.__traceback__):
        f = str(Path(fs.filename).resolve()) if fs.filename else ""
        if f.startswith(_PKG):
            last = f[len(_PKG) + 1:]
    return last


def time_budget_message(seconds: float, exc: BaseException) -> str:
    w = where(exc)
    return (f"time budget exceeded: more than {seconds:g} s for this document"
            + (f" (stopped in {w})" if w else "")
            + "; raise it with --doc-timeout or EXTRACTOR_DOC_SECONDS")


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)


class _Clock:
    """The time budget of the block running in one thread: a deadline that stands still while paused."""

    def __init__(self, seconds: float, tid: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.tid = tid
        self.paused = 0  # depth of paused() blocks
        self.paused_at = 0.0
        self.done = False
        self.fired = False


_clock = threading.local()

# One watchdog thread per process watches every running budget (a thread started per block cost
# ~0.2 ms, more on a loaded machine, twice per document). All clock state is guarded by _cond.
_cond = threading.Condition()
_active: set[_Clock] = set()
_watcher: threading.Thread | None = None
_wake_at: float | None = None  # when the watcher wakes next (None: it waits until notified)


def _watch() -> None:
    global _wake_at
    with _cond:
        while True:
            now = time.monotonic()
            nxt: float | None = None
            for clock in list(_active):
                if clock.paused:
                    continue
                if clock.deadline <= now:
                    clock.fired = True
                    _active.discard(clock)
                    _set_async_exc(clock.tid, ctypes.py_object(TimeBudgetExceeded))
                elif nxt is None or clock.deadline < nxt:
                    nxt = clock.deadline
            _wake_at = nxt
            _cond.wait(None if nxt is None else nxt - now)


def _poke(deadline: float) -> None:
    """Wake the watcher when ``deadline`` comes before its next wake-up (caller holds _cond)."""
    global _watcher
    if _watcher is None or not _watcher.is_alive():  # first use (or a forked child without it)
        _watcher = threading.Thread(target=_watch, name="extractor-budget", daemon=True)
        _watcher.start()
    elif _wake_at is None or deadline < _wake_at:
        _cond.notify_all()


@contextmanager
def time_budget(seconds: float | None = None) -> Iterator[None]:
    """Raise :class:`TimeBudgetExceeded` in this thread once ``seconds`` (default: the environment's
    budget) of work have passed inside the block (time in :func:`paused` blocks excluded); no-op for
    0/None."""
    if seconds is None:
        seconds = doc_seconds()
    if not seconds or seconds <= 0:
        yield
        return
    clock = _Clock(seconds, threading.get_ident())
    outer = getattr(_clock, "current", None)
    _clock.current = clock
    with _cond:
        _active.add(clock)
        _poke(clock.deadline)
    try:
        yield
    finally:
        _clock.current = outer
        with _cond:
            clock.done = True
            _active.discard(clock)
            if clock.fired:  # fired but maybe not raised yet: never let it escape into unrelated code
                _set_async_exc(clock.tid, ctypes.py_object())  # NULL clears a pending exception


@contextmanager
def paused() -> Iterator[None]:
    """Time spent in this block does not count against the thread's time budget (model calls: they
    have limits of their own, ``--llm-timeout`` and a bounded number of attempts)."""
    clock = getattr(_clock, "current", None)
    if clock is None:
        yield
        return
    with _cond:
        if clock.paused == 0:
            clock.paused_at = time.monotonic()
        clock.paused += 1
    try:
        yield
    finally:
        with _cond:
            clock.paused -= 1
            if clock.paused == 0:
                clock.deadline += time.monotonic() - clock.paused_at
                if not clock.done:
                    _poke(clock.deadline)


# ----------------------------------------------------------------------------- degradations


def problem(rule: str, scope: str, message: str) -> dict:
    """A degradation to put on ``Document.problems`` (``rule``: D.PAGE_DEGRADED | D.BUDGET)."""
    return {"rule": rule, "scope": scope, "message": message}


def findings_for(problems: list[dict]) -> list[Finding]:
    """One UNCERTAIN finding per degradation: the record goes to review and says what was not read."""
    out = []
    seen: set[str] = set()
    for p in problems:
        fid = f"{p['rule']}:{p['scope']}"
        if fid in seen:
            continue
        seen.add(fid)
        out.append(Finding(id=fid, rule=p["rule"], version=rule_version(p["rule"]), status="UNCERTAIN", classification="suspected_extraction_error",
                           severity="warning", scope=p["scope"], message=p["message"]))
    return out
