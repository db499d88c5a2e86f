"""Large batches: `run --shard i/N` slices, `merge` of shard databases, `--concurrency N` thread pool."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractor.batch import BatchResult, discover, run_batch
from extractor.cli import app as cli_app
from extractor.errors import ExtractorError
from extractor.inputs import discover_inputs, parse_shard, select_shard, shard_key
from extractor.merge import merge
from extractor.store import Store
from fakereport import report_bytes
from localhttp import LocalServer
from outputs import output_lines, output_path, output_text


def corpus(tmp_path: Path, n: int = 9) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for i in range(n):
        (d / f"r{i}.html").write_bytes(report_bytes(i))
    (d / "empty.txt").write_bytes(b"")
    (d / "garbage.pdf").write_bytes(bytes(range(256)) * 8)
    return d


def cli(*args: str):
    r = CliRunner().invoke(cli_app, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r


def canon(out: Path) -> dict[str, dict]:
    """sha256 → the canonical record (what records.jsonl holds), for comparing runs."""
    rows = [json.loads(x) for x in output_lines(out)]
    return {r["sha256"]: {k: v for k, v in r.items() if k != "record"} for r in rows}


def table_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                         "AND name NOT LIKE 'sqlite_%'")]
        return {t: c.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in names}


# --- shard selection -------------------------------------------------------------------------


def test_parse_shard():
    assert parse_shard("0/4") == (0, 4) and parse_shard(" 3 / 4 ") == (3, 4)
    for bad in ("4/4", "1/0", "-1/3", "a/b", "2", ""):
        with pytest.raises(ExtractorError, match="shard"):
            parse_shard(bad)


def test_shards_are_disjoint_complete_and_by_content(tmp_path):
    d = corpus(tmp_path)
    items = discover_inputs([d, "https://a.gov.cn/1.pdf", "http://b.gov.cn/2.html"])
    for n in (1, 2, 3, 5):
        parts = [select_shard(items, i, n) for i in range(n)]
        flat = [x for p in parts for x in p]
        assert sorted(map(str, flat)) == sorted(map(str, items))  # every input exactly once
        assert parts == [select_shard(items, i, n) for i in range(n)]  # deterministic
    # the key is the content, not the name or place: a copy elsewhere lands in the same shard
    other = tmp_path / "elsewhere" / "renamed.html"
    other.parent.mkdir()
    other.write_bytes((d / "r3.html").read_bytes())
    assert shard_key(other) == shard_key(d / "r3.html")
    assert shard_key("https://a.gov.cn/1.pdf") != shard_key("https://a.gov.cn/2.pdf")


def test_oversize_file_is_sharded_without_reading_it(tmp_path, monkeypatch):
    import extractor.loaders as loaders

    monkeypatch.setattr(loaders, "MAX_BYTES", 10)
    f = tmp_path / "big.txt"
    f.write_bytes(b"x" * 100)
    import hashlib

    assert shard_key(f) == hashlib.sha256(str(f).encode()).hexdigest()


# --- sharded runs and merge ------------------------------------------------------------------


def test_sharded_runs_merge_to_the_unsharded_result(tmp_path):
    d = corpus(tmp_path)
    cli("run", str(d), "--out", str(tmp_path / "whole"), "--llm", "off")
    shards = []
    for i in range(3):
        out = tmp_path / f"shard-{i}"
        r = cli("run", str(d), "--shard", f"{i}/3", "--out", str(out), "--llm", "off")
        assert f"shard {i}/3:" in r.output
        shards.append(out)
    sizes = [len(canon(s)) for s in shards]
    assert sum(sizes) == 11 and all(sizes)  # 9 reports + 2 bad inputs, spread over the shards

    merged = tmp_path / "merged"
    cli("merge", *map(str, shards), "--out", str(merged))
    assert canon(merged) == canon(tmp_path / "whole")
    first = table_counts(merged / "extractor.db")
    cells_csv = output_text(merged, "cells.csv")

    # idempotent: merging again (and the merged folder into itself) changes nothing
    cli("merge", *map(str, shards), str(merged), "--out", str(merged))
    assert table_counts(merged / "extractor.db") == first
    assert output_text(merged, "cells.csv") == cells_csv
    whole = table_counts(tmp_path / "whole" / "extractor.db")
    for t in ("documents", "records", "cells", "findings"):
        assert first[t] == whole[t], t


def test_merge_takes_llm_tables_and_reviews_without_duplicates(tmp_path):
    d = corpus(tmp_path, n=4)
    outs = []
    for i in range(2):
        out = tmp_path / f"s{i}"
        cli("run", str(d), "--shard", f"{i}/2", "--out", str(out), "--llm", "off")
        outs.append(out)
        with sqlite3.connect(out / "extractor.db") as c:  # tables the LLM layer keeps, as it keeps them
            c.execute("CREATE TABLE IF NOT EXISTS llm_cache (doc_sha TEXT, prompt TEXT, response TEXT, "
                      "PRIMARY KEY (doc_sha, prompt))")
            c.execute("CREATE TABLE IF NOT EXISTS llm_ledger (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                      "doc_sha TEXT, prompt TEXT, tokens INTEGER, ts REAL)")
            c.execute("CREATE INDEX IF NOT EXISTS llm_ledger_doc ON llm_ledger(doc_sha)")
            for k in range(3):  # ids 1..3 in both shards: they must not overwrite each other
                c.execute("INSERT INTO llm_cache VALUES (?,?,?)", (f"doc{i}", f"p{k}", "{}"))
                c.execute("INSERT INTO llm_ledger (doc_sha, prompt, tokens, ts) VALUES (?,?,?,?)",
                          (f"doc{i}", f"p{k}", 100 + k, 1.0 + k))
            sha = c.execute("SELECT sha256 FROM documents LIMIT 1").fetchone()[0]
            c.execute("INSERT INTO reviews (sha256, finding_id, action, reviewer, created_at) VALUES (?,?,?,?,?)",
                      (sha, f"F{i}", "accept", "ann", 10.0 + i))
    merged = tmp_path / "m"
    for _ in range(2):
        merge(outs, merged)
        counts = table_counts(merged / "extractor.db")
        assert counts["llm_cache"] == 6 and counts["llm_ledger"] == 6 and counts["reviews"] == 2
    with sqlite3.connect(merged / "extractor.db") as c:
        assert c.execute("SELECT COUNT(DISTINCT doc_sha || prompt) FROM llm_ledger").fetchone()[0] == 6
        idx = [r[1] for r in c.execute("PRAGMA index_list(llm_ledger)")]
        assert "llm_ledger_doc" in idx


def test_merge_keeps_the_newer_copy_of_a_document_as_a_unit(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.html").write_bytes(report_bytes(1))
    for name in ("old", "new"):
        cli("run", str(d), "--out", str(tmp_path / name), "--llm", "off")
    with sqlite3.connect(tmp_path / "old" / "extractor.db") as c:  # an older run that read one more cell
        c.execute("UPDATE documents SET updated_at = updated_at - 1000")
        c.execute("INSERT INTO cell_names (tbl, row, col) VALUES ('table9', 'x', 'y')")
        c.execute("INSERT INTO cells (doc_id, cell, value) SELECT d.id, n.id, '1' FROM documents d "
                  "JOIN cell_names n ON n.tbl = 'table9'")
    merged = tmp_path / "m"
    merge([tmp_path / "new", tmp_path / "old"], merged)  # the older one comes last, and loses
    with sqlite3.connect(merged / "extractor.db") as c:
        assert c.execute("SELECT COUNT(*) FROM document_cells WHERE tbl='table9'").fetchone()[0] == 0
    merge([tmp_path / "old"], tmp_path / "m2")
    merge([tmp_path / "new"], tmp_path / "m2")  # the newer one replaces all of it
    with sqlite3.connect(tmp_path / "m2" / "extractor.db") as c:
        assert c.execute("SELECT COUNT(*) FROM document_cells WHERE tbl='table9'").fetchone()[0] == 0


def test_merging_nothing_new_leaves_the_output_files_alone(tmp_path):
    d = corpus(tmp_path, n=4)
    outs = []
    for i in range(2):
        cli("run", str(d), "--shard", f"{i}/2", "--out", str(tmp_path / f"s{i}"), "--llm", "off")
        outs.append(tmp_path / f"s{i}")
    first = merge(outs[:1], tmp_path / "m")
    assert first.outputs_rewritten and first.documents_taken == len(canon(outs[0]))
    stamp = {f: output_path(tmp_path / "m", f).stat().st_mtime_ns for f in ("records.jsonl", "cells.csv", "findings.csv")}
    again = merge(outs[:1], tmp_path / "m")  # the same shard again: nothing to copy, nothing to rewrite
    assert again.documents_taken == 0 and not again.outputs_rewritten
    assert {f: output_path(tmp_path / "m", f).stat().st_mtime_ns for f in stamp} == stamp
    second = merge(outs, tmp_path / "m")  # a new shard: its documents only, outputs regenerated
    assert second.documents_taken == len(canon(outs[1])) and second.outputs_rewritten
    assert len(canon(tmp_path / "m")) == len(canon(outs[0])) + len(canon(outs[1]))


def test_merge_copies_downloads(tmp_path):
    srv = LocalServer().start()
    try:
        url = srv.route("/r.html", report_bytes(2), headers={"Content-Type": "text/html; charset=gbk"})
        cli("run", url, "--out", str(tmp_path / "s0"), "--llm", "off", "--allow-private")
    finally:
        srv.stop()
    merge([tmp_path / "s0"], tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m" / "downloads").rglob("*") if p.is_file())
    assert len(files) == 2 and any(f.endswith(".html") for f in files)


def test_merge_errors_are_clear(tmp_path):
    with pytest.raises(ExtractorError, match="no extractor.db in"):
        merge([tmp_path], tmp_path / "m")


# --- concurrency ----------------------------------------------------------------------------


class SlowModel:
    """Stands for the model steps: each document waits on 'the model'; counts calls in flight."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay, self.now, self.peak, self.calls = delay, 0, 0, 0
        self.lock = threading.Lock()

    def enrich(self, doc, layout, record) -> None:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1


def test_concurrency_is_bounded_and_gives_the_sequential_result(tmp_path):
    d = corpus(tmp_path, n=12)
    files = discover([d])
    seq_model, par_model = SlowModel(), SlowModel()
    with Store(tmp_path / "seq" / "extractor.db") as st:
        seq = run_batch(files, st, llm=seq_model)
        st.write_outputs(tmp_path / "seq")
    with Store(tmp_path / "par" / "extractor.db") as st:
        par = run_batch(files, st, llm=par_model, concurrency=4)
        st.write_outputs(tmp_path / "par")
        again = run_batch(files, st, llm=par_model, concurrency=4)
    assert seq_model.peak == 1 and 1 < par_model.peak <= 4
    assert (par.processed, par.failed, par.decisions) == (seq.processed, seq.failed, seq.decisions)
    assert again.skipped == len(files) and again.processed == 0
    assert canon(tmp_path / "par") == canon(tmp_path / "seq")


def test_concurrent_batch_with_urls_and_duplicate_content(tmp_path):
    srv = LocalServer().start()
    try:
        urls = [srv.route(f"/r{i}.html", report_bytes(i % 3), headers={"Content-Type": "text/html; charset=gbk"})
                for i in range(6)]
        urls.append(srv.url("/missing.pdf"))
        with Store(tmp_path / "extractor.db") as st:
            res = run_batch(urls, st, concurrency=3, fetch_options={"retries": 1, "allow_private": True})
            assert res.processed == 4 and res.skipped == 3  # 3 distinct pages + the failed download
            assert res.failed == 1 and "HTTP 404" in res.errors[0][1]
            assert len(list(st.records())) == 4
            res2 = run_batch(urls, st, concurrency=3, fetch_options={"retries": 1, "allow_private": True})
            assert res2.skipped == 6 and res2.failed == 1
    finally:
        srv.stop()
    assert all(srv.hits[f"/r{i}.html"] == 1 for i in range(6))  # nothing fetched twice


def test_interrupted_concurrent_batch_saves_what_finished(tmp_path):
    d = corpus(tmp_path, n=8)
    files = discover([d])
    seen: list[str] = []

    def ctrl_c_after_three(path, status, rec):
        seen.append(str(path))
        if len(seen) == 3:
            raise KeyboardInterrupt

    with Store(tmp_path / "extractor.db") as st:
        with pytest.raises(KeyboardInterrupt):
            run_batch(files, st, concurrency=2, on_progress=ctrl_c_after_three)
        done_first = len(list(st.records()))
        assert done_first >= 3
        res = run_batch(files, st, concurrency=2)
        assert res.skipped == done_first and res.processed == len(files) - done_first
        assert len(list(st.records())) == len(files)


def test_concurrency_one_is_the_sequential_path(tmp_path):
    d = corpus(tmp_path, n=2)
    with Store(tmp_path / "extractor.db") as st:
        res = run_batch(discover([d]), st, concurrency=1)
    assert isinstance(res, BatchResult) and res.processed == 4 and res.failed == 2


def test_cli_concurrency_option(tmp_path):
    d = corpus(tmp_path, n=3)
    cli("run", str(d), "--out", str(tmp_path / "o"), "--llm", "off", "--concurrency", "3")
    assert len(canon(tmp_path / "o")) == 5


def test_merged_reviews_decide_the_document_everywhere(tmp_path):
    """Reviews that decide a document hold in the merged store whichever copy of the document is
    taken: the documents table, the records' decision and records.jsonl show the reviewed decision,
    also when a newer copy without the reviews is merged in after them."""
    from test_review_support import synthetic_report
    from extractor.decisions import reviewed_record

    d = tmp_path / "in"
    d.mkdir()
    (d / "report.txt").write_text(synthetic_report(), encoding="utf-8")
    for name in ("reviewed", "rerun"):
        cli("run", str(d), "--out", str(tmp_path / name), "--llm", "off")
    with Store(tmp_path / "reviewed" / "extractor.db") as st:  # a reviewer decides every open finding
        (rec,) = list(st.records())
        sha = rec.document.sha256
        assert rec.decision == "needs_review"
        for f in reviewed_record(st, sha).open:
            st.put_review(sha, f.id, "confirm_source", reviewer="ann", comment="as published")
        assert st.counts() == {"accepted": 1}
    with sqlite3.connect(tmp_path / "rerun" / "extractor.db") as c:  # the later copy, never reviewed
        c.execute("UPDATE documents SET updated_at = updated_at + 1000")

    def decided(out: Path) -> None:
        with sqlite3.connect(out / "extractor.db") as c:
            assert c.execute("SELECT decision FROM documents WHERE sha256=?", (sha,)).fetchone()[0] == "accepted"
            assert c.execute("SELECT decision FROM records WHERE sha256=?", (sha,)).fetchone()[0] == "accepted"
        (line,) = output_lines(out)
        assert json.loads(line)["decision"] == "accepted"
        assert json.loads(line)["accepted_by"] == "review"
        with Store(out / "extractor.db") as st:
            assert st.counts() == {"accepted": 1}

    for order in (("reviewed", "rerun"), ("rerun", "reviewed")):  # in one merge, either order
        out = tmp_path / ("m-" + "-".join(order))
        merge([tmp_path / n for n in order], out)
        decided(out)
    out = tmp_path / "m-later"  # the reviews merged first, the newer copy in a later merge
    merge([tmp_path / "reviewed"], out)
    decided(out)
    res = merge([tmp_path / "rerun"], out)
    assert res.documents_taken == 1
    decided(out)
