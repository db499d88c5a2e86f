"""Documents in parallel (``extractor run --concurrency N``): worker processes, one writer.

Loading and extraction are CPU-bound Python (and OCR), so they run in ``N`` worker *processes*
(threads would share one core under the GIL). Each input goes through stages:

1. a URL is downloaded (or found in ``downloads/``) in a thread of this process;
2. a worker process reads the file (or takes the downloaded bytes), hashes it, checks the database
   (read-only) whether it is done, loads it — OCR pages included — and, without a model, extracts
   and verifies it and turns the record into the rows :meth:`Store.save` writes;
3. with a model, the loaded document comes back and is extracted in a thread of this process (model
   calls wait on the network; the LLM client, its cache and its ledger stay here), at most ``N``
   at once, which bounds concurrent model calls;
4. this process — the only writer — saves the documents **in input order**, so the database and the
   output files are identical to a ``--concurrency 1`` run; the documents finished by the time it
   writes go in one transaction (one sync to disk for all of them; each document whole or absent).

Up to ``window`` documents are in flight (started, not yet saved); a slow one holds back the saving
of those after it, never their work. A worker that dies (a crash, the OOM killer) marks the document
it held ``failed`` with its exit status and is replaced; the batch goes on. Ctrl-C (the workers
ignore SIGINT) stops taking new documents, lets the running ones finish, saves every finished one
and re-raises; a second Ctrl-C stops the workers at once. A killed run leaves complete documents
only (one transaction each) and the next run resumes; workers exit when this process is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import connection
from pathlib import Path
from typing import Any, Callable, NamedTuple

from .errors import ExtractorError
from .fetch import is_url
from .files import BatchResult, display, path_sha256, tally
from .model import DocumentInfo, Record
from .pipeline import ModelSteps, failed_record
from .sources import Outcome, Source, process, process_loaded
from .store import DocumentRows, StoreError, document_done, document_rows

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


def _worker_main(conn, env: dict[str, str], initializer: Callable | None, initargs: tuple) -> None:
    """A worker process: run (fn, args) tasks from ``conn`` until told to stop or the parent is gone."""
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


class _Worker:
    __slots__ = ("proc", "conn", "task", "gone")

    def __init__(self, proc, conn) -> None:
        self.proc = proc
        self.conn = conn
        self.task: Future | None = None
        self.gone = False  # its pipe broke: no more tasks for it


class ProcessPool:
    """``size`` worker processes, one task each at a time, results as :class:`Future` objects.

    Unlike :class:`concurrent.futures.ProcessPoolExecutor`, a worker that dies fails only the task
    it held (with :class:`WorkerDied`) and is replaced; the other tasks go on. Processes are
    started with ``spawn`` (no state copied from a multi-threaded parent); they see this process's
    environment plus ``env``.
    """

    def __init__(self, size: int, *, env: dict[str, str] | None = None, initializer: Callable | None = None,
                 initargs: tuple = ()) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._args = (dict(env or {}), initializer, initargs)
        self._lock = threading.Lock()
        self._queue: deque[tuple[Future, Callable, tuple]] = deque()
        self._workers: list[_Worker] = []
        self._closed = False
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        with _sigint_blocked():  # a Ctrl-C while a worker starts up must not kill it
            for _ in range(size):
                self._spawn()
        self._thread = threading.Thread(target=self._collect, name="extractor-workers", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, *self._args), daemon=True,
                                 name="extractor-worker")
        proc.start()
        child.close()
        self._workers.append(_Worker(proc, parent))

    def submit(self, fn: Callable, *args: Any) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._queue.append((fut, fn, args))
            self._dispatch()
        return fut

    def _dispatch(self) -> None:  # with the lock held
        for w in self._workers:
            while w.task is None and not w.gone and self._queue:
                fut, fn, args = self._queue.popleft()
                if fut.cancelled():
                    fut.set_running_or_notify_cancel()  # lets wait() see it done
                    continue
                try:
                    w.conn.send((fn, args))
                except OSError:  # it died: the task goes to another worker (or its replacement)
                    w.gone = True
                    self._queue.appendleft((fut, fn, args))
                    continue
                except Exception as exc:  # noqa: BLE001 - arguments that do not pickle
                    if fut.set_running_or_notify_cancel():
                        fut.set_exception(WorkerError(f"task cannot be sent: {type(exc).__name__}: {exc}"))
                    continue
                w.task = fut
                fut.set_running_or_notify_cancel()  # False when cancelled meanwhile: its result is dropped

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
            fut, w.task = w.task, None
            if fut is not None and not fut.done():
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(WorkerError(value))
            self._dispatch()
        return True

    def _buried(self, w: _Worker) -> None:
        """``w`` ended: reap it, fail the task it held, start a replacement (unless shutting down)."""
        try:
            while w.task is not None and w.conn.poll() and self._receive(w):
                pass  # a result it sent just before it ended
        except OSError:
            pass
        w.proc.join()
        with self._lock:
            self._workers.remove(w)
            w.conn.close()
            fut, w.task = w.task, None
            if fut is not None and not fut.done():
                fut.set_exception(WorkerDied(w.proc.exitcode))
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
            if cancel or kill:
                while self._queue:
                    fut = self._queue.popleft()[0]
                    fut.cancel()
                    fut.set_running_or_notify_cancel()
            pending = [f for f, _fn, _a in self._queue] + [w.task for w in self._workers if w.task]
            if kill:
                for w in self._workers:
                    if w.task is not None:
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


def run_parallel(files: list, store, *, force: bool, llm: ModelSteps | None, skipped_reason: str | None,
                 on_progress: Callable | None, concurrency: int, downloads: Path, fetch_options: dict | None,
                 result: BatchResult, window: int | None = None, initializer: Callable | None = None,
                 initargs: tuple = ()) -> BatchResult:
    """See the module docstring. ``initializer(*initargs)`` runs in every worker process at start."""
    return _Dispatch(files, store, force=force, llm=llm, skipped_reason=skipped_reason, on_progress=on_progress,
                     concurrency=concurrency, downloads=downloads, fetch_options=fetch_options, result=result,
                     window=window, initializer=initializer, initargs=initargs).run()


class _Dispatch:
    def __init__(self, files: list, store, *, force: bool, llm: ModelSteps | None, skipped_reason: str | None,
                 on_progress: Callable | None, concurrency: int, downloads: Path, fetch_options: dict | None,
                 result: BatchResult, window: int | None, initializer: Callable | None, initargs: tuple) -> None:
        self.items = list(files)
        self.store, self.force, self.llm, self.skipped_reason = store, force, llm, skipped_reason
        self.on_progress, self.downloads, self.fetch_options, self.result = on_progress, downloads, fetch_options, result
        self.concurrency = concurrency
        self.window = window or max(16, 8 * concurrency)
        self.init = (initializer, initargs)
        self.db = str(store.path)
        self.load_only = llm is not None  # with a model, workers load and threads extract
        self.state: dict[Future, _Item] = {}  # running stages
        self.finished: dict[int, _Item] = {}  # results waiting for their turn to be saved
        self.saved: set[str] = set()
        self.next_commit = 0
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
        it.status, it.rec = status, rec
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

    def commit_ready(self) -> None:
        ready = []
        while self.next_commit in self.finished:
            ready.append(self.finished.pop(self.next_commit))
            self.next_commit += 1
        if ready:
            self.commit(ready)

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
                while True:
                    while started - self.next_commit < self.window:
                        nxt = next(todo, None)
                        if nxt is None:
                            break
                        self.start(_Item(*nxt))
                        started += 1
                    if not self.state:
                        break
                    done, _ = wait(list(self.state), return_when=FIRST_COMPLETED)
                    for fut in done:
                        self.advance(self.state[fut], fut)
                    self.commit_ready()
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
