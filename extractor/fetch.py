"""Download a report from an http(s) URL: bounded in size, time and redirects; bytes kept as provenance.

``fetch(url)`` returns a :class:`Download` holding the original bytes (never transcoded: GBK/GB2312
pages are decoded later by the loaders, so spans point into the bytes as published), the URL asked
for, the final URL after redirects and a file name whose extension matches the content as sniffed
from its bytes (the ``Content-Type`` header and the URL's suffix are only hints).

Limits: the body is streamed and the download aborted as soon as it passes ``max_bytes`` (a
``Content-Length`` over the cap is refused before any body is read; gzip/deflate are decoded here,
layer by layer in 64 KiB steps and counted decompressed, so ``Content-Encoding: gzip, gzip`` bombs
cost no memory); connect/read timeouts plus an overall deadline that holds against a server
trickling its headers or body (a watchdog shuts the sockets down); at most ``max_redirects`` hops,
http(s) only; hosts on loopback, private, link-local or reserved addresses are refused unless
``allow_private`` (checked on the name's addresses and on the connected peer).
Transient failures (connection errors, timeouts, HTTP 429/5xx) are retried with exponential
backoff; everything else fails at once with a :class:`FetchError` whose message says what happened.

``save_download``/``cached_download`` keep the bytes under ``<out>/downloads/<sha256>.<ext>`` with a
small per-URL index (``downloads/by-url/<sha256 of the URL>.json``), so a re-run finds a URL's bytes
without fetching it again. The index is plain files, written atomically, safe from worker threads.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import socket
import threading
import time
import zlib
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
ACCEPT_ENCODING = "gzip, deflate"  # the codings _inflate decodes (bounded); never br/zstd

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
        headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": ACCEPT_ENCODING},
        # a fresh connection per request: the deadline watchdog sees (and can shut) every socket
        limits=httpx.Limits(max_keepalive_connections=0),
        trust_env=True,
    )


# ----------------------------------------------------------------------------- address policy


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of non-public address ``ip`` is ("loopback", "private", ...), or None when public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attr, what in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_unspecified", "unspecified"), ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return what
    return None if ip.is_global else "non-public"


def _refusal(host: str, ip: str, what: str) -> "FetchError":
    return FetchError(f"refused to fetch from {host}: it is a {what} address ({ip}); local and private networks "
                      "need --allow-private (library: allow_private=True)")


def check_target(url: str, *, allow_private: bool = False) -> None:
    """Refuse a URL whose host is, or resolves to, a loopback/private/link-local/reserved address
    (unless ``allow_private``). A name that does not resolve is left to the connection to report."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        ip = None
    if ip is not None:
        what = _not_public(ip)
        if what:
            raise _refusal(host, str(ip), what)
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return
    for info in infos:
        addr = str(info[4][0]).split("%")[0]
        try:
            what = _not_public(ipaddress.ip_address(addr))
        except ValueError:
            continue
        if what:
            raise _refusal(host, addr, what)


def _proxied(url: str) -> bool:
    """True when the environment sends ``url`` through a proxy (then the peer is the proxy, not the host)."""
    import urllib.request  # noqa: PLC0415

    proxies = urllib.request.getproxies()
    scheme = urlsplit(url).scheme
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(urlsplit(url).hostname or "")


class _Guard:
    """One download's overall deadline and address policy, enforced on its sockets.

    httpcore reports every new connection through the ``trace`` extension; the guard keeps its socket,
    refuses a peer on a non-public address (DNS names that changed since :func:`check_target`), and
    when the deadline passes shuts every socket down from a timer thread, so a server that trickles its
    headers or body a byte at a time cannot hold the download past the deadline (a per-read timeout
    never trips on it)."""

    def __init__(self, deadline: float, *, allow_private: bool) -> None:
        self.deadline = deadline
        self.allow_private = allow_private
        self.check_peer = True
        self.socks: list[socket.socket] = []
        self.lock = threading.Lock()
        self.expired = False
        self.refused: FetchError | None = None
        self.timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self.timer.daemon = True
        self.timer.start()

    def trace(self, event: str, info: dict) -> None:
        if not event.endswith(".complete") or event not in ("connection.connect_tcp.complete",
                                                            "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            self.watch(sock)
            if event == "connection.connect_tcp.complete" and self.check_peer and not self.allow_private:
                try:
                    addr = str(sock.getpeername()[0]).split("%")[0]
                    what = _not_public(ipaddress.ip_address(addr))
                except (OSError, ValueError, IndexError):
                    what = None
                if what:
                    self.refused = _refusal(addr, addr, what)
                    _shut(sock)

    def watch(self, sock) -> None:
        with self.lock:
            if self.expired:
                _shut(sock)
            else:
                self.socks.append(sock)

    def _expire(self) -> None:
        with self.lock:
            self.expired = True
            for sk in self.socks:
                _shut(sk)

    def passed(self) -> bool:
        return self.expired or time.monotonic() > self.deadline

    def cancel(self) -> None:
        self.timer.cancel()


def _shut(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# ----------------------------------------------------------------------------- bounded decoding


def _decoders(content_encoding: str) -> list[str]:
    """The decoders to apply, outermost coding first (``gzip, gzip`` → two gzip layers)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    out = []
    for c in reversed(codings):  # the last coding applied is removed first
        if c in ("identity", ""):
            continue
        if c in ("gzip", "x-gzip", "deflate"):
            out.append("deflate" if c == "deflate" else "gzip")
        else:
            raise FetchError(f"unsupported Content-Encoding {c!r} (only gzip and deflate are read)")
    return out


def _inflate(chunks, coding: str, cap: int):
    """Decode one content coding as a stream, never more than ``CHUNK`` bytes out per step, so a
    decompression bomb costs no memory: the caller stops reading once the cap is passed. Gzip
    members that follow each other are all read; ``deflate`` is zlib-wrapped or raw."""
    wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    first = True
    total = 0
    for chunk in chunks:
        data = chunk
        while data:
            try:
                out = d.decompress(data, CHUNK)
            except zlib.error as exc:
                if first and coding == "deflate":  # raw deflate without the zlib header
                    d = zlib.decompressobj(-zlib.MAX_WBITS)
                    first = False
                    continue
                raise FetchError(f"the {coding} content is damaged: {exc}") from exc
            first = False
            data = d.unconsumed_tail
            if d.eof and d.unused_data:  # another gzip member follows
                data = d.unused_data + data
                d = zlib.decompressobj(wbits)
            if out:
                total += len(out)
                if total > cap:
                    raise FetchError(f"download too large: more than {cap} bytes once decompressed ({coding}), "
                                     f"aborted (limit {cap}; set EXTRACTOR_MAX_BYTES)")
                yield out
    tail = d.flush(CHUNK)
    if tail:
        yield tail


def _body(r, max_bytes: int, guard: _Guard, url: str):
    """The decoded body of response ``r``: raw bytes from the network, decoded here layer by layer
    (bounded), counted against ``max_bytes``, the deadline checked at every network read."""

    def raw():
        for chunk in r.iter_raw(CHUNK):
            if guard.passed():
                raise _deadline_error(url, guard)
            yield chunk

    stream = raw()
    codings = _decoders(r.headers.get("content-encoding", ""))
    for coding in codings:
        stream = _inflate(stream, coding, max_bytes + CHUNK)
    encoded = f" once decompressed (Content-Encoding: {r.headers.get('content-encoding')})" if codings else ""
    buf = bytearray()
    for chunk in stream:
        buf += chunk
        if len(buf) > max_bytes:
            raise FetchError(f"download too large: more than {max_bytes} bytes{encoded}, aborted (limit {max_bytes}; "
                             "set EXTRACTOR_MAX_BYTES)")
        if guard.passed():
            raise _deadline_error(url, guard)
    return bytes(buf)


def _deadline_error(url: str, guard: _Guard) -> "FetchError":
    return FetchError(f"download of {url} took too long: the overall deadline passed (slow server)")


def _fetch_once(client, url: str, *, max_bytes: int, max_redirects: int, guard: _Guard) -> Download:
    import httpx  # noqa: PLC0415

    chain: list[str] = []
    current = url
    for _hop in range(max_redirects + 1):
        if guard.passed():
            raise _deadline_error(url, guard)
        check_target(current, allow_private=guard.allow_private)
        guard.check_peer = not _proxied(current)
        try:
            with client.stream("GET", current, headers={"Accept-Encoding": ACCEPT_ENCODING},
                               extensions={"trace": guard.trace}) as r:
                ns = r.extensions.get("network_stream")
                sock = ns.get_extra_info("socket") if ns is not None else None
                if sock is not None:
                    guard.watch(sock)
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
                raw = _body(r, max_bytes, guard, url)
                ctype = r.headers.get("content-type", "")
                name, kind = name_for(str(r.url), raw, ctype, r.headers.get("content-disposition"))
                return Download(
                    url=url, final_url=str(r.url), raw=raw, content_type=ctype, kind=kind, name=name,
                    sha256=hashlib.sha256(raw).hexdigest(), redirects=chain, status=r.status_code,
                    fetched_at=time.time(),
                )
        except FetchError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the network or the server does: one clear error
            if guard.refused is not None:
                raise guard.refused from exc
            if guard.passed():
                raise _deadline_error(url, guard) from exc
            if isinstance(exc, httpx.TimeoutException):
                what = {"ConnectTimeout": "connecting", "ReadTimeout": "waiting for data",
                        "WriteTimeout": "sending", "PoolTimeout": "waiting for a connection"}.get(type(exc).__name__, "")
                raise FetchError(f"timed out {what} ({current})".replace("  ", " "), transient=True) from exc
            if isinstance(exc, httpx.TransportError):  # connect/read errors, protocol errors, DNS
                raise FetchError(f"network error fetching {current}: {type(exc).__name__}: {exc}".rstrip(": "),
                                 transient=True) from exc
            if isinstance(exc, httpx.InvalidURL) or "url" in type(exc).__name__.lower():
                where = f" (redirected from {chain[-1]})" if chain else ""
                raise FetchError(f"invalid URL {current[:200]}{where}: {exc}") from exc
            raise FetchError(f"cannot fetch {current}: {type(exc).__name__}: {exc}") from exc
    raise FetchError(f"too many redirects (more than {max_redirects}) starting at {url}")


def fetch_seconds() -> float:
    """The overall deadline of one download: ``EXTRACTOR_FETCH_SECONDS`` (default 300)."""
    try:
        v = float(os.environ.get("EXTRACTOR_FETCH_SECONDS", "") or 300.0)
    except ValueError:
        v = 300.0
    return v if v > 0 else 300.0


def fetch(
    url: str,
    *,
    max_bytes: int | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    total_timeout: float | None = None,
    max_redirects: int = 5,
    retries: int = 3,
    backoff: float = 1.0,
    allow_private: bool = False,
    client=None,
) -> Download:
    """Download one URL (see the module docstring). Raises :class:`FetchError`.

    ``total_timeout`` (default ``EXTRACTOR_FETCH_SECONDS``, 300) bounds the whole download, retries
    included, even against a server that trickles its answer; hosts on loopback/private/link-local/reserved addresses are refused unless
    ``allow_private``."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential  # noqa: PLC0415

    url = url.strip()
    if not is_url(url):
        raise FetchError(f"not an http(s) URL: {url[:200]}")
    if total_timeout is None:
        total_timeout = fetch_seconds()
    cap = _loaders.MAX_BYTES if max_bytes is None else max_bytes
    own = client is None
    client = client or _client(connect_timeout, read_timeout)
    guard = _Guard(time.monotonic() + total_timeout, allow_private=allow_private)
    attempts = max(1, retries)
    backoff_wait = wait_exponential(multiplier=backoff, min=0, max=30)
    try:
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=lambda state: min(backoff_wait(state), max(0.0, guard.deadline - time.monotonic())),
            retry=retry_if_exception(lambda e: isinstance(e, FetchError) and e.transient and not guard.passed()),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return _fetch_once(client, url, max_bytes=cap, max_redirects=max_redirects, guard=guard)
        except FetchError as exc:
            if exc.transient and attempts > 1 and not guard.passed():
                raise FetchError(f"{exc} (gave up after {attempts} attempts)", transient=True) from exc
            raise
    finally:
        guard.cancel()
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
