"""The HTTP API (``extractor serve``): upload a report, get its verified record; a durable job queue.

``create_service_app(db_path)`` builds the FastAPI app over the same SQLite database ``extractor run``
writes. Endpoints (schema at ``/openapi.json``, browsable at ``/docs``):

- ``POST /documents`` (multipart field ``file``): validates the upload, keeps its bytes under
  ``<db folder>/uploads/<sha256>.<ext>``, queues a job and waits up to ``wait`` seconds for it.
  200 with the record and its findings when done (also when the same bytes were done before);
  202 with the job's status and ``Location: /documents/{sha256}`` when still queued/running;
  413 body over the size cap (refused from ``Content-Length`` before any of it is read, or as soon
  as a streamed body passes the cap); 415 a type the loaders do not read (archives, legacy
  .doc/.xls, executables); 422 an empty or unreadable file, with the loader's message.
  503 with ``Retry-After`` when ``max_queue`` jobs are already queued or running.
  The upload is streamed to a temporary file under ``uploads/`` (hashed and capped as it arrives,
  never held in memory) and renamed to ``<sha256>.<ext>`` once accepted; a rejected upload's bytes
  are removed at once, the bytes of a job that failed to load (422) when it ends, and temporary
  files a crash left behind at start-up. The handler waits asynchronously, so waiting uploads never
  hold a thread: every other endpoint keeps answering.
- ``GET /documents/{sha256}``: the stored record (202 while its job is pending, 404 unknown).
- ``GET /documents``: the documents in the database (paged), plus queue counts.
- ``GET /jobs/{id}``, ``GET /health``.

The queue is the ``jobs`` table of the same database (queued → running → done | failed; its
storage is :mod:`extractor.jobs`). Jobs are
committed before the request is answered, and worker threads start by re-queueing jobs left
``running`` by a previous process, so a job accepted before a crash or restart is done after it. A
job whose processing crashed the process ``MAX_ATTEMPTS`` times is failed instead of retried forever.
One server process per database (its worker threads share the queue).

Bad input never gives a 500: every failure while reading a document becomes a 4xx or a ``failed``
record, and the worker threads survive anything a document does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, Optional

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from . import __version__, loaders
from .fetch import fix_name, unsupported_reason
from .jobs import MAX_ATTEMPTS, JobQueue  # noqa: F401 - the queue's storage; MAX_ATTEMPTS part of this API
from .model import Finding, Record
from .pipeline import ModelSteps
from .sources import Source, process
from .store import Store

MAX_QUEUE = 100  # jobs queued or running; past it POST /documents answers 503 + Retry-After
UPLOAD_CHUNK = 256 * 1024
SQLITE_MAX_INT = 2**63 - 1
MULTIPART_SLACK = 64 * 1024  # multipart headers/boundaries on top of the file itself
SHA_PATTERN = r"^[0-9a-f]{64}$"

# ----------------------------------------------------------------------------- workers


class Workers:
    """Threads that take jobs from the queue and process them; one ``Store`` connection each."""

    def __init__(self, db_path: Path, queue: JobQueue, *, count: int, llm: ModelSteps | None,
                 skipped_reason: str | None) -> None:
        self.db_path, self.queue, self.count = db_path, queue, max(1, count)
        self.llm, self.skipped_reason = llm, skipped_reason
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.finished = threading.Condition()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.queue.recover()
        for i in range(self.count):
            t = threading.Thread(target=self._loop, name=f"extractor-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout)

    def notify(self) -> None:
        self.wake.set()

    def _loop(self) -> None:
        store = Store(self.db_path)
        try:
            while not self.stop.is_set():
                try:
                    job = self.queue.claim()
                except sqlite3.Error:
                    job = None
                    self.stop.wait(0.5)
                if job is None:
                    self.wake.wait(1.0)
                    self.wake.clear()
                    continue
                self._run(store, job)
                with self.finished:
                    self.finished.notify_all()
        finally:
            store.close()

    def _run(self, store: Store, job: dict) -> None:
        try:
            try:
                raw = Path(job["path"]).read_bytes()
            except OSError as exc:
                self.queue.finish(job["id"], "failed", stage="load", decision="failed",
                                  error=f"the uploaded bytes are gone ({job['path']}): {exc.strerror or exc}")
                return
            o = process(Source.from_bytes(raw, job["name"], path=job["path"]), store, force=True, llm=self.llm,
                        skipped_reason=self.skipped_reason)
            rec = o.record
            if o.status == "failed":
                self.queue.finish(job["id"], "failed", stage=o.stage, decision="failed",
                                  error=rec.error if rec is not None else "failed")
                if o.stage == "load":  # rejected input (422): its bytes are not kept
                    Path(job["path"]).unlink(missing_ok=True)
            else:
                self.queue.finish(job["id"], "done", decision=rec.decision if rec is not None else None)
        except Exception as exc:  # noqa: BLE001 - the worker outlives any document
            try:
                self.queue.finish(job["id"], "failed", stage="worker", decision="failed",
                                  error=f"internal error: {type(exc).__name__}: {exc}")
            except sqlite3.Error:
                pass

    def wait_for(self, job_id: int, seconds: float) -> dict | None:
        deadline = time.monotonic() + max(0.0, seconds)
        with self.finished:
            while True:
                job = self.queue.get(job_id)
                if job is None or job["status"] in ("done", "failed"):
                    return job
                left = deadline - time.monotonic()
                if left <= 0:
                    return job
                self.finished.wait(min(left, 0.25))


# ----------------------------------------------------------------------------- body size limit


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413: from ``Content-Length`` before reading any
    of it, or as soon as a streamed (chunked) body passes the limit — never after reading it all."""

    def __init__(self, app, limit: int, file_limit: int | None = None) -> None:
        self.app, self.limit = app, limit
        self.file_limit = limit if file_limit is None else file_limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None:
            if not declared.strip().isdigit():
                await _json(400, {"detail": "invalid Content-Length header"})(scope, receive, send)
                return
            if int(declared) > self.limit:
                await self._refuse(scope, receive, send, int(declared))
                return
        seen = 0
        over = False
        started = False

        async def limited_receive():
            nonlocal seen, over
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise _TooLarge()
            return msg

        async def guarded_send(msg):
            nonlocal started
            if over:  # the app's reaction to the aborted body is replaced by the 413 below
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send, None)

    async def _refuse(self, scope, receive, send, declared: int | None) -> None:
        what = f"{declared} bytes" if declared is not None else f"more than {self.limit} bytes, cut off"
        await _json(413, {"detail": f"request body too large: {what} (the file limit is {self.file_limit} bytes; "
                                    "set EXTRACTOR_MAX_BYTES on the server)"},
                    headers={"Connection": "close"})(scope, receive, send)


def _json(status: int, content: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=content, headers=headers)


# ----------------------------------------------------------------------------- response shapes


class DocumentOut(BaseModel):
    sha256: str
    status: Literal["done", "failed"]
    decision: Optional[str] = None
    error: Optional[str] = None
    name: Optional[str] = None
    job: Optional[int] = None
    findings: list[Finding] = Field(default_factory=list, description="the checks that did not pass")
    record: Optional[Record] = None


class PendingOut(BaseModel):
    sha256: str
    job: int
    status: Literal["queued", "running"]
    location: str
    detail: str = "accepted; GET the location for the record"


class JobOut(BaseModel):
    id: int
    sha256: str
    name: str
    status: Literal["queued", "running", "done", "failed"]
    attempts: int
    stage: Optional[str] = None
    decision: Optional[str] = None
    error: Optional[str] = None
    created_at: float
    started_at: Optional[float] = None
    finished_at: Optional[float] = None


class DocumentSummary(BaseModel):
    sha256: str
    name: str
    url: Optional[str] = None
    kind: Optional[str] = None
    status: str
    decision: Optional[str] = None
    error: Optional[str] = None
    updated_at: float


class DocumentList(BaseModel):
    total: int
    items: list[DocumentSummary]
    jobs: dict[str, int]


class ErrorOut(BaseModel):
    detail: Any


class Health(BaseModel):
    status: str
    version: str
    db: str
    workers: int
    jobs: dict[str, int]
    max_upload_bytes: int


_ERR = {"model": ErrorOut}


# ----------------------------------------------------------------------------- the app


HEAD_BYTES = 65536  # what sniffing the type looks at (see loaders.sniff)


async def _spool(file: UploadFile, dest: Path, cap: int) -> tuple[int, str, bytes]:
    """Copy an upload to ``dest`` in chunks, hashing as it goes; stops one chunk past ``cap``.
    Returns (size, sha256, first bytes)."""
    h = hashlib.sha256()
    head = bytearray()
    size = 0
    with open(dest, "wb") as out:
        while True:
            chunk = await file.read(UPLOAD_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                break
            h.update(chunk)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            out.write(chunk)
    return size, h.hexdigest(), bytes(head)


def _clean_stale_uploads(uploads: Path) -> None:
    """Temporary upload files left by a server that died mid-upload."""
    try:
        for p in uploads.glob(".*.tmp"):
            p.unlink(missing_ok=True)
    except OSError:
        pass


def _clean_name(filename: str | None) -> str:
    name = re.split(r"[\\/]", filename or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]+", "", name).strip(" .")
    return name[:150] or "upload"


def create_service_app(db_path: str | Path, *, workers: int = 1, llm: ModelSteps | None = None,
               skipped_reason: str | None = None, max_upload: int | None = None,
               start_workers: bool = True, max_queue: int = MAX_QUEUE) -> FastAPI:
    """The API over ``db_path`` (created when missing). ``start_workers=False`` queues without
    processing (tests use it to stand for a server that dies before doing a job)."""
    db_path = Path(db_path)
    cap = loaders.MAX_BYTES if max_upload is None else int(max_upload)
    max_queue = max(1, int(max_queue))
    uploads = db_path.parent / "uploads"
    _clean_stale_uploads(uploads)
    Store(db_path).close()  # create the schema
    queue = JobQueue(db_path)
    pool = Workers(db_path, queue, count=workers, llm=llm, skipped_reason=skipped_reason)
    local = threading.local()

    def store() -> Store:
        s = getattr(local, "store", None)
        if s is None:
            s = local.store = Store(db_path)
        return s

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_workers:
            pool.start()
        yield
        pool.shutdown()

    app = FastAPI(
        title="extractor",
        version=__version__,
        summary="Verified structured records from 政府信息公开工作年度报告 (government information-disclosure "
                "annual reports)",
        lifespan=lifespan,
    )
    app.state.queue, app.state.workers, app.state.db_path, app.state.max_upload = queue, pool, db_path, cap
    app.add_middleware(BodyLimit, limit=cap + MULTIPART_SLACK, file_limit=cap)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):  # a bug, never bad input: still answer in JSON
        return _json(500, {"detail": f"internal error: {type(exc).__name__}"})

    def document_body(sha: str, rec: Record, job: dict | None) -> dict:
        return {
            "sha256": sha,
            "status": "failed" if rec.decision == "failed" else "done",
            "decision": rec.decision,
            "error": rec.error,
            "name": rec.document.name,
            "job": job["id"] if job else None,
            "findings": [json.loads(f.model_dump_json()) for f in rec.problems()],
            "record": json.loads(rec.model_dump_json()),
        }

    def unreadable(rec: Record, job: dict | None) -> bool:
        """The document failed while being read (not while being checked): bad input → 422."""
        if job is not None and job.get("status") == "failed":
            return job.get("stage") == "load"
        return rec.decision == "failed" and bool(rec.error) and not rec.tables

    def answer(sha: str, job: dict | None) -> JSONResponse:
        rec = store().authoritative_record(sha)  # reviewers' decisions applied, as records.jsonl shows it
        if rec is None:
            if job is not None and job["status"] == "failed":  # failed without a record (upload lost, crashes)
                return _json(422, {"detail": job.get("error") or "failed", "sha256": sha, "job": job["id"]})
            if job is not None and job["status"] in ("queued", "running"):
                loc = f"/documents/{sha}"
                return _json(202, {"sha256": sha, "job": job["id"], "status": job["status"], "location": loc,
                                   "detail": "accepted; GET the location for the record"},
                             headers={"Location": loc, "Retry-After": "2"})
            raise HTTPException(404, f"no document {sha}")
        if job is not None and job["status"] in ("queued", "running"):  # being redone (force)
            loc = f"/documents/{sha}"
            return _json(202, {"sha256": sha, "job": job["id"], "status": job["status"], "location": loc,
                               "detail": "accepted; GET the location for the record"},
                         headers={"Location": loc, "Retry-After": "2"})
        if unreadable(rec, job):
            return _json(422, {"detail": rec.error, "sha256": sha, "job": job["id"] if job else None})
        return _json(200, document_body(sha, rec, job))

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        return Health(status="ok", version=__version__, db=str(db_path), workers=pool.count if start_workers else 0,
                      jobs=queue.counts(), max_upload_bytes=cap)

    @app.post(
        "/documents",
        tags=["documents"],
        response_model=DocumentOut,
        status_code=200,
        responses={
            202: {"model": PendingOut, "description": "queued or running; GET the Location for the record"},
            413: {**_ERR, "description": "file larger than the upload limit"},
            415: {**_ERR, "description": "not a type the extractor reads (archive, legacy .doc/.xls, executable)"},
            422: {**_ERR, "description": "empty or unreadable file (the loader's message), or a malformed request"},
        },
    )
    async def post_document(
        file: UploadFile = File(..., description="the report: PDF, DOCX, HTML, text/Markdown or an image"),
        wait: float = Query(30.0, ge=0, le=600, description="seconds to wait for the record before answering 202"),
        force: bool = Query(False, description="process again even if these bytes were done before"),
    ):
        """Upload one report; answers with its record and findings (or 202 while it is still queued)."""
        counts = queue.counts()
        if counts["queued"] + counts["running"] >= max_queue:
            return _json(503, {"detail": f"the queue is full ({max_queue} documents queued or running); "
                                         "try again later"}, headers={"Retry-After": "30"})
        uploads.mkdir(parents=True, exist_ok=True)
        tmp = uploads / f".{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}.tmp"
        try:
            size, sha, head = await _spool(file, tmp, cap)
            if size > cap:
                raise HTTPException(413, f"file too large: more than {cap} bytes (limit {cap}; "
                                         "set EXTRACTOR_MAX_BYTES on the server)")
            if not size:
                raise HTTPException(422, "empty file (0 bytes)")
            why = unsupported_reason(head)
            if why:
                raise HTTPException(415, f"unsupported file type: {why}")
            name, _kind = fix_name(_clean_name(file.filename), head, file.content_type or "")
            if not force and store().is_done(sha):
                return answer(sha, queue.latest(sha))
            target = uploads / f"{sha}{Path(name).suffix or '.bin'}"
            if target.exists() and target.stat().st_size == size:
                tmp.unlink()
            else:
                os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)  # rejected (or a duplicate): its bytes are not kept
        job = queue.enqueue(sha, name, str(target))
        pool.notify()
        deadline = time.monotonic() + (wait if start_workers else 0)
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            job = queue.get(job["id"]) or job
        return answer(sha, job)

    @app.get(
        "/documents/{sha256}",
        tags=["documents"],
        response_model=DocumentOut,
        responses={202: {"model": PendingOut, "description": "still queued or running"},
                   404: {**_ERR, "description": "unknown document"},
                   422: {**_ERR, "description": "the document could not be read (the loader's message)"}},
    )
    def get_document(sha256: str = PathParam(..., pattern=SHA_PATTERN, description="SHA-256 of the bytes")):
        """The stored record of one document (by the SHA-256 of its bytes)."""
        job = queue.latest(sha256)
        return answer(sha256, job)

    @app.get("/documents", tags=["documents"], response_model=DocumentList)
    def list_documents(
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=SQLITE_MAX_INT),
        decision: Optional[Literal["accepted", "needs_review", "failed"]] = Query(None),
    ) -> DocumentList:
        """Documents in the database, most recent first."""
        total, rows = store().document_page(limit, offset, decision)
        return DocumentList(total=total, items=[DocumentSummary(**dict(r)) for r in rows], jobs=queue.counts())

    @app.get("/jobs/{job_id}", tags=["service"], response_model=JobOut, responses={404: _ERR})
    def get_job(job_id: int = PathParam(..., ge=1)) -> JobOut:
        job = queue.get(job_id) if job_id <= SQLITE_MAX_INT else None
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return JobOut(**{k: job[k] for k in JobOut.model_fields})

    return app
