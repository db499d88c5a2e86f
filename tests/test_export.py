"""Exports of accepted records: CSV, XLSX, JSONL; reviewer values marked as such."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from extractor.cli import app
from extractor.errors import ExtractorError
from extractor.export import export_records
from extractor.loaders import load
from extractor.decisions import prepare_decision, reviewed_record
from extractor.store import Store
from test_review_support import make_batch


def settle_all(db, *, correct_total: bool = True):
    """Correct 总计 (grounded: 7 is printed in the narrative) and confirm whatever is still open."""
    with Store(db) as st:
        (rec,) = list(st.records())
        sha = rec.document.sha256
        if correct_total:
            kw = prepare_decision(reviewed_record(st, sha), "T3.BALANCE:column total", "correct", reviewer="ann",
                                  cell="table3.total.total", value="7", comment="总计 misprinted",
                                  doc=load(rec.document.path))
            st.put_review(sha, "T3.BALANCE:column total", "correct", **kw)
        for f in reviewed_record(st, sha).open:
            st.put_review(sha, f.id, "confirm_source", reviewer="bob", comment="as published")
        assert reviewed_record(st, sha).record.decision == "accepted"
    return sha


def rows_of(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_only_accepted_records_are_exported(tmp_path):
    _, db = make_batch(tmp_path)
    with Store(db) as st:
        assert export_records(st, "csv", tmp_path / "a.csv") == 0
        assert export_records(st, "csv", tmp_path / "all.csv", include_all=True) == 1
    assert rows_of(tmp_path / "a.csv") == []
    rows = rows_of(tmp_path / "all.csv")
    assert rows and {r["decision"] for r in rows} == {"needs_review"}


def test_csv_marks_reviewer_values(tmp_path):
    _, db = make_batch(tmp_path)
    settle_all(db)
    with Store(db) as st:
        assert export_records(st, "csv", tmp_path / "a.csv") == 1
    rows = rows_of(tmp_path / "a.csv")
    by = {(r["table"], r["row"], r["col"]): r for r in rows}
    total = by[("table3", "total", "total")]
    assert total["value"] == "7" and total["producer"] == "reviewer" and total["reviewer"] == "ann"
    assert total["was"] == "0" and total["review_comment"].startswith("总计 misprinted") and total["reviewed_at"]
    other = by[("table3", "new_received", "total")]
    assert other["producer"] == "parser" and other["reviewer"] == "" and other["value"] == "7"
    assert len(rows) == 10 + 175 + 15


def test_jsonl_is_canonical_with_reviews(tmp_path):
    _, db = make_batch(tmp_path)
    sha = settle_all(db)
    with Store(db) as st:
        export_records(st, "jsonl", tmp_path / "a.jsonl")
    (line,) = (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    rec = json.loads(line)
    assert rec["sha256"] == sha and rec["decision"] == "accepted" and rec["accepted_by"] == "review"
    assert rec["table3"]["total"]["total"] == 7
    assert rec["reviewer_values"] == [{"cell": "table3.total.total", "value": "7", "grounded": True, "own": False,
                                       "reviewer": "ann",
                                       "at": rec["reviewer_values"][0]["at"], "comment": rec["reviewer_values"][0]["comment"],
                                       "was": "0"}]
    # 7 is printed in the narrative (收到…申请7件), no cell was read from there: the note says so
    assert rec["reviewer_values"][0]["comment"].startswith("总计 misprinted [value found elsewhere")
    assert {r["action"] for r in rec["reviews"]} == {"correct", "confirm_source"}
    assert rec["source_violations"]  # confirmed inconsistencies stay listed


def test_xlsx_has_sheets_and_shades_reviewer_values(tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="XLSX export needs openpyxl")
    _, db = make_batch(tmp_path)
    settle_all(db)
    with Store(db) as st:
        export_records(st, "xlsx", tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert wb.sheetnames == ["records", "cells", "reviews"]
    cells = wb["cells"]
    header = [c.value for c in cells[1]]
    prod, val = header.index("producer"), header.index("value")
    reviewer_rows = [r for r in cells.iter_rows(min_row=2) if r[prod].value == "reviewer"]
    assert len(reviewer_rows) == 1 and reviewer_rows[0][val].value == 7
    assert reviewer_rows[0][0].fill.start_color.rgb.endswith("D6E4FF")
    recs = wb["records"]
    rh = [c.value for c in recs[1]]
    assert recs.cell(row=2, column=rh.index("accepted_by") + 1).value == "review"
    assert wb["reviews"].max_row >= 2


def test_unknown_format(tmp_path):
    _, db = make_batch(tmp_path)
    with Store(db) as st, pytest.raises(ExtractorError):
        export_records(st, "pdf", tmp_path / "x.pdf")


def test_cli_export(tmp_path):
    _, db = make_batch(tmp_path)
    settle_all(db)
    out = tmp_path / "exp" / "accepted.jsonl"
    res = CliRunner().invoke(app, ["export", "--db", str(db), "--format", "jsonl", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "1 accepted record" in res.output
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["decision"] == "accepted"
