"""The review side of the one gate to acceptance: a reviewer's value passes the same checks as the
parser's and the model's, only the reviewer's own browser can decide, and the reviewed record is the
one every output shows (records.jsonl, cells.csv, findings.csv, the run summary) — also after
``extractor run --force``. The pipeline and the review layer decide with one function.
"""

from __future__ import annotations

import json
import re
import warnings

import pytest
from typer.testing import CliRunner

from extractor.cli import app as cli
from extractor.errors import ExtractorError
from extractor.decisions import apply_reviews, parse_value, reviewed_record
from extractor.store import Store
from test_review_support import SAMPLES, make_batch, samples_batch, synthetic_report
from outputs import output_lines, output_rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("fastapi", reason="the review app needs fastapi")
    from fastapi.testclient import TestClient

from extractor.review.app import create_review_app  # noqa: E402

BASE = "http://127.0.0.1:8765"
FID = "T3.BALANCE:column total"


@pytest.fixture()
def batch(tmp_path):
    f, db = make_batch(tmp_path)
    with Store(db) as st:
        (rec,) = list(st.records())
    return f, db, rec.document.sha256


def client(db, base=BASE, **kw):
    return TestClient(create_review_app(db, reviewer="tester", **kw), base_url=base)


def token(c) -> str:
    """The session's CSRF token from the review page ("" where the page carries none)."""
    m = re.search(r'name="csrf" value="([^"]+)"', c.get("/queue", params={"show": "all"}).text)
    return m.group(1) if m else ""


def post(c, path, data, *, csrf=True, headers=None):
    if csrf is True:
        data = {**data, "csrf": token(c)}
    elif csrf:
        data = {**data, "csrf": csrf}
    return c.post(path, data=data, headers=headers or {}, follow_redirects=False)


def decide(c, sha, fid, action, **form):
    csrf = form.pop("csrf", True)
    headers = form.pop("headers", None)
    return post(c, "/decide", {"doc": sha, "fid": fid, "action": action, "reviewer": "ann", **form},
                csrf=csrf, headers=headers)


def settle_the_rest(db, sha):
    """Confirm every open finding nobody decided on yet (straight into the store)."""
    with Store(db) as st:
        rv = reviewed_record(st, sha)
        for f in rv.open:
            if rv.reviews.get(f.id) is None:
                st.put_review(sha, f.id, "confirm_source", reviewer="bob", comment="as published")


# --- a reviewer's value passes the source check -------------------------------------------------------


def test_accepting_a_value_printed_nowhere_is_refused(batch):
    _, db, sha = batch
    r = decide(client(db), sha, FID, "accept", accept_value="table3.total.total=98765")
    assert r.status_code == 422 and "not printed anywhere in the source" in r.text
    with Store(db) as st:
        assert st.review(sha, FID) is None


def test_accepting_a_value_as_the_reviewers_own_needs_a_comment(batch):
    _, db, sha = batch
    c = client(db)
    r = decide(c, sha, FID, "accept", accept_value="table3.total.total=98765", own="1")
    assert r.status_code == 422 and "comment" in r.text
    r = decide(c, sha, FID, "accept", accept_value="table3.total.total=98765", own="1", comment="from the office")
    assert r.status_code == 303
    with Store(db) as st:
        row = st.review(sha, FID)
        assert row["grounded"] == 0 and row["value"] == "98765"


def test_an_accepted_competing_value_keeps_the_characters_it_is_printed_at(batch):
    f, db, sha = batch
    r = decide(client(db), sha, FID, "accept", accept_value="table3.total.total=7")
    assert r.status_code == 303
    with Store(db) as st:
        row = st.review(sha, FID)
        rv = reviewed_record(st, sha)
    assert row["grounded"] == 1 and f.read_text(encoding="utf-8")[row["span_start"]:row["span_end"]] == "7"
    c = rv.record.tables["table3"].get("total", "total")
    assert c.value == 7 and c.producer == "reviewer" and c.grounded


def test_a_stored_value_nobody_checked_keeps_the_record_open(batch):
    """A value stored without the source check (as the review app stored `accept` values) is no way in."""
    _, db, sha = batch
    with Store(db) as st:
        st.put_review(sha, FID, "accept", reviewer="mallory", cell="table3.total.total", value="98765")
    settle_the_rest(db, sha)
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    assert rv.record.decision == "needs_review"
    assert "G.GROUNDED:table3.total.total" in [f.id for f in rv.open]
    # and accepting that grounding finding cannot vouch for the value either
    r = decide(client(db), sha, "G.GROUNDED:table3.total.total", "accept")
    assert r.status_code == 422 and "not printed in the source" in r.text


def test_a_correction_that_leaves_its_identity_failing_does_not_settle_it(batch):
    _, db, sha = batch
    c = client(db)
    assert decide(c, sha, FID, "correct", cell="table3.total.total", value="4").status_code == 303  # 4 is printed
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    f = next(x for x in rv.open if x.id == FID)
    assert f.status == "FAIL" and "still fails" in f.message
    # confirming the source inconsistency now keeps the correction
    assert decide(c, sha, FID, "confirm_source", comment="printed 0; 4 is right").status_code == 303
    with Store(db) as st:
        row = st.review(sha, FID)
        rv = reviewed_record(st, sha)
    assert row["action"] == "confirm_source" and row["value"] == "4"
    assert FID not in [x.id for x in rv.open]
    assert rv.record.tables["table3"].get("total", "total").value == 4


def _closed_match(db):
    """Sample 000 (总计 printed 0, the narrative says 办结5件): its sha256, the N.TABLE_MATCH finding on
    办结 and the key of that narrative statement."""
    with Store(db) as st:
        (rec,) = list(st.records())
    f = next(x for x in rec.findings if x.id.startswith("N.TABLE_MATCH:applications_closed@") and x.status == "FAIL")
    op = next(o for o in f.operands if o.ref.startswith("fact:"))
    return rec.document.sha256, f.id, f"{op.ref}@{op.span.start}-{op.span.end}"


def test_a_narrative_correction_that_still_disagrees_with_its_table_does_not_settle_it(tmp_path):
    _, db = samples_batch(tmp_path, ("000_",))
    sha, fid, key = _closed_match(db)
    # the reviewer's own value 1, and the table's 总计 still says 0: the check still fails
    assert decide(client(db), sha, fid, "correct", cell=key, value="1", own="1",
                  comment="from the office").status_code == 303
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    f = next(x for x in rv.open if x.id == fid)
    assert f.status == "FAIL" and "1 ≠ 0" in f.arithmetic and "still fails" in f.message


def test_a_narrative_statement_is_corrected_only_to_a_value_printed_in_it(tmp_path):
    """办结5件 'corrected' to 0 — the table's published 0, printed nearby but not in the statement — would
    make the narrative agree with a wrong total: the statement's value must be printed in it."""
    _, db = samples_batch(tmp_path, ("000_",))
    sha, fid, key = _closed_match(db)
    r = decide(client(db), sha, fid, "correct", cell=key, value="0")
    assert r.status_code == 422 and "not printed in the statement" in r.text
    assert decide(client(db), sha, fid, "correct", cell=key, value="5").status_code == 303  # as printed


def test_a_table_correction_checks_the_narrative_statement_about_that_cell_again(tmp_path):
    _, db = samples_batch(tmp_path, ("000_",))
    sha, fid, _ = _closed_match(db)
    assert decide(client(db), sha, "T3.BALANCE:column total", "correct", cell="table3.total.total",
                  value="5").status_code == 303
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    f = next(x for x in rv.record.findings if x.id == fid)
    assert f.status == "PASS" and "the table says 0" not in f.message and fid not in [x.id for x in rv.open]


def _ambiguous_batch(tmp_path):
    """A synthetic report (tests/synth.py) flattened onto one line: table 二's run-together digits stay
    ambiguous. Returns the database, the document's sha256 and one G.UNAMBIGUOUS finding."""
    from synth import make_values, render

    src = tmp_path / "in" / "flat.txt"
    src.parent.mkdir()
    src.write_text(render(make_values(1, big=True), "flattened"), encoding="utf-8")
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as st:
        from extractor.batch import run_batch

        run_batch([src], st)
        (rec,) = list(st.records())
    f = next(x for x in rec.findings if x.rule == "G.UNAMBIGUOUS" and x.status == "UNCERTAIN")
    return db, rec.document.sha256, f


def test_a_cell_with_several_readings_is_settled_only_by_choosing_one(tmp_path):
    db, sha, f = _ambiguous_batch(tmp_path)
    c = client(db)
    r = decide(c, sha, f.id, "accept")
    assert r.status_code == 422 and "no single reading" in r.text
    r = decide(c, sha, f.id, "confirm_source")
    assert r.status_code == 422 and "not a published inconsistency" in r.text
    # stored without the app's checks, such decisions do not settle it either
    with Store(db) as st:
        st.put_review(sha, f.id, "accept", reviewer="mallory")
        rv = reviewed_record(st, sha)
    assert f.id in [x.id for x in rv.open] and rv.record.decision == "needs_review"
    with Store(db) as st:
        cell = next(x for x in st.record(sha).cells() if x.ref == f.scope)
    pick = cell.candidates[0].value
    assert decide(c, sha, f.id, "accept", accept_value=f"{f.scope}={pick}").status_code == 303
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    chosen = next(x for x in rv.record.cells() if x.ref == f.scope)
    assert f.id not in [x.id for x in rv.open] and chosen.value == pick and chosen.producer == "reviewer"


def test_the_queue_offers_the_readings_of_an_ambiguous_cell_and_no_source_confirmation(tmp_path):
    db, sha, f = _ambiguous_batch(tmp_path)
    page = client(db).get("/queue", params={"doc": sha, "id": f.id}).text
    for v in f.values["candidates"]:
        assert f'value="{f.scope}={v}"' in page
    assert 'id="btn-source"' not in page and 'id="btn-source-group"' not in page


def test_a_document_in_which_no_table_was_found_is_a_question_in_the_queue(tmp_path):
    """needs_review with no finding was in no queue: nobody could see or settle it."""
    src = tmp_path / "in" / "notes.txt"
    src.parent.mkdir()
    src.write_text("示例县测试局2024年工作总结\n一、总体情况\n今年我们认真做好各项工作，取得了明显成效。\n", encoding="utf-8")
    db = tmp_path / "out" / "extractor.db"
    from extractor.batch import run_batch

    with Store(db) as st:
        run_batch([src], st)
        (rec,) = list(st.records())
    sha = rec.document.sha256
    assert rec.decision == "needs_review" and not rec.tables
    c = client(db)
    assert [q["id"] for q in c.get("/api/queue").json()] == ["G.COMPLETE:document"]
    assert decide(c, sha, "G.COMPLETE:document", "accept", comment="not an annual report").status_code == 303
    with Store(db) as st:
        assert reviewed_record(st, sha).record.decision == "accepted"


def test_a_reviewers_value_is_not_grounded_on_characters_another_cell_was_read_from(tmp_path):
    """Sample 000 prints (七)总计 0; a reviewer types 5. The nearest 5 is the 予以公开 cell's: a model's value
    there would not be used. The reviewer's is grounded where 5 is printed and no cell was read from (办结5件),
    and the decision says it was found elsewhere; a value printed only as another cell says which."""
    files, db = samples_batch(tmp_path, ("000_",))
    sha, _, _ = _closed_match(db)
    c = client(db)
    assert decide(c, sha, "T3.BALANCE:column total", "correct", cell="table3.total.total", value="5").status_code == 303
    with Store(db) as st:
        row = st.review(sha, "T3.BALANCE:column total")
        cells = {x.ref: x for x in st.record(sha).cells()}
    taken = {(x.span.start, x.span.end) for ref, x in cells.items() if x.span is not None and ref != "table3.total.total"}
    assert (row["span_start"], row["span_end"]) not in taken
    assert files[0].read_text(encoding="utf-8")[row["span_start"]:row["span_end"]] == "5"
    assert "found elsewhere" in row["comment"]


def test_a_check_broken_only_by_a_correction_is_not_called_a_published_inconsistency(tmp_path):
    """Sample 000: (七)总计 corrected from 0 to 5 in the total column only. The row's applicant total held
    with the published zeros and fails with the 5: the reviewer's value disagrees, the report does not."""
    _, db = samples_batch(tmp_path, ("000_",))
    sha, _, _ = _closed_match(db)
    c = client(db)
    assert decide(c, sha, "T3.BALANCE:column total", "correct", cell="table3.total.total", value="5").status_code == 303
    fid = "T3.APPLICANT_TOTAL:row total"
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    f = next(x for x in rv.open if x.id == fid)
    assert fid in rv.reopened and f.classification != "source_inconsistency"
    assert "published table is inconsistent" not in f.message and "opened by the reviewer's correction" in f.message
    assert not [m for m in rv.record.to_canonical()["source_violations"] if "[row total]" in m]
    r = decide(c, sha, fid, "confirm_source")
    assert r.status_code == 422 and "holds with the published values" in r.text


def test_a_disagreement_between_parser_and_model_is_never_confirmed_as_a_published_inconsistency(tmp_path):
    """A model that reads '0.5万元' as 0.5 元 disagrees with the parser (N.AGREE FAIL). That is about
    how the number was read: confirming a source inconsistency is refused, and a confirmation stored
    anyway does not list it among the report's source violations."""
    from extractor.batch import run_batch
    from extractor.llm import LLMSteps
    from llm_fixtures import ScriptedModelServer, _completion, make

    src = tmp_path / "in" / "fees.txt"
    src.parent.mkdir()
    text = synthetic_report(printed_total=None).replace("其中通过网站发布信息80条。", "其中通过网站发布信息80条。全年收取信息处理费0.5万元。")
    src.write_text(text.replace("行政事业性收费 | 0", "行政事业性收费 | 0.5"), encoding="utf-8")
    fact = {"metric": "fees", "value": 0.5, "unit": "元", "quote": "全年收取信息处理费0.5万元", "kind": "money",
            "scope": "", "parts": []}
    llm_client, _ = make(ScriptedModelServer([], responder=lambda body: _completion({"facts": [fact]}, "NarrativeFactsOut")),
                         tmp_path)
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as st:
        run_batch([src], st, llm=LLMSteps(llm_client, tables="off"))
        (rec,) = list(st.records())
    sha = rec.document.sha256
    fid = next(f.id for f in rec.findings if f.rule == "N.AGREE" and f.status == "FAIL")
    r = decide(client(db), sha, fid, "confirm_source")
    assert r.status_code == 422 and "not a published inconsistency" in r.text
    with Store(db) as st:
        st.put_review(sha, fid, "confirm_source", reviewer="mallory")
        rv = reviewed_record(st, sha)
    assert not rv.record.to_canonical()["source_violations"]


def test_a_published_inconsistency_a_correction_repairs_stays_listed_as_published(tmp_path):
    """Sample 000 prints (七)总计 0 while its rows add up to 5. A reviewer may correct the total to 5 (the
    record then holds); the report as published is still inconsistent, and the record says so."""
    _, db = samples_batch(tmp_path, ("000_",))
    sha, _, _ = _closed_match(db)
    c = client(db)
    assert decide(c, sha, "T3.BALANCE:column total", "correct", cell="table3.total.total", value="5").status_code == 303
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    f = next(x for x in rv.record.findings if x.id == "T3.BALANCE:column total")
    assert f.status == "PASS" and f.classification == "source_inconsistency" and "as published (5 + 0 ≠ 0 + 0" in f.message
    assert [m for m in rv.record.to_canonical()["source_violations"] if "[column total]" in m]
    settle_the_rest(db, sha)
    with Store(db) as st:
        rv = reviewed_record(st, sha)
    assert rv.record.decision == "accepted" and any("repaired by a reviewer's correction" in r for r in rv.record.reasons)


def test_a_reviewer_may_type_the_not_applicable_marks_the_parser_reads(tmp_path):
    src = tmp_path / "reports" / "na.txt"
    src.parent.mkdir()
    src.write_text(synthetic_report().replace("行政事业性收费 | 0", "行政事业性收费 | 不适用"), encoding="utf-8")
    db = tmp_path / "out" / "extractor.db"
    from extractor.batch import run_batch

    with Store(db) as st:
        run_batch([src], st)
        (rec,) = list(st.records())
    sha = rec.document.sha256
    assert rec.tables["table2"].get("fees", "amount_10k_yuan").kind == "not_applicable"  # the parser reads it
    assert parse_value("不适用") == ("not_applicable", None)
    r = decide(client(db), sha, FID, "correct", cell="table3.total.total", value="不适用")
    assert r.status_code == 303
    with Store(db) as st:
        row = st.review(sha, FID)
        cell = reviewed_record(st, sha).record.tables["table3"].get("total", "total")
    assert cell.kind == "not_applicable" and cell.producer == "reviewer" and cell.grounded
    assert src.read_text(encoding="utf-8")[row["span_start"]:row["span_end"]] == "不适用"


def test_a_not_applicable_mark_must_stand_alone_in_the_source(batch):
    """无 occurs only inside words here (无正当理由, 无。): it is not a printed not-applicable mark."""
    _, db, sha = batch
    r = decide(client(db), sha, FID, "correct", cell="table3.total.total", value="无")
    assert r.status_code == 422 and "not printed anywhere in the source" in r.text


# --- only the reviewer's own browser decides ---------------------------------------------------------


def test_a_decision_without_the_sessions_csrf_token_is_refused(batch):
    _, db, sha = batch
    c = client(db)
    assert decide(c, sha, FID, "confirm_source", csrf=False).status_code == 403
    assert decide(c, sha, FID, "confirm_source", csrf="0" * 64).status_code == 403
    assert post(c, "/reopen", {"doc": sha, "fid": FID}, csrf=False).status_code == 403
    other = client(db)  # another session's token does not work here
    assert decide(c, sha, FID, "confirm_source", csrf=token(other)).status_code == 403
    with Store(db) as st:
        assert st.reviews(sha) == []
    assert decide(c, sha, FID, "confirm_source").status_code == 303


def test_a_decision_from_another_site_is_refused(batch):
    _, db, sha = batch
    c = client(db)
    r = decide(c, sha, FID, "confirm_source", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    r = decide(c, sha, FID, "confirm_source", headers={"Referer": "http://evil.example/page"})
    assert r.status_code == 403
    with Store(db) as st:
        assert st.reviews(sha) == []
    assert decide(c, sha, FID, "confirm_source", headers={"Origin": BASE}).status_code == 303


def test_a_foreign_host_name_is_refused_on_loopback(batch):
    """DNS rebinding: a page of evil.example resolving to 127.0.0.1 must not reach the queue."""
    _, db, _ = batch
    r = client(db, base="http://evil.example:8765").get("/queue")
    assert r.status_code == 403
    assert client(db, base="http://localhost:8765").get("/queue").status_code == 200


def test_serving_off_loopback_needs_a_token(batch, monkeypatch):
    import uvicorn

    _, db, sha = batch
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: served.append((application, kw)))
    monkeypatch.delenv("EXTRACTOR_REVIEW_TOKEN", raising=False)
    res = CliRunner().invoke(cli, ["review", "--db", str(db), "--host", "0.0.0.0"])
    assert isinstance(res.exception, ExtractorError) and served == []  # `error: …`, exit code 2
    assert "--token" in str(res.exception) and "EXTRACTOR_REVIEW_TOKEN" in str(res.exception)
    secret = "s3cret-token-for-tests"
    monkeypatch.setenv("EXTRACTOR_REVIEW_TOKEN", secret)
    res = CliRunner().invoke(cli, ["review", "--db", str(db), "--host", "0.0.0.0"])
    assert res.exit_code == 0, res.output
    (application, kw), = served
    assert kw["host"] == "0.0.0.0" and f"token={secret}" in res.output
    c = TestClient(application, base_url="http://192.0.2.7:8765")
    assert c.get("/queue").status_code == 401
    assert c.get("/api/queue").status_code == 401
    assert c.get("/queue", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    r = c.get("/queue", params={"token": secret}, follow_redirects=False)
    assert r.status_code == 303 and "token" not in r.headers["location"]
    assert c.get("/queue").status_code == 200  # the cookie carries it now
    assert decide(c, sha, FID, "confirm_source").status_code == 303


# --- the reviewed record is what every output shows ----------------------------------------------------


def test_a_review_decision_shows_in_records_jsonl_after_run_force(tmp_path):
    src = tmp_path / "in" / "report.txt"
    src.parent.mkdir()
    src.write_text(synthetic_report(), encoding="utf-8")
    out = tmp_path / "out"
    runner = CliRunner(env={"COLUMNS": "400"})
    res = runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off"])
    assert res.exit_code == 0, res.output
    db = out / "extractor.db"
    c = client(db)
    sha = c.get("/api/queue").json()[0]["sha256"]
    assert decide(c, sha, FID, "correct", cell="table3.total.total", value="7", comment="总计 misprinted").status_code == 303
    settle_the_rest(db, sha)
    res = runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off", "--force"])
    assert res.exit_code == 0, res.output
    assert re.search(r"accepted \(all in .*?\)\s*│\s*1", res.output)  # the run summary counts it accepted

    (line,) = output_lines(out)
    rec = json.loads(line)
    assert rec["decision"] == "accepted" and rec["accepted_by"] == "review"
    assert rec["table3"]["total"]["total"] == 7
    cell = next(x for x in rec["record"]["tables"]["table3"]["cells"] if x["row"] == "total" and x["col"] == "total")
    assert cell["producer"] == "reviewer" and cell["value"] == 7 and cell["grounded"] is True
    (rv,) = rec["reviewer_values"]
    assert rv["cell"] == "table3.total.total" and rv["reviewer"] == "ann" and rv["at"] and rv["was"] == "0"
    assert {r["finding_id"] for r in rec["reviews"]} >= {FID}

    row = next(r for r in output_rows(out, "cells.csv") if (r["table"], r["row"], r["col"]) == ("table3", "total", "total"))
    assert row["value"] == "7" and row["producer"] == "reviewer" and row["reviewer"] == "ann" and row["reviewed_at"]
    rows = {r["id"]: r for r in output_rows(out, "findings.csv")}
    assert rows[FID]["decision_by"] == "ann" and rows[FID]["open"] == "no"
    assert all(r["open"] == "no" for r in rows.values())
    with Store(db) as st:
        assert st.counts() == {"accepted": 1}


def test_decisions_taken_in_the_review_app_are_in_the_output_files_when_it_stops(tmp_path, monkeypatch):
    """records.jsonl / cells.csv / findings.csv beside the database show the reviewed records once the
    reviewer closes `extractor review` — without another `extractor run`."""
    import uvicorn

    src = tmp_path / "in" / "report.txt"
    src.parent.mkdir()
    src.write_text(synthetic_report(), encoding="utf-8")
    out = tmp_path / "out"
    runner = CliRunner(env={"COLUMNS": "400"})
    assert runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off"]).exit_code == 0
    db = out / "extractor.db"
    assert json.loads(output_lines(out)[0])["decision"] == "needs_review"

    def serve_and_decide(application, **_):  # the reviewer's session, then Ctrl+C
        c = TestClient(application, base_url=BASE)
        sha = c.get("/api/queue").json()[0]["sha256"]
        assert decide(c, sha, FID, "correct", cell="table3.total.total", value="7").status_code == 303
        settle_the_rest(db, sha)

    monkeypatch.setattr(uvicorn, "run", serve_and_decide)
    res = runner.invoke(cli, ["review", "--db", str(db)])
    assert res.exit_code == 0, res.output
    (line,) = output_lines(out)
    rec = json.loads(line)
    assert rec["decision"] == "accepted" and rec["accepted_by"] == "review" and rec["table3"]["total"]["total"] == 7
    row = next(r for r in output_rows(out, "cells.csv") if (r["table"], r["row"], r["col"]) == ("table3", "total", "total"))
    assert row["producer"] == "reviewer"


def test_the_pipeline_and_the_review_layer_decide_alike(tmp_path):
    """One decision function: a record without decisions is decided the same way everywhere."""
    f, db = make_batch(tmp_path)
    files = [f]
    if SAMPLES.is_dir():
        files += sorted(SAMPLES.glob("*.txt"))
    from extractor.pipeline import extract

    for p in files:
        rec = extract(p)
        again = apply_reviews(rec.model_copy(deep=True), []).record
        assert (again.decision, again.reasons) == (rec.decision, rec.reasons), p.name


def test_the_http_api_answers_with_the_reviewed_record(tmp_path):
    pytest.importorskip("multipart", reason="python-multipart is not installed")
    from extractor.service import create_service_app as service_app

    db = tmp_path / "out" / "extractor.db"
    data = synthetic_report().encode("utf-8")
    with TestClient(service_app(db)) as api:
        body = api.post("/documents", files={"file": ("r.txt", data, "text/plain")}).json()
        sha = body["sha256"]
        assert body["decision"] == "needs_review"
        c = client(db)
        assert decide(c, sha, FID, "correct", cell="table3.total.total", value="7").status_code == 303
        settle_the_rest(db, sha)
        got = api.get(f"/documents/{sha}").json()
        listing = api.get("/documents").json()
    assert got["decision"] == "accepted" and listing["items"][0]["decision"] == "accepted"
    cell = next(x for x in got["record"]["tables"]["table3"]["cells"] if x["row"] == "total" and x["col"] == "total")
    assert cell["value"] == 7 and cell["producer"] == "reviewer"
