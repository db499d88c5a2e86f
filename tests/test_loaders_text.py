"""Text loading: encodings detected, bad input refused with one clear message."""

import pytest

from extractor.errors import LoadError
from extractor.loaders import load, load_bytes


def test_gb18030_text_is_detected_and_decoded():
    src = "二、主动公开政府信息情况\n规章 | 0 | 1 | 2 |\n"
    doc = load_bytes(src.encode("gb18030"), "gbk.txt")
    assert doc.encoding == "gb18030"
    assert "主动公开" in doc.text


def test_utf8_bom_is_stripped():
    doc = load_bytes("\ufeff一、总体情况".encode("utf-8"), "bom.txt")
    assert doc.text.startswith("一、总体情况")


@pytest.mark.parametrize(
    "raw, message",
    [(b"", "empty"), (b"   \n\t ", "empty"), (b"\x00\x01\x02binary\x00" * 50, "binary")],
)
def test_unreadable_input_gives_a_specific_error(raw, message):
    with pytest.raises(LoadError, match=message):
        load_bytes(raw, "bad.txt")


def test_missing_file_error_names_the_file(tmp_path):
    with pytest.raises(LoadError, match="nope.txt"):
        load(tmp_path / "nope.txt")
