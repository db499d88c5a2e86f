"""The rule engine: PASS/FAIL/UNCERTAIN/NOT_ASSESSABLE, tolerance, grounding, classification."""

from decimal import Decimal
from pathlib import Path

from extractor.loaders import load_bytes
from extractor.model import Cell, DocumentInfo, Record, Span, Table
from extractor.pipeline import extract, extract_document
from extractor.templates import load_rules, rule
from extractor.verify.engine import check_identities, evaluate_identity
from synth import make_values, render


def _cell(row, col, value, kind=None, decimals=0, anchor="label"):
    k = kind or ("zero" if value == 0 else "number")
    return Cell(table="t", row=row, col=col, value=value, kind=k, decimals=decimals, grounded=True, anchor=anchor)


def test_rules_are_data_with_stable_ids_and_versions():
    ids = {r["id"] for r in load_rules()}
    assert {"T3.BALANCE", "T3.OUTCOME_TOTAL", "T3.APPLICANT_TOTAL", "T4.GROUP_TOTAL", "L.APPLICATION_CHANNELS"} <= ids
    assert all(isinstance(r["version"], int) for r in load_rules())


def test_counts_compare_exactly():
    r = rule("T4.GROUP_TOTAL")
    f = evaluate_identity(r, "row review", [("total", _cell("review", "total", 11))],
                          [(c, _cell("review", c, v)) for c, v in [("upheld", 10), ("corrected", 0), ("other", 0), ("pending", 0)]], "x")
    assert f.status == "FAIL" and f.arithmetic.startswith("11 ≠ 10 + 0 + 0 + 0")


def test_money_sums_use_interval_tolerance_of_printed_decimals():
    r = {"id": "X.MONEY", "version": 1}
    lhs = [("a", _cell("a", "x", Decimal("10.0"), decimals=1))]
    rhs = [("b", _cell("b", "x", Decimal("3.33"), decimals=2)), ("c", _cell("c", "x", Decimal("6.67"), decimals=2))]
    assert evaluate_identity(r, "s", lhs, rhs, "x").status == "PASS"
    rhs_off = [("b", _cell("b", "x", Decimal("3.33"), decimals=2)), ("c", _cell("c", "x", Decimal("6.80"), decimals=2))]
    assert evaluate_identity(r, "s", lhs, rhs_off, "x").status == "FAIL"
    # 0.06 off, tolerance 0.05 + 0.005 + 0.005 = 0.06: just inside
    rhs_edge = [("b", _cell("b", "x", Decimal("3.33"), decimals=2)), ("c", _cell("c", "x", Decimal("6.73"), decimals=2))]
    assert evaluate_identity(r, "s", lhs, rhs_edge, "x").status == "PASS"


def test_blank_operand_makes_the_check_uncertain_never_zero():
    r = rule("T4.GROUP_TOTAL")
    blank = Cell(table="t", row="review", col="other", kind="empty", note="blank cell")
    f = evaluate_identity(r, "row review", [("total", _cell("review", "total", 3))],
                          [("upheld", _cell("review", "upheld", 3)), ("corrected", _cell("review", "corrected", 0)),
                           ("other", blank), ("pending", _cell("review", "pending", 0))], "x")
    assert f.status == "UNCERTAIN" and "with blanks read as 0 it holds" in f.message


def test_all_blank_operands_are_not_assessable():
    r = rule("T4.GROUP_TOTAL")
    blank = Cell(table="t", row="review", col="x", kind="empty")
    f = evaluate_identity(r, "row review", [("total", blank)], [("upheld", blank)], "x")
    assert f.status == "NOT_ASSESSABLE"


def test_published_inconsistency_is_classified_as_source_and_numbers_are_kept():
    v = make_values(4)
    v["table3"]["total"]["natural_person"] += 2
    rec = extract_document(load_bytes(render(v, "pipe").encode(), "r.txt"))
    assert rec.decision == "needs_review"
    fails = [f for f in rec.findings if f.status == "FAIL"]
    assert fails and all(f.classification == "source_inconsistency" for f in fails)
    assert rec.tables["table3"].get("total", "natural_person").value == v["table3"]["total"]["natural_person"]
    assert any("source_inconsistency" in r for r in rec.reasons)


def test_grounding_flags_a_value_that_does_not_reread_from_its_span():
    v = make_values(9)
    doc = load_bytes(render(v, "stream").encode(), "r.txt")
    rec = extract_document(doc)
    assert rec.decision == "accepted"
    from extractor.verify import verify_record

    cell = rec.tables["table2"].get("licensing", "decisions")
    cell.value = cell.value + 1  # a value the source does not say
    findings = verify_record(rec, doc)
    bad = [f for f in findings if f.rule == "G.GROUNDED"]
    assert len(bad) == 1 and bad[0].classification == "ungrounded" and cell.grounded is False


def test_identity_failure_with_order_placed_rows_is_a_suspected_extraction_error():
    rec = Record(document=DocumentInfo(name="x"))
    t = Table(key="table4", template="table4")
    for g in ("review", "litigation_direct", "litigation_after_review"):
        for c, val in zip(("upheld", "corrected", "other", "pending", "total"), (1, 0, 0, 0, 2)):
            t.cells.append(Cell(table="table4", row=g, col=c, value=val, kind="number" if val else "zero",
                                grounded=True, anchor="order", span=Span(start=0, end=1)))
    rec.tables["table4"] = t
    fails = [f for f in check_identities(rec) if f.status == "FAIL"]
    assert len(fails) == 3 and {f.classification for f in fails} == {"suspected_extraction_error"}


def test_a_national_format_report_without_table_four_is_not_accepted():
    text = render(make_values(3), "pipe")
    cut = text[: text.index("四、政府信息公开行政复议")] + text[text.index("五、存在的主要问题"):]
    rec = extract_document(load_bytes(cut.encode("utf-8"), "r.txt"))
    assert rec.decision == "needs_review"
    t4 = rec.tables["table4"]
    assert not t4.complete and all(c.missing for c in t4.cells) and len(t4.cells) == 15


def test_the_failing_identities_are_exactly_the_fail_findings_of_check_identities():
    """The grouping asks which identities FAIL on corrected copies without making the findings
    (engine.failing_identities): the same ids as the FAIL findings, on reports with failures,
    blanks and not-applicable marks in every encoding."""
    from extractor.verify.engine import failing_identities

    seen_fail = 0
    for seed in range(12):
        v = make_values(seed, big=seed % 2 == 0)
        v["table3"]["total"]["natural_person"] += seed % 3  # a total printed wrong (seeds 1, 2, 4, 5, ...)
        if seed % 4 == 1:
            v["table4"]["review"]["upheld"] = None  # a row printed blank: NOT_ASSESSABLE
        if seed % 4 == 3:
            v["table3"]["granted"]["natural_person"] = None  # one cell printed blank: UNCERTAIN, not FAIL
        enc = ["lines", "pipe", "tab", "stream", "space", "html"][seed % 6]
        text = render(v, enc)
        rec = extract_document(load_bytes(text.encode("utf-8"), "r.html" if enc == "html" else "r.txt"))
        want = {f.id for f in check_identities(rec) if f.status == "FAIL"}
        assert failing_identities(rec) == want
        seen_fail += bool(want)
    assert seen_fail >= 4
    shared = Path(__file__).resolve().parents[2] / "shared"
    for p in sorted(shared.glob("samples/*.txt")) + sorted(shared.glob("corpus/reports/*")):  # legacy ones too
        rec = extract(p)
        assert failing_identities(rec) == {f.id for f in check_identities(rec) if f.status == "FAIL"}, p
