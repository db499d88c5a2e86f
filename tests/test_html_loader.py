"""HTML tables become grids (rowspan/colspan honoured); spans point into the HTML source."""

import pytest

from extractor.loaders import load_bytes

PAGE = """<html><head><meta charset="gbk"><style>p{color:red}</style><script>var a='<td>7</td>';</script></head>
<body><p>二、主动公开政府信息情况</p>
<table><tr><td rowspan="2">三、本年度办理结果</td><td>(一)予以公开</td><td>4</td><td>&nbsp;5</td></tr>
<tr><td colspan="2">(二)部分公开</td><td>6</td></tr></table><p>五、存在的主要问题</p></body></html>"""


def _doc():
    return load_bytes(PAGE.encode("gb18030"), "page.html")


def test_rowspan_and_colspan_leave_empty_slots_so_columns_stay_aligned():
    lines = [ln for ln in _doc().text.split("\n") if "|" in ln]
    assert lines[0].split(" | ")[0] == "三、本年度办理结果"
    assert [c.strip() for c in lines[0].split("|")][:4] == ["三、本年度办理结果", "(一)予以公开", "4", "5"]
    cells = [c.strip() for c in lines[1].split("|")]
    assert cells[:4] == ["", "(二)部分公开", "", "6"]


def test_script_and_style_text_is_not_visible():
    doc = _doc()
    assert "<td>7</td>" not in doc.text and "color:red" not in doc.text


def test_cell_spans_point_at_the_characters_in_the_html_source():
    doc = _doc()
    i = doc.text.index("6 |")
    s = doc.span(i, i + 1)
    assert doc.original[s.start : s.end] == "6"
    j = doc.text.index("5 |")
    s = doc.span(j, j + 1)
    assert doc.original[s.start : s.end] == "5"
    assert doc.original[s.start - 6 : s.start] == "&nbsp;"


def test_gbk_page_is_decoded_by_its_declared_charset():
    assert _doc().encoding == "gb18030"


def test_a_layout_table_wrapping_the_page_keeps_the_inner_report_tables_as_grids():
    page = ("<table width=100%><tr><td>导航 首页</td></tr><tr><td><p>三、收到和处理政府信息公开申请情况</p>"
            "<table><tr><td>一、本年新收政府信息公开申请数量<td>1<td>2<td>3</tr>"
            "<tr><td>二、上年结转政府信息公开申请数量<td>0<td>0<td>0</table>"
            "<p>四、政府信息公开行政复议、行政诉讼情况</p></td></tr></table>")
    doc = load_bytes(page.encode("utf-8"), "wrapped.html")
    lines = doc.text.split("\n")
    assert "一、本年新收政府信息公开申请数量 | 1 | 2 | 3 |" in lines
    assert "二、上年结转政府信息公开申请数量 | 0 | 0 | 0 |" in lines
    assert "三、收到和处理政府信息公开申请情况" in lines


def test_unclosed_cells_and_rows_are_closed_as_browsers_do():
    page = "<table><tr><td>规章<td>4<td>5<tr><td>行政规范性文件<td>6<td>7</table><p>后文"
    doc = load_bytes(page.encode("utf-8"), "unclosed.html")
    assert "规章 | 4 | 5 |" in doc.text and "行政规范性文件 | 6 | 7 |" in doc.text
    assert doc.text.rstrip().endswith("后文")


@pytest.mark.parametrize("style", ["quotes", "json"])
def test_table_markup_escaped_inside_a_js_string_keeps_its_rowspans(style):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from synth import make_values, render

    from extractor.evaluate import evaluate_record
    from extractor.pipeline import extract_document

    v = make_values(11)
    page = render(v, "html")
    body = page[page.index("<p>"): page.index("</body>")]
    # table 三 printed with blank cells for its zeros (as many real pages do): columns must stay aligned
    a, b = body.index("三、收到和处理"), body.index("四、政府信息公开")
    body = body[:a] + body[a:b].replace("<td>0</td>", "<td>&nbsp;</td>") + body[b:]
    gold = json.loads(json.dumps(v, default=str))
    for row in gold["table3"].values():
        for col, x in row.items():
            if x == 0 and col != "research":  # the research column prints "&nbsp;0"
                row[col] = None
    if style == "quotes":  # rowspan=\"8\", the page on one line
        js = 'let content = "' + body.replace('"', '\\"').replace("\n", "") + '";\n'
    else:  # JSON-style: \n between tags and <\/td> too
        js = 'var data = {"content": "' + body.replace('"', '\\"').replace("\n", "\\n").replace("</", "<\\/") + '"};\n'
        assert "<\\/td>" in js and ">\\n<" in js
    assert 'rowspan=\\"8\\"' in js
    rec = extract_document(load_bytes(js.encode("utf-8"), "options.js"))
    ev = evaluate_record(rec, gold)
    assert ev.total == 200 and ev.wrong == []


def _cells(page: str) -> list[list[str]]:
    doc = load_bytes(page.encode("utf-8"), "t.html")
    return [[c.strip() for c in ln.split("|")][:-1] for ln in doc.text.split("\n") if "|" in ln]


def test_uppercase_tags_and_a_quoted_attribute_holding_a_closing_bracket():
    page = '<TABLE><TR><TD TITLE="a>b" ROWSPAN=2>规章<TD>4<TR><TD class=\'x>y\'>5</TABLE>'
    assert _cells(page) == [["规章", "4"], ["", "5"]]


def test_a_less_than_sign_that_starts_no_tag_is_text_with_its_offsets():
    page = "<p>收入<5万元 & 支出 a < b</p><p>完</p>"
    doc = load_bytes(page.encode("utf-8"), "t.html")
    assert "收入<5万元 & 支出 a < b" in doc.text
    i = doc.text.index("<5")
    s = doc.span(i, i + 2)
    assert doc.original[s.start : s.end] == "<5"


def test_a_comment_never_closed_does_not_swallow_the_rest_of_the_page():
    page = "<table><tr><td>规章<td>4<!--<td>5</table><p>后文</p>"
    doc = load_bytes(page.encode("utf-8"), "t.html")
    assert "后文" in doc.text and "5 |" in doc.text


def test_references_it_does_not_know_stay_as_printed():
    page = "<p>A&foo;B &amp; C&#20013;&nbsp;D</p>"
    doc = load_bytes(page.encode("utf-8"), "t.html")
    assert "A&foo;B & C中 D" in doc.text
    i = doc.text.index("中")
    s = doc.span(i, i + 1)
    assert doc.original[s.start : s.end] == "&#20013;"


def test_a_table_inside_a_skipped_element_does_not_make_its_table_a_layout_table():
    """Whether a table holds another table is noted while the page is parsed; a table under a
    skipped element (noscript, object) is never shown and does not count, one self-closed does."""
    row = "<tr><td>一、本年新收政府信息公开申请数量<td>1<td>2</tr>"
    grid = load_bytes(f"<table>{row}<tr><td><noscript><table><tr><td>x</table></noscript></td></tr></table>".encode(),
                      "skipped.html")
    assert "一、本年新收政府信息公开申请数量 | 1 | 2 |" in grid.text.split("\n")
    layout = load_bytes(f"<table>{row}<tr><td><div><table/></div></td></tr></table>".encode(), "layout.html")
    assert "一、本年新收政府信息公开申请数量 | 1 | 2 |" not in layout.text.split("\n")
