"""Inputs beyond local files: http(s) URLs, bytes already in memory, and which shard an input belongs to.

The library side of ``extractor run URL... --urls FILE --shard i/N`` and of the HTTP service. Nothing
here prints; every failure becomes a ``failed`` record with a clear error and the batch goes on.

A URL's document carries the URL as provenance (``Record.document.url``) and the path of its bytes
under ``<out>/downloads/<sha256>.<ext>`` (``document.path``). A re-run finds the URL in the
downloads index and skips it without any network access when its document is finished; a URL whose
download failed is fetched again on the next run (its failed record is keyed by the URL's hash and
replaced once the download succeeds).

Shards: an input's shard key is the SHA-256 of its bytes (for a URL, of the URL string; for a file
the loaders refuse by size, of its path, so it is never read), taken modulo ``N``; ``i`` is 0-based.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from . import loaders
from .files import discover, extract_bytes, load_document
from .document import Document
from .errors import ExtractorError
from .fetch import (Download, FetchError, _name_from, cached_download, cached_meta, fetch, is_url, save_download,
                    url_sha256)
from .model import Record
from .pipeline import ModelSteps, failed_record

Input = Path | str  # a file, or an http(s) URL


@dataclass
class Outcome:
    status: str  # "skipped" | "done" | "failed"
    record: Record | None
    stage: str | None = None  # where a failure happened: "fetch" | "load" | "extract"


# ----------------------------------------------------------------------------- inputs


def discover_inputs(items: Iterable[str | Path]) -> list[Input]:
    """Files under the given files/folders (as :func:`~extractor.batch.discover`) and URLs (kept as
    strings), in the order given, without duplicates."""
    out: list[Input] = []
    seen: set[object] = set()
    for it in items:
        if isinstance(it, str) and is_url(it):
            u = it.strip()
            if u not in seen:
                seen.add(u)
                out.append(u)
            continue
        for f in discover([it]):
            r = f.resolve()
            if r not in seen:
                seen.add(r)
                out.append(f)
    return out


# ----------------------------------------------------------------------------- shards


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/N"`` (0 <= i < N) → (i, N)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
    if not m:
        raise ExtractorError(f"--shard must look like i/N (e.g. 0/4), got {spec!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise ExtractorError(f"--shard {spec}: need N >= 1 and 0 <= i < N (shards are numbered from 0)")
    return i, n


def shard_key(item: Input) -> str:
    """The hex SHA-256 an input is sharded by (see the module docstring)."""
    if isinstance(item, str) and is_url(item):
        return url_sha256(item.strip())
    p = Path(item)
    h = hashlib.sha256()
    try:
        if p.stat().st_size > loaders.MAX_BYTES or not p.is_file():
            return hashlib.sha256(os.fsencode(p)).hexdigest()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return hashlib.sha256(os.fsencode(p)).hexdigest()
    return h.hexdigest()


def shard_of(item: Input, count: int) -> int:
    return int(shard_key(item), 16) % count


def select_shard(items: Iterable[Input], index: int, count: int) -> list[Input]:
    """The inputs of shard ``index`` of ``count``: disjoint across shards, together all of them."""
    if count <= 1:
        return list(items)
    return [it for it in items if shard_of(it, count) == index]


# ----------------------------------------------------------------------------- processing


def _write(store, fn) -> None:
    """Run a store write now, or hand it to the writer thread when ``store`` defers writes."""
    defer = getattr(store, "defer", None)
    if defer is not None:
        defer(fn)
    else:
        fn(store)


def process_bytes(raw: bytes, name: str, store, *, path: str | Path = "", url: str | None = None,
                  force: bool = False, llm: ModelSteps | None = None,
                  skipped_reason: str | None = None) -> Outcome:
    """Process one document given as bytes (a download, an upload) and save its record."""
    sha = hashlib.sha256(raw).hexdigest()
    if not force and store.is_done(sha):
        return Outcome("skipped", None)
    rec, stage = extract_bytes(raw, name, path=path, url=url, llm=llm, skipped_reason=skipped_reason)
    _write(store, lambda s: s.save(rec))
    return Outcome("failed" if rec.decision == "failed" else "done", rec, stage)


def load_input(raw: bytes, name: str, store, *, path: str | Path = "", url: str | None = None,
               force: bool = False, seconds: float | None = None) -> Document | Outcome:
    """:func:`process_bytes` up to the loaded Document (its extraction happens elsewhere), or the
    Outcome of a document already done (skipped) or one that cannot be loaded (failed, saved)."""
    sha = hashlib.sha256(raw).hexdigest()
    if not force and store.is_done(sha):
        return Outcome("skipped", None)
    got = load_document(raw, name, path=path, url=url, seconds=seconds)
    if isinstance(got, Document):
        return got
    rec, stage = got
    _write(store, lambda s: s.save(rec))
    return Outcome("failed", rec, stage)


def url_failed_record(url: str, error: str) -> Record:
    """The record of a URL that could not be downloaded (keyed by the URL's hash)."""
    rec = failed_record(_name_from(url, "", None), error)
    rec.document.path = ""
    rec.document.url = url
    rec.document.sha256 = url_sha256(url)
    return rec


def _forget_url_failure(store, url: str) -> None:
    sha = url_sha256(url)
    db = store.db
    with db:
        db.execute("DELETE FROM records WHERE sha256=? AND EXISTS "
                   "(SELECT 1 FROM documents WHERE sha256=? AND url=? AND status IN ('failed','error'))",
                   (sha, sha, url))
        db.execute("DELETE FROM documents WHERE sha256=? AND url=? AND status IN ('failed','error')", (sha, url))


def process_url_outcome(url: str, store, *, downloads: str | Path, force: bool = False,
                        llm: ModelSteps | None = None, skipped_reason: str | None = None,
                        fetch_options: dict | None = None) -> Outcome:
    url = url.strip()
    got = fetch_input(url, store, downloads=downloads, force=force, fetch_options=fetch_options)
    if isinstance(got, Outcome):
        return got
    return process_bytes(got.raw, got.name, store, path=got.path, url=url, force=force, llm=llm,
                         skipped_reason=skipped_reason)


def fetch_input(url: str, store, *, downloads: str | Path, force: bool = False,
                fetch_options: dict | None = None) -> Download | Outcome:
    """The first stage of :func:`process_url_outcome`: the URL's bytes (downloaded, or found in
    ``downloads``), or the Outcome of a URL already done (skipped) or not downloadable (failed)."""
    url = url.strip()
    meta = cached_meta(url, downloads)
    if meta is not None and not force and store.is_done(meta["sha256"]):
        return Outcome("skipped", None)  # finished before: no network access at all
    dl: Download | None = cached_download(url, downloads) if meta is not None else None
    if dl is None:
        try:
            dl = fetch(url, **(fetch_options or {}))
        except FetchError as exc:
            rec = url_failed_record(url, f"download failed: {exc}")
            _write(store, lambda s: s.save(rec))
            return Outcome("failed", rec, "fetch")
        except Exception as exc:  # noqa: BLE001 - an odd URL or answer must not stop the batch
            rec = url_failed_record(url, f"download failed: {type(exc).__name__}: {exc}"[:500])
            _write(store, lambda s: s.save(rec))
            return Outcome("failed", rec, "fetch")
        try:
            save_download(dl, downloads)
        except OSError as exc:
            rec = url_failed_record(url, f"cannot save the download under {downloads}: {exc.strerror or exc}")
            _write(store, lambda s: s.save(rec))
            return Outcome("failed", rec, "fetch")
    _write(store, lambda s: _forget_url_failure(s, url))
    return dl


def process_url(url: str, store, *, downloads: str | Path, force: bool = False, llm: ModelSteps | None = None,
                skipped_reason: str | None = None, fetch_options: dict | None = None) -> tuple[str, Record | None]:
    """Download (or find in ``downloads``) one URL and process it; returns ("skipped"|"done"|"failed", record)."""
    o = process_url_outcome(url, store, downloads=downloads, force=force, llm=llm, skipped_reason=skipped_reason,
                            fetch_options=fetch_options)
    return o.status, o.record
