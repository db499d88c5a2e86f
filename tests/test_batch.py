"""Batch runs: resumable by content hash, atomic per document, a broken file never stops the batch."""

import json

import pytest

from extractor.batch import discover, run_batch
from extractor.store import Store
from outputs import output_lines, output_rows
from synth import make_values, render


def _write_reports(folder, n=4):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"r{i}.txt").write_text(render(make_values(20 + i), "pipe"), encoding="utf-8")
    return folder


def test_rerun_skips_finished_documents_and_force_redoes_them(tmp_path):
    src = _write_reports(tmp_path / "in")
    with Store(tmp_path / "out" / "extractor.db") as st:
        first = run_batch(discover([src]), st)
        again = run_batch(discover([src]), st)
        forced = run_batch(discover([src]), st, force=True)
    assert (first.processed, first.skipped) == (4, 0)
    assert (again.processed, again.skipped) == (0, 4)
    assert (forced.processed, forced.skipped) == (4, 0)


def test_interrupted_batch_resumes_without_duplicates_or_loss(tmp_path):
    src = _write_reports(tmp_path / "in", 5)
    files = discover([src])
    db = tmp_path / "out" / "extractor.db"
    seen = []

    def ctrl_c_after_two(path, status, rec):
        seen.append(path)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with Store(db) as st, pytest.raises(KeyboardInterrupt):
        run_batch(files, st, on_progress=ctrl_c_after_two)
    with Store(db) as st:
        res = run_batch(files, st)
        paths = st.write_outputs(tmp_path / "out")
    assert res.skipped == 2 and res.processed == 3
    lines = output_lines(paths["records"].parent)
    assert len(lines) == 5
    assert len({json.loads(ln)["sha256"] for ln in lines}) == 5


def test_broken_file_is_reported_and_the_batch_goes_on(tmp_path):
    src = _write_reports(tmp_path / "in", 2)
    (src / "empty.txt").write_bytes(b"")
    (src / "garbage.txt").write_bytes(bytes(range(256)) * 40)
    with Store(tmp_path / "out.db") as st:
        res = run_batch(discover([src]), st)
        decisions = {r.document.name: (r.decision, r.error) for r in st.records()}
    assert res.processed == 4 and res.failed == 2
    assert decisions["empty.txt"][0] == "failed" and "empty" in decisions["empty.txt"][1]
    assert decisions["garbage.txt"][0] == "failed" and "binary" in decisions["garbage.txt"][1]
    assert decisions["r0.txt"][0] == "accepted"


def test_outputs_carry_every_cell_with_span_and_producer(tmp_path):
    src = _write_reports(tmp_path / "in", 1)
    with Store(tmp_path / "o" / "extractor.db") as st:
        run_batch(discover([src]), st)
        paths = st.write_outputs(tmp_path / "o")
    rows = output_rows(paths["cells"].parent, "cells.csv")
    assert len(rows) == 200
    text = (src / "r0.txt").read_text(encoding="utf-8")
    for r in rows:
        if r["kind"] in ("number", "zero"):
            assert r["producer"] == "parser"
            assert text[int(r["span_start"]) : int(r["span_end"])] == r["raw"]
