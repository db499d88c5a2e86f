"""Tables parsed from every encoding, compared with the values the synthetic report was made from."""

import json

import pytest

from extractor.cells import Row, Tok
from extractor.evaluate import evaluate_record
from extractor.loaders import load_bytes
from extractor.parse import T3_ROW_GROUPS, resolve, split_run_together
from extractor.pipeline import extract_document
from synth import make_values, render


def _extract(text: str, name: str = "r.txt"):
    return extract_document(load_bytes(text.encode("utf-8"), name))


@pytest.mark.parametrize("encoding", ["lines", "stream", "pipe", "tab", "space", "html", "runtogether"])
@pytest.mark.parametrize("seed", [1, 7, 13])
def test_every_cell_is_read_in_each_encoding(encoding, seed):
    v = make_values(seed, big=encoding == "runtogether")
    rec = _extract(render(v, encoding), "r.html" if encoding == "html" else "r.txt")
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == [] and ev.total == 200
    assert rec.decision == "accepted", rec.reasons


def test_run_together_digits_split_when_exactly_one_split_fits_the_row_identity():
    tok = Tok("801000081", 0, 9, "num", 801000081)
    splits = split_run_together([tok], 7, T3_ROW_GROUPS)
    assert [[t.value for t in s] for s in splits] == [[80, 1, 0, 0, 0, 0, 81]]
    assert [(t.start, t.end) for t in splits[0]][:2] == [(0, 2), (2, 3)]


def test_run_together_digits_with_several_fitting_splits_stay_ambiguous():
    row = Row(values=[Tok("1030202044", 0, 10, "num", 1030202044)])
    res = resolve(row, 7, T3_ROW_GROUPS)
    assert len(res.vectors) > 1  # 1,0,3,0,20,20,44 and 10,30,2,0,2,0,44 both fit: a reviewer decides


def test_ambiguous_cells_are_never_accepted():
    v = make_values(3)
    text = render(v, "space")
    # glue one outcome row's digits so that two readings fit its row identity
    import re

    lines = text.split("\n")
    for i, ln in enumerate(lines):
        if ln.startswith("2.重复申请"):
            lines[i] = "2.重复申请 1030202044"
    rec = _extract("\n".join(lines))
    cells = [c for c in rec.cells() if c.row == "not_processed_2"]
    assert any(c.kind == "ambiguous" for c in cells) or any(c.kind == "empty" for c in cells)
    assert rec.decision == "needs_review"
    assert re.search("ambiguous|suspected", " ".join(rec.reasons))


def test_stray_page_number_line_inside_a_table_does_not_shift_cells():
    v = make_values(5)
    text = render(v, "space").replace("(七)总计", "12\n(七)总计", 1)
    rec = _extract(text)
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == []


def test_rows_without_labels_are_placed_in_template_order_between_anchors():
    v = make_values(8)
    lines = render(v, "space").split("\n")
    # strip the labels of three consecutive outcome rows, as PDF conversion does
    for i, ln in enumerate(lines):
        if ln.startswith(("5.属于三类内部事务信息", "6.属于四类过程性信息", "7.属于行政执法案卷")):
            lines[i] = " ".join(t for t in ln.split() if t.isdigit())
    rec = _extract("\n".join(lines))
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == []
    cell = next(c for c in rec.cells() if c.row == "withheld_6" and c.col == "total")
    assert cell.anchor == "order"


def test_single_other_row_variant_is_recognised():
    v = make_values(2)
    text = render(v, "pipe")
    t3 = v["table3"]
    merged = {c: t3["other_1"][c] + t3["other_2"][c] + t3["other_3"][c] for c in t3["other_1"]}
    out = []
    for ln in text.split("\n"):
        if ln.startswith("(六)其他处理 | 1."):
            out.append("(六)其他处理 | " + " | ".join(str(merged[c]) for c in t3["other_1"]) + " |")
        elif ln.startswith(("2.申请人逾期未按收费", "3.其他 |")):
            continue
        else:
            out.append(ln)
    rec = _extract("\n".join(out))
    assert rec.tables["table3"].template == "table3.single_other"
    assert rec.tables["table3"].get("other", "total").value == merged["total"]
    assert rec.decision == "accepted"


def test_a_value_displaced_by_conversion_is_placed_only_when_both_identities_require_it():
    v = make_values(12, big=True)
    t3 = v["table3"]
    want = t3["carried_forward"]["total"]
    assert want > 0
    lines = render(v, "pipe").split("\n")
    out = []
    for ln in lines:
        if ln.startswith("四、结转下年度继续办理"):
            cells = ln.split(" | ")
            ln = " | ".join(cells[:7]) + " |  |"  # the total cell printed empty…
        out.append(ln)
        if ln.startswith("(七)总计"):
            pass
    idx = next(i for i, ln in enumerate(out) if ln.startswith("2.重复申请"))
    out.insert(idx, f"| {want} |")  # …and its number printed alone a few lines earlier
    rec = _extract("\n".join(out))
    cell = rec.tables["table3"].get("carried_forward", "total")
    assert cell.value == want and "displaced" in cell.note
    assert rec.decision == "needs_review"
    assert any(f.rule == "G.DISPLACED" and f.status == "UNCERTAIN" for f in rec.findings)


def test_a_blank_cell_without_a_matching_stray_number_stays_blank():
    v = make_values(12, big=True)
    lines = []
    for ln in render(v, "pipe").split("\n"):
        if ln.startswith("四、结转下年度继续办理"):
            ln = " | ".join(ln.split(" | ")[:7]) + " |  |"
        lines.append(ln)
    rec = _extract("\n".join(lines))
    cell = rec.tables["table3"].get("carried_forward", "total")
    assert cell.kind == "empty" and cell.value is None


def test_table2_whose_first_block_header_is_missing_is_still_read_from_its_column_titles():
    v = make_values(14)
    text = render(v, "tab").replace("第二十条第(一)项\t\n", "", 1)
    assert "第二十条第(一)项" not in text
    rec = _extract(text)
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == []


def test_a_column_header_repeated_after_a_page_break_does_not_relabel_the_next_row():
    v = make_values(15)
    header = "\n".join(f"{c} |" for c in ["申请人情况", "自然人", "法人或其他组织", "总计", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"])
    lines = render(v, "stream").split("\n")
    i = lines.index("5.属于三类内部事务信息 |")
    lines.insert(i + 4, header)  # the page breaks after the row's third value
    rec = _extract("\n".join(lines))
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == []


def test_a_row_wrapped_by_a_page_break_is_joined_when_the_joined_row_adds_up():
    v = make_values(16, big=True)
    lines = render(v, "space").split("\n")
    i = next(n for n, ln in enumerate(lines) if "(一)予以公开" in ln)
    parts = lines[i].split(" ")
    lines[i : i + 1] = [" ".join(parts[:5]), "- 7 -", " ".join(parts[5:])]
    rec = _extract("\n".join(lines))
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == []


def test_look_alike_letters_in_text_from_a_scan_are_read_but_never_accepted():
    v = make_values(9, big=True)
    text = render(v, "space")
    lines = text.split("\n")
    i = next(k for k, ln in enumerate(lines) if ln.startswith("一、本年新收"))
    digits = lines[i].split(" ", 1)[1]
    scanned = digits.replace("0", "O").replace("1", "l")
    assert scanned != digits
    lines[i] = lines[i].replace(digits, scanned)
    rec = _extract("\n".join(lines))
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == []  # 1O is read as 10 ...
    flagged = [f for f in rec.findings if f.rule == "G.OCR_CONFIDENCE"]
    assert flagged and all("look-alike" in f.message for f in flagged)  # ... and a reviewer confirms it
    assert rec.decision == "needs_review"
    assert not [c for c in rec.cells() if c.label and "本年新收" in c.label and c.kind == "text"]


def test_remembered_label_matches_follow_the_candidate_rows_they_were_made_for():
    from extractor.parse import match_text
    from extractor.tablespec import RowSpec

    old = (RowSpec(key="a", keywords=("重复申请",)),)
    new = (RowSpec(key="b", keywords=("重复申请",)),)  # changed rules: another set of candidate rows
    assert match_text("2.重复申请", old) == ("a", 4)
    assert match_text("2.重复申请", new) == ("b", 4)
    assert match_text("2.重复申请", old) == ("a", 4)
