"""The pre-2019 statistical table in every encoding, with its identities."""

import pytest

from extractor.evaluate import evaluate_record
from extractor.loaders import load_bytes
from extractor.pipeline import extract_document
from synth import render_legacy


@pytest.mark.parametrize("encoding", ["stream", "pipe", "tab", "space"])
@pytest.mark.parametrize("cumulative", [False, True])
def test_every_indicator_is_kept_with_label_unit_value_and_column(encoding, cumulative):
    text, gold = render_legacy(3, encoding, cumulative)
    rec = extract_document(load_bytes(text.encode("utf-8"), "l.txt"))
    assert rec.format == "legacy"
    ev = evaluate_record(rec, {"legacy": gold, "format": "legacy"})
    assert ev.wrong == [] and ev.total == len(gold)
    units = {c.label: c.unit for c in rec.tables["legacy"].cells}
    assert units["(一)收到申请数"] == "件" and units["七、依申请公开信息收取的费用"] == "万元"


def test_repeated_labels_get_keys_by_their_group():
    text, _ = render_legacy(4, "pipe")
    rec = extract_document(load_bytes(text.encode("utf-8"), "l.txt"))
    keys = [c.key for c in rec.tables["legacy"].cells if c.label == "(二)被依法纠错数"]
    assert keys == ["review_corrected", "lawsuit_corrected"]


def test_legacy_identities_pass_and_a_broken_sum_fails():
    text, _ = render_legacy(5, "pipe")
    rec = extract_document(load_bytes(text.encode("utf-8"), "l.txt"))
    status = {f.rule: f.status for f in rec.findings if f.rule.startswith("L.")}
    assert status["L.APPLICATION_CHANNELS"] == "PASS" and status["L.REVIEWS"] == "PASS" and status["L.STAFF"] == "PASS"
    assert rec.decision == "accepted"
    lines = []
    for ln in text.split("\n"):
        if ln.startswith("| (三)从事政府信息公开工作人员数"):
            n = int(ln.split("|")[3])
            ln = ln.replace(f"| {n} |", f"| {n + 1} |")
        lines.append(ln)
    rec2 = extract_document(load_bytes("\n".join(lines).encode("utf-8"), "l.txt"))
    f = next(f for f in rec2.findings if f.rule == "L.STAFF")
    assert f.status == "FAIL" and f.classification == "source_inconsistency"


def test_narrative_after_the_table_is_not_read_as_indicators():
    text, gold = render_legacy(6, "space")
    rec = extract_document(load_bytes(text.encode("utf-8"), "l.txt"))
    labels = [c.label for c in rec.tables["legacy"].cells]
    assert not any("培训" in (lb or "") for lb in labels)
    assert len(labels) == len(gold)


def test_a_serial_number_column_is_not_read_as_a_value():
    text, gold = render_legacy(8, "pipe")
    lines = []
    n = 0
    for ln in text.split("\n"):
        if ln.startswith("| "):
            n += 1
            ln = f"| {n} " + ln if n > 1 else "| 序号 " + ln
        lines.append(ln)
    rec = extract_document(load_bytes("\n".join(lines).encode("utf-8"), "l.txt"))
    ev = evaluate_record(rec, {"legacy": gold, "format": "legacy"})
    assert ev.wrong == []


def test_a_statistical_table_whose_values_were_all_lost_is_not_accepted():
    text, _ = render_legacy(6, "space")
    lines = text.split("\n")
    # keep the indicators' labels and units, drop every printed number (a broken conversion)
    import re

    start = next(i for i, ln in enumerate(lines) if ln.startswith("统计指标"))
    lines[start + 1:] = [re.sub(r"\s\d+(\.\d+)?$", "", ln) for ln in lines[start + 1:]]
    rec = extract_document(load_bytes("\n".join(lines).encode("utf-8"), "l.txt"))
    assert rec.format == "legacy" and rec.decision == "needs_review"
    lost = [f for f in rec.findings if f.rule == "G.COMPLETE"]
    assert len(lost) == len([c for c in rec.tables["legacy"].cells if c.missing]) >= 15  # each indicator flagged


def test_a_statistical_table_with_no_readable_indicator_is_not_accepted():
    text, _ = render_legacy(6, "space")
    lines = text.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("统计指标"))
    end = next(i for i, ln in enumerate(lines) if ln.startswith("四、存在的问题"))
    lines[start + 1:end] = [ln.split(" ")[0] for ln in lines[start + 1:end]]  # labels only: units and values lost
    rec = extract_document(load_bytes("\n".join(lines).encode("utf-8"), "l.txt"))
    assert rec.format == "legacy" and rec.tables["legacy"].cells == []
    assert rec.decision == "needs_review"
    assert any(f.rule == "G.COMPLETE" and f.scope == "legacy" for f in rec.findings)
