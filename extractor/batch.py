"""Batch processing: find report files, skip finished ones, extract, store — resumable.

The library side of ``extractor run``: no printing here; progress goes through a callback.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

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
              on_progress: Callable[[Path, str, Record | None], None] | None = None) -> BatchResult:
    res = BatchResult()
    for f in files:
        status, rec = process_file(f, store, force=force, llm=llm, skipped_reason=skipped_reason)
        if status == "skipped":
            res.skipped += 1
        else:
            res.processed += 1
            if rec is not None:
                res.decisions[rec.decision] = res.decisions.get(rec.decision, 0) + 1
                if rec.decision == "failed":
                    res.failed += 1
                    res.errors.append((str(f), rec.error or ""))
        if on_progress:
            on_progress(f, status, rec)
    return res
