"""Tables through the model: cells with quotes, and per-cell reconciliation with the parser.

The model answers here come from ``ScriptedModelServer`` (a test fixture, tests/llm_fixtures.py),
including deliberate mistakes. A model value may fill a cell only where the parser has none, or
resolve an ambiguous cell only to one of the parser's candidates; only from a validated answer, for
a cell that was asked for, quoted inside the table's region, printed there as a whole number on
characters no other cell was read from, and only when the identities then hold — and each such value
is a finding for a reviewer.
"""

from __future__ import annotations

from types import SimpleNamespace

from extractor.document import from_text
from extractor.llm.tables import model_tables, needs_model
from extractor.model import Candidate, Cell, DocumentInfo, Record, Table
from extractor.verify import check_grounding, check_identities, decide

from llm_fixtures import ScriptedModelServer, make, tool_answer

INTRO = "一、总体情况\n本年度共收到政府信息公开申请5件，办结5件。\n"
T4_HEAD = "四、政府信息公开行政复议、行政诉讼情况\n"
REVIEW_LINE = "行政复议 | 结果维持 2 | 结果纠正 0 | 其他结果 0 | 尚未审结 0 | 总计 {total} |\n"
OTHER_LINES = (
    "未经复议直接起诉 | 结果维持 0 | 结果纠正 0 | 其他结果 0 | 尚未审结 0 | 总计 0 |\n"
    "复议后起诉 | 结果维持 0 | 结果纠正 0 | 其他结果 0 | 尚未审结 0 | 总计 0 |\n"
)
COLS = ["upheld", "corrected", "other", "pending", "total"]
ROW_START = {"review": "行政复议 |", "litigation_direct": "未经复议", "litigation_after_review": "复议后起诉"}


def make_doc(total: int = 2, *, after: str = "", intro: str = INTRO):
    """A report: section 一 (narrative), then table 四 (hand-written, template labels only)."""
    text = intro + T4_HEAD + REVIEW_LINE.format(total=total) + OTHER_LINES + after
    return from_text(text, name="t4.txt", kind="text", raw=text.encode(), encoding="utf-8")


def region(d):
    return SimpleNamespace(regions={"table4": SimpleNamespace(start=d.text.index(T4_HEAD), end=len(d.text))})


def parser_table(d, *, without=(), missing=(), blank=()) -> Table:
    """The parser's reading of the table: every printed number at its characters; cells in
    ``without`` absent, in ``missing`` not found, in ``blank`` read as printed blanks."""
    cells = []
    for row, start in ROW_START.items():
        pos = d.text.index(start)
        for col in COLS:
            label = {"upheld": "结果维持", "corrected": "结果纠正", "other": "其他结果", "pending": "尚未审结",
                     "total": "总计"}[col]
            pos = d.text.index(label, pos) + len(label) + 1
            end = d.text.index(" |", pos)
            ref = f"{row}.{col}"
            if ref in without:
                continue
            if ref in missing:
                cells.append(Cell(table="table4", row=row, col=col, kind="empty", missing=True,
                                  note="not found in the table"))
                continue
            if ref in blank:
                cells.append(Cell(table="table4", row=row, col=col, kind="empty", note="blank cell"))
                continue
            v = int(d.text[pos:end])
            cells.append(Cell(table="table4", row=row, col=col, value=v, kind="zero" if v == 0 else "number",
                              raw=str(v), span=d.span(pos, end), anchor="label"))
    return Table(key="table4", template="2021.table4", cells=cells, complete=not (without or missing))


def record_with(table: Table) -> Record:
    return Record(document=DocumentInfo(name="t4.txt"), format="2021", tables={"table4": table})


def answer(cells):
    return tool_answer({"cells": cells}, name="TableCellsOut")


def ask(d, table, script, *, every=False):
    """Run the model step; returns (record, findings, notes, server)."""
    server = ScriptedModelServer(script)
    client, _ = make(server, _tmp())
    rec = record_with(table)
    findings, notes = model_tables(client, d, region(d), rec, identities=check_identities, every=every)
    return rec, findings, notes, server


_TMP: list = []


def _tmp():
    import tempfile
    from pathlib import Path

    _TMP.append(tempfile.TemporaryDirectory())
    return Path(_TMP[-1].name)


def cell(rec, ref):
    return rec.tables["table4"].get(*ref.split("."))


def checked(rec, d, findings):
    """The record after the deterministic checks and the decision, as the pipeline makes it."""
    rec.findings = findings + check_grounding(rec, d) + check_identities(rec)
    decide(rec)
    return rec


# --- what a model reading needs -------------------------------------------------------------------


def test_needs_model():
    assert needs_model(None)
    assert needs_model(Table(key="table4", template="x", complete=False))
    assert not needs_model(Table(key="table4", template="x", cells=[Cell(table="table4", row="review", col="total", value=0, kind="zero")]))
    assert needs_model(Table(key="table4", template="x", cells=[Cell(table="table4", row="review", col="total", missing=True)]))


def test_a_value_is_found_whole_and_only_inside_the_region():
    from extractor.llm.tables import quote_spans, value_spans

    text = "收到申请260件\n表 | 26029 | 260 |"
    start = text.index("表")
    assert quote_spans(text, "收到申请260件", start) == []  # outside the region: not found at all
    (q,) = quote_spans(text, "26029 | 260", start)
    assert [text[a:b] for a, b in value_spans(text, *q, 260)] == ["260"]  # the whole number, not inside 26029
    assert value_spans(text, *quote_spans(text, "| 26029", start)[0], 260) == []


# --- fills, and the side doors around them ----------------------------------------------------------


def test_model_fills_a_missing_cell_only_as_a_finding_and_the_record_is_not_accepted():
    d = make_doc(total=2)
    rec, findings, _, server = ask(d, parser_table(d, without=("review.total",)), [
        answer([{"row": "review", "col": "total", "value": 2, "quote": "尚未审结 0 | 总计 2"}])])
    assert "review.total" in server.requests[0]["messages"][-1]["content"]  # only the cells it lacks are asked for
    c = cell(rec, "review.total")
    assert c.producer == "model" and c.value == 2 and d.original[c.span.start:c.span.end] == "2"
    (f,) = [f for f in findings if f.rule == "M.CELL_FILL"]
    assert f.status == "UNCERTAIN" and f.values["parser"] == "missing" and f.values["model"] == 2
    assert "T4.GROUP_TOTAL[row review] PASS: 2 = 2 + 0 + 0 + 0" in f.values["rules"]
    rec = checked(rec, d, findings)
    assert rec.decision == "needs_review"  # a model value is never accepted unseen
    assert any("M.CELL_FILL" in r for r in rec.reasons)


def test_a_blank_cell_never_becomes_zero():
    d = make_doc()
    t = parser_table(d, blank=("litigation_direct.upheld",))
    zero = [{"row": "litigation_direct", "col": "upheld", "value": 0, "quote": "行政复议 | 结果维持 2 | 结果纠正 0"}]
    rec, findings, _, _ = ask(d, t, [answer(zero)], every=True)
    c = cell(rec, "litigation_direct.upheld")
    assert c.kind == "empty" and c.value is None and c.producer == "parser"


def test_digits_inside_a_longer_number_do_not_ground_a_model_value():
    """"260" is not printed in "26029": a quote holding 26029 grounds nothing for 260."""
    d = make_doc(total=2, after="注：统计编号26029\n")
    bad = [{"row": "review", "col": "total", "value": 260, "quote": "统计编号26029"}]
    rec, findings, notes, _ = ask(d, parser_table(d, without=("review.total",)), [answer(bad), answer(bad)])
    assert cell(rec, "review.total") is None


def test_a_quote_cut_right_after_some_digits_does_not_make_them_a_whole_number():
    """The quote "统计编号2" is printed (inside "统计编号26029"), but 2 is not a number of it; nor is the
    "2" of an enumerator "2." whose quote stops at the digit. (2 is the value the identities want.)"""
    d = make_doc(total=2, after="注：统计编号26029\n2.说明\n")
    for value, quote in ((2, "统计编号2"), (2, "26029\n2")):
        bad = [{"row": "review", "col": "total", "value": value, "quote": quote}]
        rec, _, _, _ = ask(d, parser_table(d, without=("review.total",)), [answer(bad), answer(bad)])
        assert cell(rec, "review.total") is None, quote


def test_a_quote_from_another_section_grounds_nothing():
    """The quote is looked for inside the table's region only, never in the rest of the document."""
    d = make_doc(total=2)
    elsewhere = [{"row": "review", "col": "total", "value": 5, "quote": "本年度共收到政府信息公开申请5件"}]
    rec, _, _, _ = ask(d, parser_table(d, without=("review.total",)), [answer(elsewhere), answer(elsewhere)])
    assert cell(rec, "review.total") is None


def test_an_answer_that_failed_validation_is_dropped_whole():
    """Re-asked and still wrong in one cell: none of the answer is used, not even its good cell."""
    d = make_doc(total=2)
    t = parser_table(d, without=("review.total",), missing=("litigation_direct.total",))
    mixed = [{"row": "review", "col": "total", "value": 2, "quote": "尚未审结 0 | 总计 2"},
             {"row": "litigation_direct", "col": "total", "value": 7, "quote": "总计 7"}]  # not in the source
    rec, findings, notes, server = ask(d, t, [answer(mixed), answer(mixed)])
    assert len(server.requests) == 2  # asked, re-asked with the failing rule's message
    assert "G.GROUNDED" in str(server.requests[1]["messages"])
    assert cell(rec, "review.total") is None and cell(rec, "litigation_direct.total").missing
    assert any("dropped" in n for n in notes)
    assert findings == []


def test_cells_not_asked_for_are_dropped():
    d = make_doc(total=2)
    t = parser_table(d, without=("review.total",), blank=("litigation_direct.upheld",))
    extra = [{"row": "review", "col": "total", "value": 2, "quote": "尚未审结 0 | 总计 2"},
             {"row": "litigation_direct", "col": "upheld", "value": 0, "quote": "未经复议直接起诉 | 结果维持 0"}]
    rec, findings, _, server = ask(d, t, [answer(extra), answer(extra)])
    assert "litigation_direct.upheld" not in server.requests[0]["messages"][-1]["content"]
    c = cell(rec, "litigation_direct.upheld")
    assert c.kind == "empty" and c.producer == "parser"
    assert not any("litigation_direct.upheld" in f.id for f in findings)


def test_a_fill_that_breaks_an_identity_is_not_used():
    """维持 2 + 0 + 0 + 0: a 总计 of 5 (printed in a footnote of the table) is not filled in."""
    d = make_doc(total=2, after="注：5\n")
    five = [{"row": "review", "col": "total", "value": 5, "quote": "注：5"}]
    rec, findings, _, _ = ask(d, parser_table(d, without=("review.total",)), [answer(five)])
    assert cell(rec, "review.total") is None
    (f,) = [f for f in findings if f.id == "M.CELL_FILL:table4.review.total"]
    assert f.status == "PASS" and "identity" in f.message


def test_another_cells_characters_ground_nothing():
    """The model quotes 结果维持 2 for 总计: those characters are the parser's 维持 cell."""
    d = make_doc(total=2)
    borrowed = [{"row": "review", "col": "total", "value": 2, "quote": "行政复议 | 结果维持 2"}]
    rec, findings, _, _ = ask(d, parser_table(d, without=("review.total",)), [answer(borrowed)])
    assert cell(rec, "review.total") is None
    assert any("another cell" in f.message for f in findings)


# --- ambiguous cells -------------------------------------------------------------------------------


def ambiguous_doc():
    text = (INTRO + T4_HEAD + "行政复议 | 5845546 | 其他结果 0 | 尚未审结 0 | 总计 |\n" + OTHER_LINES)
    d = from_text(text, name="t4.txt", kind="text", raw=text.encode(), encoding="utf-8")
    t = Table(key="table4", template="2021.table4", complete=True,
              cells=[c for c in parser_table(make_doc()).cells if c.row != "review"])
    # the other rows at their characters in this text (same lines, shifted)
    shift = d.text.index(OTHER_LINES) - make_doc().text.index(OTHER_LINES)
    for c in t.cells:
        c.span = d.span(c.span.start + shift, c.span.end + shift)
    run = d.text.index("5845546")
    sp = lambda a, b: d.span(run + a, run + b)  # noqa: E731
    amb = dict(kind="ambiguous", raw="5845546", span=d.span(run, run + 7), inferred="split", anchor="label",
               note="run-together digits")
    t.cells += [
        Cell(table="table4", row="review", col="upheld", **amb, candidates=[
            Candidate(value=58, raw="58", span=sp(0, 2)), Candidate(value=584, raw="584", span=sp(0, 3))]),
        Cell(table="table4", row="review", col="corrected", **amb, candidates=[
            Candidate(value=45546, raw="45546", span=sp(2, 7)), Candidate(value=5546, raw="5546", span=sp(3, 7))]),
    ]
    for col, v in (("other", 0), ("pending", 0)):
        pos = d.text.index({"other": "其他结果", "pending": "尚未审结"}[col]) + 5
        t.cells.append(Cell(table="table4", row="review", col=col, value=v, kind="zero", raw="0",
                            span=d.span(pos, pos + 1), anchor="label"))
    t.cells.append(Cell(table="table4", row="review", col="total", kind="empty", note="blank cell"))
    return d, t


def test_an_ambiguous_cell_is_resolved_only_to_one_of_the_parsers_candidates():
    d, t = ambiguous_doc()
    recut = [{"row": "review", "col": "upheld", "value": 5845, "quote": "行政复议 | 5845546"}]
    rec, findings, notes, server = ask(d, t, [answer(recut), answer(recut)])
    assert "584" in server.requests[0]["messages"][-1]["content"]  # the candidates are in the question
    c = cell(rec, "review.upheld")
    assert c.kind == "ambiguous" and c.value is None


def test_a_resolved_ambiguous_cell_takes_the_candidates_characters_and_is_a_finding():
    d, t = ambiguous_doc()
    pick = [{"row": "review", "col": "upheld", "value": 584, "quote": "行政复议 | 5845546"}]
    rec, findings, _, _ = ask(d, t, [answer(pick)])
    c = cell(rec, "review.upheld")
    assert c.value == 584 and c.producer == "model" and d.original[c.span.start:c.span.end] == "584"
    (f,) = [f for f in findings if f.rule == "M.CELL_FILL"]
    assert f.status == "UNCERTAIN" and f.values["model"] == 584 and "58 | 584" in f.values["parser"]
    rec = checked(rec, d, findings)
    assert c.grounded  # its characters re-read as 584
    assert rec.decision == "needs_review"


# --- the parser's own readings stay -----------------------------------------------------------------


def test_agreement_keeps_the_parser_cell():
    d = make_doc(total=0)
    same = [{"row": "review", "col": "upheld", "value": 2, "quote": "行政复议 | 结果维持 2"},
            {"row": "review", "col": "total", "value": 0, "quote": "尚未审结 0 | 总计 0"}]
    rec, findings, _, _ = ask(d, parser_table(d), [answer(same)], every=True)
    assert findings == []
    assert all(c.producer == "parser" for c in rec.tables["table4"].cells)


def test_model_never_repairs_a_published_inconsistency():
    """The report prints 总计 0 although 维持 is 2; the model 'corrects' it to 2 (not printed there)."""
    d = make_doc(total=0)
    repair = [{"row": "review", "col": "total", "value": 2, "quote": "总计 2"}]  # quote not in the source
    rec, findings, notes, _ = ask(d, parser_table(d), [answer(repair), answer(repair)], every=True)
    assert any("dropped" in n for n in notes)
    c = cell(rec, "review.total")
    assert c.value == 0 and c.producer == "parser"


def test_two_grounded_readings_go_to_review_and_the_parser_value_stays():
    """The report prints 维持 2 and 总计 0 (its own inconsistency); a note below the table says 维持 0.
    The model reads that 0: grounded, nobody else's, and it keeps the identity the parser's 2 breaks."""
    d = make_doc(total=0, after="注：维持0件\n")
    other = [{"row": "review", "col": "upheld", "value": 0, "quote": "注：维持0件"}]
    rec, findings, _, _ = ask(d, parser_table(d), [answer(other)], every=True)
    (f,) = findings
    assert f.rule == "M.CELL_AGREE" and f.status == "UNCERTAIN" and f.classification == "disagreement"
    assert f.values["parser"] == 2 and f.values["model"] == 0
    assert any("FAIL" in r for r in f.values["rules"]["parser"])
    assert cell(rec, "review.upheld").value == 2 and cell(rec, "review.upheld").producer == "parser"


def test_a_reading_that_breaks_the_identities_the_parser_keeps_is_only_noted():
    d = make_doc(total=2, after="注：维持3件\n")
    other = [{"row": "review", "col": "upheld", "value": 3, "quote": "注：维持3件"}]
    rec, findings, _, _ = ask(d, parser_table(d), [answer(other)], every=True)
    (f,) = findings
    assert f.rule == "M.CELL_AGREE" and f.status == "PASS" and "breaks an identity" in f.message
    assert cell(rec, "review.upheld").value == 2


def test_complete_tables_make_no_call():
    d = make_doc()
    rec, _, _, server = ask(d, parser_table(d), [])
    assert server.requests == []


def test_no_model_value_changes_a_cell_without_a_finding_for_a_reviewer(tmp_path):
    """The whole pipeline with a cunning hostile model (answers that all pass validation) on our own
    flattened reports: a cell the model changed always has an open M.CELL_FILL finding, so its record
    is not accepted until a reviewer has seen it."""
    from extractor.llm import LLMSteps
    from extractor.loaders import load_bytes
    from extractor.pipeline import extract_document
    from llm_fixtures import HostileTableModel
    from synth import make_values, render

    hostile = HostileTableModel(cunning=True)
    client, _ = make(ScriptedModelServer([], responder=hostile), tmp_path)
    steps = LLMSteps(client, tables="auto", identities=check_identities)
    changed = 0
    for seed in (1, 2, 3):
        doc = load_bytes(render(make_values(seed, big=True), "flattened").encode(), f"flat{seed}.txt")
        rec = extract_document(doc, llm=steps)
        fills = {f.scope.split(" ", 1)[1] for f in rec.findings if f.rule == "M.CELL_FILL" and f.status == "UNCERTAIN"}
        model_cells = {c.ref for c in rec.cells() if c.producer == "model"}
        assert model_cells == fills
        changed += len(model_cells)
        if model_cells:
            assert rec.decision == "needs_review"
    assert changed > 0 and hostile.answers["candidate"] > 0
