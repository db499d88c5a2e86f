"""The review app settles one question (a group of findings with one cause) at once."""

from __future__ import annotations

import warnings

import pytest

from extractor.decisions import reviewed_record
from extractor.store import Store
from test_review_support import make_batch

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("fastapi", reason="the review app needs fastapi")

from extractor.review.app import create_review_app  # noqa: E402
from test_review_app import client, csrf_of  # noqa: E402  (loopback base URL, the page's CSRF token)


@pytest.fixture()
def batch(tmp_path):
    _, db = make_batch(tmp_path)
    with Store(db) as st:
        (rec,) = list(st.records())
    return db, rec


def _open(db, sha):
    with Store(db) as st:
        return reviewed_record(st, sha).open


def test_stored_findings_carry_their_question(batch):
    db, rec = batch
    groups = {f.group for f in rec.findings if f.status in ("FAIL", "UNCERTAIN")}
    assert groups == {"line:table3:row:total"}  # the 总计 row printed 0: one cause


def test_queue_counts_questions_and_offers_to_settle_the_whole_question(batch):
    db, rec = batch
    html = client(db, reviewer="ann").get("/queue").text
    n = len(_open(db, rec.document.sha256))
    assert n >= 2
    assert "<b>1</b> open question(s)" in html and f"{n} open findings" in html
    assert 'id="btn-source-group"' in html and f"confirm source for all {n}" in html


def test_confirm_source_for_a_question_settles_every_finding_of_it(batch):
    db, rec = batch
    sha = rec.document.sha256
    members = _open(db, sha)
    c = client(db, reviewer="ann")
    r = c.post("/decide-group", data={"doc": sha, "group": "line:table3:row:total", "action": "confirm_source",
                                       "reviewer": "ann", "comment": "the 总计 row is printed 0", "csrf": csrf_of(c)},
               follow_redirects=False)
    assert r.status_code == 303
    assert _open(db, sha) == []
    with Store(db) as st:
        rows = [row for row in st.reviews(sha)]
        assert {row["finding_id"] for row in rows} == {f.id for f in members}
        assert {row["action"] for row in rows} == {"confirm_source"} and {row["reviewer"] for row in rows} == {"ann"}
        assert reviewed_record(st, sha).record.decision == "accepted"


def test_a_question_is_not_corrected_in_bulk_and_needs_a_reviewer(batch):
    db, rec = batch
    sha = rec.document.sha256
    c = client(db, reviewer="")
    r = c.post("/decide-group", data={"doc": sha, "group": "line:table3:row:total", "action": "correct",
                                       "reviewer": "ann", "csrf": csrf_of(c)})
    assert r.status_code == 422
    r = c.post("/decide-group", data={"doc": sha, "group": "line:table3:row:total", "action": "accept",
                                       "reviewer": "", "csrf": csrf_of(c)})
    assert r.status_code == 422 and "reviewer" in r.text
    assert len(_open(db, sha)) >= 2  # nothing stored


def test_a_question_is_not_settled_without_the_session_csrf_token(batch):
    db, rec = batch
    sha = rec.document.sha256
    c = client(db, reviewer="ann")
    before = len(_open(db, sha))
    r = c.post("/decide-group", data={"doc": sha, "group": "line:table3:row:total", "action": "confirm_source",
                                       "reviewer": "ann"}, follow_redirects=False)
    assert r.status_code == 403
    assert len(_open(db, sha)) == before  # nothing stored
