"""URL limits that hold against a hostile server (issue #12), all on loopback servers of our own.

Every test here failed before the fix: a redirect to ``data:``/``javascript:`` stopped the batch with
``httpx.InvalidURL``; a server trickling its headers or body held a download past its deadline; a
``Content-Encoding: gzip, gzip`` body was inflated whole in memory; loopback/private hosts were fetched.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from extractor.batch import run_batch
from extractor.fetch import FetchError, fetch
from extractor.store import Store
from fakereport import report_bytes
from localhttp import LocalServer


@pytest.fixture
def server():
    s = LocalServer().start()
    s.route("/report.html", report_bytes(0), headers={"Content-Type": "text/html; charset=GBK"})
    yield s
    s.stop()


def fast(**kw):
    opts = {"connect_timeout": 2.0, "read_timeout": 5.0, "retries": 1, "backoff": 0.0, "allow_private": True}
    opts.update(kw)
    return opts


@pytest.mark.parametrize("location", ["data:text/html,<b>hi</b>", "javascript:alert(1)"])
def test_redirect_to_data_or_javascript_is_a_clear_download_error(server, location):
    url = server.route("/to-" + location.split(":")[0], b"", status=302, headers={"Location": location})
    with pytest.raises(FetchError) as e:
        fetch(url, **fast())
    assert location.split(":")[0] in str(e.value) and "Traceback" not in str(e.value)


def test_a_redirect_to_data_does_not_stop_the_batch(server, tmp_path):
    bad = server.route("/to-data", b"", status=302, headers={"Location": "data:text/html,<b>hi</b>"})
    good = server.url("/report.html")
    with Store(tmp_path / "extractor.db") as st:
        res = run_batch([bad, good], st, fetch_options=fast())
        recs = {r.document.url: r for r in st.records()}
    assert res.processed == 2
    assert recs[bad].decision == "failed" and recs[bad].error.startswith("download failed:")
    assert recs[good].decision == "accepted"


@pytest.mark.parametrize("path", ["/trickle-headers", "/trickle-body"])
def test_the_overall_deadline_holds_against_a_trickling_server(server, path):
    """One byte every 0.2 s: no read ever times out, yet the download stops at its deadline."""
    t = time.monotonic()
    with pytest.raises(FetchError) as e:
        fetch(server.url(path), **fast(total_timeout=1.5))
    took = time.monotonic() - t
    assert "took too long" in str(e.value) and "deadline" in str(e.value)
    assert took < 5, f"the 1.5 s deadline held the download for {took:.1f} s"


def test_double_gzip_bomb_is_bounded_in_memory(server):
    """256 MB of zeros gzipped twice (a few KB on the wire), fetched with a 1 MB cap: refused past the
    cap on decoded bytes, without ever holding the inflated body."""
    url = server.url("/gzip2-bomb")
    fetch_kw = fast(max_bytes=1024 * 1024)
    server.hits.clear()
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as e:
            fetch(url, **fetch_kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "too large" in str(e.value) and "decompressed" in str(e.value)
    assert peak < 32 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB while refusing a 1 MB-capped download"


def test_gzip_twice_within_the_cap_is_decoded(server):
    server.bomb2_bytes = 3 * 1024 * 1024
    dl = fetch(server.url("/gzip2-bomb"), **fast())
    assert dl.raw == b"\0" * (3 * 1024 * 1024)


def test_loopback_is_refused_without_allow_private(server):
    with pytest.raises(FetchError) as e:
        fetch(server.url("/report.html"), **fast(allow_private=False))
    assert "loopback" in str(e.value) and "--allow-private" in str(e.value)
    assert server.hits["/report.html"] == 0  # refused before connecting
    assert fetch(server.url("/report.html"), **fast(allow_private=True)).raw == report_bytes(0)


@pytest.mark.parametrize("url,what", [
    ("http://10.1.2.3/r.pdf", "private"),
    ("http://192.168.0.1/r.pdf", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[::1]:8080/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://localhost:9/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
])
def test_private_targets_are_refused(url, what):
    from extractor.fetch import check_target

    with pytest.raises(FetchError) as e:
        check_target(url)
    assert what in str(e.value)
    check_target(url, allow_private=True)  # allowed on request


def test_a_redirect_to_loopback_is_refused_at_the_hop(server):
    """Even with the first host allowed, a hop is checked again (here: the policy is applied per
    hop, so a redirect chain cannot smuggle a private target past it)."""
    from extractor import fetch as fetch_mod

    seen = []
    real = fetch_mod.check_target

    def spy(url, *, allow_private=False):
        seen.append(url)
        return real(url, allow_private=allow_private)

    target = server.url("/report.html")
    hop = server.route("/hop", b"", status=302, headers={"Location": target})
    fetch_mod.check_target = spy
    try:
        fetch(hop, **fast())
    finally:
        fetch_mod.check_target = real
    assert seen == [hop, target]


def test_cli_refuses_loopback_urls_unless_allowed(server, tmp_path):
    from typer.testing import CliRunner

    from extractor.cli import app

    url = server.url("/report.html")
    r = CliRunner().invoke(app, ["run", url, "--out", str(tmp_path / "a"), "--llm", "off"])
    assert r.exit_code == 0, r.output
    with Store(tmp_path / "a" / "extractor.db") as st:
        rec = next(st.records())
    assert rec.decision == "failed" and "--allow-private" in rec.error
    r = CliRunner().invoke(app, ["run", url, "--out", str(tmp_path / "b"), "--llm", "off", "--allow-private"])
    with Store(tmp_path / "b" / "extractor.db") as st:
        assert next(st.records()).decision == "accepted"
