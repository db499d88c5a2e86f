"""Output files that grow with the new work, the compact store (schema 2), WAL with a lost last
transaction, migration of a schema-1 database, and the incremental cross-year step (issue 14, part 2)."""

from __future__ import annotations

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
from series_fixture import national_series  # noqa: E402

from extractor.batch import discover, run_batch  # noqa: E402
from extractor.cli import app as cli  # noqa: E402
from extractor.model import Record  # noqa: E402
from extractor.reviewed import evaluate_store, mapping_of, update_store  # noqa: E402
from extractor.store import SCHEMA_VERSION, Store, StoreError  # noqa: E402
from outputs import output_lines  # noqa: E402

runner = CliRunner()
FILES = ("records.jsonl.gz", "cells.csv.gz", "findings.csv.gz")  # the default kind
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _reports(folder: Path, seeds) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s in seeds:
        p = folder / f"r{s:03d}.txt"
        p.write_text(synth.render(synth.make_values(s), ["lines", "pipe", "tab", "stream"][s % 4]), encoding="utf-8")
        out.append(p)
    return out


def _run(src: Path, out: Path, *extra: str) -> None:
    res = runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off", *extra])
    assert res.exit_code == 0, res.output


def _files(out: Path) -> dict[str, bytes]:
    return {f: (out / f).read_bytes() for f in FILES}


def _rewritten(out: Path, tmp: Path) -> dict[str, bytes]:
    """The files a full rewrite from a copy of the database gives."""
    copy = tmp / "rewrite"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    with Store(out / "extractor.db") as st:
        st.db.execute(f"VACUUM INTO '{copy / 'extractor.db'}'")
    with Store(copy / "extractor.db") as st:
        st.rewrite_outputs(copy)
    return _files(copy)


def _shas(out: Path) -> list[str]:
    return [json.loads(x)["sha256"] for x in output_lines(out)]


def test_new_documents_are_appended_and_match_a_full_rewrite(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(3))
    _run(src, out)
    before = _files(out)
    _reports(src, range(3, 5))
    _run(src, out)
    after = _files(out)
    for f in FILES:  # the earlier bytes untouched, the new documents after them
        assert after[f].startswith(before[f])
    assert len(after["records.jsonl.gz"]) > len(before["records.jsonl.gz"])
    assert len(after["cells.csv.gz"]) > len(before["cells.csv.gz"])
    assert len(_shas(out)) == 5 == len(set(_shas(out)))
    assert after == _rewritten(out, tmp_path)
    _run(src, out)  # nothing new: the files stay as they are
    assert _files(out) == after


def test_a_rerun_document_replaces_its_lines_never_two_versions(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(4))
    _run(src, out)
    _run(src, out, "--force")
    shas = _shas(out)
    assert len(shas) == 4 == len(set(shas))
    assert _files(out) == _rewritten(out, tmp_path)
    cells = output_lines(out, "cells.csv")
    assert len(cells) == len(set(cells))  # no cell row twice


def test_a_review_decision_replaces_the_documents_lines(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(3))
    _run(src, out)
    with Store(out / "extractor.db") as st:
        rec = next(st.records())
        sha = rec.document.sha256
        fid = rec.findings[0].id
        st.put_review(sha, fid, "accept", reviewer="ana", comment="seen")
    _run(src, out)
    lines = [json.loads(x) for x in output_lines(out)]
    mine = [x for x in lines if x["sha256"] == sha]
    assert len(mine) == 1 and len(lines) == 3
    assert any(r["reviewer"] == "ana" for r in mine[0]["reviews"] + mine[0]["open_decisions"])
    _rewritten(out, tmp_path)
    assert sorted(output_lines(out, "cells.csv")) == sorted(output_lines(tmp_path / "rewrite", "cells.csv"))


def test_a_torn_tail_from_a_kill_is_cut_and_the_documents_written_again(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(3))
    _run(src, out)
    good = _files(out)
    # a kill after the lines were appended but before their commit: an unfinished line in each file
    for f in FILES:
        with open(out / f, "ab") as fh:
            fh.write(b'{"document": "half a li')
    _run(src, out)
    assert _files(out) == good
    # a document whose lines were appended but whose commit never happened is appended again
    _reports(src, range(3, 4))
    with Store(out / "extractor.db") as st:
        st.open_outputs(out)
        run_batch(discover([src]), st)
        st.db.execute("DELETE FROM outputs WHERE sha256 = (SELECT sha256 FROM records ORDER BY rowid DESC LIMIT 1)")
        st.db.executemany("UPDATE output_files SET size = ? WHERE name = ?",
                          [(len(good[f]), f) for f in FILES])
        st.db.commit()
    _run(src, out)
    assert len(_shas(out)) == 4 == len(set(_shas(out)))
    assert _files(out) == _rewritten(out, tmp_path)


def test_a_document_whose_commit_fails_leaves_no_lines_and_is_saved_by_the_next_run(tmp_path):
    """A document's lines are written inside its transaction: when that transaction fails, the lines
    beyond the committed size are overwritten by the next document's, and the next run saves it."""
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(2))
    _run(src, out)
    good = _files(out)
    third, fourth = _reports(src, range(2, 4))
    with Store(out / "extractor.db") as st:
        st.open_outputs(out)
        st.db.execute("CREATE TEMP TRIGGER no_room BEFORE INSERT ON outputs "
                      "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        with pytest.raises(StoreError, match="disk full"):
            run_batch([third], st)
        assert st.db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 2
        assert all((out / f).stat().st_size > len(good[f]) for f in FILES[:2])  # its lines, not committed
        st.db.execute("DROP TRIGGER no_room")
        run_batch([fourth], st)
    assert len(_shas(out)) == 3 == len(set(_shas(out)))
    assert _files(out) == _rewritten(out, tmp_path)
    _run(src, out)
    assert len(_shas(out)) == 4 == len(set(_shas(out)))
    assert _files(out) == _rewritten(out, tmp_path)


def test_files_that_do_not_match_the_database_are_written_again(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(3))
    _run(src, out)
    good = _files(out)
    (out / "cells.csv.gz").write_text("edited by hand\n", encoding="utf-8")  # shorter: not the committed file
    _run(src, out)
    assert _files(out) == good
    _run(src, out, "--rewrite-outputs")
    assert _files(out) == good


def test_a_lost_last_transaction_is_redone_on_resume(tmp_path):
    """synchronous=NORMAL in WAL mode may lose the last commits on power loss: the database then
    lacks a document whose lines are already in the files. The next run cuts those lines and redoes it."""
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(2))
    _run(src, out)
    with Store(out / "extractor.db") as st:
        assert st.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert st.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        st.db.execute(f"VACUUM INTO '{tmp_path / 'before.db'}'")  # the state before the last transaction
    _reports(src, range(2, 3))
    _run(src, out)
    assert len(_shas(out)) == 3
    for suffix in ("-wal", "-shm"):
        Path(str(out / "extractor.db") + suffix).unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "before.db", out / "extractor.db")  # the last transaction lost
    res = runner.invoke(cli, ["run", str(src), "--out", str(out), "--llm", "off"])
    assert res.exit_code == 0, res.output
    assert len(_shas(out)) == 3 == len(set(_shas(out)))
    with Store(out / "extractor.db") as st:
        assert st.counts().get("accepted", 0) + st.counts().get("needs_review", 0) == 3
    assert _files(out) == _rewritten(out, tmp_path)


SCHEMA_1 = """
CREATE TABLE documents (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT, url TEXT, kind TEXT,
  status TEXT NOT NULL, decision TEXT, error TEXT, updated_at REAL NOT NULL);
CREATE TABLE records (sha256 TEXT PRIMARY KEY REFERENCES documents(sha256), format TEXT, organ TEXT,
  year INTEGER, decision TEXT, json TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE cells (sha256 TEXT NOT NULL, tbl TEXT NOT NULL, row TEXT NOT NULL, col TEXT NOT NULL,
  value TEXT, kind TEXT, raw TEXT, span_start INTEGER, span_end INTEGER, page INTEGER, producer TEXT,
  label TEXT, unit TEXT, key TEXT, grounded INTEGER, note TEXT, PRIMARY KEY (sha256, tbl, row, col));
CREATE TABLE findings (sha256 TEXT NOT NULL, id TEXT NOT NULL, rule TEXT, version INTEGER, status TEXT,
  classification TEXT, severity TEXT, scope TEXT, message TEXT, arithmetic TEXT, json TEXT,
  PRIMARY KEY (sha256, id));
CREATE TABLE reviews (sha256 TEXT NOT NULL, finding_id TEXT NOT NULL, action TEXT NOT NULL, cell TEXT,
  value TEXT, grounded INTEGER, comment TEXT, reviewer TEXT, created_at REAL NOT NULL,
  span_start INTEGER, span_end INTEGER, page INTEGER, prior TEXT, PRIMARY KEY (sha256, finding_id));
CREATE TABLE bodies (sha256 TEXT PRIMARY KEY, body TEXT, year INTEGER, organ TEXT, how TEXT, note TEXT);
CREATE TABLE crossyear_findings (prev_sha256 TEXT NOT NULL, next_sha256 TEXT NOT NULL, id TEXT NOT NULL,
  body TEXT, rule TEXT, version INTEGER, status TEXT, classification TEXT, severity TEXT, scope TEXT,
  message TEXT, arithmetic TEXT, json TEXT, PRIMARY KEY (prev_sha256, next_sha256, id));
"""


def _old_db(path: Path, script: str, records: list[Record], record_row, finding_json, *,
            passing: bool) -> sqlite3.Connection:
    """A database made by an older schema's ``script``, holding ``records``: documents and cells rows
    keyed by SHA-256 (as schemas 1 and 2 laid them out), ``record_row(r)`` as a records row, the
    findings (the passing ones too when ``passing``) with ``finding_json(f)`` in their json column."""
    c = sqlite3.connect(path)
    c.executescript(script)
    for r in records:
        d = r.document
        c.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                  (d.sha256, d.name, d.path, d.url, d.kind, "done", r.decision, r.error, 1.0))
        row = record_row(r)
        c.execute(f"INSERT INTO records VALUES ({', '.join('?' * len(row))})", row)
        for x in r.cells():
            c.execute("INSERT INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (d.sha256, x.table, x.row, x.col, None if x.value is None else str(x.value), x.kind, x.raw,
                       None, None, None, x.producer, x.label, x.unit, x.key, None, x.note))
        for f in r.findings:
            if passing or f.status != "PASS":
                c.execute("INSERT INTO findings VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                          (d.sha256, f.id, f.rule, f.version, f.status, f.classification, f.severity, f.scope,
                           f.message, f.arithmetic, finding_json(f)))
    return c


def _schema_1_db(path: Path, records: list[Record]) -> None:
    """A database as the store wrote it before schema 2 (plain JSON, every finding's JSON again)."""
    c = _old_db(path, SCHEMA_1, records,
                lambda r: (r.document.sha256, r.format, r.organ, r.year, r.decision, r.model_dump_json(), 1.0),
                lambda f: f.model_dump_json(), passing=True)
    first = records[0]
    c.execute("INSERT INTO reviews (sha256, finding_id, action, comment, reviewer, created_at) VALUES (?,?,?,?,?,?)",
              (first.document.sha256, first.findings[0].id, "accept", "old decision", "bo", 2.0))
    c.commit()
    c.close()


def _made_records(tmp_path: Path) -> list:
    """Three reports (in ``tmp_path/src``) run into a current store: the records an older database
    (to be made in ``tmp_path/old``) is made of."""
    src, made = tmp_path / "src", tmp_path / "made"
    _reports(src, range(3))
    with Store(made / "extractor.db") as st:
        run_batch(discover([src]), st)
        recs = list(st.records())
    (tmp_path / "old").mkdir()
    return recs


def test_a_schema_1_database_is_migrated_on_open(tmp_path):
    recs = _made_records(tmp_path)
    old = tmp_path / "old"
    _schema_1_db(old / "extractor.db", recs)
    with Store(old / "extractor.db") as st:
        assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [r.model_dump() for r in st.records()] == [r.model_dump() for r in recs]
        blob = st.db.execute("SELECT json FROM records LIMIT 1").fetchone()[0]
        assert isinstance(blob, bytes) and zlib.decompress(blob)
        assert "json" not in {r[1] for r in st.db.execute("PRAGMA table_info(findings)")}
        assert st.db.execute("SELECT COUNT(*) FROM findings WHERE status = 'PASS'").fetchone()[0] <= 1  # settled only
        assert st.reviews(recs[0].document.sha256)[0]["reviewer"] == "bo"
    _run(tmp_path / "src", old)  # the migrated store goes on: nothing to redo, the decision shows
    lines = [json.loads(x) for x in output_lines(old)]
    assert len(lines) == 3
    first = next(x for x in lines if x["sha256"] == recs[0].document.sha256)
    assert any(r["reviewer"] == "bo" for r in first["reviews"] + first["open_decisions"])
    res = runner.invoke(cli, ["report", "--db", str(old / "extractor.db"), "--out", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output


SCHEMA_2 = """
CREATE TABLE documents (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT, url TEXT, kind TEXT,
  status TEXT NOT NULL, decision TEXT, error TEXT, updated_at REAL NOT NULL);
CREATE TABLE records (sha256 TEXT PRIMARY KEY REFERENCES documents(sha256), format TEXT, organ TEXT,
  year INTEGER, decision TEXT, json BLOB NOT NULL, created_at REAL NOT NULL, head BLOB, reviewed BLOB, out_stamp REAL);
CREATE TABLE cells (sha256 TEXT NOT NULL, tbl TEXT NOT NULL, row TEXT NOT NULL, col TEXT NOT NULL,
  value TEXT, kind TEXT, raw TEXT, span_start INTEGER, span_end INTEGER, page INTEGER, producer TEXT,
  label TEXT, unit TEXT, key TEXT, grounded INTEGER, note TEXT, PRIMARY KEY (sha256, tbl, row, col)) WITHOUT ROWID;
CREATE TABLE findings (sha256 TEXT NOT NULL, id TEXT NOT NULL, rule TEXT, version INTEGER, status TEXT,
  classification TEXT, severity TEXT, scope TEXT, message TEXT, arithmetic TEXT, json TEXT,
  PRIMARY KEY (sha256, id)) WITHOUT ROWID;
CREATE TABLE outputs (sha256 TEXT PRIMARY KEY, stamp REAL, r0 INTEGER, rn INTEGER, c0 INTEGER, cn INTEGER,
  f0 INTEGER, fn INTEGER) WITHOUT ROWID;
CREATE TABLE output_files (name TEXT PRIMARY KEY, folder TEXT NOT NULL, size INTEGER NOT NULL, ino INTEGER NOT NULL);
CREATE TABLE reviews (sha256 TEXT NOT NULL, finding_id TEXT NOT NULL, action TEXT NOT NULL, cell TEXT,
  value TEXT, grounded INTEGER, comment TEXT, reviewer TEXT, created_at REAL NOT NULL,
  span_start INTEGER, span_end INTEGER, page INTEGER, prior TEXT, PRIMARY KEY (sha256, finding_id));
PRAGMA user_version = 2;
"""


def _schema_2_db(path: Path, records: list[Record], review: tuple[str, str, str]) -> None:
    """A database as the store wrote it with schema 2 (cells and findings keyed by SHA-256, a cell's
    label and note in its row, plain output files described in output_files)."""
    from extractor.decisions import apply_reviews
    from extractor.store import line_head, pack, record_json

    c = _old_db(path, SCHEMA_2, records,
                lambda r: (r.document.sha256, r.format, r.organ, r.year, r.decision, pack(record_json(r)), 1.0,
                           pack(line_head(apply_reviews(r, []))), None, 1.0),
                lambda f: None, passing=False)
    sha, fid, value = review
    c.execute("INSERT INTO reviews (sha256, finding_id, action, cell, value, comment, reviewer, created_at) "
              "VALUES (?,?,?,?,?,?,?,?)", (sha, fid, "correct", "table3.total.total", value, "misprinted", "bo", 2.0))
    c.commit()
    c.close()


def test_a_schema_2_database_is_migrated_to_numbered_documents(tmp_path):
    recs = _made_records(tmp_path)
    f = next(x for x in recs[1].findings if x.rule.startswith("T3"))  # a decision on it sets a table-3 cell
    old = tmp_path / "old"
    _schema_2_db(old / "extractor.db", recs, (recs[1].document.sha256, f.id, "999"))
    with Store(old / "extractor.db") as st:
        assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [r.model_dump() for r in st.records()] == [r.model_dump() for r in recs]
        docs = st.documents()
        assert [d["sha256"] for d in docs] == [r.document.sha256 for r in recs]  # numbered in the order stored
        assert [d["id"] for d in docs] == [1, 2, 3]
        cols = {r[1] for r in st.db.execute("PRAGMA table_info(cells)")}
        assert "sha256" not in cols and "label" not in cols and "doc_id" in cols
        n = st.db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        assert n == sum(len(r.cells()) for r in recs)
        # the view gives each cell its document and, for the corrected one, who set it
        set_by = st.db.execute("SELECT sha256, value, producer, reviewer, review_comment FROM document_cells "
                               "WHERE tbl='table3' AND row='total' AND col='total' AND sha256=?",
                               (recs[1].document.sha256,)).fetchone()
        assert tuple(set_by) == (recs[1].document.sha256, "999", "reviewer", "bo", "misprinted")
        assert st.db.execute("SELECT COUNT(*) FROM document_cells").fetchone()[0] == n
        assert st.db.execute("SELECT COUNT(*) FROM document_cells WHERE reviewer IS NOT NULL").fetchone()[0] == 1
        refs = {r["ref"] for r in st.db.execute("SELECT ref FROM document_findings")}
        assert f"{f.rule}@{f.version}" in refs
    _run(tmp_path / "src", old)  # the migrated store goes on: nothing to redo, the correction shows, gzip outputs
    assert not (old / "records.jsonl").exists() and (old / "records.jsonl.gz").exists()
    line = next(json.loads(x) for x in output_lines(old) if json.loads(x)["sha256"] == recs[1].document.sha256)
    assert line["table3"]["total"]["total"] == 999


SCHEMA_3_CELLS = """CREATE TABLE cells (doc_id INTEGER NOT NULL, tbl TEXT NOT NULL, row TEXT NOT NULL,
  col TEXT NOT NULL, value TEXT, kind TEXT, raw TEXT, span_start INTEGER, span_end INTEGER, page INTEGER,
  producer TEXT, grounded INTEGER, unit TEXT, key TEXT, review TEXT, PRIMARY KEY (doc_id, tbl, row, col)) WITHOUT ROWID"""
SCHEMA_3_VIEW = """CREATE VIEW document_cells AS SELECT d.sha256, c.tbl, c.row, c.col, c.value
  FROM cells c JOIN documents d ON d.id = c.doc_id"""


def test_a_schema_3_database_is_migrated_to_numbered_cell_places(tmp_path):
    """Schema 3 named each cell's table, row and column in every row; schema 4 numbers them
    (``cell_names``). The cells, the view over them and a reviewer's correction come through."""
    src, out = tmp_path / "src", tmp_path / "out"
    _reports(src, range(3))
    _run(src, out)
    db = out / "extractor.db"
    with Store(db) as st:
        recs = list(st.records())
        f = next(x for x in recs[1].findings if x.rule.startswith("T3"))
        st.put_review(recs[1].document.sha256, f.id, "correct", reviewer="bo", cell="table3.total.total",
                      value="999", comment="misprinted")
        want = [tuple(r) for r in st.db.execute("SELECT * FROM document_cells ORDER BY sha256, tbl, row, col")]
    c = sqlite3.connect(db)  # the same rows in schema 3's form
    c.execute("CREATE TABLE old_cells AS SELECT c.doc_id, n.tbl, n.row, n.col, c.value, c.kind, c.raw, c.span_start, "
              "c.span_end, c.page, c.producer, c.grounded, c.unit, c.key, c.review FROM cells c "
              "JOIN cell_names n ON n.id = c.cell")
    c.executescript("DROP VIEW document_cells; DROP TRIGGER documents_gone; DROP TABLE cells; DROP TABLE cell_names; "
                    + SCHEMA_3_CELLS + "; INSERT INTO cells SELECT * FROM old_cells; DROP TABLE old_cells; "
                    + SCHEMA_3_VIEW + "; PRAGMA user_version = 3;")
    c.close()
    with Store(db) as st:
        assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        cols = [r[1] for r in st.db.execute("PRAGMA table_info(cells)")]
        assert cols[:2] == ["doc_id", "cell"] and "tbl" not in cols
        got = [tuple(r) for r in st.db.execute("SELECT * FROM document_cells ORDER BY sha256, tbl, row, col")]
        assert got == want and len(got) == sum(len(r.cells()) for r in recs)
        assert ("999", "bo") in {(r[0], r[1]) for r in st.db.execute("SELECT value, reviewer FROM document_cells")}
    _run(src, out)  # the migrated store goes on: a document deleted takes its cells with it (the trigger again)
    with Store(db) as st:
        st.db.execute("DELETE FROM documents WHERE sha256=?", (recs[0].document.sha256,))
        left = st.db.execute("SELECT COUNT(*) FROM cells WHERE doc_id NOT IN (SELECT id FROM documents)").fetchone()[0]
        assert left == 0


def test_stored_record_keeps_every_value_without_its_defaults(tmp_path):
    src = tmp_path / "src"
    _reports(src, range(4))
    with Store(tmp_path / "o" / "extractor.db") as st:
        made = []
        for f in discover([src]):
            from extractor.sources import Source, process

            rec = process(Source.from_path(f)).record
            made.append(json.loads(rec.model_dump_json()))
            st.save(rec)
        assert [json.loads(r.model_dump_json()) for r in st.records()] == made
        text = zlib.decompress(st.db.execute("SELECT json FROM records LIMIT 1").fetchone()[0]).decode()
        assert '"candidates":[]' not in text and '"missing":false' not in text


def _cross_set(st: Store) -> set[tuple]:
    return {(f.prev.sha256, f.next.sha256, f.id, f.status, f.classification, f.arithmetic, f.message)
            for f in st.stored_crossyear()}


def _bodies(st: Store) -> set[tuple]:
    return {tuple(r) for r in st.bodies()}


def _full_pass_of(db: Path, tmp: Path) -> tuple[set[tuple], set[tuple]]:
    copy = tmp / "full.db"
    copy.unlink(missing_ok=True)
    with Store(db) as st:
        st.db.execute(f"VACUUM INTO '{copy}'")
        mapping = mapping_of(st)  # bodies.yaml beside the original
    with Store(copy) as st:
        evaluate_store(st, mapping)
        return _cross_set(st), _bodies(st)


def test_incremental_crossyear_equals_a_full_pass(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    national_series(a, [2019, 2020, 2021], breaks={2021: {"carry_over"}})
    series_b = national_series(b, [2020, 2021, 2022, 2023], breaks={2022: {"in_force"}})
    with Store(tmp_path / "out" / "extractor.db") as st:
        run_batch(discover([a]), st)
        first = update_store(st)
        assert first.full
        assert (_cross_set(st), _bodies(st)) == _full_pass_of(st.path, tmp_path)
        run_batch(discover([b])[:2], st)  # new documents: only their body-years' pairs
        step = update_store(st)
        assert not step.full and step.documents == 2
        assert (_cross_set(st), _bodies(st)) == _full_pass_of(st.path, tmp_path)
        run_batch(discover([b]), st)
        update_store(st)
        assert (_cross_set(st), _bodies(st)) == _full_pass_of(st.path, tmp_path)
        run_batch(discover([a])[1:2], st, force=True)  # a document run again
        step = update_store(st)
        assert step.documents == 1
        assert (_cross_set(st), _bodies(st)) == _full_pass_of(st.path, tmp_path)
        rec = st.record(st.doc_keys()[0][0])  # a reviewer's decision on a record changes it too
        st.put_review(rec.document.sha256, rec.findings[0].id, "accept", reviewer="ana")
        assert update_store(st).documents == 1
        assert (_cross_set(st), _bodies(st)) == _full_pass_of(st.path, tmp_path)
        gone = series_b[1][0]  # a document no longer stored
        sha = next(k[0] for k in st.doc_keys() if k[1] == gone.name)
        with st.db:
            st.db.execute("DELETE FROM records WHERE sha256=?", (sha,))
        update_store(st)
        assert (_cross_set(st), _bodies(st)) == _full_pass_of(st.path, tmp_path)
        assert not any(sha in (k[0], k[1]) for k in _cross_set(st))
        (tmp_path / "out" / "bodies.yaml").write_text(  # a mapping moves a year
            f"documents:\n  {st.doc_keys()[0][0][:12]}: {{year: 2030}}\n", encoding="utf-8")
        update_store(st)
        assert (_cross_set(st), _bodies(st)) == _full_pass_of(st.path, tmp_path)
        assert update_store(st).documents == 0  # nothing changed: nothing evaluated


@pytest.mark.skipif(not (SHARED / "corpus" / "reports").is_dir(), reason="../shared/corpus/reports not present")
def test_output_folder_per_document_stays_small_on_real_reports(tmp_path):
    files = [p for folder in (SHARED / "samples", SHARED / "corpus" / "reports") if folder.is_dir()
             for p in sorted(folder.iterdir()) if p.suffix.lower() in (".txt", ".md", ".html", ".htm")]
    assert files
    src = tmp_path / "src"
    src.mkdir()
    for k in range(1, 6):  # five distinct copies of each (trailing newlines): the tables' own pages count less
        for p in files:
            (src / f"c{k}_{p.name}").write_bytes(p.read_bytes() + b"\n" * k)
    out = tmp_path / "out"
    _run(src, out)
    with Store(out / "extractor.db") as st:
        n = len(st.documents())
    db = (out / "extractor.db").stat().st_size
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert n == 5 * len(files)
    # schema 1 took ~240 KB of database and ~400 KB in all per document on these reports, schema 2
    # ~60 and ~170 (plain files); now ~28 and ~41 (measured with 10 copies)
    assert db / n < 34 * 1024, f"{db / n / 1024:.0f} KB of database per document"
    assert total / n < 48 * 1024, f"{total / n / 1024:.0f} KB per document"
