"""Every table encoding becomes rows of label cells and value slots."""

from extractor.cells import classify, detect_encoding, rows


def _rows(text):
    return rows(text, 0, len(text))


def test_cell_stream_with_filler_pipes_groups_labels_and_values():
    text = "规章 |\n|||\n0 |\n1 |\n2 |\n||\n行政规范性文件 |\n3 |\n4 |\n5 |\n"
    enc, rs = _rows(text)
    assert enc == "stream"
    assert [(r.label, [v.value for v in r.values]) for r in rs] == [("规章", [0, 1, 2]), ("行政规范性文件", [3, 4, 5])]


def test_pipe_rows_keep_blank_cells_between_values():
    text = "一、本年新收 |  |  | 26 |  |  |  |  |  | 26 |\n"
    enc, rs = _rows(text)
    assert enc == "pipe"
    assert [v.kind for v in rs[0].values] == ["empty", "empty", "num", "empty", "empty", "empty", "empty", "empty", "num"]


def test_tab_rows_with_leading_empty_cells_and_page_break_blank_lines():
    text = "\t（三）不予公开\t1. 属于国家秘密\t0\t1\t2\n\n\t\t2. 其他法律行政法规禁止公开\t3\t4\t5\n"
    enc, rs = _rows(text)
    assert enc == "tab"
    assert rs[0].label == "（三）不予公开 1. 属于国家秘密"
    assert [v.value for v in rs[1].nonempty()] == [3, 4, 5]


def test_space_rows_merge_label_words_and_read_numbers():
    text = "1. 属于国家秘密 0 2 0\n行政事业性收费 12.50\n"
    enc, rs = _rows(text)
    assert enc == "space"
    assert rs[0].label == "1. 属于国家秘密" and [v.value for v in rs[0].values] == [0, 2, 0]
    assert str(rs[1].values[0].value) == "12.50" and rs[1].values[0].decimals == 2


def test_markdown_separator_rows_and_page_numbers_are_not_rows():
    text = "| a | 1 |\n|---|---|\n- 3 -\n| b | 2 |\n"
    _, rs = _rows(text)
    assert [r.label for r in rs] == ["a", "b"]


def test_not_applicable_marks_and_numbers_with_units_are_classified():
    assert classify("/", 0, 1).kind == "na"
    assert classify("——", 0, 2).kind == "na"
    assert classify("无", 0, 1).kind == "na"
    t = classify("27225290916元", 0, 12)
    assert t.kind == "num" and t.value == 27225290916 and t.end == 11
    assert classify("1,234", 0, 5).value == 1234
    assert classify("1.属于国家秘密", 0, 8).kind == "text"


def test_detect_encoding_prefers_stream_when_most_lines_are_single_cells():
    assert detect_encoding("a |\n1 |\n2 |\nb |\n3 |\n", 0, 20) == "stream"


def test_a_remembered_cell_reading_is_placed_at_each_occurrence_with_its_own_offsets_and_slot():
    first = classify(" 12 ", 10, 14, 3)
    again = classify(" 12 ", 40, 44, 5)  # the same text elsewhere: read from the memo
    assert (first.text, first.start, first.end, first.slot, first.value) == ("12", 11, 13, 3, 12)
    assert (again.text, again.start, again.end, again.slot, again.value) == ("12", 41, 43, 5, 12)
    again.slot = 0  # tokens are the caller's to change: the memo hands out a new one each time
    assert classify(" 12 ", 40, 44, 5).slot == 5
    assert classify(" 1O ", 0, 4).lookalike and not classify(" 10 ", 0, 4).lookalike
    unit = classify("27225元", 7, 13)
    assert (unit.text, unit.start, unit.end, unit.kind) == ("27225", 7, 12, "num")
