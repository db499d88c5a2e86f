"""Reports whose tables were flattened onto one line (crawled pages, text dumps) get their rows back."""

import json
from pathlib import Path

import pytest

from extractor.evaluate import evaluate_record
from extractor.loaders import load_bytes
from extractor.pipeline import extract_document
from extractor.reflow import reflow
from synth import make_values, render

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def _flat(seed: int):
    v = make_values(seed)
    text = render(v, "flattened")
    assert text.count("\n") == 2  # title, the whole report on one line
    return v, load_bytes(text.encode("utf-8"), "dump.txt")


@pytest.mark.parametrize("seed", [1, 7, 13, 21])
def test_flattened_tables_three_and_four_are_read_cell_by_cell(seed):
    v, doc = _flat(seed)
    rec = extract_document(doc)
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.total == 200
    assert [w for w in ev.wrong if w.table != "table2"] == []
    # table 二's multi-column rows run together without an identity to split them: never guessed
    for w in ev.wrong:
        cell = rec.tables["table2"].get(w.row, w.col)
        assert cell.kind == "ambiguous" and w.gold in [c.value for c in cell.candidates]
    if ev.wrong:
        assert rec.decision == "needs_review"


def test_an_enumerator_glued_to_the_previous_rows_digits_starts_the_next_row():
    _, doc = _flat(1)
    lines = doc.text.split("\n")
    assert "5.属于三类内部事务信息 0400004" in lines
    assert "6.属于四类过程性信息 0600006" in lines


def test_flattened_cells_point_at_the_original_digits():
    v, doc = _flat(7)
    rec = extract_document(doc)
    for c in rec.tables["table3"].cells:
        assert doc.original[c.span.start : c.span.end] == str(v["table3"][c.row][c.col])
        assert c.grounded


def test_flattened_sections_are_found():
    from extractor.layout import analyze

    _, doc = _flat(13)
    assert [s.key for s in analyze(doc).sections] == list("一二三四五六")


@pytest.mark.parametrize("encoding", ["lines", "stream", "pipe", "tab", "space", "html", "runtogether"])
def test_reports_with_their_own_line_structure_are_left_as_they_are(encoding):
    text = render(make_values(3), encoding)
    name = "r.html" if encoding == "html" else "r.txt"
    from extractor.loaders import _load_kind

    doc = _load_kind(text.encode("utf-8"), name)
    assert reflow(doc) is doc


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not present")
def test_real_samples_are_left_as_they_are():
    from extractor.loaders import _load_kind

    for path in sorted(SAMPLES.glob("*.txt")):
        doc = _load_kind(path.read_bytes(), path.name)
        assert reflow(doc) is doc, path.name


def _legacy(seed: int, cumulative: bool):
    from synth import render_legacy

    text, gold = render_legacy(seed, "flattened", cumulative)
    rec = extract_document(load_bytes(text.encode("utf-8"), "dump.txt"))
    return rec, evaluate_record(rec, {"legacy": gold, "format": "legacy"})


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_flattened_statistical_table_is_read_indicator_by_indicator(seed):
    rec, ev = _legacy(seed, False)
    assert rec.format == "legacy" and ev.total == 19 and ev.wrong == []
    assert rec.decision == "accepted", rec.reasons
    units = {c.label: c.unit for c in rec.tables["legacy"].cells}
    assert units["2.传真申请数"] == "件" and units["七、依申请公开信息收取的费用"] == "万元"


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_glued_year_and_cumulative_values_are_split_only_when_one_cut_fits(seed):
    rec, ev = _legacy(seed, True)
    for w in ev.wrong:  # every cell not read is ambiguous, with the printed value among its candidates
        same = [c for c in rec.tables["legacy"].cells if c.label == w.row and c.col == w.col]  # labels repeat
        assert any(c.kind == "ambiguous" and w.gold in [x.value for x in c.candidates] for c in same)
    cells = {(c.label, c.col): c for c in rec.tables["legacy"].cells}
    staff = cells[("2.兼职人员数", "year")]  # printed "00": 0 and 0 is the only cut
    assert (staff.value, cells[("2.兼职人员数", "cumulative")].value) == (0, 0) or staff.kind == "ambiguous"
    assert rec.decision == "needs_review"


def test_statistical_table_named_in_the_introduction_is_found_at_its_header():
    from extractor.layout import analyze
    from synth import render_legacy

    text, _ = render_legacy(2, "pipe")
    intro = "本报告由概述、主动公开情况和政府信息公开情况统计表共四个部分组成。\n"
    text = text.replace("\n", "\n" + intro, 1)
    doc = load_bytes(text.encode("utf-8"), "l.txt")
    region = analyze(doc).regions["legacy"]
    assert doc.text[region.start:].startswith("| 统计指标 | 单位 | 统计数 |")


def test_a_signed_change_glued_to_its_neighbour_starts_its_own_value():
    v, doc = _flat(5)
    import re

    text = re.sub(r"行政事业性收费[\d.]+", "行政事业性收费35-15", doc.original, count=1)  # a 2019-style 本年增/减
    doc = load_bytes(text.encode("utf-8"), "dump.txt")
    assert "行政事业性收费 35 -15" in doc.text


def test_a_negative_value_outside_the_change_column_is_not_a_reading():
    from extractor.layout import analyze
    from extractor.parse import parse_table2

    text = ("二、主动公开政府信息情况\n第二十条第(五)项\n信息内容 | 上一年项目数量 | 本年增/减 | 处理决定数量 |\n"
            "行政许可 | 12 | -3 | 9 |\n第二十条第(六)项\n信息内容 | 上一年项目数量 | 本年增/减 | 处理决定数量 |\n"
            "行政处罚 | 26 | 4 | -8 |\n三、收到和处理政府信息公开申请情况\n一、本年新收政府信息公开申请数量 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |\n")
    doc = load_bytes(text.encode("utf-8"), "r.txt")
    t2 = parse_table2(doc, analyze(doc).regions["table2"], "2019")
    assert t2.get("licensing", "change").value == -3 and t2.get("licensing", "decisions").value == 9
    assert all(t2.get("punishment", c).value is None for c in ("previous_year", "change", "decisions"))
