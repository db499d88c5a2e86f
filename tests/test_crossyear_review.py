"""Deciding cross-year findings: in the review queue (both passages side by side), stored by both
documents' SHA-256 and the finding's id, surviving re-runs, shown by the report and the dataset."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlencode

import pytest

from extractor.batch import run_batch
from extractor.crossyear import CrossFinding, DocRef
from extractor.reviewed import evaluate_store
from extractor.crossyear_reviews import CrossReview, apply_cross_reviews
from extractor.reviewed import reviewed_crossyear
from extractor.store import Store
from series_fixture import national_series

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from extractor.review.app import create_review_app  # noqa: E402

BASE = "http://127.0.0.1:8765"
IN_FORCE = "X.IN_FORCE:row normative_documents"
CLEANUP = "本年度对行政规范性文件开展集中清理，部分文件宣布失效。"


def _series(tmp_path, breaks, cleanup_year=None):
    files = national_series(tmp_path / "in", [2022, 2023, 2024], breaks=breaks)
    if cleanup_year is not None:  # the N+1 report states a 清理 (a sentence of section 六, no numbers)
        p = next(p for p, v in files if v["year"] == cleanup_year)
        text = p.read_text(encoding="utf-8")
        p.write_text(text.replace("本年度未收取信息处理费。", "本年度未收取信息处理费。" + CLEANUP), encoding="utf-8")
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as store:
        run_batch([p for p, _ in files], store)
    return files, db


def _client(db):
    return TestClient(create_review_app(db, reviewer="qa"), base_url=BASE)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _finding(db, fid, year_n1):
    with Store(db) as st:
        return next(f for f in reviewed_crossyear(st).findings if f.id == fid and f.next.year == year_n1)


def _open_item(client, f):
    return client.get("/queue?" + urlencode({"show": "all", "doc": f"{f.prev.sha256}..{f.next.sha256}", "id": f.id}))


def _decide(client, f, action, page=None, **form):
    page = page if page is not None else _open_item(client, f).text
    data = {"csrf": _csrf(page), "prev": f.prev.sha256, "next": f.next.sha256, "fid": f.id, "action": action,
            "reviewer": "ann", **form}
    return client.post("/decide-crossyear", data=data, follow_redirects=False)


def test_a_cross_year_finding_is_in_the_queue_with_both_source_passages_and_the_rules_decisions(tmp_path):
    files, db = _series(tmp_path, {2023: {"in_force"}}, cleanup_year=2023)
    client = _client(db)
    items = [i for i in client.get("/api/queue").json() if i.get("crossyear")]
    assert [(i["id"], i["status"]) for i in items] == [(IN_FORCE, "FAIL")]
    f = _finding(db, IN_FORCE, 2023)
    html = _open_item(client, f).text
    art = html[html.index('<article class="finding xfinding'):]
    art = art[: art.index("</article>")]
    left, right = art.split('<div class="side">')[1:3]
    v22, v23 = files[0][1]["table2"]["normative_documents"], files[1][1]["table2"]["normative_documents"]
    assert "N · 2022" in left and f"<mark>{v22['in_force']}</mark>" in left and "report_2022.txt" in left
    assert "N+1 · 2023" in right and f"<mark>{v23['in_force']}</mark>" in right and "characters" in right
    assert 'id="btn-explained"' in html and 'id="btn-accept"' in html and 'id="btn-source"' in html
    # the 清理 the N+1 report states is offered as the explanation
    hints = html[html.index('id="hints"'):]
    assert "<mark>清理</mark>" in hints[: hints.index("</ul>")] and "N+1 · characters" in hints


def test_explained_needs_a_comment_and_a_quote_printed_in_one_of_the_reports(tmp_path):
    _, db = _series(tmp_path, {2023: {"in_force"}}, cleanup_year=2023)
    client = _client(db)
    f = _finding(db, IN_FORCE, 2023)
    r = _decide(client, f, "explained")
    assert r.status_code == 422 and "comment" in r.text
    r = _decide(client, f, "explained", comment="清理 stated in section 六", quote="本年度废止全部文件")
    assert r.status_code == 422 and "printed in neither report" in r.text
    r = _decide(client, f, "explained", comment="清理 stated in section 六", quote="开展集中 清理")
    assert r.status_code == 303
    with Store(db) as st:
        row = st.crossyear_reviews()[0]
        assert (row["prev_sha256"], row["next_sha256"], row["finding_id"]) == f.key
        assert row["action"] == "explained" and row["quote_doc"] == "N+1" and row["arithmetic"] == f.arithmetic
        text = open(f.next.path, encoding="utf-8").read()
        assert text[row["span_start"]:row["span_end"]] == "开展集中清理"
    g = _finding(db, IN_FORCE, 2023)
    assert not g.open and g.settled_by["action"] == "explained" and g.classification == "reviewer_question"
    assert client.get("/api/queue").json() == []


def test_a_rule_allows_only_its_decisions(tmp_path):
    _, db = _series(tmp_path, {2024: {"carry_over"}})
    client = _client(db)
    f = _finding(db, "X.CARRY_OVER:column total", 2024)
    r = _decide(client, f, "explained", comment="a stated 清理")
    assert r.status_code == 422 and "settled by" in r.text
    with Store(db) as st:
        assert st.crossyear_reviews() == []


def test_one_question_is_settled_at_once_and_confirming_the_source_classifies_it(tmp_path):
    _, db = _series(tmp_path, {2024: {"carry_over"}})
    client = _client(db)
    f = _finding(db, "X.CARRY_OVER:column total", 2024)
    page = _open_item(client, f).text
    assert 'id="btn-source-group"' in page and "confirm source for all 2" in page
    data = {"csrf": _csrf(page), "prev": f.prev.sha256, "next": f.next.sha256, "fid": f.id,
            "action": "confirm_source", "reviewer": "ann"}
    r = client.post("/decide-crossyear?group=1", data=data, follow_redirects=False)
    assert r.status_code == 303
    with Store(db) as st:
        done = {x.id: x for x in reviewed_crossyear(st).findings if x.settled_by}
    assert set(done) == {"X.CARRY_OVER:column total", "X.CARRY_OVER:column natural_person"}
    assert {x.classification for x in done.values()} == {"source_inconsistency"}


def test_cross_year_decisions_need_the_csrf_token_and_the_apps_own_origin(tmp_path):
    _, db = _series(tmp_path, {2023: {"in_force"}})
    client = _client(db)
    f = _finding(db, IN_FORCE, 2023)
    page = _open_item(client, f).text
    data = {"prev": f.prev.sha256, "next": f.next.sha256, "fid": f.id, "action": "accept", "reviewer": "ann"}
    assert client.post("/decide-crossyear", data=data, follow_redirects=False).status_code == 403
    r = client.post("/decide-crossyear", data={**data, "csrf": _csrf(page)}, headers={"Origin": "http://evil.example"},
                    follow_redirects=False)
    assert r.status_code == 403
    assert client.post("/reopen-crossyear", data={k: data[k] for k in ("prev", "next", "fid")},
                       follow_redirects=False).status_code == 403
    with Store(db) as st:
        assert st.crossyear_reviews() == []
    assert _decide(client, f, "accept", page=page).status_code == 303


def test_cross_year_decisions_survive_run_force_and_crossyear_and_reopen_is_logged(tmp_path):
    files, db = _series(tmp_path, {2023: {"in_force"}})
    client = _client(db)
    f = _finding(db, IN_FORCE, 2023)
    assert _decide(client, f, "confirm_source", comment="the 2023 report recounts").status_code == 303
    with Store(db) as st:
        run_batch([p for p, _ in files], st, force=True)
        res = evaluate_store(st)
        g = next(x for x in res.findings if x.key == f.key)
        assert g.settled_by["action"] == "confirm_source" and g.settled_by["reviewer"] == "ann"
        assert not res.open() and res.stale == []
        # the stored findings are as evaluated; the SQL view shows them with the decision
        row = st.db.execute("SELECT open, decision, decided_by, classification FROM crossyear_decided WHERE id=?",
                            (IN_FORCE,)).fetchone()
        assert tuple(row) == (0, "confirm_source", "ann", "source_inconsistency")
    page = _open_item(client, f).text
    r = client.post("/reopen-crossyear", data={"csrf": _csrf(page), "prev": f.prev.sha256, "next": f.next.sha256,
                                                "fid": f.id}, follow_redirects=False)
    assert r.status_code == 303
    with Store(db) as st:
        assert [x["action"] for x in st.crossyear_review_log()] == ["confirm_source", "reopen"]
        assert [x.id for x in reviewed_crossyear(st).open()] == [IN_FORCE]


def test_a_decision_taken_on_other_numbers_settles_nothing():
    a, b = DocRef(sha256="a" * 64, year=2022), DocRef(sha256="b" * 64, year=2023)
    f = CrossFinding(id=IN_FORCE, rule="X.IN_FORCE", status="FAIL", prev=a, next=b, arithmetic="40 + 5 − 0 ≠ 55",
                     decisions=["accept", "confirm_source", "explained"])
    seen = CrossReview(a.sha256, b.sha256, IN_FORCE, "explained", reviewer="ann", comment="清理",
                       arithmetic="40 + 5 − 0 ≠ 55")
    assert apply_cross_reviews([f], [seen]).findings[0].settled_by["action"] == "explained"
    other = CrossReview(a.sha256, b.sha256, IN_FORCE, "explained", reviewer="ann", comment="清理",
                        arithmetic="40 + 5 − 0 ≠ 65")
    res = apply_cross_reviews([f], [other])
    assert res.findings[0].open and "decide again" in res.findings[0].message
    assert len(res.stale) == 1 and "other numbers" in res.stale[0].why
    passing = f.model_copy(update={"status": "PASS"})
    assert apply_cross_reviews([passing], [seen]).stale[0].why == "the check PASS now"


def test_the_series_page_and_the_dataset_show_the_decision(tmp_path):
    pytest.importorskip("duckdb")
    import duckdb

    from extractor.dataset import dataset_from_store
    from extractor.report import build_report

    _, db = _series(tmp_path, {2023: {"in_force"}, 2024: {"carry_over"}})
    client = _client(db)
    f = _finding(db, IN_FORCE, 2023)
    assert _decide(client, f, "explained", comment="清理 stated").status_code == 303
    written = build_report(db, tmp_path / "report")
    html = next(p for p in written if p.name.startswith("series-")).read_text(encoding="utf-8")
    art = html[html.index(f'data-fid="{f.pair_id}"'):]
    art = art[: art.index("</article>")]
    assert "explained by the report" in art and "<b>ann</b>" in art and "清理 stated" in art
    index = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "1☑" in index and "2✗" in index  # 2023: settled; 2024: two open carry-over breaks
    # the review app's series page links each finding to its queue item
    page = client.get("/report").text
    href = re.search(r'href="(/series/series-[^"#]+)"', page).group(1)
    assert "see the decision in the review queue" in client.get(href).text
    with Store(db) as st:
        dataset_from_store(st, tmp_path / "ds", "parquet", include_all=True)
    rows = duckdb.sql(f"SELECT rule, scope, open, decision, decided_by, decision_comment FROM "
                      f"'{tmp_path / 'ds' / 'crossyear.parquet'}' WHERE status = 'FAIL' ORDER BY rule, scope").fetchall()
    assert rows == [("X.CARRY_OVER", "column natural_person", True, None, None, None),
                    ("X.CARRY_OVER", "column total", True, None, None, None),
                    ("X.IN_FORCE", "row normative_documents", False, "explained", "ann", "清理 stated")]
    wide = duckdb.sql(f"SELECT year, crossyear_open, crossyear_settled FROM '{tmp_path / 'ds' / 'wide.parquet'}' "
                      "ORDER BY year").fetchall()
    assert wide == [(2022, 0, 1), (2023, 2, 1), (2024, 2, 0)]


def test_the_crossyear_command_lists_decisions(tmp_path):
    from typer.testing import CliRunner

    from extractor.cli import app as cli

    _, db = _series(tmp_path, {2023: {"in_force"}})
    f = _finding(db, IN_FORCE, 2023)
    with Store(db) as st:
        st.put_crossyear_review(*f.key, "accept", reviewer="ann", arithmetic=f.arithmetic)
    out = CliRunner().invoke(cli, ["crossyear", "--db", str(db)], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "accept (ann)" in out.output and "0 open, 1 settled by review" in out.output
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM crossyear_reviews").fetchone()[0] == 1
