"""Download a report from an http(s) URL: bounded in size, time and redirects; bytes kept as provenance.

``fetch(url)`` returns a :class:`Download` holding the original bytes (never transcoded: GBK/GB2312
pages are decoded later by the loaders, so spans point into the bytes as published), the URL asked
for, the final URL after redirects and a file name whose extension matches the content as sniffed
from its bytes (the ``Content-Type`` header and the URL's suffix are only hints).

Limits: the body is streamed and the download aborted as soon as it passes ``max_bytes`` (a
``Content-Length`` over the cap is refused before any body is read; gzip is counted decompressed);
connect/read timeouts plus an overall deadline; at most ``max_redirects`` hops, http(s) only.
Transient failures (connection errors, timeouts, HTTP 429/5xx) are retried with exponential
backoff; everything else fails at once with a :class:`FetchError` whose message says what happened.

``save_download``/``cached_download`` keep the bytes under ``<out>/downloads/<sha256>.<ext>`` with a
small per-URL index (``downloads/by-url/<sha256 of the URL>.json``), so a re-run finds a URL's bytes
without fetching it again. The index is plain files, written atomically, safe from worker threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from . import __version__
from .errors import LoadError
from . import loaders as _loaders
from .loaders import SUPPORTED_SUFFIXES, sniff

USER_AGENT = f"extractor/{__version__} (government information-disclosure report reader)"
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
CHUNK = 64 * 1024

# magic bytes of formats the loaders do not read, with the error the user sees
_UNSUPPORTED_MAGIC: list[tuple[bytes, str]] = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Word/Excel file (OLE2 .doc/.xls/.wps); save it as .docx or PDF"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "an ELF executable"),
    (b"{\\rtf", "an RTF document; save it as .docx or PDF"),
    (b"\x00\x00\x00\x18ftyp", "a video file"),
    (b"\x00\x00\x00\x20ftyp", "a video file"),
]

_KIND_SUFFIX = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "text": ".txt", "markdown": ".md"}
_IMAGE_SUFFIX = [
    (b"\x89PNG", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"),
    (b"BM", ".bmp"), (b"RIFF", ".webp"),
]
_CT_SUFFIX = {
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
}


class FetchError(LoadError):
    """A URL could not be downloaded (the message says why); ``transient`` errors are worth a retry."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class Download:
    url: str  # as asked for
    final_url: str  # after redirects
    raw: bytes = field(repr=False)
    content_type: str  # the server's header (a hint only)
    kind: str  # sniffed from the bytes: pdf | docx | html | text | markdown | image | zip
    name: str  # file name for the loaders, its extension matching ``kind``
    sha256: str
    redirects: list[str] = field(default_factory=list)
    status: int = 200
    fetched_at: float = 0.0
    path: str = ""  # where the bytes were saved (``save_download``)
    cached: bool = False  # read back from ``downloads/`` instead of the network

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix


def is_url(s: object) -> bool:
    """True for an http(s) URL with a host (anything else is a local path)."""
    if not isinstance(s, str) or not s[:8].lower().startswith(("http://", "https://")):
        return False
    return bool(urlsplit(s.strip()).netloc)


def url_sha256(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def unsupported_reason(raw: bytes) -> str | None:
    """Why these bytes are not a report the loaders can read (by magic bytes), or None."""
    for magic, what in _UNSUPPORTED_MAGIC:
        if raw.startswith(magic):
            return what
    if raw.startswith(b"PK\x03\x04") and sniff(raw, "") == "zip":
        return "a ZIP archive that is not a Word .docx document"
    return None


def read_url_list(path: str | Path) -> list[str]:
    """URLs from a file: one per line; blank lines and ``#`` comments (whole-line or trailing) ignored."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LoadError(f"cannot read URL list {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LoadError(f"URL list {p} is not UTF-8 text") from exc
    urls: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        if not is_url(line):
            raise LoadError(f"{p}:{n}: not an http(s) URL: {line[:120]}")
        urls.append(line)
    return urls


# ----------------------------------------------------------------------------- names


def _name_from(url: str, content_type: str, disposition: str | None) -> str:
    name = ""
    if disposition:
        m = re.search(r"filename\*\s*=\s*[^']*'[^']*'([^;]+)", disposition, re.I) or re.search(
            r'filename\s*=\s*"?([^";]+)"?', disposition, re.I
        )
        if m:
            name = unquote(m.group(1).strip())
    if not name:
        name = unquote(PurePosixPath(urlsplit(url).path).name)
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .") or "download"
    return name[:150]


def name_for(url: str, raw: bytes, content_type: str = "", disposition: str | None = None) -> tuple[str, str]:
    """(file name, kind) for downloaded bytes: the URL's (or Content-Disposition's) name, extension fixed
    to match what the bytes are."""
    return fix_name(_name_from(url, content_type, disposition), raw, content_type)


def fix_name(base: str, raw: bytes, content_type: str = "") -> tuple[str, str]:
    """(file name, kind): ``base`` with its extension fixed to match what the bytes are (sniffed)."""
    base = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", base).strip(" .")[:150] or "download"
    suffix = PurePosixPath(base).suffix.lower()
    hint = base
    ct = content_type.split(";")[0].strip().lower()
    if suffix not in SUPPORTED_SUFFIXES and ct in _CT_SUFFIX:
        hint = base + _CT_SUFFIX[ct]
    kind = sniff(raw, hint)
    if kind == "image":
        want = next((s for m, s in _IMAGE_SUFFIX if raw.startswith(m)), ".png")
        ok = suffix == want or (want, suffix) in {(".jpg", ".jpeg"), (".tif", ".tiff")}
    elif kind == "zip":
        want, ok = ".zip", suffix == ".zip"
    else:
        want = _KIND_SUFFIX[kind]
        ok = (kind == "html" and suffix in {".html", ".htm", ".xhtml", ".shtml"}) or suffix == want or (
            kind == "text" and suffix in {".txt", ".text", ".csv", ".tsv"}
        )
    if ok:
        return base, kind
    stem = base[: -len(suffix)] if suffix and len(suffix) <= 8 else base
    return (stem or "download") + want, kind


# ----------------------------------------------------------------------------- fetching


def _client(connect_timeout: float, read_timeout: float):
    import httpx  # noqa: PLC0415

    return httpx.Client(
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
        trust_env=True,
    )


def _fetch_once(client, url: str, *, max_bytes: int, max_redirects: int, deadline: float) -> Download:
    import httpx  # noqa: PLC0415

    chain: list[str] = []
    current = url
    for _hop in range(max_redirects + 1):
        try:
            with client.stream("GET", current) as r:
                if r.status_code in (301, 302, 303, 307, 308) and "location" in r.headers:
                    nxt = urljoin(current, r.headers["location"])
                    if not is_url(nxt):
                        raise FetchError(f"redirect from {current} to a non-http(s) location: {nxt[:200]}")
                    chain.append(current)
                    current = nxt
                    continue
                if r.status_code >= 400:
                    raise FetchError(
                        f"HTTP {r.status_code} {r.reason_phrase or ''} from {current}".rstrip(),
                        transient=r.status_code in TRANSIENT_STATUS,
                    )
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(
                        f"download too large: Content-Length {int(declared)} bytes (limit {max_bytes}; "
                        "set EXTRACTOR_MAX_BYTES)"
                    )
                buf = bytearray()
                for chunk in r.iter_bytes(CHUNK):  # decoded (gzip counted as it expands)
                    buf += chunk
                    if len(buf) > max_bytes:
                        raise FetchError(
                            f"download too large: more than {max_bytes} bytes, aborted (limit {max_bytes}; "
                            "set EXTRACTOR_MAX_BYTES)"
                        )
                    if time.monotonic() > deadline:
                        raise FetchError(f"download of {url} took too long (overall deadline passed)",
                                         transient=True)
                raw = bytes(buf)
                ctype = r.headers.get("content-type", "")
                name, kind = name_for(str(r.url), raw, ctype, r.headers.get("content-disposition"))
                return Download(
                    url=url, final_url=str(r.url), raw=raw, content_type=ctype, kind=kind, name=name,
                    sha256=hashlib.sha256(raw).hexdigest(), redirects=chain, status=r.status_code,
                    fetched_at=time.time(),
                )
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            what = {"ConnectTimeout": "connecting", "ReadTimeout": "waiting for data", "WriteTimeout": "sending",
                    "PoolTimeout": "waiting for a connection"}.get(type(exc).__name__, "")
            raise FetchError(f"timed out {what} ({current})".replace("  ", " "), transient=True) from exc
        except httpx.TransportError as exc:  # connect/read errors, protocol errors, DNS
            raise FetchError(f"network error fetching {current}: {type(exc).__name__}: {exc}".rstrip(": "),
                             transient=True) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch {current}: {exc}") from exc
    raise FetchError(f"too many redirects (more than {max_redirects}) starting at {url}")


def fetch(
    url: str,
    *,
    max_bytes: int | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    total_timeout: float = 300.0,
    max_redirects: int = 5,
    retries: int = 3,
    backoff: float = 1.0,
    client=None,
) -> Download:
    """Download one URL (see the module docstring). Raises :class:`FetchError`."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential  # noqa: PLC0415

    url = url.strip()
    if not is_url(url):
        raise FetchError(f"not an http(s) URL: {url[:200]}")
    cap = _loaders.MAX_BYTES if max_bytes is None else max_bytes
    own = client is None
    client = client or _client(connect_timeout, read_timeout)
    deadline = time.monotonic() + total_timeout
    attempts = max(1, retries)
    try:
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=backoff, min=0, max=30),
            retry=retry_if_exception(lambda e: isinstance(e, FetchError) and e.transient
                                     and time.monotonic() < deadline),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return _fetch_once(client, url, max_bytes=cap, max_redirects=max_redirects, deadline=deadline)
        except FetchError as exc:
            if exc.transient and attempts > 1:
                raise FetchError(f"{exc} (gave up after {attempts} attempts)", transient=True) from exc
            raise
    finally:
        if own:
            client.close()
    raise AssertionError("unreachable")  # pragma: no cover


# ----------------------------------------------------------------------------- the downloads folder


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(data)}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def save_download(dl: Download, downloads_dir: str | Path) -> Path:
    """Keep the bytes as ``<downloads>/<sha256>.<ext>`` and index the URL; returns the file's path."""
    d = Path(downloads_dir)
    (d / "by-url").mkdir(parents=True, exist_ok=True)
    target = d / f"{dl.sha256}{dl.suffix or '.bin'}"
    if not (target.exists() and target.stat().st_size == len(dl.raw)):
        _atomic_write(target, dl.raw)
    dl.path = str(target)
    meta = {k: v for k, v in asdict(dl).items() if k not in ("raw", "cached")}
    meta["file"] = target.name
    meta["bytes"] = len(dl.raw)
    _atomic_write(d / "by-url" / f"{url_sha256(dl.url)}.json", json.dumps(meta, ensure_ascii=False, indent=1).encode())
    return target


def cached_meta(url: str, downloads_dir: str | Path) -> dict | None:
    """The index entry of a URL fetched before (without reading its bytes), or None."""
    p = Path(downloads_dir) / "by-url" / f"{url_sha256(url.strip())}.json"
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("sha256") and meta.get("file") else None


def cached_download(url: str, downloads_dir: str | Path) -> Download | None:
    """A URL's bytes from ``downloads/`` when present and intact (hash checked), else None."""
    meta = cached_meta(url, downloads_dir)
    if meta is None:
        return None
    f = Path(downloads_dir) / Path(meta["file"]).name
    try:
        raw = f.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
        return None
    return Download(
        url=url.strip(), final_url=meta.get("final_url") or url, raw=raw, content_type=meta.get("content_type", ""),
        kind=meta.get("kind", ""), name=meta.get("name") or f.name, sha256=meta["sha256"],
        redirects=list(meta.get("redirects") or []), status=int(meta.get("status") or 200),
        fetched_at=float(meta.get("fetched_at") or 0), path=str(f), cached=True,
    )
