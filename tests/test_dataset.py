"""`extractor dataset`: tidy long table, one wide row per body-year, cross-year findings — read back by DuckDB."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from extractor.batch import run_batch
from extractor.cli import app
from extractor.dataset import build_dataset
from extractor.reviewed import reviewed_records
from extractor.store import Store
from series_fixture import national_series
import synth

duckdb = pytest.importorskip("duckdb", reason="duckdb is in the test extras (pip install -e '.[test]')")


def _series_db(tmp_path, breaks=None):
    files = national_series(tmp_path / "in", [2022, 2023, 2024], breaks=breaks or {})
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as store:
        run_batch([p for p, _ in files], store)
    return db, files


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_dataset_is_read_back_by_duckdb_with_values_spans_and_cross_year_findings(tmp_path, fmt):
    db, files = _series_db(tmp_path, breaks={2023: {"carry_over"}})
    res = CliRunner().invoke(app, ["dataset", "--db", str(db), "--out", str(tmp_path / "ds"), "--format", fmt])
    assert res.exit_code == 0, res.output
    con = duckdb.connect()
    src = lambda name: f"'{tmp_path / 'ds' / f'{name}.{fmt}'}'"  # noqa: E731
    v23 = files[1][1]
    got = con.sql(f"SELECT value, kind, producer, span_start, span_end, sha256 FROM {src('long')} "
                  f"WHERE year = 2023 AND \"table\" = 'table3' AND \"row\" = 'new_received' AND \"column\" = 'total'").fetchall()
    assert len(got) == 1 and got[0][0] == v23["table3"]["new_received"]["total"] and got[0][2] == "parser"
    text = files[1][0].read_text(encoding="utf-8")
    assert text[got[0][3]:got[0][4]] == str(v23["table3"]["new_received"]["total"])
    wide = con.sql(f"SELECT year, body, table3__carried_over__total, crossyear_open, crossyear_open_rules "
                   f"FROM {src('wide')} ORDER BY year").fetchall()
    assert [(y, b) for y, b, *_ in wide] == [(2022, "云州市青禾县人民政府"), (2023, "云州市青禾县人民政府"), (2024, "云州市青禾县人民政府")]
    assert wide[1][2] == v23["table3"]["carried_over"]["total"] and wide[1][3] == 2 and wide[1][4] == "X.CARRY_OVER@1"
    cross = con.sql(f"SELECT year_n, year_n1, status, scope FROM {src('crossyear')} WHERE status = 'FAIL' ORDER BY scope").fetchall()
    assert cross == [(2022, 2023, "FAIL", "column natural_person"), (2022, 2023, "FAIL", "column total")]


def test_dataset_has_accepted_records_only_unless_all_and_applies_review_decisions(tmp_path):
    files = national_series(tmp_path / "in", [2022, 2023])
    v = files[1][1]
    v["table3"]["total"]["total"] += 1  # the 2023 report's own table does not add up
    files[1][0].write_text(synth.render(v, "pipe"), encoding="utf-8")
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as store:
        run_batch([p for p, _ in files], store)
        r = build_dataset(reviewed_records(store), tmp_path / "a", "parquet")
        assert r.records == 1 and r.skipped == {"needs_review": 1}
        assert build_dataset(reviewed_records(store), tmp_path / "b", "parquet", include_all=True).records == 2
        rec = next(x for x in store.records() if x.year == 2023)
        fid = next(f.id for f in rec.findings if f.status == "FAIL" and f.rule == "T3.APPLICANT_TOTAL")
        right = v["table3"]["total"]["total"] - 1
        store.put_review(rec.document.sha256, fid, "correct", reviewer="qa", cell="table3.total.total",
                         value=str(right), grounded=False, comment="sum of the printed columns")
        r = build_dataset(reviewed_records(store), tmp_path / "c", "parquet")
    assert r.records == 2
    got = duckdb.connect().sql(
        f"SELECT value, producer FROM '{tmp_path / 'c' / 'long.parquet'}' "
        "WHERE year = 2023 AND \"table\" = 'table3' AND \"row\" = 'total' AND \"column\" = 'total'").fetchall()
    assert got == [(right, "reviewer")]


def test_dataset_refuses_an_unknown_format(tmp_path):
    db, _ = _series_db(tmp_path)
    res = CliRunner().invoke(app, ["dataset", "--db", str(db), "--out", str(tmp_path / "ds"), "--format", "xlsx"])
    assert res.exit_code != 0 and "unknown format" in str(res.exception or res.output)
