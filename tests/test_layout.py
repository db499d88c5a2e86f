"""Sections by title keywords, table regions by content, format, organ and year."""

from extractor.layout import analyze
from extractor.loaders import load_bytes
from synth import make_values, render


def _layout(text):
    return analyze(load_bytes(text.encode("utf-8"), "r.txt"))


def test_six_sections_found_by_keywords_not_numbers():
    lay = _layout(render(make_values(1), "pipe"))
    assert [s.key for s in lay.sections] == list("一二三四五六")
    assert set(lay.regions) == {"table2", "table3", "table4"}


def test_table3_row_labels_numbered_like_sections_are_not_sections():
    lay = _layout(render(make_values(1), "stream"))
    titles = [s.title for s in lay.sections]
    assert not any("本年新收" in t or "结转下年度" in t for t in titles)


def test_organ_and_year_from_the_title_line():
    lay = _layout("临川区人民政府办公室2023年政府信息公开工作年度报告\n一、总体情况\n")
    assert (lay.organ, lay.year) == ("临川区人民政府办公室", 2023)
    lay = _layout("2022年度云岭市生态环境局政府信息公开工作年度报告\n一、总体情况\n")
    assert (lay.organ, lay.year) == ("云岭市生态环境局", 2022)


def test_organ_from_signature_when_there_is_no_title():
    lay = _layout("一、总体情况\n本年度统计期限从2021年1月1日起。\n六、其他需要报告的事项\n无\n白石镇人民政府\n2022年1月18日\n")
    assert (lay.organ, lay.year) == ("白石镇人民政府", 2021)


def test_format_2019_detected_from_table2_headers():
    text = ("二、主动公开政府信息情况\n第二十条第(一)项\n信息内容 | 本年新制作数量 | 本年新公开数量 | 对外公开总数量 |\n"
            "规章 | 1 | 1 | 5 |\n三、收到和处理政府信息公开申请情况\n一、本年新收政府信息公开申请数量 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |\n"
            "四、政府信息公开行政复议、行政诉讼情况\n0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |\n")
    assert _layout(text).format == "2019"


def test_legacy_statistical_table_detected():
    text = "一、概述\n统计指标 | 单位 | 统计数 |\n(一)收到申请数 | 件 | 3 |\n"
    lay = _layout(text)
    assert lay.format == "legacy" and "legacy" in lay.regions


def test_a_sub_heading_in_section_one_does_not_take_the_place_of_section_two():
    text = ("一、总体情况\n(一)主动公开政府信息情况\n全年主动公开信息494条。\n(二)依申请公开政府信息情况\n无。\n"
            "二、主动公开政府信息情况\n第二十条第(一)项\n三、收到和处理政府信息公开申请情况\n"
            "一、本年新收政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |\n四、政府信息公开行政复议、行政诉讼情况\n"
            "五、存在的主要问题及改进情况\n无\n六、其他需要报告的事项\n无\n")
    lay = _layout(text)
    titles = {s.key: s.title for s in lay.sections}
    assert titles["二"] == "二、主动公开政府信息情况"
    assert titles["三"] == "三、收到和处理政府信息公开申请情况"
    assert lay.section("一").end == text.index("二、主动公开政府信息情况")


def test_organ_from_a_markdown_heading_title():
    v = make_values(2)
    lay = _layout("# " + render(v, "pipe"))
    assert (lay.organ, lay.year) == (v["organ"], v["year"])


def test_organ_from_a_title_broken_over_two_lines():
    v = make_values(4)
    text = render(v, "pipe")
    title = text.split("\n", 1)[0]
    broken = title.replace("工作年度报告", "\n工作年度报告")
    lay = _layout(text.replace(title, "正文\n" + broken, 1))
    assert (lay.organ, lay.year) == (v["organ"], v["year"])
