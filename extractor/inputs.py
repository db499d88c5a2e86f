"""Inputs beyond local files: http(s) URLs, and which shard an input belongs to.

The library side of ``extractor run URL... --urls FILE --shard i/N``; a URL is processed by
:func:`extractor.sources.process` like every input. Nothing here prints; a URL that cannot be
downloaded becomes a ``failed`` record with a clear error and the batch goes on.

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
from pathlib import Path
from typing import Iterable

from . import loaders
from .errors import ExtractorError
from .fetch import _name_from, is_url, url_sha256
from .files import discover
from .model import Record
from .pipeline import failed_record

Input = Path | str  # a file, or an http(s) URL

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


# ----------------------------------------------------------------------------- failures


def url_failed_record(url: str, error: str) -> Record:
    """The record of a URL that could not be downloaded (keyed by the URL's hash)."""
    rec = failed_record(_name_from(url, "", None), error)
    rec.document.path = ""
    rec.document.url = url
    rec.document.sha256 = url_sha256(url)
    return rec
