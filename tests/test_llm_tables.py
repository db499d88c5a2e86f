"""Tables through the model: cells with quotes, and per-cell reconciliation with the parser.

The model answers here come from ``ScriptedModelServer`` (a test fixture, tests/llm_fixtures.py),
including deliberate mistakes: a model that "repairs" a published inconsistency must not win.
"""

from __future__ import annotations

from types import SimpleNamespace

from extractor.document import from_text
from extractor.llm.tables import model_tables, needs_model, read_table, reconcile
from extractor.model import Cell, DocumentInfo, Record, Table

from llm_fixtures import ScriptedModelServer, make, tool_answer

# A hand-written table 四 region (template labels only): 总计 printed 0 although 维持 is 2.
TABLE4 = (
    "四、政府信息公开行政复议、行政诉讼情况\n"
    "行政复议 | 结果维持 2 | 结果纠正 0 | 其他结果 0 | 尚未审结 0 | 总计 0 |\n"
    "未经复议直接起诉 | 结果维持 0 | 结果纠正 0 | 其他结果 0 | 尚未审结 0 | 总计 0 |\n"
    "复议后起诉 | 结果维持 0 | 结果纠正 0 | 其他结果 0 | 尚未审结 0 | 总计 0 |\n"
)
COLS = ["upheld", "corrected", "other", "pending", "total"]


def doc():
    return from_text(TABLE4, name="t4.txt", kind="text", raw=TABLE4.encode(), encoding="utf-8")


def parser_table(d, values: dict[str, list[int]], *, complete=True) -> Table:
    cells = []
    for row, vals in values.items():
        line_start = d.text.index({"review": "行政复议 |", "litigation_direct": "未经复议", "litigation_after_review": "复议后起诉"}[row])
        pos = line_start
        for col, v in zip(COLS, vals):
            pos = d.text.index(f" {v} |", pos) + 1
            cells.append(Cell(table="table4", row=row, col=col, value=v, kind="zero" if v == 0 else "number",
                              raw=str(v), span=d.span(pos, pos + len(str(v))), grounded=True))
    return Table(key="table4", template="2021.table4", cells=cells, complete=complete)


def record_with(table: Table) -> Record:
    return Record(document=DocumentInfo(name="t4.txt"), format="2021", tables={"table4": table})


def answer(cells):
    return tool_answer({"cells": cells}, name="TableCellsOut")


REVIEW_AS_PRINTED = [
    {"row": "review", "col": "upheld", "value": 2, "quote": "行政复议 | 结果维持 2"},
    {"row": "review", "col": "total", "value": 0, "quote": "行政复议 | 结果维持 2 | 结果纠正 0 | 其他结果 0 | 尚未审结 0 | 总计 0"},
]


def test_needs_model():
    assert needs_model(None)
    assert needs_model(Table(key="table4", template="x", complete=False))
    assert not needs_model(Table(key="table4", template="x", cells=[Cell(table="table4", row="review", col="total", value=0, kind="zero")]))


def test_model_cells_are_grounded_with_spans(tmp_path):
    d = doc()
    client, _ = make(ScriptedModelServer([answer(REVIEW_AS_PRINTED)]), tmp_path)
    cells, note = read_table(client, d, "table4", 0, len(d.text), "2021")
    assert note is None
    up = next(c for c in cells if c.col == "upheld")
    assert up.producer == "model" and up.grounded and d.original[up.span.start : up.span.end] == "2"


def test_agreement_keeps_the_parser_cell(tmp_path):
    d = doc()
    t = parser_table(d, {"review": [2, 0, 0, 0, 0]})
    client, _ = make(ScriptedModelServer([answer(REVIEW_AS_PRINTED)]), tmp_path)
    cells, _ = read_table(client, d, "table4", 0, len(d.text), "2021")
    new, findings = reconcile(record_with(t), "table4", t, cells)
    assert findings == []
    assert all(c.producer == "parser" for c in new.cells)


def test_model_never_repairs_a_published_inconsistency(tmp_path):
    """Fixture mistake: the model 'corrects' 总计 to 2, a number not printed in that place."""
    d = doc()
    t = parser_table(d, {"review": [2, 0, 0, 0, 0]})
    repair = [{"row": "review", "col": "total", "value": 2, "quote": "总计 2"}]  # quote not in the source
    client, _ = make(ScriptedModelServer([answer(repair), answer(repair)]), tmp_path)
    cells, note = read_table(client, d, "table4", 0, len(d.text), "2021")
    assert "unvalidated" in note  # re-asked, still wrong: kept only for the rules to judge
    new, findings = reconcile(record_with(t), "table4", t, cells)
    assert new.get("review", "total").value == 0 and new.get("review", "total").producer == "parser"
    assert not any(f.status == "PASS" and "model" in f.message and "taken" in f.message for f in findings)


def test_two_grounded_readings_go_to_review(tmp_path):
    d = doc()
    t = parser_table(d, {"review": [2, 0, 0, 0, 0]})
    # the model reads 维持 as 0 (a grounded number: 0 is printed in the quote), the parser 2
    wrong = [{"row": "review", "col": "upheld", "value": 0, "quote": "结果纠正 0"}]
    client, _ = make(ScriptedModelServer([answer(wrong)]), tmp_path)
    cells, _ = read_table(client, d, "table4", 0, len(d.text), "2021")
    new, findings = reconcile(record_with(t), "table4", t, cells)
    (f,) = findings
    assert f.status == "UNCERTAIN" and f.classification == "disagreement"
    assert f.values == {"parser": 2, "model": 0}
    assert new.get("review", "upheld").value == 2  # nothing overwritten


def test_model_fills_cells_the_parser_missed(tmp_path):
    d = doc()
    t = parser_table(d, {"review": [2, 0, 0, 0]}, complete=False)  # total missing
    total = [{"row": "review", "col": "total", "value": 0, "quote": "尚未审结 0 | 总计 0"}]
    server = ScriptedModelServer([answer(total)])
    client, _ = make(server, tmp_path)
    rec = record_with(t)
    layout = SimpleNamespace(regions={"table4": SimpleNamespace(start=0, end=len(d.text))})
    findings, notes = model_tables(client, d, layout, rec)
    assert len(server.requests) == 1
    assert "review.total" in server.requests[0]["messages"][-1]["content"]  # only the missing cells asked for
    c = rec.tables["table4"].get("review", "total")
    assert c.producer == "model" and c.value == 0 and c.grounded


def test_complete_tables_make_no_call(tmp_path):
    d = doc()
    t = parser_table(d, {"review": [2, 0, 0, 0, 0]})
    server = ScriptedModelServer([])
    client, _ = make(server, tmp_path)
    layout = SimpleNamespace(regions={"table4": SimpleNamespace(start=0, end=len(d.text))})
    model_tables(client, d, layout, record_with(t))
    assert server.requests == []
