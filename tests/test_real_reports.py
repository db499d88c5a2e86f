"""The real reports in ../shared: cell accuracy against gold, decisions, source inconsistencies."""

import json

from extractor import extract
from extractor.batch import discover
from extractor.evaluate import evaluate_record, find_gold, summarize


def _evaluate(paths, gold_dir):
    evals = []
    for f in discover(paths):
        rec = extract(f)
        gp = find_gold(gold_dir, rec)
        assert gp is not None, f"no gold for {f.name}"
        evals.append(evaluate_record(rec, json.loads(gp.read_text(encoding="utf-8"))))
    return summarize(evals)


def test_samples_reach_full_cell_accuracy_and_no_wrong_cell_is_accepted(samples_dir):
    s = _evaluate([samples_dir], samples_dir / "gold")
    assert s["cell_accuracy"] >= 99.0
    wrong = [(d["document"], w) for d in s["by_document"] for w in d["wrong"]]
    assert wrong == []  # every cell of the samples is read today: any wrong cell is a regression
    assert s["accepted_with_wrong_cells"] == 0
    assert s["source_violations_found"] == s["source_violations_gold"]


def test_corpus_reaches_99_percent_and_no_wrong_cell_is_accepted(corpus_dir):
    s = _evaluate([corpus_dir / "reports"], corpus_dir / "gold")
    for fmt in ("2021", "2019"):
        assert s["per_format"][fmt]["accuracy"] >= 99.0, s["per_format"]
    wrong = [(d["document"], w) for d in s["by_document"] for w in d["wrong"]]
    assert wrong == []  # every cell of the corpus is read today: any wrong cell is a regression
    assert s["source_violations_found"] == s["source_violations_gold"]
    assert s["accepted_with_wrong_cells"] == 0


def test_sample_000_keeps_5_and_0_as_printed_and_flags_the_source(samples_dir):
    rec = extract(next(samples_dir.glob("000_*.txt")))
    assert rec.decision == "needs_review"
    t3 = rec.tables["table3"]
    assert t3.get("new_received", "total").value == 5
    assert t3.get("total", "total").value == 0
    bal = next(f for f in rec.findings if f.id == "T3.BALANCE:column total")
    assert bal.status == "FAIL" and bal.classification == "source_inconsistency"
    assert bal.arithmetic.startswith("5 + 0 ≠ 0 + 0")
    # both operands carry spans that re-read from the original file
    text = rec.document.path and open(rec.document.path, encoding="utf-8").read()
    for op in bal.operands:
        assert op.span is not None and text[op.span.start : op.span.end] == str(op.value)


def test_html_grid_with_blank_columns_keeps_blanks_as_blanks(corpus_dir):
    rec = extract(corpus_dir / "reports" / "004.html")
    c = rec.tables["table3"].get("new_received", "commercial")
    assert c.kind == "empty" and c.value is None  # blanks are not silently 0
    # the five 法人 columns are printed blank in every row: one advisory note (every applicant total
    # would hold with blanks as 0), not 25 questions; the cells stay blank
    notes = [f for f in rec.findings if f.status == "ADVISORY" and f.classification == "printed_blank"]
    assert len(notes) == 25 and len({f.group for f in notes}) == 1
    assert not [f for f in rec.findings if f.status in ("FAIL", "UNCERTAIN")]
    assert rec.decision == "accepted"


def test_2019_variant_maps_its_own_table2_columns(corpus_dir):
    rec = extract(corpus_dir / "reports" / "005.html")
    assert rec.format == "2019"
    t2 = rec.tables["table2"]
    assert t2.get("licensing", "change").value == -183
    assert t2.get("procurement", "amount").value == 27225290916
    assert t2.get("licensing", "decisions") is not None and t2.get("licensing", "in_force") is None


def test_legacy_statistical_table_keeps_every_indicator_with_unit(samples_dir):
    rec = extract(next(samples_dir.glob("003_*.txt")))
    assert rec.format == "legacy"
    cells = rec.tables["legacy"].cells
    assert len(cells) == 58
    staff = next(c for c in cells if c.key == "staff")
    assert staff.unit == "人" and staff.value == 1
    ids = {f.rule: f.status for f in rec.findings if f.rule.startswith("L.")}
    assert ids["L.APPLICATION_CHANNELS"] == "PASS" and ids["L.STAFF"] == "PASS"
