"""The cross-year update reads each record's stored view (``records.pair_view``: what the rules read of
it) instead of the whole record: the same findings as over the full records, for a reviewed document
(read whole, decisions applied), a database of an earlier extractor (no views: made on the way) and a
view cut for other rules (not used)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from series_fixture import legacy_series, national_series  # noqa: E402

from extractor.batch import discover, run_batch  # noqa: E402
from extractor.decisions import prepare_decision, reviewed_record  # noqa: E402
from extractor.crossyear import StoredView, crossyear_rules, rules_cover, view_stamp  # noqa: E402
from extractor.reviewed import evaluate_store, mapping_of, update_store  # noqa: E402
from extractor.store import Store  # noqa: E402
from extractor.templates import rules_dir  # noqa: E402


def _findings(st: Store) -> list[str]:
    """Every stored cross-year finding, whole (its JSON), in a stable order."""
    return sorted(f.model_dump_json() for f in st.stored_crossyear())


def _full_pass(st: Store, tmp: Path) -> list[str]:
    """The findings :func:`evaluate_store` makes over the full (reviewed) records of a copy of ``st``."""
    copy = tmp / "full.db"
    copy.unlink(missing_ok=True)
    st.db.execute(f"VACUUM INTO '{copy}'")
    mapping = mapping_of(st)
    with Store(copy) as full:
        evaluate_store(full, mapping)
        return _findings(full)


def _reevaluate(st: Store) -> None:
    """Every pair evaluated again by the update (as when the cross-year rules change)."""
    with st.db:
        st.db.execute("DELETE FROM meta WHERE key = 'crossyear_rules'")
    assert update_store(st).full


def _views(st: Store) -> dict[str, str | None]:
    return {r[0]: None if r[1] is None else zlib.decompress(r[1]).decode()
            for r in st.db.execute("SELECT sha256, pair_view FROM records")}


def _series_store(tmp: Path) -> Store:
    national_series(tmp / "in", [2020, 2021, 2022, 2023], breaks={2022: {"carry_over"}, 2023: {"in_force"}})
    legacy_series(tmp / "legacy", [2014, 2015, 2016], break_year=2016)
    st = Store(tmp / "out" / "extractor.db")
    run_batch(discover([tmp / "in", tmp / "legacy"]), st)
    return st


def test_stored_views_give_the_findings_of_the_full_records_also_for_a_reviewed_document(tmp_path):
    with _series_store(tmp_path) as st:
        assert all(_views(st).values())  # every record saved with its view
        update_store(st)
        got = _findings(st)
        assert any('"status":"FAIL"' in f for f in got) and any("X.CUMULATIVE_STEP" in f for f in got)
        assert got == _full_pass(st, tmp_path)
        # a reviewer corrects a table 三 cell the rules read: that record is read whole, the decision applied
        sha = next(sha for sha, _n, _o, year in st.doc_keys() if year == 2022)
        cell = st.record(sha).tables["table3"].get("carried_over", "total")
        kw = prepare_decision(reviewed_record(st, sha), "T3.BALANCE:column total", "correct", reviewer="ana",
                              cell=cell.ref, value=str(cell.value + 1), own=True, comment="misprinted")
        st.put_review(sha, "T3.BALANCE:column total", "correct", **kw)
        assert reviewed_record(st, sha).record.tables["table3"].get("carried_over", "total").value == cell.value + 1
        assert update_store(st).documents == 1
        reviewed = _findings(st)
        assert reviewed != got and reviewed == _full_pass(st, tmp_path)
        _reevaluate(st)
        assert _findings(st) == reviewed


def test_a_database_without_views_gets_them_from_the_records_with_the_same_findings(tmp_path):
    with _series_store(tmp_path) as st:
        update_store(st)
        expected = _findings(st)
        made = _views(st)
    db = sqlite3.connect(tmp_path / "out" / "extractor.db")  # as an extractor before the views left it
    db.execute("ALTER TABLE records DROP COLUMN pair_view")
    db.commit()
    db.close()
    with Store(tmp_path / "out" / "extractor.db") as st:  # the column comes back empty
        assert set(_views(st).values()) == {None}
        _reevaluate(st)
        assert _findings(st) == expected
        views = _views(st)
        paired = {f.prev.sha256 for f in st.stored_crossyear()} | {f.next.sha256 for f in st.stored_crossyear()}
        assert {sha for sha, v in views.items() if v} == paired  # made for the records the pairs read
        assert all(views[sha] == made[sha] for sha in paired)  # as the save makes them


def test_a_view_is_used_only_when_cut_for_the_current_rules(tmp_path):
    with _series_store(tmp_path) as st:
        update_store(st)
        expected = _findings(st)
        sha = next(sha for sha, _n, _o, year in st.doc_keys() if year == 2021)
        view = StoredView.model_validate_json(_views(st)[sha])
        view.tables["table3"].cells = [c for c in view.tables["table3"].cells if c.col != "total"]
        for stamp, used in ((view_stamp(), True), ("cut-for-other-rules", False)):
            view.stamp = stamp
            with st.db:
                st.db.execute("UPDATE records SET pair_view=? WHERE sha256=?",
                              (zlib.compress(view.model_dump_json(exclude_defaults=True).encode()), sha))
            _reevaluate(st)
            got = _findings(st)
            missing = [f for f in got if '"kind":"missing"' in f and "column total" in f]
            assert bool(missing) == used  # a view of this stamp is what the rules read
            assert (got == expected) != used
        assert StoredView.model_validate_json(_views(st)[sha]).stamp == view_stamp()  # made again


def test_the_view_stamp_follows_the_rows_the_rules_read(tmp_path, monkeypatch):
    cover = rules_cover(crossyear_rules())
    assert cover["2021"] == {"table3": {"carried_forward", "carried_over"}, "table2": {"regulations", "normative_documents"}}
    assert cover["legacy"] == {"legacy": None}  # one check per indicator: every row
    before = view_stamp()
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    path = rules / "crossyear.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "each: {row: [regulations, normative_documents]}", "each: {row: [regulations]}"), encoding="utf-8")
    monkeypatch.setenv("EXTRACTOR_RULES_DIR", str(rules))
    assert rules_cover(crossyear_rules())["2021"]["table2"] == {"regulations"}
    assert view_stamp() != before  # the cached plan is the rules directory's
    monkeypatch.delenv("EXTRACTOR_RULES_DIR")
    assert view_stamp() == before
    assert json.loads(json.dumps(before)) == before
