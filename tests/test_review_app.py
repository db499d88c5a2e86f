"""The review app through FastAPI's TestClient (no browser): queue, decisions, persistence, re-runs."""

from __future__ import annotations

import re
import warnings

import pytest

from extractor.batch import run_batch
from extractor.decisions import Review, apply_reviews, locate_value, parse_value, reviewed_record
from extractor.store import Store
from test_review_support import make_batch, samples_batch

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fastapi = pytest.importorskip("fastapi", reason="the review app needs fastapi")
    from fastapi.testclient import TestClient

from extractor.review.app import create_review_app  # noqa: E402


@pytest.fixture()
def batch(tmp_path):
    f, db = make_batch(tmp_path)
    with Store(db) as st:
        (rec,) = list(st.records())
    return f, db, rec


BASE = "http://127.0.0.1:8765"


def client(db, reviewer="tester", **kw):
    return TestClient(create_review_app(db, reviewer=reviewer, **kw), base_url=BASE)


def csrf_of(c) -> str:
    """The session's CSRF token, as the review page carries it."""
    m = re.search(r'name="csrf" value="([^"]+)"', c.get("/queue", params={"show": "all"}).text)
    assert m, "the review page carries no CSRF token"
    return m.group(1)


def decide(c, sha, fid, action, **form):
    data = {"doc": sha, "fid": fid, "action": action, "reviewer": form.pop("reviewer", "ann"),
            "csrf": form.pop("csrf", None) or csrf_of(c), **form}
    return c.post("/decide", data=data, follow_redirects=False)


def reopen(c, sha, fid, **form):
    data = {"doc": sha, "fid": fid, "reviewer": "ann", "csrf": csrf_of(c), **form}
    return c.post("/reopen", data=data, follow_redirects=False)


def open_ids(db, sha):
    with Store(db) as st:
        return [f.id for f in reviewed_record(st, sha).open]


def test_queue_shows_open_findings_with_arithmetic(batch):
    _, db, rec = batch
    r = client(db).get("/queue")
    assert r.status_code == 200
    assert "T3.BALANCE" in r.text and "7 + 0 ≠ 0 + 0" in r.text
    assert 'id="btn-accept"' in r.text and 'id="btn-source"' in r.text and 'id="btn-correct"' in r.text
    api = client(db).get("/api/queue").json()
    assert {i["id"] for i in api} >= {"T3.BALANCE:column total", "T3.OUTCOME_TOTAL:column total"}
    assert all(i["open"] for i in api)


def test_confirm_source_is_stored_with_who_and_when_and_survives_a_new_app(batch):
    _, db, rec = batch
    sha = rec.document.sha256
    r = decide(client(db), sha, "T3.BALANCE:column total", "confirm_source", comment="printed this way")
    assert r.status_code == 303
    assert "msg=" in r.headers["location"]
    assert r.cookies.get("reviewer") == "ann"
    with Store(db) as st:
        row = st.review(sha, "T3.BALANCE:column total")
        assert row["action"] == "confirm_source" and row["reviewer"] == "ann" and row["created_at"] > 0
        assert row["comment"] == "printed this way"
        assert [x["action"] for x in st.review_log(sha)] == ["confirm_source"]
    fresh = client(db)  # a new app over the same file: the decision is read back
    settled = fresh.get("/queue", params={"show": "settled"}).text
    assert "T3.BALANCE" in settled and "source inconsistency confirmed" in settled and "ann" in settled
    assert "T3.BALANCE:column total" not in open_ids(db, sha)


def test_correction_must_be_printed_in_the_source_or_marked_own(batch):
    _, db, rec = batch
    sha = rec.document.sha256
    c = client(db)
    fid = "T3.BALANCE:column total"
    r = decide(c, sha, fid, "correct", cell="table3.total.total", value="98765")
    assert r.status_code == 422 and "not printed anywhere in the source" in r.text
    r = decide(c, sha, fid, "correct", cell="table3.total.total", value="98765", own="1")
    assert r.status_code == 422 and "comment" in r.text
    r = decide(c, sha, fid, "correct", cell="table3.total.total", value="abc")
    assert r.status_code == 422 and "not a number" in r.text
    r = decide(c, sha, fid, "correct", cell="table3.total.total", value="98765", own="1", comment="phoned the office")
    assert r.status_code == 303
    with Store(db) as st:
        row = st.review(sha, fid)
        assert row["grounded"] == 0 and row["value"] == "98765" and row["prior"] == "0"
        rv = reviewed_record(st, sha)
    cell = rv.record.tables["table3"].get("total", "total")
    assert cell.producer == "reviewer" and cell.value == 98765 and cell.grounded is False
    assert "own value" in cell.note


def test_grounded_correction_rechecks_the_identities(batch):
    f, db, rec = batch
    sha = rec.document.sha256
    c = client(db)
    r = decide(c, sha, "T3.BALANCE:column total", "correct", cell="table3.total.total", value="7",
               comment="总计 should be 7")
    assert r.status_code == 303
    with Store(db) as st:
        row = st.review(sha, "T3.BALANCE:column total")
        assert row["grounded"] == 1 and row["span_start"] is not None
        text = f.read_text(encoding="utf-8")
        assert text[row["span_start"]:row["span_end"]] == "7"  # where the value was found
        rv = reviewed_record(st, sha)
    by_id = {x.id: x for x in rv.record.findings}
    assert by_id["T3.BALANCE:column total"].status == "PASS"
    assert by_id["T3.OUTCOME_TOTAL:column total"].status == "PASS"  # settled by the same correction
    # the total column now disagrees with the natural-person column in the 总计 row: a new open finding
    assert by_id["T3.APPLICANT_TOTAL:row total"].status == "FAIL"
    assert "T3.APPLICANT_TOTAL:row total" in rv.reopened
    assert rv.record.tables["table3"].get("total", "total").producer == "reviewer"


def test_record_accepted_when_last_finding_settled_and_reopen(batch):
    _, db, rec = batch
    sha = rec.document.sha256
    c = client(db)
    ids = open_ids(db, sha)
    assert ids
    for i, fid in enumerate(ids):
        r = decide(c, sha, fid, "accept" if i % 2 else "confirm_source", comment="ok")
        assert r.status_code == 303
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    assert rv.open == [] and rv.record.decision == "accepted" and rv.accepted_by_review
    assert "Nothing left to review" in c.get("/queue").text
    r = reopen(c, sha, ids[0])
    assert r.status_code == 303
    with Store(db) as st:
        rv = reviewed_record(st, sha)
        assert [x["action"] for x in st.review_log(sha)][-1] == "reopen"
    assert [x.id for x in rv.open] == [ids[0]] and rv.record.decision == "needs_review"


def test_decision_survives_run_force(batch):
    f, db, rec = batch
    sha = rec.document.sha256
    c = client(db)
    assert decide(c, sha, "T3.BALANCE:column total", "correct", cell="table3.total.total", value="7").status_code == 303
    assert decide(c, sha, "T3.BALANCE:column natural_person", "confirm_source").status_code == 303
    with Store(db) as st:
        res = run_batch([f], st, force=True)  # what `extractor run --force` does
        assert res.processed == 1
        stored = st.record(sha)
        # the record is stored as the extractor made it; decisions are applied on top
        assert stored.tables["table3"].get("total", "total").value == 0
        rv = reviewed_record(st, sha)
    assert rv.stale == []
    assert rv.record.tables["table3"].get("total", "total").value == 7
    assert rv.record.tables["table3"].get("total", "total").producer == "reviewer"
    assert "T3.BALANCE:column natural_person" not in [x.id for x in rv.open]
    settled = client(db).get("/queue", params={"show": "settled"}).text
    # the corrected check passes now and stays listed as settled (so it can be reopened)
    assert 'data-fid="T3.BALANCE:column total"' in settled and '<span class="chip settled">correct</span>' in settled


def test_decision_on_sample_000_survives_run_force(tmp_path):
    files, db = samples_batch(tmp_path, ("000_",))
    with Store(db) as st:
        (rec,) = list(st.records())
    sha = rec.document.sha256
    fid = "T3.BALANCE:column total"
    assert fid in open_ids(db, sha)
    assert decide(client(db), sha, fid, "confirm_source", comment="the published table says 0").status_code == 303
    with Store(db) as st:
        run_batch(files, st, force=True)
    assert fid not in open_ids(db, sha)
    assert "the published table says 0" in client(db).get("/queue", params={"show": "settled"}).text


def test_stale_decisions_are_kept_but_ignored(batch):
    _, db, rec = batch
    sha = rec.document.sha256
    with Store(db) as st:
        st.put_review(sha, "X.GONE:somewhere", "accept", reviewer="ann")
        rv = reviewed_record(st, sha)
    assert [r.finding_id for r in rv.stale] == ["X.GONE:somewhere"]
    assert "stale decision" in client(db).get("/queue").text


def test_document_report_export_routes(batch):
    _, db, rec = batch
    c = client(db)
    sha = rec.document.sha256
    page = c.get(f"/doc/{sha}")
    assert page.status_code == 200 and "7 + 0 ≠ 0 + 0" in page.text and 'class="hl st-source"' in page.text
    assert c.get("/report").status_code == 200
    assert c.get("/doc/" + "0" * 64).status_code == 404
    for fmt in ("csv", "jsonl", "xlsx"):
        assert c.get(f"/export.{fmt}").status_code == 200
    assert c.get("/healthz").json()["status"] == "ok"


def test_keyboard_script_and_navigation_links(batch):
    _, db, _ = batch
    html = client(db).get("/queue").text
    for key in ('case "j"', 'case "k"', 'case "a"', 'case "c"', 'case "s"'):
        assert key in html
    nxt = re.search(r"var prev = (.*?), next = (.*?);", html)
    assert nxt and nxt.group(1) == "null" and nxt.group(2).startswith('"/queue?')


def test_missing_reviewer_name_is_refused(batch):
    _, db, rec = batch
    r = decide(client(db), rec.document.sha256, "T3.BALANCE:column total", "accept", reviewer=" ")
    assert r.status_code == 422 and "reviewer" in r.text


def test_values_parse_and_locate(batch):
    f, _, rec = batch
    from extractor.loaders import load

    doc = load(f)
    assert parse_value("1,234") == ("number", 1234)
    assert parse_value("０") == ("zero", 0)
    assert parse_value("/") == ("not_applicable", None)
    with pytest.raises(ValueError):
        parse_value("")
    cell = rec.tables["table3"].get("total", "total")
    span, where = locate_value(doc, "7", cell.span.start, region=rec.tables["table3"].span)
    assert span is not None and doc.original[span.start:span.end] == "7"
    assert where == "near"
    assert locate_value(doc, "7", cell.span.start, window=10)[1] == "document"
    assert locate_value(doc, "4242424")[0] is None


def test_apply_reviews_ignores_bad_rows(batch):
    _, _, rec = batch
    sha = rec.document.sha256
    rows = [Review(sha256=sha, finding_id="T3.BALANCE:column total", action="correct", cell="table3.nope.x",
                   value="3", grounded=False),
            Review(sha256=sha, finding_id="T3.BALANCE:column natural_person", action="correct",
                   cell="table3.total.natural_person", value="not a number")]
    rv = apply_reviews(rec, rows)
    assert rv.corrected == {}
    # a decision whose value was never checked against the source settles nothing
    assert "T3.BALANCE:column total" in [x.id for x in rv.open]
    assert rv.record.decision == "needs_review"


def test_cli_run_force_keeps_the_decision_end_to_end(tmp_path):
    """`extractor run`, a decision in the app, `extractor run --force`, `extractor export`: still applied."""
    from typer.testing import CliRunner

    from extractor.cli import app as cli
    from test_review_support import synthetic_report

    src = tmp_path / "in" / "report.txt"
    src.parent.mkdir()
    src.write_text(synthetic_report(), encoding="utf-8")
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off"])
    assert res.exit_code == 0, res.output
    db = out / "extractor.db"
    c = client(db)
    sha = c.get("/api/queue").json()[0]["sha256"]
    assert decide(c, sha, "T3.BALANCE:column total", "correct", cell="table3.total.total", value="7").status_code == 303
    with Store(db) as st:
        reopened = reviewed_record(st, sha).reopened  # broken by the correction, not by the report
    for fid in open_ids(db, sha):
        assert decide(c, sha, fid, "accept" if fid in reopened else "confirm_source").status_code == 303
    res = runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off", "--force"])
    assert res.exit_code == 0, res.output
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    assert rv.open == [] and rv.record.decision == "accepted"
    res = runner.invoke(cli, ["export", "--db", str(db), "--format", "csv", "--out", str(tmp_path / "a.csv")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert "table3,total,total" in text and ",reviewer," in text
