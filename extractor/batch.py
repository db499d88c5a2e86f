"""Batch processing: find report files, skip finished ones, extract, store — resumable.

The library side of ``extractor run``: no printing here; progress goes through a callback.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import loaders
from .errors import ExtractorError
from .loaders import SUPPORTED_SUFFIXES, load_bytes
from .model import Record
from .pipeline import ModelSteps, extract_document, failed_record
from .store import Store


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Report files under the given files and folders, in a stable order, without duplicates."""
    out: list[Path] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            cands = sorted(x for x in p.rglob("*") if x.is_file() and x.suffix.lower() in SUPPORTED_SUFFIXES
                           and not any(part.startswith(".") for part in x.relative_to(p).parts))
        else:
            cands = [p]
        for c in cands:
            r = c.resolve()
            if r not in seen:
                seen.add(r)
                out.append(c)
    return out


@dataclass
class BatchResult:
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)


def process_file(path: Path, store: Store, *, force: bool = False, llm: ModelSteps | None = None,
                 skipped_reason: str | None = None) -> tuple[str, Record | None]:
    """Process one file; returns ("skipped"|"done"|"failed", record)."""
    refused = _refuse_before_reading(path)
    if refused is not None:  # too large / not a regular file: fail by its path, never read it
        psha = hashlib.sha256(str(path).encode()).hexdigest()
        if not force and store.is_done(psha):
            return "skipped", None
        rec = failed_record(path, refused)
        rec.document.sha256 = psha
        store.save(rec)
        return "failed", rec
    try:
        raw = path.read_bytes()
    except OSError as exc:
        rec = failed_record(path, f"cannot read {path}: {exc.strerror or exc}")
        rec.document.sha256 = hashlib.sha256(str(path).encode()).hexdigest()
        store.save(rec)
        return "failed", rec
    sha = hashlib.sha256(raw).hexdigest()
    if not force and store.is_done(sha):
        return "skipped", None
    try:
        doc = load_bytes(raw, path.name, path=path)
    except ExtractorError as exc:
        rec = failed_record(path, str(exc), raw)
        store.save(rec)
        return "failed", rec
    except Exception as exc:  # a loader bug on odd input must not stop the batch either
        rec = failed_record(path, f"cannot read {path.name}: internal loader error: {type(exc).__name__}: {exc}", raw)
        store.save(rec)
        return "failed", rec
    try:
        rec = extract_document(doc, llm=llm, skipped_reason=skipped_reason)
    except ExtractorError as exc:
        rec = failed_record(path, str(exc), raw)
    except Exception as exc:  # a bug must not stop the batch: record it, go on
        rec = failed_record(path, f"internal error: {type(exc).__name__}: {exc}", raw)
    store.save(rec)
    return ("failed" if rec.decision == "failed" else "done"), rec


def run_batch(files: list[Path], store: Store, *, force: bool = False, llm: ModelSteps | None = None,
              skipped_reason: str | None = None,
              on_progress: Callable[[Path, str, Record | None], None] | None = None,
              concurrency: int = 1, downloads: Path | None = None,
              fetch_options: dict | None = None) -> BatchResult:
    """Process files (and http(s) URLs given as ``str``, see :func:`process_url`) one by one, or with
    ``concurrency`` > 1 in a thread pool whose SQLite writes all happen on the calling thread."""
    from .fetch import is_url  # noqa: PLC0415
    from .inputs import process_url  # noqa: PLC0415

    downloads = Path(downloads) if downloads else store.path.parent / "downloads"
    if concurrency > 1:
        from .parallel import run_parallel  # noqa: PLC0415

        return run_parallel(files, store, force=force, llm=llm, skipped_reason=skipped_reason,
                            on_progress=on_progress, concurrency=concurrency, downloads=downloads,
                            fetch_options=fetch_options, result=BatchResult())
    res = BatchResult()
    for f in files:
        if is_url(f):
            status, rec = process_url(str(f), store, downloads=downloads, force=force, llm=llm,
                                      skipped_reason=skipped_reason, fetch_options=fetch_options)
        else:
            status, rec = process_file(f, store, force=force, llm=llm, skipped_reason=skipped_reason)
        tally(res, f, status, rec)
        if on_progress:
            on_progress(f, status, rec)
    return res


def _refuse_before_reading(path: Path) -> str | None:
    """Why a file must not be read at all (too large for the loaders, not a regular file), or None."""
    try:
        st = path.stat()
    except OSError:
        return None  # read_bytes below reports it
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if st.st_size > loaders.MAX_BYTES:
        return f"file too large: {st.st_size} bytes (limit {loaders.MAX_BYTES}; set EXTRACTOR_MAX_BYTES)"
    return None


def tally(res: BatchResult, f: Path | str, status: str, rec: Record | None) -> None:
    if status == "skipped":
        res.skipped += 1
    else:
        res.processed += 1
        if rec is not None:
            res.decisions[rec.decision] = res.decisions.get(rec.decision, 0) + 1
            if rec.decision == "failed":
                res.failed += 1
                res.errors.append((str(f), rec.error or ""))
