"""`extractor merge` of shard databases evaluates the checks across years again over the merged
records (a body's years are spread over shards) and carries the decisions on them."""

from __future__ import annotations

import sqlite3

from typer.testing import CliRunner

from extractor.cli import app as cli_app
from extractor.merge import merge
from extractor.reviewed import reviewed_crossyear
from extractor.store import Store
from series_fixture import national_series

YEARS = [2021, 2022, 2023, 2024]


def cli(*args: str):
    r = CliRunner().invoke(cli_app, list(args), catch_exceptions=False, env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    return r


def stored(db) -> tuple[set, set]:
    with sqlite3.connect(db) as c:
        bodies = set(c.execute("SELECT sha256, body, year FROM bodies"))
        findings = set(c.execute("SELECT prev_sha256, next_sha256, id, status, classification, arithmetic "
                                 "FROM crossyear_findings"))
    return bodies, findings


def test_merged_shards_have_the_cross_year_findings_of_the_unsharded_run(tmp_path):
    national_series(tmp_path / "in", YEARS, breaks={2022: {"in_force"}, 2024: {"carry_over"}})
    cli("run", str(tmp_path / "in"), "--out", str(tmp_path / "whole"), "--llm", "off")
    whole = stored(tmp_path / "whole" / "extractor.db")
    assert len(whole[1]) == 3 * 9 and {f[3] for f in whole[1]} == {"PASS", "FAIL"}
    shards = []
    for i in range(3):
        out = tmp_path / f"shard-{i}"
        cli("run", str(tmp_path / "in"), "--shard", f"{i}/3", "--out", str(out), "--llm", "off")
        shards.append(out)
    # no shard holds every pair of consecutive years: each saw only its documents
    assert all(len(stored(s / "extractor.db")[1]) < len(whole[1]) for s in shards)
    r = cli("merge", *map(str, shards), "--out", str(tmp_path / "merged"))
    assert "across years: 1 bodies" in r.output and "3 consecutive pair(s), 27 checks" in r.output
    assert "evaluated over the merged records" in r.output
    assert stored(tmp_path / "merged" / "extractor.db") == whole
    # idempotent
    cli("merge", *map(str, shards), str(tmp_path / "merged"), "--out", str(tmp_path / "merged"))
    assert stored(tmp_path / "merged" / "extractor.db") == whole


def test_merge_carries_decisions_on_cross_year_findings_the_later_one_winning(tmp_path):
    national_series(tmp_path / "in", YEARS, breaks={2022: {"in_force"}})
    outs = []
    for i in range(2):
        out = tmp_path / f"s{i}"
        cli("run", str(tmp_path / "in"), "--shard", f"{i}/2", "--out", str(out), "--llm", "off")
        outs.append(out)
    with Store(tmp_path / "probe.db") as probe:  # the finding's key, from an unsharded evaluation
        from extractor.batch import run_batch

        run_batch(sorted((tmp_path / "in").glob("*.txt")), probe)
        f = next(x for x in reviewed_crossyear(probe).findings if x.status == "FAIL")
    with Store(outs[0] / "extractor.db") as st:
        st.put_crossyear_review(*f.key, "accept", reviewer="ann", arithmetic=f.arithmetic, created_at=100.0)
    with Store(outs[1] / "extractor.db") as st:
        st.put_crossyear_review(*f.key, "explained", reviewer="bob", comment="清理 stated", arithmetic=f.arithmetic,
                                created_at=200.0)
    for order in (outs, outs[::-1]):
        res = merge(order, tmp_path / "m")
        g = next(x for x in res.crossyear.findings if x.key == f.key)
        assert g.settled_by["reviewer"] == "bob" and g.settled_by["action"] == "explained"
        assert not res.crossyear.open()
    with Store(tmp_path / "m" / "extractor.db") as st:
        assert len(st.crossyear_reviews()) == 1
