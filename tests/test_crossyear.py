"""Checks across a body's consecutive reports: real corpus pair, synthetic series with breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractor.batch import run_batch
from extractor.bodies import DocKey, assign, canonical_name, load_mapping
from extractor.crossyear import crossyear_rules, evaluate
from extractor.reviewed import evaluate_store
from extractor.loaders import load
from extractor.model import Cell, Candidate, DocumentInfo, Record, Span, Table
from extractor.pipeline import extract
from extractor.store import Store
from series_fixture import legacy_series, national_series

from conftest import shared_path


def _by(findings, rule, scope):
    return next(f for f in findings if f.rule == rule and f.scope == scope)


def test_corpus_001_and_002_link_carry_over_and_in_force_across_2023_and_2024():
    CORPUS = shared_path("corpus", "reports")
    a, b = extract(CORPUS / "001.pdf"), extract(CORPUS / "002.pdf")
    res = evaluate([a, b])
    assert len(res.series) == 1 and res.pairs == 1  # 洪泽区人民政府 (2023) = 淮安市洪泽区人民政府 (2024)
    carry = [f for f in res.findings if f.rule == "X.CARRY_OVER"]
    assert len(carry) == 7 and all(f.status == "PASS" for f in carry)
    f = _by(res.findings, "X.IN_FORCE", "row normative_documents")
    assert f.status == "PASS" and f.arithmetic == "5 + 3 − 0 = 8"
    assert (f.prev.year, f.next.year) == (2023, 2024)
    # every operand names its report and points at the printed characters of that report's file
    docs = {a.document.sha256: load(CORPUS / "001.pdf"), b.document.sha256: load(CORPUS / "002.pdf")}
    for op in f.operands:
        assert op.sha256 == (a if op.doc == "N" else b).document.sha256
        assert docs[op.sha256].original[op.span.start:op.span.end].strip() == str(op.value)


def test_a_synthetic_series_reports_exactly_its_deliberate_breaks_with_both_spans(tmp_path):
    files = national_series(tmp_path / "in", [2021, 2022, 2023, 2024], breaks={2023: {"carry_over"}, 2024: {"in_force"}})
    res = evaluate([extract(p) for p, _ in files])
    assert list(res.series) == ["云州市青禾县人民政府"] and res.pairs == 3  # four printed forms of one organ
    fails = sorted((f.next.year, f.rule, f.scope, f.classification) for f in res.findings if f.status != "PASS")
    assert fails == [
        (2023, "X.CARRY_OVER", "column natural_person", "source_inconsistency"),
        (2023, "X.CARRY_OVER", "column total", "source_inconsistency"),
        (2024, "X.IN_FORCE", "row normative_documents", "reviewer_question"),
    ]
    f = _by([x for x in res.findings if x.next.year == 2023], "X.CARRY_OVER", "column total")
    texts = {p.name: p.read_text(encoding="utf-8") for p, _ in files}
    n, n1 = f.operands
    assert (n.doc, n.year, n1.doc, n1.year) == ("N", 2022, "N+1", 2023)
    assert texts[f.prev.name][n.span.start:n.span.end] == str(n.value)
    assert texts[f.next.name][n1.span.start:n1.span.end] == str(n1.value)
    assert f.arithmetic == f"{n.value} ≠ {n1.value}  ({n.value} vs {n1.value})"


def test_a_cumulative_that_does_not_grow_by_the_year_is_a_break_and_the_others_pass(tmp_path):
    files = legacy_series(tmp_path / "in", [2015, 2016, 2017], break_year=2017)
    res = evaluate([extract(p) for p, _ in files])
    bad = [f for f in res.findings if f.status != "PASS"]
    assert [(f.rule, f.scope, f.next.year) for f in bad] == [("X.CUMULATIVE_STEP", "indicator items_published", 2017)]
    grows = [f for f in res.findings if f.rule == "X.CUMULATIVE_GROWS"]
    assert grows and all(f.status == "PASS" for f in grows)


def _rec(sha: str, year: int, cells: list[Cell], fmt: str = "2021", table: str = "table2") -> Record:
    return Record(document=DocumentInfo(name=f"{sha}.txt", sha256=sha * 8), organ="白石镇人民政府", year=year,
                  format=fmt, tables={table: Table(key=table, template=f"{fmt}.{table}", cells=cells)},
                  decision="accepted")


def _cell(row: str, col: str, value, kind: str = "number", start: int = 0, raw: str | None = None, cands=()) -> Cell:
    raw = str(value) if raw is None else raw
    return Cell(table="table2", row=row, col=col, value=value, kind=kind, raw=raw, span=Span(start=start, end=start + len(raw)),
                anchor="label", grounded=True, candidates=[Candidate(value=c, raw=str(c)) for c in cands])


def test_a_blank_operand_makes_the_check_uncertain_never_a_silent_zero():
    a = _rec("a", 2022, [_cell("normative_documents", c, v) for c, v in (("issued", 3), ("abolished", 0), ("in_force", 40))])
    b = _rec("b", 2023, [_cell("normative_documents", "issued", 2), _cell("normative_documents", "abolished", None, "empty", raw=""),
                         _cell("normative_documents", "in_force", 42)])
    f = _by(evaluate([a, b]).findings, "X.IN_FORCE", "row normative_documents")
    assert f.status == "UNCERTAIN" and "abolished=empty" in f.message
    assert f.values["with_blanks_as_zero"] == "holds"


def test_run_together_digits_stay_uncertain_and_the_readings_that_would_hold_are_listed():
    # 2023 prints 现行有效 40; 2024 prints 制发/废止/现行有效 run together as "5342" (5 | 3 | 42)
    a = _rec("a", 2023, [_cell("normative_documents", c, v) for c, v in (("issued", 3), ("abolished", 0), ("in_force", 40))])
    run = [_cell("normative_documents", "issued", None, "ambiguous", 100, "534", (5, 53, 534)),
           _cell("normative_documents", "abolished", None, "ambiguous", 101, "34", (3, 34, 4)),
           _cell("normative_documents", "in_force", None, "ambiguous", 102, "42", (42, 2))]
    f = _by(evaluate([a, _rec("b", 2024, run)]).findings, "X.IN_FORCE", "row normative_documents")
    assert f.status == "UNCERTAIN" and f.classification == "ambiguous"
    assert f.values["readings_that_hold"] == ["40 + 5 − 3 = 42"] and f.values["readings"] == 3


def test_previous_year_count_of_the_2019_variant_is_linked_to_the_previous_report():
    a = _rec("a", 2019, [_cell("licensing", "previous_year", 39), _cell("licensing", "change", -4),
                         _cell("licensing", "decisions", 100)], fmt="2019")
    ok = _rec("b", 2020, [_cell("licensing", "previous_year", 35)], fmt="2019")
    off = _rec("c", 2020, [_cell("licensing", "previous_year", 39)], fmt="2019")
    assert _by(evaluate([a, ok]).findings, "X.PREVIOUS_YEAR", "row licensing").arithmetic == "39 + (−4) = 35"
    f = _by(evaluate([a, off]).findings, "X.PREVIOUS_YEAR", "row licensing")
    assert f.status == "FAIL" and f.classification == "source_inconsistency"


def test_reports_of_different_years_apart_are_not_compared():
    a = _rec("a", 2021, [_cell("normative_documents", "in_force", 1)])
    b = _rec("b", 2023, [_cell("normative_documents", "in_force", 9)])
    res = evaluate([a, b])
    assert res.pairs == 0 and res.findings == []


def test_rules_are_data_with_stable_versioned_ids():
    ids = {r["id"]: r["version"] for r in crossyear_rules()}
    assert {"X.CARRY_OVER", "X.IN_FORCE", "X.PREVIOUS_YEAR", "X.CUMULATIVE_GROWS", "X.CUMULATIVE_STEP"} <= set(ids)
    assert all(isinstance(v, int) for v in ids.values())


def test_organ_names_are_normalized_across_years():
    assert canonical_name("洪泽区人民政府办公室") == canonical_name("洪泽区政府") == canonical_name("洪泽区") == "洪泽区人民政府"
    assert canonical_name("沐阳县发改局") == "沭阳县发展和改革局"
    assert canonical_name("平潭综合实验区管委会") == canonical_name("平潭综合实验区") == "平潭综合实验区管理委员会"
    assert canonical_name("上海市人民政府（全市汇总）") != canonical_name("上海市人民政府办公厅")


def test_a_bare_name_shared_by_two_cities_joins_neither():
    docs = [DocKey("a" * 64, "a", "南京市鼓楼区人民政府", 2023), DocKey("b" * 64, "b", "福州市鼓楼区人民政府", 2023),
            DocKey("c" * 64, "c", "鼓楼区政府", 2022), DocKey("d" * 64, "d", "淮安市洪泽区人民政府", 2024),
            DocKey("e" * 64, "e", "洪泽区人民政府办公室", 2023)]
    got = assign(docs)
    assert got["c" * 64].body == "鼓楼区人民政府" and got["c" * 64].note.startswith("ambiguous")
    assert got["e" * 64].body == got["d" * 64].body == "淮安市洪泽区人民政府"


def test_a_mapping_file_overrides_names_years_and_exclusions(tmp_path):
    m = tmp_path / "bodies.yaml"
    m.write_text("bodies:\n  鼓楼区（南京）:\n    names: [鼓楼区政府]\n    documents: [aaaaaa]\n"
                 "documents:\n  cccccc: {year: 2021}\n  dddddd: {exclude: true}\n", encoding="utf-8")
    docs = [DocKey("a" * 64, "a", "别的名字", 2023), DocKey("b" * 64, "b", "鼓楼区人民政府办公室", 2022),
            DocKey("c" * 64, "c", "鼓楼区政府", None), DocKey("d" * 64, "d", "鼓楼区政府", 2020)]
    got = assign(docs, load_mapping(m))
    assert {got[x * 64].body for x in "abc"} == {"鼓楼区（南京）"}
    assert got["c" * 64].year == 2021 and got["d" * 64].body is None


def test_run_evaluates_across_years_and_the_store_keeps_findings_keyed_by_both_documents(tmp_path):
    files = national_series(tmp_path / "in", [2022, 2023], breaks={2023: {"carry_over"}})
    with Store(tmp_path / "x.db") as store:
        run_batch([p for p, _ in files], store)
        res = evaluate_store(store)
        rows = store.crossyear_findings()
        assert len(rows) == len(res.findings)
        sha23 = next(a.sha256 for a in res.assignments.values() if a.year == 2023)
        mine = store.stored_crossyear(sha23)
        assert mine and all(sha23 in (f.prev.sha256, f.next.sha256) for f in mine)
        assert {r["body"] for r in store.bodies()} == {"云州市青禾县人民政府"}


def test_html_tables_give_a_stock_break_as_a_question_with_both_spans(tmp_path):
    """Real report pages print table 二 as an HTML grid: every number in its own cell, so a break is
    a FAIL with the printed numbers (not UNCERTAIN as in a flattened text dump), each operand's span
    pointing at its digits in the page source of its own report."""
    files = national_series(tmp_path / "in", [2022, 2023, 2024], encoding="html", breaks={2023: {"in_force"}})
    with Store(tmp_path / "x.db") as store:
        run_batch([p for p, _ in files], store)
        res = evaluate_store(store)
    fails = [f for f in res.findings if f.status != "PASS"]
    assert [(f.id, f.next.year, f.status, f.classification) for f in fails] == [
        ("X.IN_FORCE:row normative_documents", 2023, "FAIL", "reviewer_question")]
    f = fails[0]
    v22, v23 = files[0][1]["table2"]["normative_documents"], files[1][1]["table2"]["normative_documents"]
    assert f.arithmetic.startswith(f"{v22['in_force']} + {v23['issued']} − {v23['abolished']} ≠ {v23['in_force']}")
    for op in f.operands:
        path = files[0][0] if op.doc == "N" else files[1][0]
        assert path.read_text(encoding="utf-8")[op.span.start:op.span.end] == str(op.value)


def test_a_legacy_indicator_printed_under_two_labels_is_linked_by_its_key(tmp_path):
    labels = {2015: "(一)受理依申请公开信息总数", 2016: "(一)受理政府信息依申请公开总数"}
    legacy_series(tmp_path / "in", [2015, 2016], received_labels=labels, received_break_year=2016)
    with Store(tmp_path / "x.db") as store:
        run_batch(sorted((tmp_path / "in").glob("*.txt")), store)
        res = evaluate_store(store)
    got = {(f.rule, f.scope): f for f in res.findings}
    step = got[("X.CUMULATIVE_STEP", "indicator applications_received")]
    assert step.status == "FAIL" and step.classification == "source_inconsistency"
    assert {op.label for op in step.operands} == {"(一)受理依申请公开信息总数", "(一)受理政府信息依申请公开总数"}
    assert not [f for f in res.findings if f.status == "NOT_ASSESSABLE"]
