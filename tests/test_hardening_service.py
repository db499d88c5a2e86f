"""`extractor serve` under a hostile but fair client (issue #12): a bounded queue, uploads streamed
to disk, rejected bytes cleaned up, no 500 for odd ids, waiting uploads never stall other endpoints.

Every test here failed before the fix (40 waiting uploads took every thread of the pool, so /health
hung; uploads were read whole into memory; a rejected upload's bytes stayed on disk; a job id past
SQLite's integer range gave a 500; there was no queue bound)."""

from __future__ import annotations

import http.client
import threading
import time
import tracemalloc

import pytest

pytest.importorskip("fastapi", reason="the service extra (fastapi) is not installed")
pytest.importorskip("multipart", reason="python-multipart is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed")

from fastapi.testclient import TestClient  # noqa: E402

import extractor.loaders as loaders  # noqa: E402
from extractor.service import create_service_app  # noqa: E402
from fakereport import report_bytes  # noqa: E402
from live_server import LiveServer  # noqa: E402


def upload(client, name: str, data: bytes, **params):
    return client.post("/documents", files={"file": (name, data, "application/octet-stream")}, params=params)


@pytest.fixture
def gate(monkeypatch):
    """Documents named ``block*`` wait in the loader until the gate opens (stands for slow work)."""
    opened = threading.Event()
    real = loaders._load_kind

    def slow(raw, name, *, path=""):
        if name.startswith("block"):
            opened.wait(30)
        return real(raw, name, path=path)

    monkeypatch.setattr(loaders, "_load_kind", slow)
    yield opened
    opened.set()


class Live(LiveServer):
    """The app under a real uvicorn on 127.0.0.1 (a free port), with the requests these tests send."""

    def get(self, path: str, timeout: float) -> int:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            return c.getresponse().status
        finally:
            c.close()

    def post_file(self, name: str, data_chunks, *, length: int, params: str = "", timeout: float = 60.0):
        boundary = "hardening-boundary"
        pre = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n").encode()
        post = f"\r\n--{boundary}--\r\n".encode()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.putrequest("POST", "/documents" + params)
            c.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
            c.putheader("Content-Length", str(len(pre) + length + len(post)))
            c.endheaders()
            c.send(pre)
            for chunk in data_chunks:
                c.send(chunk)
            c.send(post)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


def test_waiting_uploads_do_not_stall_other_endpoints(tmp_path, gate):
    """45 uploads waiting for their record (more than the 40 threads of the pool) while the worker is
    busy: /health and GET /documents still answer at once."""
    app = create_service_app(tmp_path / "srv" / "extractor.db")
    with Live(app) as live:
        results: list[int] = []

        def one(k: int) -> None:
            data = report_bytes(100 + k)
            try:
                status, _ = live.post_file(f"block-{k}.html", [data], length=len(data), params="?wait=20")
                results.append(status)
            except OSError:
                results.append(-1)

        threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(45)]
        for t in threads:
            t.start()
        time.sleep(1.5)  # every upload is in and waiting
        t0 = time.monotonic()
        assert live.get("/health", timeout=5) == 200
        assert live.get("/documents?limit=5", timeout=5) == 200
        assert time.monotonic() - t0 < 3
        gate.set()
        for t in threads:
            t.join(60)
    assert len(results) == 45 and all(s in (200, 202) for s in results), results


def test_a_full_queue_answers_503_with_retry_after(tmp_path, gate):
    app = create_service_app(tmp_path / "srv" / "extractor.db", max_queue=3)
    with TestClient(app) as c:
        for k in range(3):
            assert upload(c, f"block-{k}.html", report_bytes(200 + k), wait=0).status_code == 202
        r = upload(c, "block-3.html", report_bytes(203), wait=0)
        assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
        assert "queue is full" in r.json()["detail"]
        assert c.get("/health").status_code == 200  # the server goes on
        gate.set()
        deadline = time.monotonic() + 20
        while c.get("/health").json()["jobs"]["queued"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upload(c, "block-3.html", report_bytes(203)).status_code == 200  # room again


def test_an_upload_is_streamed_to_disk_not_held_in_memory(tmp_path):
    """24 MB uploaded in 64 KB pieces to a server that only queues: the process never holds it."""
    app = create_service_app(tmp_path / "srv" / "extractor.db", max_upload=64 * 1024 * 1024, start_workers=False)
    piece = ("政府信息公开工作年度报告 " * 2000).encode()[: 64 * 1024]
    n = 24 * 1024 * 1024 // len(piece)
    with Live(app) as live:
        tracemalloc.start()
        try:
            status, body = live.post_file("big.txt", (piece for _ in range(n)), length=n * len(piece),
                                          params="?wait=0")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert status == 202, body[:300]
    stored = list((tmp_path / "srv" / "uploads").glob("*.txt"))
    assert len(stored) == 1 and stored[0].stat().st_size == n * len(piece)
    assert peak < 12 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB for a 24 MB upload"


def test_rejected_uploads_leave_nothing_on_disk(tmp_path):
    uploads = tmp_path / "srv" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / ".4242.1.2.tmp").write_bytes(b"left by a server killed mid-upload")
    app = create_service_app(tmp_path / "srv" / "extractor.db", max_upload=64 * 1024)
    assert not list(uploads.iterdir())  # stale temporary files go at start-up
    with TestClient(app) as c:
        r = upload(c, "bin.txt", b"\x00\x01\x02\x03" * 500)  # unreadable: 422 once the loader has looked
        assert r.status_code == 422 and "binary" in r.json()["detail"]
        assert upload(c, "a.gz", b"\x1f\x8b" + b"\0" * 100).status_code == 415
        assert upload(c, "big.txt", b"x" * 70 * 1024).status_code == 413
        assert upload(c, "empty.txt", b"").status_code == 422
        assert list(uploads.iterdir()) == []
        ok = upload(c, "good.html", report_bytes(7))
        assert ok.status_code == 200  # accepted bytes are kept: they are the record's provenance
        assert [p.suffix for p in uploads.iterdir()] == [".html"]


@pytest.mark.parametrize("path", ["/jobs/99999999999999999999999", "/jobs/9223372036854775808",
                                  "/documents?offset=99999999999999999999999"])
def test_huge_ids_are_4xx_never_500(tmp_path, path):
    with TestClient(create_service_app(tmp_path / "srv" / "extractor.db")) as c:
        r = c.get(path)
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
        if path.startswith("/jobs/"):
            assert r.status_code == 404
