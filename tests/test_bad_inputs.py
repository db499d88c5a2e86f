"""Fuzzed bad inputs: each gives a clear error and neither the batch nor the server stops.

Truncated PDF, zero-byte file, binary garbage, a 200 MB (sparse) file, a zip-bomb-like DOCX, plus
seeded random mutations of a good report. All inputs are made here in a tmp folder; a real corpus
PDF is truncated too when ../shared is present (that test skips, with the reason, when it is not).
"""

from __future__ import annotations

import os
import random
import socket
import time
import zipfile
from pathlib import Path

import pytest

from extractor.batch import discover, run_batch
from extractor.store import Store
import pdfmake
from fakereport import report_bytes

SHARED = Path(os.environ.get("EXTRACTOR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
BIG = 200 * 1024 * 1024


def minimal_pdf(text: str = "Annual report 2023: 5 applications") -> bytes:
    """A valid one-page PDF with a text layer, written by hand (tests/pdfmake.py)."""
    return pdfmake.pdf([pdfmake.text(72, 720, text, 12)])


_BOMBS: dict[int, bytes] = {}


def zip_bomb_docx(path: Path, mb: int = 64) -> Path:
    if mb not in _BOMBS:
        _make_bomb(path, mb)
        _BOMBS[mb] = path.read_bytes()
    path.write_bytes(_BOMBS[mb])
    return path


def _make_bomb(path: Path, mb: int) -> None:
    """A .docx whose document.xml inflates to ``mb`` MB from a file of ~1/1000 that size, plus a
    second deeply repetitive part: the docx loader must refuse it without inflating it all."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org'
                     b'/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>')
            chunk = b"0" * (1024 * 1024)
            for _ in range(mb):
                fh.write(chunk)
            fh.write(b"</w:t></w:r></w:p></w:body></w:document>")
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/relationships"/>')


def bad_inputs(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    good = minimal_pdf()
    files = {
        "truncated.pdf": good[: len(good) // 2],
        "header-only.pdf": b"%PDF-1.7\n",
        "zero.pdf": b"",
        "garbage.bin.txt": random.Random(7).randbytes(64 * 1024),
        "garbage.pdf": random.Random(8).randbytes(4096),
        "nul.html": b"<html>" + b"\0" * 5000,
        "fake.docx": b"PK\x03\x04" + random.Random(9).randbytes(2000) + b"word/",
        "not-really.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
    }
    out = {}
    for name, data in files.items():
        (d / name).write_bytes(data)
        out[name] = d / name
    big = d / "huge.pdf"
    with open(big, "wb") as fh:  # sparse: 200 MB on paper, nothing on disk
        fh.truncate(BIG)
    out["huge.pdf"] = big
    out["bomb.docx"] = zip_bomb_docx(d / "bomb.docx")
    return out


# --- the batch -------------------------------------------------------------------------------


def test_batch_survives_every_bad_input_with_a_clear_error(tmp_path, monkeypatch):
    d = tmp_path / "in"
    bad = bad_inputs(d)
    (d / "zz-good.html").write_bytes(report_bytes(0))  # sorted last: the batch must get to it

    real_read = Path.read_bytes

    def guarded(self):
        assert self.name != "huge.pdf", "the 200 MB file was read"
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    t = time.monotonic()
    with Store(tmp_path / "out" / "extractor.db") as st:
        res = run_batch(discover([d]), st)
        recs = {r.document.name: r for r in st.records()}
    elapsed = time.monotonic() - t
    assert elapsed < 20
    assert res.processed == len(bad) + 1 and recs["zz-good.html"].decision == "accepted"
    for name in bad:
        rec = recs[name]
        assert rec.decision == "failed", name
        assert rec.error and len(rec.error) < 500 and "Traceback" not in rec.error, (name, rec.error)
    assert recs["huge.pdf"].error.startswith(f"file too large: {BIG} bytes (limit ")
    assert recs["zero.pdf"].error == "empty file (0 bytes)"
    assert "binary" in recs["garbage.bin.txt"].error
    assert "PDF" in recs["truncated.pdf"].error


def test_concurrent_batch_survives_them_too(tmp_path):
    d = tmp_path / "in"
    bad = bad_inputs(d)
    (d / "zz-good.html").write_bytes(report_bytes(1))
    with Store(tmp_path / "extractor.db") as st:
        res = run_batch(discover([d]), st, concurrency=4)
    assert res.processed == len(bad) + 1 and res.failed == len(bad)


def test_truncated_real_pdf(tmp_path):
    src = SHARED / "corpus" / "reports" / "001.pdf"
    if not src.exists():
        pytest.skip(f"real reports not available: {src} is missing (../shared beside the checkout)")
    raw = src.read_bytes()
    d = tmp_path / "in"
    d.mkdir()
    for frac in (0.1, 0.5, 0.9):
        (d / f"cut-{frac}.pdf").write_bytes(raw[: int(len(raw) * frac)])
    with Store(tmp_path / "extractor.db") as st:
        res = run_batch(discover([d]), st)
        recs = list(st.records())
    assert res.processed == 3 and len(recs) == 3
    for r in recs:  # either read what is there or fail with a clear message; never a crash
        assert r.decision != "failed" or (r.error and "internal" not in r.error), r.error


def mutations(seed: int, n: int):
    """Seeded random damage to a good HTML report and a good PDF: cuts, flipped bytes, NULs, splices."""
    rnd = random.Random(seed)
    bases = [("r.html", report_bytes(2)), ("r.pdf", minimal_pdf())]
    for i in range(n):
        name, b = bases[i % 2]
        b = bytearray(b)
        op = rnd.choice(["cut", "flip", "nul", "splice", "repeat"])
        if op == "cut":
            b = b[: rnd.randrange(1, len(b))]
        elif op == "flip":
            for _ in range(rnd.randint(1, 50)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif op == "nul":
            p = rnd.randrange(len(b))
            b[p:p] = b"\0" * rnd.randint(1, 5000)
        elif op == "splice":
            p, q = sorted(rnd.randrange(len(b)) for _ in range(2))
            b = b[:p] + rnd.randbytes(q - p) + b[q:]
        else:
            p, q = sorted(rnd.randrange(len(b)) for _ in range(2))
            b = b[:q] + b[p:q] * rnd.randint(2, 20) + b[q:]
        yield f"{i:02d}-{op}-{name}", bytes(b)


def test_fuzzed_inputs_never_stop_the_batch(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    cases = dict(mutations(1234, 30))
    for name, data in cases.items():
        (d / name).write_bytes(data)
    with Store(tmp_path / "extractor.db") as st:
        res = run_batch(discover([d]), st)
        recs = list(st.records())
    assert res.processed + res.skipped == len(cases)
    for r in recs:
        assert r.decision != "failed" or r.error, r.document.name


# --- the server ------------------------------------------------------------------------------


def test_server_answers_every_bad_input_with_4xx_and_goes_on(tmp_path):
    pytest.importorskip("fastapi", reason="the service extra (fastapi) is not installed")
    from fastapi.testclient import TestClient

    from extractor.service import create_service_app

    bad = bad_inputs(tmp_path / "in")
    del bad["huge.pdf"]  # over the upload cap: see the uvicorn test below (TestClient buffers bodies)
    app = create_service_app(tmp_path / "srv" / "extractor.db")
    with TestClient(app) as c:
        for name, path in bad.items():
            r = c.post("/documents", files={"file": (name, path.read_bytes())})
            assert 400 <= r.status_code < 500 or (r.status_code == 200 and r.json()["decision"] == "failed"), \
                (name, r.status_code, r.text[:300])
            if r.status_code != 200:
                detail = r.json()["detail"]
                assert isinstance(detail, str) and detail and "Traceback" not in detail, (name, detail)
        for name, data in mutations(99, 20):
            r = c.post("/documents", files={"file": (name, data)})
            assert r.status_code < 500, (name, r.text[:300])
        ok = c.post("/documents", files={"file": ("good.html", report_bytes(3))})
        assert ok.status_code == 200 and ok.json()["decision"] == "accepted"
        assert c.get("/health").json()["status"] == "ok"


@pytest.fixture
def live_server(tmp_path):
    """The app under a real uvicorn on 127.0.0.1 (a free port), upload cap 1 MB."""
    pytest.importorskip("uvicorn")
    from extractor.service import create_service_app
    from live_server import LiveServer

    app = create_service_app(tmp_path / "live" / "extractor.db", max_upload=1024 * 1024)
    with LiveServer(app) as live:
        yield live.port


def _request(port: int, head: bytes, body_chunks=(), timeout: float = 5.0) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head)
        try:
            for c in body_chunks:
                s.sendall(c)
        except OSError:  # the server may stop reading (and close) once it has answered
            pass
        s.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                part = s.recv(65536)
            except OSError:
                break
            if not part:
                break
            data += part
        return data
    finally:
        s.close()


def test_200mb_upload_is_refused_from_its_headers(live_server, tmp_path):
    big = tmp_path / "huge.pdf"
    with open(big, "wb") as fh:
        fh.truncate(BIG)
    boundary = b"----x"
    preamble = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.pdf\"\r\n"
                b"Content-Type: application/pdf\r\n\r\n")
    epilogue = b"\r\n--" + boundary + b"--\r\n"
    length = len(preamble) + BIG + len(epilogue)
    head = (b"POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary="
            + boundary + b"\r\nContent-Length: " + str(length).encode() + b"\r\n\r\n")
    t = time.monotonic()
    reply = _request(live_server, head, [preamble])  # the 200 MB never has to be sent
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert time.monotonic() - t < 3
    # the server goes on
    assert _request(live_server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200")


def test_streamed_oversize_upload_is_cut_off(live_server):
    """No Content-Length (chunked): the body is counted as it arrives and cut off past the cap."""
    head = (b"POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")
    preamble = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'

    def chunked(data: bytes) -> bytes:
        return b"%x\r\n" % len(data) + data + b"\r\n"

    body = [chunked(preamble)] + [chunked(b"y" * 65536)] * 64  # 4 MB of file, cap 1 MB
    reply = _request(live_server, head, iter(body))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert _request(live_server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200")
