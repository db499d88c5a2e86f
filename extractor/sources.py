"""One input path: a :class:`Source` (a file, an http(s) URL, or bytes with a name) to its record.

:func:`process` is the one way a document reaches extraction — ``extractor run`` (one by one and in
worker processes), the HTTP service's uploads, ``extractor check`` and ``extractor eval`` all call
it. Its stages, in order:

1. **fetch** (a URL): found in ``downloads/`` or downloaded; a URL that cannot be fetched is a
   ``failed`` record keyed by the URL's hash (see :mod:`.inputs`);
2. **read** (a file): refused unread when too large or not a regular file, else its bytes;
3. **skip**: bytes whose document is already done (``store.is_done``) are skipped unless ``force``;
4. **load** then **extract** within the document's time budget (``EXTRACTOR_DOC_SECONDS``): an
   error or the budget running out makes a ``failed`` record with its reason, never an exception;
5. **save** the record (failed ones too) in ``store``.

``store=None`` (check, eval) skips nothing and saves nothing. ``until`` stops after a stage — the
worker processes of :mod:`.parallel` load in one process and extract (with a model) in a thread of
another: :func:`process` ``until="loaded"`` there, then :func:`process_loaded`. A store that defers
its writes (``store.defer(fn)``, a thread of the parallel batch) gets every write handed over.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from .budget import doc_seconds
from .document import Document
from .fetch import Download, FetchError, cached_download, cached_meta, fetch, is_url, save_download, url_sha256
from .files import display, extract_loaded, load_document, path_sha256, refuse_before_reading
from .inputs import url_failed_record
from .model import Record
from .pipeline import ModelSteps, failed_record


@dataclass(frozen=True)
class Source:
    """One document to process: a file (``path``), an http(s) URL (``url``), or bytes in memory
    (``raw``) with the file ``name`` the loaders go by — an upload, a download. Bytes may carry
    the ``path`` they are kept at and the ``url`` they came from (provenance in the record)."""

    kind: Literal["file", "url", "bytes"]
    path: str | Path = ""
    url: str | None = None
    raw: bytes | None = None
    name: str = ""

    @classmethod
    def from_path(cls, path: str | Path) -> "Source":
        return cls("file", path=Path(path), name=Path(path).name)

    @classmethod
    def from_url(cls, url: str) -> "Source":
        return cls("url", url=url.strip(), name=url.strip())

    @classmethod
    def from_bytes(cls, raw: bytes, name: str, *, path: str | Path = "", url: str | None = None) -> "Source":
        return cls("bytes", path=path, url=url, raw=raw, name=name)

    @classmethod
    def of(cls, item: "Source | str | Path") -> "Source":
        """A Source as such, an http(s) URL given as ``str``, or a file."""
        if isinstance(item, Source):
            return item
        if isinstance(item, str) and is_url(item):
            return cls.from_url(item)
        return cls.from_path(item)


class Loaded(NamedTuple):
    """A loaded document and what its time budget left for extraction."""

    document: Document
    seconds: float  # left of the budget (0 = no budget)
    budget: float  # the whole budget


@dataclass
class Outcome:
    status: str  # "skipped" | "done" | "failed"; with ``until``: "fetched" | "loaded"
    record: Record | None
    stage: str | None = None  # where a failure happened: "fetch" | "load" | "extract"
    fetched: Source | None = None  # until="fetched": the downloaded bytes
    loaded: Loaded | None = None  # until="loaded": the document to extract


def process(source: Source | str | Path, store=None, *, force: bool = False, llm: ModelSteps | None = None,
            skipped_reason: str | None = None, downloads: str | Path | None = None,
            fetch_options: dict | None = None, until: Literal["fetched", "loaded"] | None = None) -> Outcome:
    """Load, extract and save one document (see the module docstring). Never raises for anything
    the document does; ``downloads``: where URLs' bytes are kept (default beside the store)."""
    source = Source.of(source)
    if source.kind == "url":
        if downloads is None:
            downloads = (store.path.parent if store is not None else Path(".")) / "downloads"
        got = _fetch(source.url or "", store, downloads=downloads, force=force, fetch_options=fetch_options)
        if isinstance(got, Outcome):
            return got
        source = Source.from_bytes(got.raw, got.name, path=got.path, url=source.url)
        if until == "fetched":
            return Outcome("fetched", None, fetched=source)
    if source.kind == "file":
        got = _read(Path(source.path), store, force=force)
        if isinstance(got, Outcome):
            return got
        raw, sha = got
        source = Source.from_bytes(raw, Path(source.path).name, path=Path(source.path))
    else:
        raw = source.raw or b""
        sha = hashlib.sha256(raw).hexdigest()
        if _done(store, sha, force):
            return Outcome("skipped", None)
    if until == "fetched":
        return Outcome("fetched", None, fetched=source)
    seconds = doc_seconds()
    start = time.monotonic()
    doc = load_document(raw, source.name, path=source.path, url=source.url, seconds=seconds)
    if not isinstance(doc, Document):
        rec, stage = doc
        _save(store, rec)
        return Outcome("failed", rec, stage)
    doc.known_sha256(raw, sha)  # hashed once, for the skip check
    left = max(seconds - (time.monotonic() - start), 0.001) if seconds else 0.0
    loaded = Loaded(doc, left, seconds)
    if until == "loaded":
        return Outcome("loaded", None, loaded=loaded)
    return process_loaded(loaded, store, llm=llm, skipped_reason=skipped_reason)


def process_loaded(loaded: Loaded, store=None, *, llm: ModelSteps | None = None,
                   skipped_reason: str | None = None) -> Outcome:
    """The last stages of :func:`process`: extract a loaded document within what its budget left,
    and save the record."""
    rec, stage = extract_loaded(loaded.document, llm=llm, skipped_reason=skipped_reason, seconds=loaded.seconds,
                                budget=loaded.budget)
    _save(store, rec)
    return Outcome("failed" if rec.decision == "failed" else "done", rec, stage)


# ----------------------------------------------------------------------------- stages


def _write(store, fn) -> None:
    """Run a store write now, or hand it to the writer when ``store`` defers writes; none without a store."""
    if store is None:
        return
    defer = getattr(store, "defer", None)
    if defer is not None:
        defer(fn)
    else:
        fn(store)


def _save(store, rec: Record) -> None:
    _write(store, lambda s: s.save(rec))


def _done(store, sha256: str, force: bool) -> bool:
    return store is not None and not force and store.is_done(sha256)


def _read(path: Path, store, *, force: bool) -> tuple[bytes, str] | Outcome:
    """A file's bytes to extract and their SHA-256, or the Outcome of one already done (skipped) or one that must not
    or cannot be read (failed, saved)."""
    refused = refuse_before_reading(path)
    if refused is not None:  # too large / not a regular file: fail by its path, never read it
        psha = path_sha256(path)
        if _done(store, psha, force):
            return Outcome("skipped", None)
        rec = failed_record(display(path), refused)
        rec.document.sha256 = psha
        _save(store, rec)
        return Outcome("failed", rec, "load")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        rec = failed_record(display(path), f"cannot read {display(path)}: {exc.strerror or exc}")
        rec.document.sha256 = path_sha256(path)
        _save(store, rec)
        return Outcome("failed", rec, "load")
    sha = hashlib.sha256(raw).hexdigest()
    if _done(store, sha, force):
        return Outcome("skipped", None)
    return raw, sha


def _fetch(url: str, store, *, downloads: str | Path, force: bool = False,
           fetch_options: dict | None = None) -> Download | Outcome:
    """The URL's bytes (downloaded, or found in ``downloads``), or the Outcome of a URL already done
    (skipped) or not downloadable (failed, saved)."""
    meta = cached_meta(url, downloads)
    if meta is not None and _done(store, meta["sha256"], force):
        return Outcome("skipped", None)  # finished before: no network access at all
    dl: Download | None = cached_download(url, downloads) if meta is not None else None
    if dl is None:
        try:
            dl = fetch(url, **(fetch_options or {}))
        except FetchError as exc:
            return _fetch_failed(store, url, f"download failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - an odd URL or answer must not stop the batch
            return _fetch_failed(store, url, f"download failed: {type(exc).__name__}: {exc}"[:500])
        try:
            save_download(dl, downloads)
        except OSError as exc:
            return _fetch_failed(store, url, f"cannot save the download under {downloads}: {exc.strerror or exc}")
    _write(store, lambda s: s.forget_url_failure(url_sha256(url), url))
    return dl


def _fetch_failed(store, url: str, error: str) -> Outcome:
    rec = url_failed_record(url, error)
    _save(store, rec)
    return Outcome("failed", rec, "fetch")
