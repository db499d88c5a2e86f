"""A local HTTP server on 127.0.0.1 (stdlib http.server in a thread) for the URL and bad-input tests.

Routes are plain data: ``server.route(path, body, status=..., headers=..., delay=...)`` or a
callable ``handler(req) -> (status, headers, body)``; ``server.hits[path]`` counts requests.
Built-in routes: ``/redirect/<n>`` (a chain of n 302s ending at ``/redirect/0`` → the ``redirect-target``),
``/loop`` (redirects to itself), ``/slow`` (headers only after ``slow_seconds``), ``/huge`` (declares
a Content-Length far over any test cap), ``/stream`` (no Content-Length, streams ``stream_bytes``),
``/flaky`` (503 ``flaky_failures`` times, then the ``flaky-body``), ``/trickle-headers`` and
``/trickle-body`` (one byte every ``trickle_interval`` seconds for ``trickle_seconds``: never idle
long enough for a read timeout), ``/gzip2-bomb`` (``Content-Encoding: gzip, gzip``: ``bomb2_bytes``
of zeros gzipped twice, a few KB on the wire).
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


_BOMB: list[bytes] = []
_BOMB2: dict[int, bytes] = {}


def _bomb2(n: int) -> bytes:
    """``n`` zero bytes gzipped twice, compressed as a stream (never ``n`` bytes in memory)."""
    if n not in _BOMB2:
        inner = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = b"\0" * (1 << 20)
        parts = [inner.compress(zeros) for _ in range(n >> 20)]
        parts.append(inner.flush())
        _BOMB2[n] = gzip.compress(b"".join(parts), compresslevel=9)
    return _BOMB2[n]


def _bomb() -> bytes:
    if not _BOMB:
        _BOMB.append(gzip.compress(b"\0" * (8 * 1024 * 1024), compresslevel=6))
    return _BOMB[0]


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-answer (the extractor giving up on a trickling or huge body, as the
    tests make it) is no error of the server's: not printed to stderr, where a test reading the
    CLI's output would see a server thread's traceback as if the extractor had crashed."""

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes, float] | Callable] = {}
        self.hits: Counter[str] = Counter()
        self.slow_seconds = 3.0
        self.stream_bytes = 4 * 1024 * 1024
        self.flaky_failures = 2
        self.trickle_interval = 0.2
        self.trickle_seconds = 10.0
        self.bomb2_bytes = 256 * 1024 * 1024
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, body: bytes | Callable, *, status: int = 200,
              headers: dict[str, str] | None = None, delay: float = 0.0) -> str:
        self.routes[path] = body if callable(body) else (status, headers or {}, body, delay)
        return self.url(path)

    def start(self) -> "LocalServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        srv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:  # quiet
                pass

            def _send(self, status: int, headers: dict[str, str], body: bytes, *, length: bool = True) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if length and "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                path = self.path
                srv.hits[path] += 1
                try:
                    self._route(path)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _route(self, path: str) -> None:
                if path.startswith("/redirect/"):
                    n = int(path.rsplit("/", 1)[1])
                    if n == 0:
                        return self._route("/redirect-target")
                    return self._send(302, {"Location": f"/redirect/{n - 1}"}, b"")
                if path == "/loop":
                    return self._send(302, {"Location": "/loop"}, b"")
                if path == "/slow":
                    time.sleep(srv.slow_seconds)
                    return self._send(200, {"Content-Type": "text/plain"}, "迟到的内容".encode())
                if path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pdf")
                    self.send_header("Content-Length", str(200 * 1024 * 1024))
                    self.end_headers()
                    self.wfile.write(b"%PDF-1.4\n" + b"0" * 1024)
                    self.close_connection = True
                    return
                if path == "/stream":  # no Content-Length: the client must count
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"x" * 65536
                    sent = 0
                    while sent < srv.stream_bytes:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                    self.close_connection = True
                    return
                if path == "/gzip-bomb":  # 8 MB of zeros gzipped to ~8 KB
                    return self._send(200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, _bomb())
                if path in ("/trickle-headers", "/trickle-body"):
                    return self._trickle(path == "/trickle-headers")
                if path == "/gzip2-bomb":
                    return self._send(200, {"Content-Type": "text/plain", "Content-Encoding": "gzip, gzip"},
                                      _bomb2(srv.bomb2_bytes))
                if path == "/flaky":
                    if srv.hits[path] <= srv.flaky_failures:
                        return self._send(503, {"Content-Type": "text/plain", "Retry-After": "0"}, b"busy")
                    return self._route("/flaky-body")
                r = srv.routes.get(path)
                if r is None:
                    return self._send(404, {"Content-Type": "text/plain"}, b"not found")
                if callable(r):
                    status, headers, body = r(self)
                    return self._send(status, headers, body)
                status, headers, body, delay = r
                if delay:
                    time.sleep(delay)
                return self._send(status, headers, body)

            def _trickle(self, headers: bool) -> None:
                """A server that is never silent long enough for a read timeout, and never done."""
                self.close_connection = True
                end = time.monotonic() + srv.trickle_seconds
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                if not headers:
                    self.wfile.write(b"Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
                self.wfile.flush()
                while time.monotonic() < end:
                    time.sleep(srv.trickle_interval)
                    self.wfile.write(b"X" if headers else b"x")  # a header name that never ends / the body
                    self.wfile.flush()

            do_HEAD = do_GET

        return H
