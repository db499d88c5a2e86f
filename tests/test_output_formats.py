"""Compressed output files (one gzip member per document), the plain kind on request, and the lean
``cells``/``findings`` tables keyed by document number (issue 14, storage)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import sqlite3
import sys
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # noqa: E402
from outputs import output_lines, output_rows  # noqa: E402

from extractor.cli import app as cli  # noqa: E402
from extractor.merge import merge  # noqa: E402
from extractor.store import Store, _csv_text, document_rows, gz_around, gz_member, pack_spliced  # noqa: E402

runner = CliRunner()
NAMES = ("records.jsonl", "cells.csv", "findings.csv")


def _reports(folder: Path, seeds) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        (folder / f"r{s:03d}.txt").write_text(
            synth.render(synth.make_values(s), ["lines", "pipe", "tab", "stream"][s % 4]), encoding="utf-8")
    return folder


def _run(src: Path, out: Path, *extra: str) -> str:
    res = runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off", *extra])
    assert res.exit_code == 0, res.output
    return res.output


def _plain(out: Path) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in NAMES}


def _gunzipped(out: Path) -> dict[str, bytes]:
    return {n: gzip.decompress((out / (n + ".gz")).read_bytes()) for n in NAMES}


def test_compressed_files_hold_exactly_the_plain_files_bytes(tmp_path):
    src = _reports(tmp_path / "src", range(4))
    _run(src, tmp_path / "gz")
    _run(src, tmp_path / "plain", "--plain-outputs")
    assert not any((tmp_path / "gz" / n).exists() for n in NAMES)
    assert not any((tmp_path / "plain" / (n + ".gz")).exists() for n in NAMES)
    assert _gunzipped(tmp_path / "gz") == _plain(tmp_path / "plain")
    # one member per document (and one for a CSV's header row): the byte ranges the database keeps
    with Store(tmp_path / "gz" / "extractor.db") as st:
        spans = [(r["r0"], r["rn"]) for r in st.db.execute("SELECT r0, rn FROM outputs ORDER BY r0")]
    data = (tmp_path / "gz" / "records.jsonl.gz").read_bytes()
    assert len(spans) == 4 and sum(n for _, n in spans) == len(data)
    for off, n in spans:
        line = gzip.decompress(data[off:off + n]).decode("utf-8")
        assert line.endswith("}\n") and line.count("\n") == 1 and json.loads(line)["record"]


def test_compressed_files_are_smaller_than_a_tenth_of_the_plain_ones(tmp_path):
    src = _reports(tmp_path / "src", range(4))
    _run(src, tmp_path / "gz")
    plain = sum(len(v) for v in _gunzipped(tmp_path / "gz").values())
    packed = sum((tmp_path / "gz" / (n + ".gz")).stat().st_size for n in NAMES)
    assert packed * 5 < plain, (packed, plain)


def test_the_records_line_reuses_the_stored_records_deflate_data():
    inner = json.dumps({"cells": [{"row": f"r{i}", "value": i} for i in range(300)]}).encode()
    blob = pack_spliced(inner)
    assert zlib.decompress(blob) == inner  # an ordinary zlib stream for the database
    member = gz_around(b'{"head": 1, "record": ', blob, inner, b"}\n")
    assert gzip.decompress(member) == b'{"head": 1, "record": ' + inner + b"}\n"
    assert blob[2:-6] in member  # spliced, not compressed again
    other = zlib.compress(inner)  # a blob stored before (no byte-aligned end): compressed anew, same bytes out
    assert gzip.decompress(gz_around(b"[", other, inner, b"]")) == b"[" + inner + b"]"
    assert gz_member(b"") == b""


def test_pandas_and_duckdb_read_the_compressed_files_as_they_are(tmp_path):
    pd = pytest.importorskip("pandas")
    duckdb = pytest.importorskip("duckdb")
    src = _reports(tmp_path / "src", range(3))
    out = tmp_path / "out"
    _run(src, out)
    want_cells = output_rows(out, "cells.csv")
    want_records = [json.loads(x) for x in output_lines(out)]
    assert len(want_cells) > 100 and len(want_records) == 3

    cells = pd.read_csv(out / "cells.csv.gz", dtype=str, keep_default_na=False)
    assert len(cells) == len(want_cells) and list(cells.columns) == list(want_cells[0])
    assert cells.to_dict("records") == want_cells
    records = pd.read_json(out / "records.jsonl.gz", lines=True)
    assert list(records["sha256"]) == [r["sha256"] for r in want_records]
    findings = pd.read_csv(out / "findings.csv.gz", dtype=str, keep_default_na=False)
    assert {"ref", "group"} <= set(findings.columns)

    con = duckdb.connect()
    n, docs = con.execute(f"SELECT COUNT(*), COUNT(DISTINCT sha256) FROM read_csv('{out / 'cells.csv.gz'}', "
                          "all_varchar=true)").fetchone()
    assert (n, docs) == (len(want_cells), 3)
    shas = [r[0] for r in con.execute(f"SELECT sha256 FROM read_json('{out / 'records.jsonl.gz'}', "
                                      "format='newline_delimited', maximum_object_size=67108864)").fetchall()]
    assert shas == [r["sha256"] for r in want_records]


def test_a_torn_gzip_member_at_the_end_is_cut_and_the_document_written_again(tmp_path):
    src = _reports(tmp_path / "src", range(3))
    out = tmp_path / "out"
    _run(src, out)
    good = {n: (out / (n + ".gz")).read_bytes() for n in NAMES}
    # a kill in the middle of an append: half a member after the committed bytes
    half = gz_member(b'{"document": "half a line"}\n' * 50)
    for n in NAMES:
        with open(out / (n + ".gz"), "ab") as fh:
            fh.write(half[: len(half) // 2])
    with pytest.raises((EOFError, OSError, zlib.error)):
        gzip.decompress((out / "records.jsonl.gz").read_bytes())
    _run(src, out)
    assert {n: (out / (n + ".gz")).read_bytes() for n in NAMES} == good
    _reports(src, range(3, 4))
    _run(src, out)
    assert len(output_lines(out)) == 4


def test_switching_between_plain_and_compressed_rewrites_the_files(tmp_path):
    src = _reports(tmp_path / "src", range(3))
    out = tmp_path / "out"
    _run(src, out, "--plain-outputs")
    plain = _plain(out)
    assert not (out / "records.jsonl.gz").exists()
    _reports(src, range(3, 4))
    _run(src, out)  # the default again: gzip files with every document, the plain ones gone
    assert not any((out / n).exists() for n in NAMES)
    text = output_lines(out)
    assert len(text) == 4 and "\n".join(text[:3]) + "\n" == plain["records.jsonl"].decode("utf-8")
    _run(src, out, "--plain-outputs")
    assert not any((out / (n + ".gz")).exists() for n in NAMES)
    assert len(output_lines(out)) == 4
    with Store(out / "extractor.db") as st:
        assert st.output_kind(out) is True
    _run(src, out, "--plain-outputs")  # same kind: nothing rewritten, nothing appended
    assert len(output_lines(out)) == 4


def _doc_cells(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as c:
        out: dict[str, list[tuple]] = {}
        for r in c.execute("SELECT sha256, tbl, row, col, value, kind, span_start, producer FROM document_cells "
                           "ORDER BY sha256, tbl, row, col"):
            out.setdefault(r[0], []).append(r[1:])
        return out


def _doc_findings(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as c:
        out: dict[str, list[tuple]] = {}
        for r in c.execute("SELECT sha256, id, ref, status, arithmetic, open FROM document_findings ORDER BY sha256, id"):
            out.setdefault(r[0], []).append(r[1:])
        return out


def test_merge_maps_each_shards_document_numbers_by_sha256(tmp_path):
    """Shards number their documents themselves: the same document has another number in each, and
    the same number names other documents. The merged cells and findings belong to the right ones."""
    a = _reports(tmp_path / "a", [0, 1, 2])
    b = _reports(tmp_path / "b", [5, 4, 2])  # r002 in both; b numbers r004 as 1, r005 as 2
    _run(a, tmp_path / "sa")
    _run(b, tmp_path / "sb")
    with Store(tmp_path / "sb" / "extractor.db") as st:  # one of b's documents with a finding settled
        sha = next(r.document.sha256 for r in st.records() if r.document.name == "r004.txt")
        rec = st.record(sha)
        fid = next(f.id for f in rec.findings if f.rule.startswith("T3"))
        st.put_review(sha, fid, "correct", reviewer="cy", cell="table3.total.total", value="4242", comment="c")
    with sqlite3.connect(tmp_path / "sb" / "extractor.db") as c:  # b numbers the cells' places otherwise too
        c.execute("UPDATE cell_names SET id = 1000 - id")
        c.execute("UPDATE cells SET cell = 1000 - cell")
    res = merge([tmp_path / "sa", tmp_path / "sb"], tmp_path / "m")
    assert res.documents_taken == 6  # r002 twice: the copy updated last wins
    want = {**_doc_cells(tmp_path / "sa" / "extractor.db"), **_doc_cells(tmp_path / "sb" / "extractor.db")}
    got = _doc_cells(tmp_path / "m" / "extractor.db")
    assert got == want and len(got) == 5
    with sqlite3.connect(tmp_path / "m" / "extractor.db") as c:
        orphans = c.execute("SELECT COUNT(*) FROM cells WHERE doc_id NOT IN (SELECT id FROM documents)").fetchone()[0]
        assert orphans == 0
        assert c.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == sum(len(v) for v in want.values())
        row = c.execute("SELECT value, reviewer FROM document_cells WHERE sha256=? AND tbl='table3' "
                        "AND row='total' AND col='total'", (sha,)).fetchone()
        assert row == ("4242", "cy")
    findings = {**_doc_findings(tmp_path / "sa" / "extractor.db"), **_doc_findings(tmp_path / "sb" / "extractor.db")}
    assert findings[sha]  # the corrected total breaks identities: findings of that document
    assert _doc_findings(tmp_path / "m" / "extractor.db") == findings
    line = next(json.loads(x) for x in output_lines(tmp_path / "m") if json.loads(x)["sha256"] == sha)
    assert line["table3"]["total"]["total"] == 4242
    # merged again, and a shard merged in again after the fact: nothing moves
    merge([tmp_path / "sb", tmp_path / "sa"], tmp_path / "m")
    assert _doc_cells(tmp_path / "m" / "extractor.db") == got


def test_findings_csv_names_the_rule_entry_and_the_group(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    v = synth.make_values(7)
    v["table3"]["total"]["total"] += 7  # a grand total that does not add up: failing identities
    (src / "broken.txt").write_text(synth.render(v, "lines"), encoding="utf-8")
    out = tmp_path / "out"
    _run(src, out)
    with Store(out / "extractor.db") as st:
        rec = st.authoritative_record(st.documents()[0]["sha256"])
        want = {f.id: (f.ref, f.group) for f in rec.findings if f.status != "PASS"}
        view = {r["id"]: (r["ref"], r["group_key"] or "") for r in st.db.execute("SELECT * FROM document_findings")}
    rows = {r["id"]: (r["ref"], r["group"]) for r in output_rows(out, "findings.csv")}
    assert want and any(g for _, g in want.values()) and all("@" in ref for ref, _ in want.values())
    assert rows == want == view


def test_a_cell_place_numbered_in_a_rolled_back_transaction_is_numbered_again(tmp_path):
    """The store remembers the numbers of the cells' places (``cell_names``); one numbered in a
    transaction that was rolled back is not trusted afterwards, even when its number went to another."""
    src = _reports(tmp_path / "in", [0])
    _run(src, tmp_path / "out")
    with Store(tmp_path / "out" / "extractor.db") as st:
        rec = next(st.records())
        rows = document_rows(rec)
        place = ("table9", "x", "y")
        odd = rows._replace(cells=rows.cells + [(*place, "1", "number", "1", None, None, None, None, 1, None, None, None)])
        with pytest.raises(RuntimeError):
            with st.db:
                st.save_rows(odd, commit=False)
                raise RuntimeError("cut short")
        st.db.execute("INSERT INTO cell_names (tbl, row, col) VALUES ('table8', 'p', 'q')")  # takes that number
        st.db.commit()
        st.save_rows(odd)
        got = st.db.execute("SELECT tbl, row, col, value FROM document_cells WHERE tbl IN ('table8', 'table9')").fetchall()
        assert [tuple(r) for r in got] == [("table9", "x", "y", "1")]


def test_cell_places_numbered_in_a_committed_transaction_are_checked_once_not_on_every_document(tmp_path):
    """After a transaction that numbered new places commits, the store checks them once (the next
    document), then trusts them: later documents read nothing from ``cell_names``."""
    src = _reports(tmp_path / "in", [0, 1])
    _run(src, tmp_path / "out")
    with Store(tmp_path / "out" / "extractor.db") as st:
        recs = list(st.records())
        rows = [document_rows(r) for r in recs]
        place = ("table9", "x", "y")
        st.save_rows(rows[0]._replace(cells=rows[0].cells + [(*place, "1", "number", "1", None, None, None,
                                                               None, 1, None, None, None)]))
        reads: list[str] = []
        st.db.set_trace_callback(lambda sql: reads.append(sql) if "FROM cell_names" in sql else None)
        for _ in range(3):
            st.save_rows(rows[1])
        st.db.set_trace_callback(None)
        assert len(reads) == 1, reads
        got = st.db.execute("SELECT tbl, row, col, value FROM document_cells WHERE tbl = 'table9'").fetchall()
        assert [tuple(r) for r in got] == [("table9", "x", "y", "1")]


def test_csv_rows_written_after_a_shared_lead_equal_the_csv_of_whole_rows():
    lead = ('a "quoted", name\nwith a newline', "ab" * 32)
    rows = [("t", "r", 1, None, 'raw "1,2"', "note\r\nline"), ("t", "", 0, "", None, "plain")]
    buf = io.StringIO()
    csv.writer(buf).writerows([(*lead, *r) for r in rows])
    assert _csv_text(rows, lead) == buf.getvalue().encode("utf-8")
    assert _csv_text([], lead) == b""
