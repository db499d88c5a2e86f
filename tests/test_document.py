"""Normalization keeps a map back to the original characters."""

from extractor.document import normalize
from extractor.loaders import load_bytes


def test_fullwidth_digits_and_punctuation_become_ascii_with_spans_into_original():
    src = "收到申请１２件，办结（一）项\u3000完"
    doc = load_bytes(src.encode("utf-8"), "a.txt")
    assert "收到申请12件,办结(一)项 完" == doc.text
    i = doc.text.index("12")
    span = doc.span(i, i + 2)
    assert doc.original[span.start : span.end] == "１２"


def test_zero_width_and_nbsp_are_removed_or_spaced_and_offsets_stay_exact():
    src = "行政\u200b许可\u00a0３１\r\n规章"
    doc = load_bytes(src.encode("utf-8"), "a.txt")
    assert doc.text == "行政许可 31\n规章"
    i = doc.text.index("31")
    s = doc.span(i, i + 2)
    assert doc.original[s.start : s.end] == "３１"
    j = doc.text.index("规章")
    s2 = doc.span(j, j + 2)
    assert doc.original[s2.start : s2.end] == "规章"


def test_compatibility_numerals_expand_and_map_to_their_single_source_character():
    src = "⒈权责清单㈠组织"
    doc = load_bytes(src.encode("utf-8"), "a.txt")
    assert doc.text == "1.权责清单(一)组织"
    s = doc.span(0, 2)
    assert doc.original[s.start : s.end] == "⒈"
    k = doc.text.index("组织")
    s = doc.span(k, k + 2)
    assert doc.original[s.start : s.end] == "组织"


def test_normalize_is_the_same_function_grounding_uses():
    assert normalize("１，２３４") == "1,234"


def test_the_one_to_one_replacements_are_those_of_the_translation_table():
    """translate (one regex pass) replaces exactly as str.translate with the table would, on every
    character of the table and the characters around it."""
    from extractor.document import _TRANSLATE, translate

    chars = "".join(chr(cp) for cp in sorted(_TRANSLATE)) + "".join(chr(cp + d) for cp in _TRANSLATE for d in (-1, 1))
    text = "本年度收到申请１２件，ａｂｃ" + chars + "plain ascii 123"
    assert translate(text) == text.translate(_TRANSLATE)
    assert translate("plain ascii 123") == "plain ascii 123"
