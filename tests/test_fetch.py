"""Downloading reports from URLs (extractor.fetch) and `extractor run URL... --urls FILE`.

Everything is served by a local HTTP server on 127.0.0.1 (tests/localhttp.py); the report pages are
made up here (tests/fakereport.py), GBK-encoded as many government sites still serve them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractor.cli import app as cli_app
from extractor.fetch import (
    FetchError,
    cached_download,
    fetch,
    fix_name,
    is_url,
    name_for,
    read_url_list,
    save_download,
    unsupported_reason,
)
from extractor.loaders import load_bytes
from extractor.model import Record
from extractor.store import Store
from fakereport import report_bytes, report_html
from localhttp import LocalServer
from outputs import output_lines

ORGAN = "青禾县数据资源局"  # made up in fakereport.py
GBK_HTML = "text/html; charset=GBK"


@pytest.fixture
def server():
    s = LocalServer().start()
    s.route("/report.html", report_bytes(0), headers={"Content-Type": GBK_HTML})
    s.route("/redirect-target", report_bytes(1), headers={"Content-Type": GBK_HTML})
    s.route("/flaky-body", report_bytes(2), headers={"Content-Type": GBK_HTML})
    yield s
    s.stop()


def fast(**kw):
    """Small limits so every failure path takes milliseconds."""
    opts = {"connect_timeout": 2.0, "read_timeout": 2.0, "retries": 1, "backoff": 0.0, "allow_private": True}
    opts.update(kw)
    return opts


# --- fetch ------------------------------------------------------------------------------------


def test_gbk_page_is_kept_as_bytes_and_decoded_by_the_loader(server):
    dl = fetch(server.url("/report.html"), **fast())
    assert dl.raw == report_bytes(0)  # the original bytes, not transcoded
    assert dl.sha256 == hashlib.sha256(dl.raw).hexdigest()
    assert (dl.kind, dl.name, dl.final_url, dl.redirects) == ("html", "report.html", dl.url, [])
    doc = load_bytes(dl.raw, dl.name)
    assert ORGAN in doc.text and doc.encoding == "gb18030"


def test_gbk_page_without_meta_charset_is_decoded_too(server):
    page = report_html(3).replace('<meta http-equiv="Content-Type" content="text/html; charset=gbk">', "")
    url = server.route("/plain.htm", page.encode("gbk"), headers={"Content-Type": GBK_HTML})
    dl = fetch(url, **fast())
    assert ORGAN in load_bytes(dl.raw, dl.name).text


def test_redirect_chain_is_followed_and_recorded(server):
    dl = fetch(server.url("/redirect/3"), **fast())
    assert dl.raw == report_bytes(1)
    assert dl.final_url.endswith("/redirect/0")
    assert [u.rsplit("/", 2)[-2:] for u in dl.redirects] == [["redirect", "3"], ["redirect", "2"], ["redirect", "1"]]


def test_redirects_are_bounded(server):
    with pytest.raises(FetchError, match=r"too many redirects \(more than 2\)"):
        fetch(server.url("/redirect/3"), **fast(max_redirects=2))
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(server.url("/loop"), **fast())
    assert server.hits["/loop"] == 6  # the first request + 5 redirects, then it stops


def test_redirect_to_another_scheme_is_refused(server):
    url = server.route("/to-file", b"", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="non-http"):
        fetch(url, **fast())


def test_declared_oversize_is_refused_before_the_body(server):
    t = time.monotonic()
    with pytest.raises(FetchError, match=r"too large: Content-Length 209715200 bytes \(limit 1048576"):
        fetch(server.url("/huge"), **fast(max_bytes=1024 * 1024))
    assert time.monotonic() - t < 2


def test_undeclared_oversize_stream_is_aborted_past_the_cap(server):
    with pytest.raises(FetchError, match=r"more than 1048576 bytes, aborted"):
        fetch(server.url("/stream"), **fast(max_bytes=1024 * 1024))


def test_gzip_bomb_is_counted_decompressed(server):
    with pytest.raises(FetchError, match="too large"):
        fetch(server.url("/gzip-bomb"), **fast(max_bytes=1024 * 1024))


def test_gzip_page_is_decoded(server):
    body = gzip.compress(report_bytes(4))
    url = server.route("/z.html", body, headers={"Content-Type": GBK_HTML, "Content-Encoding": "gzip"})
    assert fetch(url, **fast()).raw == report_bytes(4)


def test_slow_response_times_out(server):
    server.slow_seconds = 3.0
    t = time.monotonic()
    with pytest.raises(FetchError, match="timed out waiting for data"):
        fetch(server.url("/slow"), **fast(read_timeout=0.3))
    assert time.monotonic() - t < 2


def test_transient_errors_are_retried(server):
    dl = fetch(server.url("/flaky"), **fast(retries=3))
    assert dl.raw == report_bytes(2) and server.hits["/flaky"] == 3


def test_transient_errors_give_up_after_the_attempts(server):
    server.flaky_failures = 10
    with pytest.raises(FetchError, match=r"HTTP 503 .*gave up after 2 attempts"):
        fetch(server.url("/flaky"), **fast(retries=2))
    assert server.hits["/flaky"] == 2


def test_not_found_is_not_retried(server):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(server.url("/missing.pdf"), **fast(retries=3))
    assert server.hits["/missing.pdf"] == 1


def test_connection_refused_is_a_clear_error():
    with pytest.raises(FetchError, match="network error"):
        fetch("http://127.0.0.1:9/report.pdf", **fast())


def test_not_a_url():
    with pytest.raises(FetchError, match="not an http"):
        fetch("ftp://example.org/x.pdf")


def test_content_disposition_and_type_name_the_file(server):
    pdf = b"%PDF-1.4\n%fake\n"
    url = server.route("/download.aspx?id=7", pdf, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": "attachment; filename*=UTF-8''%E5%B9%B4%E6%8A%A5.pdf",
    })
    dl = fetch(url, **fast())
    assert (dl.name, dl.kind) == ("年报.pdf", "pdf")


# --- names, lists ----------------------------------------------------------------------------


@pytest.mark.parametrize("url,raw,ctype,want", [
    ("http://x.gov.cn/a/b/2023nb.pdf", b"%PDF-1.7", "", ("2023nb.pdf", "pdf")),
    ("http://x.gov.cn/a/b/2023nb.pdf", "<html><body><p>找不到</p></body></html>".encode(), "text/html",
     ("2023nb.html", "html")),  # an error page behind a .pdf link: named for what it is
    ("http://x.gov.cn/art/2024/1/5/art_1.html", "<html><p>年报</p></html>".encode("gbk"), GBK_HTML,
     ("art_1.html", "html")),
    ("http://x.gov.cn/show?id=9", "<html><p>年报</p></html>".encode(), "text/html", ("show.html", "html")),
    ("http://x.gov.cn/", "一、总体情况".encode(), "text/plain", ("download.txt", "text")),
    ("http://x.gov.cn/p.jpg", b"\x89PNG\r\n\x1a\n", "image/png", ("p.png", "image")),
])
def test_name_for(url, raw, ctype, want):
    assert name_for(url, raw, ctype) == want


def test_fix_name_strips_path_separators():
    name = fix_name("../../etc/passwd", b"hello")[0]
    assert "/" not in name and not name.startswith(".") and name.endswith("passwd.txt")


def test_unsupported_reason():
    assert "OLE2" in unsupported_reason(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert "ZIP" in unsupported_reason(b"PK\x03\x04" + b"\0" * 100)
    assert unsupported_reason(b"%PDF-1.4") is None


def test_is_url():
    assert is_url("https://www.gov.cn/a.pdf") and is_url("HTTP://127.0.0.1:8000/x")
    assert not is_url("reports/a.pdf") and not is_url("http://") and not is_url(Path("http://x"))


def test_read_url_list(tmp_path):
    f = tmp_path / "urls.txt"
    f.write_text("# reports for 2023\n\nhttps://a.gov.cn/1.pdf  # the county\n  http://b.gov.cn/2.html\n",
                 encoding="utf-8")
    assert read_url_list(f) == ["https://a.gov.cn/1.pdf", "http://b.gov.cn/2.html"]
    f.write_text("https://a.gov.cn/1.pdf\nreports/local.pdf\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"urls.txt:2: not an http\(s\) URL"):
        read_url_list(f)


def test_downloads_cache_round_trip(server, tmp_path):
    dl = fetch(server.url("/report.html"), **fast())
    p = save_download(dl, tmp_path / "downloads")
    assert p == tmp_path / "downloads" / f"{dl.sha256}.html" and p.read_bytes() == dl.raw
    again = cached_download(server.url("/report.html"), tmp_path / "downloads")
    assert again is not None and again.cached and again.raw == dl.raw and again.name == "report.html"
    p.write_bytes(b"tampered")
    assert cached_download(server.url("/report.html"), tmp_path / "downloads") is None


# --- extractor run URL... --------------------------------------------------------------------


def run_cli(*args: str):
    r = CliRunner().invoke(cli_app, ["run", *args, "--llm", "off", "--allow-private"], catch_exceptions=False)
    return r


def records(out: Path) -> list[Record]:
    with Store(out / "extractor.db") as st:
        return list(st.records())


def test_run_mixes_urls_url_files_and_paths(server, tmp_path):
    local = tmp_path / "in" / "local.html"
    local.parent.mkdir()
    local.write_bytes(report_bytes(5))
    good, missing = server.url("/report.html"), server.url("/gone/2023.pdf")
    redirected = server.url("/redirect/2")
    lst = tmp_path / "urls.txt"
    lst.write_text(f"# two more\n{missing}\n{redirected}  # via two redirects\n", encoding="utf-8")
    out = tmp_path / "out"

    r = run_cli(good, str(local.parent), "--urls", str(lst), "--out", str(out))
    assert r.exit_code == 0, r.output
    recs = {(x.document.url or x.document.name): x for x in records(out)}
    assert set(recs) == {good, missing, redirected, "local.html"}
    assert recs[good].decision == "accepted" and recs[good].organ == ORGAN
    assert recs[good].document.path.endswith(f"downloads/{recs[good].document.sha256}.html")
    assert Path(recs[good].document.path).read_bytes() == report_bytes(0)
    assert recs[redirected].decision == "accepted"
    bad = recs[missing]
    assert bad.decision == "failed" and bad.error.startswith("download failed: HTTP 404")
    assert bad.document.sha256 == hashlib.sha256(missing.encode()).hexdigest()
    line = next(json.loads(x) for x in output_lines(out)
                if json.loads(x)["record"]["document"]["url"] == good)
    assert line["decision"] == "accepted"

    # a re-run does not fetch what is done; the failed download is tried again
    hits = dict(server.hits)
    r = run_cli(good, str(local.parent), "--urls", str(lst), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert server.hits["/report.html"] == hits["/report.html"]
    assert server.hits["/redirect/2"] == hits["/redirect/2"]
    assert server.hits["/gone/2023.pdf"] == hits["/gone/2023.pdf"] + 1

    # once the URL works, its failed record is replaced by the real one
    server.route("/gone/2023.pdf", report_bytes(6), headers={"Content-Type": "text/html; charset=gbk"})
    r = run_cli("--urls", str(lst), "--out", str(out))
    assert r.exit_code == 0, r.output
    now = [x for x in records(out) if x.document.url == missing]
    assert len(now) == 1 and now[0].decision == "accepted" and now[0].document.name == "2023.html"
    assert len(records(out)) == 4


def test_run_with_a_killed_download_cache_reuses_the_bytes(server, tmp_path):
    """The bytes are saved before extraction: a run killed after the download refetches nothing."""
    out = tmp_path / "out"
    dl = fetch(server.url("/report.html"), **fast())
    save_download(dl, out / "downloads")  # as a run killed right after its download leaves it
    before = server.hits["/report.html"]
    assert run_cli(server.url("/report.html"), "--out", str(out)).exit_code == 0
    assert server.hits["/report.html"] == before
    assert records(out)[0].document.url == server.url("/report.html")


def test_run_needs_some_input(tmp_path):
    r = CliRunner().invoke(cli_app, ["run", "--out", str(tmp_path), "--llm", "off"])
    assert r.exit_code != 0 and "nothing to do" in str(r.exception)
