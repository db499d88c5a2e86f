"""The stages of one document (load, extract: each within the time budget, an error a failed
record), and what every batch mode shares: finding report files, the key of a file never read,
the batch's tally. :func:`extractor.sources.process` runs the stages for every input. No printing here.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import loaders
from .budget import TimeBudgetExceeded, doc_seconds, time_budget, time_budget_message
from .document import Document
from .errors import ExtractorError
from .loaders import SUPPORTED_SUFFIXES, load_bytes
from .model import Record
from .pipeline import ModelSteps, extract_document, failed_record


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


def display(s: str | Path) -> str:
    """A path or name as valid text: bytes of a file name that are not UTF-8 (surrogate-escaped by
    the OS layer) are shown as ``\\xNN``, so the name can be stored and printed."""
    s = str(s)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        try:
            return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return s.encode("utf-8", "backslashreplace").decode("utf-8")


def path_sha256(path: str | Path) -> str:
    """The key of a document that was never read (refused, unreadable): the hash of its path's bytes."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()


def load_document(raw: bytes, name: str, *, path: str | Path = "", url: str | None = None,
                  seconds: float | None = None) -> Document | tuple[Record, str]:
    """Load one document's bytes: the Document, or ``(failed record, "load")``.
    ``seconds``: its time budget (default the document's; 0 = none)."""
    seconds = doc_seconds() if seconds is None else seconds
    name, label = display(name), display(path or name)
    try:
        with time_budget(seconds):
            try:
                doc = load_bytes(raw, name, path=label if path else "")
            except ExtractorError as exc:
                msg = str(exc)
            except Exception as exc:  # noqa: BLE001 - a loader bug on odd input must not stop the batch
                msg = f"cannot read {name}: internal loader error: {type(exc).__name__}: {exc}"
            else:
                doc.url = url
                return doc
    except TimeBudgetExceeded as exc:
        msg = time_budget_message(seconds, exc)
    return _failed(raw, name, label, url, msg), "load"


def extract_loaded(doc: Document, *, llm: ModelSteps | None = None, skipped_reason: str | None = None,
                   seconds: float | None = None, budget: float | None = None) -> tuple[Record, str | None]:
    """Extract a loaded document: its record within ``seconds`` (what its time budget
    ``budget`` left after loading); an error becomes a failed record ``(record, "extract")``."""
    seconds = doc_seconds() if seconds is None else seconds
    name, label = doc.name, doc.path or doc.name
    try:
        with time_budget(seconds):
            try:
                rec = extract_document(doc, llm=llm, skipped_reason=skipped_reason)
            except ExtractorError as exc:
                return _failed(doc.raw, name, label, doc.url, str(exc)), "extract"
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the batch: record it, go on
                return _failed(doc.raw, name, label, doc.url, f"internal error: {type(exc).__name__}: {exc}"), "extract"
    except TimeBudgetExceeded as exc:
        return _failed(doc.raw, name, label, doc.url, time_budget_message(seconds if budget is None else budget,
                                                                           exc)), "extract"
    return rec, ("extract" if rec.decision == "failed" else None)


def _failed(raw: bytes, name: str, label: str, url: str | None, msg: str) -> Record:
    rec = failed_record(label, msg, raw)
    rec.document.name = name
    rec.document.url = url
    return rec


def refuse_before_reading(path: Path) -> str | None:
    """Why a file must not be read at all (too large for the loaders, not a regular file), or None."""
    try:
        st = path.stat()
    except OSError:
        return None  # read_bytes below reports it
    if not stat.S_ISREG(st.st_mode):
        return f"{display(path)} is not a regular file"
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
                res.errors.append((display(f), rec.error or ""))
