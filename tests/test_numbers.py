"""The one grammar of printed numbers (extractor/numbers.py) and that every reader uses it."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from extractor.cells import classify
from extractor.llm.tables import _value_of, value_spans
from extractor.numbers import (
    DASHES,
    LOOKALIKES,
    NA_MARKS,
    NA_TOKEN,
    fix_digits,
    numbers_in,
    parse_figure,
    parse_number,
    parse_value,
    read_lookalike,
)
from extractor.decisions import parse_value as reviewer_value

PKG = Path(__file__).resolve().parents[1] / "extractor"
ALL_MARKS = [*NA_MARKS, *DASHES, "——", "———"]


@pytest.mark.parametrize("raw,value,decimals", [
    ("1,234", 1234, 0), ("12.50", Decimal("12.50"), 2), ("-3", -3, 0), ("1 234", 1234, 0), ("0", 0, 0),
])
def test_a_cell_figure_keeps_its_printed_decimals(raw, value, decimals):
    assert parse_figure(raw) == (value, decimals)


@pytest.mark.parametrize("raw", ["12,34", "1.", "一", "1.2万", "", "1O"])
def test_a_cell_figure_is_one_well_formed_arabic_number(raw):
    assert parse_figure(raw) is None


@pytest.mark.parametrize("raw,value", [
    ("二千六百二十三", 2623), ("十五", 15), ("三万五千", 35000), ("二〇二三", 2023), ("1.2万", 12000),
    ("3亿", 300_000_000), ("１，２３４", 1234), ("98.02", Decimal("98.02")),
])
def test_running_text_reads_chinese_numerals_and_multipliers(raw, value):
    assert parse_number(raw)[0] == value


def test_a_quote_yields_the_figure_and_its_value_in_the_multiplier():
    assert numbers_in("收费0.5万元，收到申请三件") == [5000, Decimal("0.5"), 3]


def test_one_map_of_lookalike_digits_serves_ocr_text_and_table_cells():
    assert fix_digits("共1O件 l2 Word") == "共10件 12 Word"  # a word stays a word
    assert fix_digits("2O|9") == "2019"  # OCR text: every look-alike of the map
    assert read_lookalike("1O") == 10 and read_lookalike("O") == 0 and read_lookalike("l2") == 12
    assert read_lookalike("1|0") is None  # in a cell, | separates cells
    tok = classify("1O", 0, 2)
    assert (tok.kind, tok.value, tok.lookalike) == ("num", 10, True)
    for ch, digit in LOOKALIKES.items():
        assert fix_digits(f"1{ch}") == f"1{digit}"


@pytest.mark.parametrize("mark", ALL_MARKS)
def test_every_not_applicable_mark_is_read_alike_by_parser_reviewer_and_model(mark):
    assert classify(mark, 0, len(mark)).kind == "na"  # the parser's cell
    assert parse_value(mark) == reviewer_value(mark) == ("not_applicable", None)  # the reviewer's value
    assert _value_of(mark) == "-"  # the model's answer
    text = f"| {mark} |"
    assert value_spans(text, 0, len(text), "-") == [(2, 2 + len(mark))]  # printed alone in a table
    assert [m.group() for m in NA_TOKEN.finditer(f"x {mark}\n")] == [mark]


def test_a_mark_inside_a_word_is_no_mark():
    assert not list(NA_TOKEN.finditer("无正当理由 无。"))


@pytest.mark.parametrize("typed,expected", [
    ("1,234", ("number", 1234)), ("０", ("zero", 0)), ("12.5", ("number", Decimal("12.5"))), ("不 适 用", ("not_applicable", None)),
])
def test_a_reviewer_types_a_figure_or_a_mark(typed, expected):
    assert parse_value(typed) == expected


@pytest.mark.parametrize("typed", ["", "五", "1.2万", "1O", "N/A", "不适用。"])
def test_a_reviewer_value_is_refused_when_it_is_no_figure_nor_mark(typed):
    with pytest.raises(ValueError):
        parse_value(typed)


def test_no_module_but_numbers_spells_the_number_grammar():
    """The look-alike map, the not-applicable marks and the Chinese numerals are written once."""
    spellings = ("不适用", "无此项", "零〇", "OolI", "maketrans")
    offenders = []
    for p in sorted(PKG.rglob("*.py")):
        if p.name == "numbers.py" and p.parent == PKG:
            continue
        src = p.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) or isinstance(node, ast.Attribute):
                text = node.value if isinstance(node, ast.Constant) else node.attr
                offenders += [f"{p.relative_to(PKG)}:{node.lineno} {w}" for w in spellings if w in text]
    assert not offenders
