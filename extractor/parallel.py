"""Documents in parallel (``extractor run --concurrency N``): worker processes, one writer.

Loading and extraction are CPU-bound Python (and OCR), so they run in ``N`` worker *processes*
(threads would share one core under the GIL), forked from this process where that is safe (modules
imported and rules loaded once; see :func:`start_method`), each sent its next document while it
works on one. Each input goes through stages:

1. a URL is downloaded (or found in ``downloads/``) in a thread of this process;
2. a worker process reads the file (or takes the downloaded bytes), hashes it, checks the database
   (read-only) whether it is done, loads it — OCR pages included — and, without a model, extracts
   and verifies it and turns the record into the rows :meth:`Store.save` writes;
3. with a model, the loaded document comes back and is extracted in a thread of this process (model
   calls wait on the network; the LLM client, its cache and its ledger stay here), at most ``N``
   at once, which bounds concurrent model calls;
4. this process — the only writer — saves the documents **in input order**, so the database and the
   output files are identical to a ``--concurrency 1`` run; the finished documents next in that order
   go in one transaction once there are ``GROUP`` of them, or the first has waited ``LINGER``
   seconds, or nothing else is running (group commit: one commit and one append to each output
   file for all of them; each document whole or absent).

Up to ``window`` documents are in flight (started, not yet saved); a slow one holds back the saving
of those after it, never their work. A worker that dies (a crash, the OOM killer) marks the document
it was working on ``failed`` with its exit status (the one sent behind it goes to another worker)
and is replaced; the batch goes on. Ctrl-C (the workers ignore SIGINT) stops taking new documents
(none sent behind a running one starts), lets the running ones finish, saves every finished one
and re-raises; a second Ctrl-C stops the workers at once. A killed run leaves complete documents
only (whole transactions) and the next run resumes; workers exit when this process is gone.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sqlite3
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import connection
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from .errors import ExtractorError
from .fetch import is_url
from .files import BatchResult, display, path_sha256, tally
from .model import DocumentInfo, Record
from .pipeline import ModelSteps, failed_record
from .sources import Outcome, Source, process, process_loaded
from .store import DocumentRows, StoreError, document_done, document_rows

GROUP = 16  # documents saved per transaction (group commit), at most ``LINGER`` seconds after the first is ready
LINGER = 0.5
DEPTH = 2  # tasks sent to a worker process at once: the one it runs and the next

# ------------------------------------------------------------------------------------ process pool


class WorkerDied(Exception):
    """The worker process ended while it held a task (a crash, a signal, the OOM killer)."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        if exitcode is not None and exitcode < 0:
            try:
                how = f"killed by {signal.Signals(-exitcode).name}"
            except ValueError:
                how = f"killed by signal {-exitcode}"
        else:
            how = f"exit status {exitcode}"
        super().__init__(f"worker process died ({how})")


class WorkerError(Exception):
    """A task raised in the worker; the message names the exception there."""


def _worker_main(conn, env: dict[str, str], initializer: Callable | None, initargs: tuple,
                 inherited: tuple[int, ...] = ()) -> None:
    """A worker process: run (fn, args) tasks from ``conn`` until told to stop or the parent is gone.
    ``inherited``: the parent's ends of the pool's pipes, which a forked worker holds copies of and
    closes (holding its own pipe's other end, it would never see the parent gone)."""
    for fd in inherited:
        os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.environ.update(env)
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        fn, args = task
        try:
            out: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, the worker goes on
            out = (False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(out)
        except (BrokenPipeError, EOFError, ConnectionError):
            return
        except Exception as exc:  # noqa: BLE001 - the result would not pickle
            conn.send((False, f"result cannot be sent back: {type(exc).__name__}: {exc}"))


def start_method() -> str:
    """How to start worker processes: ``fork`` (a copy of this process, modules imported and rules
    loaded: it starts at once) where the system has it safely (not macOS, whose system libraries are
    not fork-safe) and this process runs no other thread (a lock another thread held at that moment
    would stay held in the copy for ever), else ``spawn`` (a fresh interpreter that imports
    everything again)."""
    if (sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1):
        return "fork"
    return "spawn"


class _Task:
    __slots__ = ("fut", "fn", "args", "begun")

    def __init__(self, fut: Future, fn: Callable, args: tuple) -> None:
        self.fut, self.fn, self.args = fut, fn, args
        self.begun = False  # its future was told (running, or cancelled and notified)

    def begin(self) -> bool:
        """The task starts (in a worker) or is dropped: True when it is to run, False when it was cancelled."""
        if self.begun:
            return not self.fut.cancelled()
        self.begun = True
        return self.fut.set_running_or_notify_cancel()


class _Worker:
    __slots__ = ("proc", "conn", "tasks", "gone")

    def __init__(self, proc, conn) -> None:
        self.proc = proc
        self.conn = conn
        self.tasks: deque[_Task] = deque()  # sent to it, in order: it runs the first, then the next
        self.gone = False  # its pipe broke: no more tasks for it


class ProcessPool:
    """``size`` worker processes, one task each at a time, results as :class:`Future` objects.

    Each worker is sent its next task while it runs one (``DEPTH``): it goes from one to the next
    without waiting for this process, whose threads may be busy; a task counts as running (its
    future too) once the worker starts it, so a task waiting behind another can still be cancelled.
    Unlike :class:`concurrent.futures.ProcessPoolExecutor`, a worker that dies fails only the task
    it was running (with :class:`WorkerDied`), the one sent behind it goes to another worker, and it
    is replaced; the other tasks go on. The first ``size`` processes are started as
    :func:`start_method` says (``fork`` where safe: nothing imported or loaded again; ``start``
    overrides it), a replacement always with ``spawn`` (this process has threads by then); they see
    this process's environment plus ``env``.
    """

    def __init__(self, size: int, *, env: dict[str, str] | None = None, initializer: Callable | None = None,
                 initargs: tuple = (), start: str | None = None) -> None:
        self.start_method = start or start_method()
        self._ctx = multiprocessing.get_context("spawn")  # replacements, started by the collector thread
        self._args = (dict(env or {}), initializer, initargs)
        self._lock = threading.Lock()
        self._queue: deque[_Task] = deque()
        self._workers: list[_Worker] = []
        self._closed = False
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        first = multiprocessing.get_context(self.start_method)
        # a Ctrl-C while a worker starts up must not kill it; forked ones never scan what they inherit
        with _sigint_blocked(), _frozen(self.start_method == "fork"):
            for _ in range(size):
                self._spawn(first)
        self._thread = threading.Thread(target=self._collect, name="extractor-workers", daemon=True)
        self._thread.start()

    def _spawn(self, ctx=None) -> None:
        ctx = ctx or self._ctx
        parent, child = ctx.Pipe()
        inherited: tuple[int, ...] = ()
        if ctx.get_start_method() == "fork":  # the copy holds every open descriptor of this process
            inherited = (parent.fileno(), self._wake_r.fileno(), self._wake_w.fileno(),
                         *(w.conn.fileno() for w in self._workers))
        proc = ctx.Process(target=_worker_main, args=(child, *self._args, inherited), daemon=True,
                           name="extractor-worker")
        proc.start()
        child.close()
        self._workers.append(_Worker(proc, parent))

    def submit(self, fn: Callable, *args: Any) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._queue.append(_Task(fut, fn, args))
            self._dispatch()
        return fut

    def _dispatch(self) -> None:  # with the lock held
        for depth in range(1, DEPTH + 1):  # a task for every idle worker first, then the next ones
            for w in self._workers:
                while len(w.tasks) < depth and not w.gone and self._queue:
                    self._send(w, self._queue.popleft())

    def _send(self, w: _Worker, task: _Task) -> None:
        if task.fut.cancelled():
            task.begin()  # lets wait() see it done
            return
        try:
            w.conn.send((task.fn, task.args))
        except OSError:  # it died: the task goes to another worker (or its replacement)
            w.gone = True
            self._queue.appendleft(task)
            return
        except Exception as exc:  # noqa: BLE001 - arguments that do not pickle
            if task.begin():
                task.fut.set_exception(WorkerError(f"task cannot be sent: {type(exc).__name__}: {exc}"))
            return
        w.tasks.append(task)
        if len(w.tasks) == 1:
            task.begin()  # False when cancelled meanwhile: its result is dropped

    def _collect(self) -> None:
        """Collector thread: results and deaths of workers → futures; replacements; more tasks."""
        if hasattr(signal, "pthread_sigmask"):  # workers started from here inherit the mask
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        while True:
            with self._lock:
                if self._closed and not self._workers:
                    return
                conns = {w.conn: w for w in self._workers}
                sentinels = {w.proc.sentinel: w for w in self._workers}
            ready = connection.wait([self._wake_r, *conns, *sentinels])
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv()
            for r in ready:
                if r in conns and not self._receive(conns[r]):
                    self._buried(conns[r])
            for r in ready:
                if r in sentinels and sentinels[r] in self._workers:
                    self._buried(sentinels[r])

    def _receive(self, w: _Worker) -> bool:
        """Take one result from ``w``; False when its pipe is closed (it died)."""
        try:
            ok, value = w.conn.recv()
        except (EOFError, OSError):
            return False
        with self._lock:
            fut = w.tasks.popleft().fut if w.tasks else None
            if fut is not None and not fut.done():
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(WorkerError(value))
            if w.tasks:
                w.tasks[0].begin()  # the worker goes on to the next one sent (or drops it: cancelled)
            self._dispatch()
        return True

    def _buried(self, w: _Worker) -> None:
        """``w`` ended: reap it, fail the task it was running, give the one sent behind it to another
        worker, start a replacement (unless shutting down)."""
        try:
            while w.tasks and w.conn.poll() and self._receive(w):
                pass  # a result it sent just before it ended
        except OSError:
            pass
        w.proc.join()
        with self._lock:
            self._workers.remove(w)
            w.conn.close()
            if w.tasks:
                fut = w.tasks.popleft().fut
                if not fut.done():
                    fut.set_exception(WorkerDied(w.proc.exitcode))
                self._queue.extendleft(reversed(w.tasks))  # never started: first in line again
                w.tasks.clear()
            if not self._closed:
                self._spawn()
            self._dispatch()

    def shutdown(self, *, cancel: bool = False, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the pool: queued tasks are cancelled (``cancel``) or run first; running ones are
        waited for, or their workers killed (``kill``; those tasks fail with :class:`WorkerDied`).
        Only the collector thread reaps workers (never two waiters on one process)."""
        with self._lock:
            if self._closed:
                return
            if cancel or kill:  # queued ones and those sent behind a running one (not started)
                for task in [*self._queue, *(t for w in self._workers for t in list(w.tasks)[1:])]:
                    task.fut.cancel()
                    task.begin()
                self._queue.clear()
            pending = [t.fut for t in self._queue] + [t.fut for w in self._workers for t in w.tasks]
            if kill:
                for w in self._workers:
                    if w.tasks:
                        w.proc.kill()
        wait(pending)
        with self._lock:
            self._closed = True
            for w in self._workers:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
            self._wake_w.send(b"")
        self._thread.join(timeout)
        if self._thread.is_alive():  # a worker that does not stop: kill it
            with self._lock:
                for w in self._workers:
                    w.proc.kill()
            self._thread.join()
        self._wake_r.close()
        self._wake_w.close()


@contextmanager
def _frozen(on: bool) -> Iterator[None]:
    """Processes forked inside the block never scan the objects they inherit in their garbage
    collections (``gc.freeze``: they are most of a worker's heap; with the default collector settings
    scanning them took ~5 % of its time, and copied their memory pages); this process unfreezes them
    afterwards, unless it had frozen objects itself (``extractor run`` does, see :mod:`.gcpolicy`;
    then they stay as they were: ``gc.unfreeze`` would undo that too)."""
    mine = on and gc.get_freeze_count() == 0
    if mine:
        gc.freeze()
    try:
        yield
    finally:
        if mine:
            gc.unfreeze()


class _sigint_blocked:
    """Block SIGINT in this thread while child processes are started (they inherit the mask and
    set SIGINT to ignored before unblocking it); a Ctrl-C meanwhile is delivered afterwards."""

    def __enter__(self) -> None:
        self.on = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
        if self.on:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def __exit__(self, *exc: Any) -> None:
        if self.on:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


# ------------------------------------------------------------------------------ worker-side tasks


class Summary(NamedTuple):
    """What the writer learns of a record built in a worker (the record itself stays there)."""

    document: DocumentInfo
    decision: str
    error: str | None


_readers: dict[str, sqlite3.Connection] = {}


class _WorkerStore:
    """What :func:`~extractor.sources.process` needs of a Store, inside a worker: reads through a
    connection of its own, every save kept as rows for the writer."""

    def __init__(self, db: str) -> None:
        self.path = Path(db)
        self.saved: list[tuple[DocumentRows, Summary]] = []

    @property
    def db(self) -> sqlite3.Connection:
        c = _readers.get(str(self.path))
        if c is None:
            c = _readers[str(self.path)] = sqlite3.connect(str(self.path), timeout=30)
        return c

    def is_done(self, sha256: str) -> bool:
        return document_done(self.db, sha256)

    def save(self, record: Record) -> None:
        self.saved.append((document_rows(record), Summary(record.document, record.decision, record.error)))


def source_task(source: Source, db: str, force: bool, skipped_reason: str | None, load_only: bool) -> tuple:
    """In a worker, :func:`~extractor.sources.process` of a file or downloaded bytes:
    ``("loaded", Loaded)`` (``load_only``: the model extracts it in a thread of the writer) or
    ``(status, [(rows, summary)])``."""
    st = _WorkerStore(db)
    o = process(source, st, force=force, skipped_reason=skipped_reason, until="loaded" if load_only else None)
    if o.status == "loaded":
        return "loaded", o.loaded
    return o.status, st.saved


# ---------------------------------------------------------------------------------- thread side


class _Readers:
    """One read connection per thread (URL downloads check the database)."""

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
    """What fetching a URL (:func:`~extractor.sources.process` ``until="fetched"``) needs of a Store,
    in a thread: reads, and every write queued for later."""

    def __init__(self, readers: _Readers) -> None:
        self._readers = readers
        self.path = readers.path
        self.ops: list[Callable[[Any], None]] = []

    @property
    def db(self) -> sqlite3.Connection:  # reads only
        return self._readers.get()

    def is_done(self, sha256: str) -> bool:
        return document_done(self.db, sha256)

    def save(self, record: Record) -> None:
        self.ops.append(lambda s: s.save(record))

    def defer(self, fn: Callable[[Any], None]) -> None:
        self.ops.append(fn)


def _fetch(url: str, readers: _Readers, downloads: Path, force: bool, fetch_options: dict | None):
    d = DeferredStore(readers)
    o = process(Source.from_url(url), d, downloads=downloads, force=force, fetch_options=fetch_options,
                until="fetched")
    return o, d.ops


# ------------------------------------------------------------------------------------ dispatcher


@dataclass
class _Item:
    n: int
    item: Any  # Path | str (URL)
    stage: str = ""  # fetch | work | model
    ops: list[Callable[[Any], None]] = field(default_factory=list)  # writes, in order, at commit
    raw: bytes | None = None  # downloaded bytes (for the record of a crash)
    name: str = ""
    path: str = ""
    status: str = ""
    rec: Any = None  # Record | Summary | None
    done_at: float = 0.0  # when it finished (time.monotonic())


def run_parallel(files: list, store, *, force: bool, llm: ModelSteps | None, skipped_reason: str | None,
                 on_progress: Callable | None, concurrency: int, downloads: Path, fetch_options: dict | None,
                 result: BatchResult, window: int | None = None, group: int = GROUP, linger: float = LINGER,
                 initializer: Callable | None = None, initargs: tuple = (),
                 on_start: Callable[[], None] | None = None) -> BatchResult:
    """See the module docstring. ``initializer(*initargs)`` runs in every worker process at start;
    ``on_start()`` in this process once the workers exist, before the first document: threads a
    caller starts there (a live progress display) come after the fork (see :func:`start_method`)."""
    return _Dispatch(files, store, force=force, llm=llm, skipped_reason=skipped_reason, on_progress=on_progress,
                     concurrency=concurrency, downloads=downloads, fetch_options=fetch_options, result=result,
                     window=window, group=group, linger=linger, initializer=initializer, initargs=initargs,
                     on_start=on_start).run()


class _Dispatch:
    def __init__(self, files: list, store, *, force: bool, llm: ModelSteps | None, skipped_reason: str | None,
                 on_progress: Callable | None, concurrency: int, downloads: Path, fetch_options: dict | None,
                 result: BatchResult, window: int | None, group: int, linger: float, initializer: Callable | None,
                 initargs: tuple, on_start: Callable[[], None] | None = None) -> None:
        self.items = list(files)
        self.store, self.force, self.llm, self.skipped_reason = store, force, llm, skipped_reason
        self.on_progress, self.downloads, self.fetch_options, self.result = on_progress, downloads, fetch_options, result
        self.concurrency = concurrency
        self.group, self.linger = max(1, group), linger
        self.window = window or max(16, 8 * concurrency, 2 * self.group)
        self.init = (initializer, initargs)
        self.on_start = on_start
        self.db = str(store.path)
        self.load_only = llm is not None  # with a model, workers load and threads extract
        self.state: dict[Future, _Item] = {}  # running stages
        self.finished: dict[int, _Item] = {}  # results waiting for their turn to be saved
        self.saved: set[str] = set()
        self.next_commit = 0
        self.committed_at = time.monotonic()
        self.interrupted = False

    # ------------------------------------------------------------------ stages
    def start(self, it: _Item) -> None:
        if is_url(it.item):
            it.stage, it.name = "fetch", str(it.item).strip()
            self._run(it, self.threads.submit(_fetch, it.name, self.readers, self.downloads, self.force,
                                              self.fetch_options))
        else:
            it.stage, it.path, it.name = "work", str(it.item), Path(it.item).name
            self._run(it, self.pool.submit(source_task, Source.from_path(it.path), self.db, self.force,
                                           self.skipped_reason, self.load_only))

    def _run(self, it: _Item, fut: Future) -> None:
        self.state[fut] = it

    def finish(self, it: _Item, status: str, rec: Any, ops: list) -> None:
        it.status, it.rec, it.done_at = status, rec, time.monotonic()
        it.ops.extend(ops)
        self.finished[it.n] = it

    def crashed(self, it: _Item, msg: str) -> None:
        """The failed record of a document whose worker died: keyed by its content hash."""
        raw = it.raw
        if raw is None and it.path:
            try:
                raw = Path(it.path).read_bytes()
            except OSError:
                raw = None
        rec = failed_record(display(it.path or it.name), f"{msg} while processing {display(it.name)}", raw)
        rec.document.name = display(it.name)
        if is_url(it.item):
            rec.document.url = str(it.item).strip()
        if raw is None:
            rec.document.sha256 = path_sha256(it.path or it.name)
        self.finish(it, "failed", rec, [lambda s: s.save_rows(document_rows(rec), commit=False)])

    def advance(self, it: _Item, fut: Future) -> None:
        """A stage of ``it`` ended: start its next stage, or keep its result for the writer. After
        Ctrl-C no next stage starts, and a worker lost to it fails nothing (the next run redoes it)."""
        del self.state[fut]
        try:
            out = fut.result()
        except Exception as exc:  # noqa: BLE001 - this document fails, the batch goes on
            if not self.interrupted:
                self.crashed(it, str(exc) if isinstance(exc, WorkerDied) else f"internal error: {exc}"
                             if isinstance(exc, WorkerError) else f"internal error: {type(exc).__name__}: {exc}")
            return
        if it.stage == "fetch":
            got, ops = out
            it.ops.extend(ops)
            if got.status != "fetched":
                self.finish(it, got.status, got.record, [])
            elif not self.interrupted:
                src = got.fetched
                it.stage, it.raw, it.name, it.path = "work", src.raw, src.name, str(src.path)
                self._run(it, self.pool.submit(source_task, src, self.db, self.force, self.skipped_reason,
                                               self.load_only))
        elif it.stage == "work":
            status, payload = out
            if status != "loaded":
                summary = payload[-1][1] if payload else None
                self.finish(it, status, summary, [lambda s, r=r: s.save_rows(r, commit=False) for r, _s in payload])
            elif not self.interrupted:
                it.stage = "model"
                self._run(it, self.threads.submit(process_loaded, payload, llm=self.llm,
                                                  skipped_reason=self.skipped_reason))
        else:  # model: extracted here, saved by the writer
            o: Outcome = out
            rec: Record = o.record
            self.finish(it, o.status, rec, [lambda s: s.save_rows(document_rows(rec), commit=False)])

    # ------------------------------------------------------------------ the writer
    def commit(self, items: list[_Item]) -> None:
        """Save finished documents in one transaction (group commit: one sync for all of them,
        each document still whole or absent), then count and report them."""
        done = []
        try:
            self._write(items, done)
        except sqlite3.Error as exc:  # the database itself fails: no document can be saved, stop here
            raise StoreError(f"cannot write {self.store.path}: {exc}") from exc
        for item, status, rec in done:
            tally(self.result, item, status, rec)
            if self.on_progress:
                self.on_progress(item, status, rec)

    def _write(self, items: list[_Item], done: list) -> None:
        try:
            self._write_in(items, done)
        except BaseException:
            self.store.discard_outputs()
            raise

    def _write_in(self, items: list[_Item], done: list) -> None:
        with self.store.db:  # the documents and their output lines: one commit
            for it in items:
                status, rec, ops = it.status, it.rec, it.ops
                sha = rec.document.sha256 if rec is not None else None
                if sha and not self.force and sha in self.saved:  # the same bytes twice in this run: keep the first
                    status, rec, ops = "skipped", None, []
                for op in ops:
                    op(self.store)
                if sha:
                    self.saved.add(sha)
                done.append((it.item, status, rec))
            self.store.flush_outputs()

    def ready(self) -> int:
        """How many finished documents are next in the input order (saved in one group)."""
        n = self.next_commit
        while n in self.finished:
            n += 1
        return n - self.next_commit

    def lingered(self) -> float | None:
        """Seconds until the ready documents are saved even short of a full group (None: none ready)."""
        first = self.finished.get(self.next_commit)
        if first is None:
            return None
        return max(first.done_at, self.committed_at) + self.linger - time.monotonic()

    def commit_ready(self, every: bool = False) -> None:
        """Save the ready documents as one group once there are ``group`` of them, or they waited
        ``linger`` seconds, or nothing else is running (``every``: whatever is ready)."""
        n = self.ready()
        if not n or not (every or n >= self.group or not self.state or self.lingered() <= 0):
            return
        ready = [self.finished.pop(k) for k in range(self.next_commit, self.next_commit + n)]
        self.next_commit += n
        self.commit(ready)
        self.committed_at = time.monotonic()

    # ------------------------------------------------------------------ the loop
    def run(self) -> BatchResult:
        self.store.db.commit()  # everything so far visible to the readers
        workers = min(self.concurrency, len(self.items))
        cpus = os.cpu_count() or 1
        try:
            self.pool = ProcessPool(workers, env={"EXTRACTOR_OCR_THREADS": str(max(1, cpus // workers))},
                                    initializer=self.init[0], initargs=self.init[1])
        except OSError as exc:
            raise ExtractorError(f"cannot start {workers} worker processes: {exc} (try --concurrency 1)") from exc
        self.threads = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="extractor-doc")
        self.readers = _Readers(self.store.path)
        todo = iter(enumerate(self.items))
        started = 0
        ok = False
        try:
            try:
                if self.on_start:
                    self.on_start()
                while True:
                    while started - self.next_commit < self.window:
                        nxt = next(todo, None)
                        if nxt is None:
                            break
                        self.start(_Item(*nxt))
                        started += 1
                    if not self.state:
                        break
                    left = self.lingered()
                    done, _ = wait(list(self.state), timeout=None if left is None else max(left, 0),
                                   return_when=FIRST_COMPLETED)
                    for fut in done:
                        self.advance(self.state[fut], fut)
                    self.commit_ready()
                self.commit_ready(every=True)
                ok = True
            except KeyboardInterrupt:
                self.wind_down()
                raise
        finally:
            self.pool.shutdown(cancel=True, kill=not ok)
            self.threads.shutdown(wait=True, cancel_futures=True)
            self.readers.close()
        return self.result

    def wind_down(self) -> None:
        """Ctrl-C: no new documents or stages; the running ones finish (a second Ctrl-C kills the
        workers) and every finished document is saved, even after a gap in the input order."""
        self.interrupted = True
        for fut in list(self.state):
            fut.cancel()
        running = [f for f in self.state if not f.cancelled()]
        try:
            wait(running)
        except KeyboardInterrupt:
            self.pool.shutdown(kill=True)
            wait(running)
        for fut in list(self.state):
            if fut.cancelled():
                del self.state[fut]
            else:
                self.advance(self.state[fut], fut)
        self.commit([self.finished.pop(n) for n in sorted(self.finished)])
