"""Deterministic narrative facts and their rules (no model involved).

Synthetic fixtures are written here; the samples in ../shared/samples are read at test time and the
tests that need them skip with a reason when they are absent.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from extractor.document import from_text
from extractor.model import Cell, DocumentInfo, Fact, Record, Table
from extractor.narrative import find_facts, locate
from extractor.narrative.reader import canonical_metric
from extractor.numbers import numbers_in, parse_chinese, parse_number
from extractor.verify.narrative import check_facts, narrative_rules

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def doc_of(text: str, name: str = "fixture.txt"):
    return from_text(text, name=name, kind="text", raw=text.encode("utf-8"), encoding="utf-8")


class _Layout:
    """A hand-made layout: the whole fixture is section 一, no tables."""

    def __init__(self, n: int):
        from types import SimpleNamespace

        self.sections = [SimpleNamespace(key="一", title="一、总体情况", start=0, end=n)]
        self.regions = {}
        self.format = "2021"


def facts_and_findings(text: str, record: Record | None = None):
    d = doc_of(text)
    lay = _Layout(len(d.text))
    facts = find_facts(d, lay)
    return d, facts, check_facts(d, facts, record, layout=lay)


def by_rule(findings, rule, status=None):
    return [f for f in findings if f.rule == rule and (status is None or f.status == status)]


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,value",
    [
        ("2623", 2623),
        ("1,234", 1234),
        ("12.50", Decimal("12.50")),
        ("1.2万", 12000),
        ("3亿", 300_000_000),
        ("二千六百二十三", 2623),
        ("十五", 15),
        ("三万五千", 35000),
        ("两百", 200),
        ("一〇五", 105),
    ],
)
def test_parse_number(raw, value):
    assert parse_number(raw)[0] == value


def test_parse_number_keeps_printed_decimals():
    assert parse_number("98.02") == (Decimal("98.02"), 2)
    assert parse_chinese("零") == 0


def test_numbers_in_quote_handles_magnitudes_percent_and_words():
    assert 12000 in numbers_in("共发布信息1.2万条")
    assert 88 in numbers_in("办结率百分之八十八")
    assert 3 in numbers_in("收到申请三件")
    assert Decimal("0.5") in numbers_in("收费0.5万元")


def test_full_width_digits_are_read():
    _, facts, _ = facts_and_findings("全年收到政府信息公开申请１２件。")
    f = next(f for f in facts if f.metric == "applications_received")
    assert f.value == 12


# --- canonical keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label,post,unit,sentence,key",
    [
        ("全年收到政府信息公开申请", "", "件", None, "applications_received"),
        ("共受理依申请公开", "", "件", None, "applications_received"),
        ("受理群众来电", "", "件", None, None),
        ("全市收到", "依申请公开政府信息申请", "件", None, "applications_received"),
        ("收到网上信访", "", "件", None, None),
        ("受理申请办证", "", "家", None, None),
        ("引发行政复议", "", "件", "因政府信息公开申请引发行政复议", "reviews"),
        ("引发行政复议", "", "件", "全年办理行政复议", None),  # not tied to 信息公开: not table 四's count
        ("未经复议直接起诉", "", "件", "信息公开类行政诉讼立案731件，其中，未经复议直接起诉", "lawsuits.direct"),
        ("复议后起诉", "", "件", "信息公开类行政诉讼立案731件，其中，复议后起诉", "lawsuits.after_review"),
        ("一审行政诉讼案件", "", "件", "一审行政诉讼案件", "lawsuits_concluded"),
        ("提起行政诉讼", "", "起", "因政府信息公开被提起行政诉讼", "lawsuits"),
        ("上年结转", "", "件", "上年结转政府信息公开申请", "carried_over"),
        ("主动公开政府信息", "", "条", None, "items_published"),
        ("作为依申请公开信息数", "", "条", None, None),  # a sibling category, not the items published
        ("通过门户网站发布信息", "", "条", None, "items_published.website"),
        ("向社会发布教育教学、医疗卫生等信息", "", "条", None, None),
    ],
)
def test_canonical_metric(label, post, unit, sentence, key):
    assert canonical_metric(label, post=post, unit=unit, sentence=sentence) == key


# --- the finder and the rules on synthetic text --------------------------------------------------


def test_sum_statement_adds_up():
    _, facts, findings = facts_and_findings("本年度主动公开政府信息120条，其中通过网站发布信息100条、微信发布信息20条。")
    s = next(f for f in facts if f.kind == "sum")
    assert s.metric == "items_published" and s.value == 120
    assert [(p.metric, p.value) for p in s.parts] == [("items_published.website", 100), ("items_published.wechat", 20)]
    assert [f.status for f in by_rule(findings, "N.SUM")] == ["PASS"]


def test_sum_statement_whose_categories_exceed_its_total_fails():
    _, _, findings = facts_and_findings("本年度主动公开政府信息100条，其中政策文件90条、工作动态20条。")
    (f,) = by_rule(findings, "N.SUM")
    assert f.status == "FAIL" and "110" in f.message


def test_channels_above_their_total_are_advisory():
    """One item may be published on the website and on WeChat: channels may add up to more."""
    _, _, findings = facts_and_findings("本年度主动公开政府信息100条，其中通过网站发布信息90条、微信发布信息20条。")
    (f,) = by_rule(findings, "N.SUM")
    assert f.status == "ADVISORY" and "110" in f.message


def test_partial_list_is_advisory_not_fail():
    _, _, findings = facts_and_findings("共办理事项100件，其中甲类30件、乙类20件。")
    (f,) = by_rule(findings, "N.SUM")
    assert f.status == "ADVISORY"


def test_a_list_closed_by_other_that_misses_its_total_fails():
    _, _, findings = facts_and_findings("共办理事项100件，其中甲类30件、乙类20件、其他类40件。")
    (f,) = by_rule(findings, "N.SUM")
    assert f.status == "FAIL" and "90" in f.message


def test_rate_matches_printed_precision():
    _, facts, findings = facts_and_findings("受理群众来电40件，办结30件，办结率75%。")
    r = next(f for f in facts if f.kind == "rate")
    assert [p.value for p in r.parts] == [30, 40] and r.rate_of == ["办结", "受理群众来电"]
    assert by_rule(findings, "N.RATE")[0].status == "PASS"
    _, _, bad = facts_and_findings("受理群众来电40件，办结30件，办结率76%。")
    assert by_rule(bad, "N.RATE")[0].status == "FAIL"
    _, _, dec = facts_and_findings("受理群众来电3件，办结2件，办结率66.67%。")
    assert by_rule(dec, "N.RATE")[0].status == "PASS"


def test_zero_statement_in_words():
    _, facts, findings = facts_and_findings("本年度没有收到公民、法人要求公开政府信息的申请。")
    f = next(f for f in facts if f.metric == "applications_received")
    assert f.value == 0
    assert all(x.status == "PASS" for x in findings)


def test_same_quantity_with_two_values_is_a_finding():
    text = "全年通过门户网站发布信息50条。全年主动公开政府信息90条，其中通过网站发布信息60条、微信发布信息30条。"
    _, _, findings = facts_and_findings(text)
    (f,) = by_rule(findings, "N.SAME_QUANTITY")
    assert f.status == "FAIL" and "50" in f.message and "60" in f.message


def test_same_quantity_without_a_marker_of_the_whole_is_advisory():
    """"通过门户网站发布信息50条" may be one campaign's output: not provably the year's website total."""
    text = "通过门户网站发布信息50条。全年主动公开政府信息90条，其中通过网站发布信息60条、微信发布信息30条。"
    _, _, findings = facts_and_findings(text)
    (f,) = by_rule(findings, "N.SAME_QUANTITY")
    assert f.status == "ADVISORY" and "50" in f.message and "60" in f.message


def test_approximate_figures_are_not_summed_or_compared():
    _, facts, findings = facts_and_findings("通过网站发布信息300余条。通过门户网站发布信息42条。")
    assert any(getattr(f, "approximate", False) for f in facts)
    assert not by_rule(findings, "N.SAME_QUANTITY")


def test_rules_file_declares_every_rule_with_a_version():
    ids = {r["id"]: r["version"] for r in narrative_rules()["rules"]}
    for rule in ("N.QUOTE_GROUNDED", "N.VALUE_REPARSES", "N.SUM", "N.RATE", "N.TABLE_MATCH", "N.SAME_QUANTITY", "N.AGREE"):
        assert ids[rule] >= 1


def test_locate_tolerates_whitespace_only():
    d = doc_of("全年 收到 申请 5 件。")
    assert locate(d, "全年收到申请5件") is not None
    assert locate(d, "全年收到申请6件") is None


# --- model facts are rechecked ---------------------------------------------------------------------


def _model_fact(**kw) -> Fact:
    base = dict(producer="model", prompt="narrative_facts@1", model="fixture-model", section="一", unit="件")
    base.update(kw)
    return Fact(**base)


def test_fabricated_number_is_never_grounded():
    """A model answer whose number is absent from the source fails N.VALUE_REPARSES."""
    d = doc_of("全年收到政府信息公开申请5件，办结5件。")
    fake = _model_fact(metric="applications_received", value=7, quote="全年收到政府信息公开申请5件")
    findings = check_facts(d, [fake])
    assert fake.grounded is False
    assert by_rule(findings, "N.VALUE_REPARSES", "FAIL")


def test_quote_not_in_source_is_never_grounded():
    d = doc_of("全年收到政府信息公开申请5件，办结5件。")
    fake = _model_fact(metric="applications_received", value=8, quote="全年收到政府信息公开申请8件")
    findings = check_facts(d, [fake])
    assert fake.grounded is False
    assert by_rule(findings, "N.QUOTE_GROUNDED", "FAIL")
    assert fake.span is None


def test_ungrounded_model_fact_is_not_evidence_for_table_match():
    d = doc_of("全年收到政府信息公开申请5件。")
    rec = _record({"table3": {"new_received": {"total": 9}}})
    fake = _model_fact(metric="applications_received", value=9, quote="全年收到政府信息公开申请9件")
    findings = check_facts(d, [fake], rec)
    assert not by_rule(findings, "N.TABLE_MATCH", "PASS")


def test_parser_and_model_agree_or_disagree_on_one_statement():
    text = "全年收到政府信息公开申请5件。"
    d = doc_of(text)
    lay = _Layout(len(d.text))
    parsed = find_facts(d, lay)
    good = _model_fact(metric="applications_received", value=5, quote="全年收到政府信息公开申请5件")
    assert by_rule(check_facts(d, parsed + [good], layout=lay), "N.AGREE")[0].status == "PASS"
    parsed = find_facts(d, lay)
    wrong = _model_fact(metric="applications_received", value=5, quote="收到政府信息公开申请5件")
    wrong.value = 6
    out = check_facts(d, parsed + [wrong], layout=lay)
    assert not by_rule(out, "N.AGREE", "PASS")  # the wrong reading is ungrounded, so it is no voice


# --- narrative vs table ----------------------------------------------------------------------------


def _record(tables: dict, fmt: str = "2021") -> Record:
    rec = Record(document=DocumentInfo(name="fixture"), format=fmt)
    for key, rows in tables.items():
        if key == "legacy":
            cells = [
                Cell(table="legacy", row=f"L{i}", col=c.get("column", "year"), label=c["label"], value=c["value"],
                     kind=_kind(c["value"]))
                for i, c in enumerate(rows)
                if not isinstance(c["value"], str)
            ]
        else:
            cells = [
                Cell(table=key, row=r, col=c, value=v if not isinstance(v, str) else None, kind=_kind(v))
                for r, cols in rows.items()
                for c, v in cols.items()
            ]
        rec.tables[key] = Table(key=key, template=f"{fmt}.{key}", cells=cells)
    return rec


def _kind(v):
    if v is None:
        return "empty"
    if isinstance(v, str):
        return "not_applicable"
    return "zero" if v == 0 else "number"


def test_table_match_and_mismatch():
    rec = _record({"table3": {"new_received": {"total": 5}, "total": {"total": 0}}, "table4": {
        "review": {"total": 0}, "litigation_direct": {"total": 1}, "litigation_after_review": {"total": 1}}})
    _, _, findings = facts_and_findings("全年收到政府信息公开申请5件，办结5件。因政府信息公开被提起行政诉讼3件。", rec)
    tm = {f.scope: f.status for f in by_rule(findings, "N.TABLE_MATCH")}
    assert tm == {"fact applications_received": "PASS", "fact applications_closed": "FAIL", "fact lawsuits": "FAIL"}
    lawsuit = next(f for f in by_rule(findings, "N.TABLE_MATCH") if f.scope == "fact lawsuits")
    assert lawsuit.values == {"narrative": 3, "table": 2}


def test_blank_table_cell_is_not_compared():
    rec = _record({"table3": {"new_received": {"total": None}}})
    _, _, findings = facts_and_findings("全年收到政府信息公开申请5件。", rec)
    assert not by_rule(findings, "N.TABLE_MATCH")


# --- the samples ----------------------------------------------------------------------------------

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not present")


def _sample(prefix: str):
    from extractor.layout import analyze
    from extractor.loaders.text import load_text

    path = next(SAMPLES.glob(f"{prefix}_*.txt"))
    d = load_text(path.read_bytes(), name=path.name)
    lay = analyze(d)
    gold = json.loads((SAMPLES / "gold" / (path.stem + ".json")).read_text(encoding="utf-8"))
    rec = _record({k: gold[k] for k in ("table2", "table3", "table4", "legacy") if k in gold}, gold["format"])
    facts = find_facts(d, lay)
    return d, facts, check_facts(d, facts, rec, layout=lay)


def _sums(facts):
    return {(f.value, tuple(p.value for p in f.parts)) for f in facts if f.kind == "sum"}


@needs_samples
def test_seed_001_sums_and_two_website_totals():
    d, facts, findings = _sample("001")
    assert (494, (24, 372, 98)) in _sums(facts)
    assert (2623, (610, 24, 1989)) in _sums(facts)
    assert {f.message.split(" = ")[0] for f in by_rule(findings, "N.SUM", "PASS")} >= {"494", "2623"}
    (same,) = by_rule(findings, "N.SAME_QUANTITY", "FAIL")
    assert "items_published.website" in same.message and "494" in same.message and "610" in same.message
    for f in facts:  # every span re-reads to the quote in the original text
        assert f.span is not None and d.original[f.span.start : f.span.end].replace(" ", "") != ""


@needs_samples
def test_seed_003_rate_and_2661_sum():
    _, facts, findings = _sample("003")
    rate = next(f for f in facts if f.kind == "rate" and f.value == 88)
    assert [p.value for p in rate.parts] == [22, 25]
    assert any(f.status == "PASS" and "88" in f.message for f in by_rule(findings, "N.RATE"))
    assert any(f.status == "PASS" and f.message.startswith("2661 = 177 + 2091") for f in by_rule(findings, "N.SUM"))
    assert any(f.status == "PASS" and f.message.startswith("3000 = 1100 + 900 + 1000") for f in by_rule(findings, "N.SUM"))
    # narrative "收到1件…申请" vs the legacy table's 收到申请数 1
    assert any(f.status == "PASS" and "applications_received" in f.message for f in by_rule(findings, "N.TABLE_MATCH"))


@needs_samples
def test_seed_004_hotline_breakdowns():
    _, facts, findings = _sample("004")
    sums = [f for f in by_rule(findings, "N.SUM") if f.message.startswith("73001 = ")]
    assert len(sums) == 2 and all(f.status == "PASS" for f in sums)
    assert not [f for f in findings if f.status == "FAIL"]


@needs_samples
def test_seed_000_applications_compared_with_table_3():
    _, facts, findings = _sample("000")
    tm = {f.scope: f for f in by_rule(findings, "N.TABLE_MATCH")}
    assert tm["fact applications_received"].status == "PASS"  # 收到申请5件 = table 三 new_received total 5
    # "办结5件" against the (七)总计 row, which the source prints as 0: reported, not repaired
    assert tm["fact applications_closed"].status == "FAIL"
    assert tm["fact applications_closed"].values == {"narrative": 5, "table": 0}


@needs_samples
def test_no_false_alarms_on_clean_samples():
    for seed in ("002", "004"):
        _, _, findings = _sample(seed)
        assert [f.message for f in findings if f.status == "FAIL"] == []


# --- statements seen in real reports outside the samples ---------------------------------------


def test_the_statement_after_a_semicolon_is_not_a_part_of_the_breakdown():
    _, facts, findings = facts_and_findings(
        "全年共受理政府信息公开申请 40 件，其中自然人申请 37 件，法人或其他组织申请 3 件；共办理 35 件，结转下一年 5 件。")
    assert _sums(facts) == {(40, (37, 3))}
    assert [f.status for f in by_rule(findings, "N.SUM")] == ["PASS"]


def test_applications_received_may_count_new_and_carried_over_applications():
    rec = _record({"table3": {"new_received": {"total": 35}, "carried_over": {"total": 5}}})
    _, _, findings = facts_and_findings("全年共受理政府信息公开申请40件。", rec)
    (tm,) = by_rule(findings, "N.TABLE_MATCH")
    assert tm.status == "PASS" and "table3.carried_over.total" in tm.message
    _, _, findings = facts_and_findings("全年共受理政府信息公开申请41件。", rec)
    (tm,) = by_rule(findings, "N.TABLE_MATCH")
    assert tm.status == "FAIL" and tm.values == {"narrative": 41, "table": 35}  # the primary reading is named


def test_no_review_lost_is_not_a_statement_that_there_were_no_reviews():
    _, facts, _ = facts_and_findings("全年未发生因依申请公开被行政复议纠错或行政诉讼败诉情形。")
    assert not [f for f in facts if f.metric in ("reviews", "lawsuits")]
    _, facts, _ = facts_and_findings("全年未发生因政府信息公开引起的行政复议和行政诉讼。")
    assert {f.metric for f in facts if f.value == 0} >= {"reviews", "lawsuits"}


def test_a_columns_own_count_is_not_the_reports_published_total():
    _, facts, findings = facts_and_findings(
        "全年共主动公开政府信息1200条。二是做好各类规划公开。设立规划专栏，本年度公开信息77条。")
    assert [(f.value, f.scope) for f in facts if f.metric == "items_published"] == [(1200, ""), (77, "topic:专栏")]
    assert not by_rule(findings, "N.SAME_QUANTITY", "FAIL")
    assert [f.status for f in by_rule(findings, "N.SAME_QUANTITY")] == ["ADVISORY"]


# --- a model fact blocks only where the deterministic reading agrees ---------------------------------


def test_a_model_fact_whose_metric_the_vocabulary_does_not_confirm_never_blocks():
    text = "信息公开类行政诉讼立案731件，其中，未经复议直接起诉442件，复议后起诉289件。"
    d = doc_of(text)
    lay = _Layout(len(d.text))
    rec = _record({"table4": {"review": {"total": 813}, "litigation_direct": {"total": 442},
                              "litigation_after_review": {"total": 289}}})
    wrong = _model_fact(metric="reviews", value=442, quote="未经复议直接起诉442件")  # a lawsuit read as a review
    findings = check_facts(d, find_facts(d, lay) + [wrong], rec, layout=lay)
    (tm,) = [f for f in by_rule(findings, "N.TABLE_MATCH") if f.scope == "fact reviews"]
    assert tm.status == "ADVISORY" and "not confirmed" in tm.message
    assert not [f for f in findings if f.status == "FAIL"]


def test_a_model_fact_the_deterministic_reading_confirms_can_block():
    text = "全年收到政府信息公开申请5件，办结5件。"
    d = doc_of(text)
    lay = _Layout(len(d.text))
    rec = _record({"table3": {"new_received": {"total": 5}, "total": {"total": 0}}})
    parsed = find_facts(d, lay)
    model = _model_fact(metric="applications_closed", value=5, quote="办结5件")
    findings = check_facts(d, parsed + [model], rec, layout=lay)
    assert model.anchor and model.scope == ""
    assert {f.status for f in by_rule(findings, "N.TABLE_MATCH") if f.scope == "fact applications_closed"} == {"FAIL"}


# --- the misreadings the vocabulary prevents (patterns seen in real reports, our own sentences) -------


def test_sibling_categories_are_not_restatements_of_the_items_published():
    _, facts, findings = facts_and_findings(
        "全年制作政府信息总数1873条，其中主动公开425条，作为依申请公开信息数46条，不予公开1402条。")
    assert not by_rule(findings, "N.SAME_QUANTITY")
    assert [f.status for f in by_rule(findings, "N.SUM")] == ["PASS"]
    assert not [f for f in facts if f.metric == "items_published" and f.value in (46, 1402)]


def test_a_topics_count_is_not_the_reports_total():
    _, facts, findings = facts_and_findings(
        "全年主动公开政府信息3000条。\n（三）重点领域信息公开\n在重点领域信息公开方面，全年公开信息1654条。")
    topic = next(f for f in facts if f.value == 1654)
    assert topic.scope.startswith("topic:")
    assert [f.status for f in by_rule(findings, "N.SAME_QUANTITY")] == ["ADVISORY"]


def test_lawsuits_are_not_reviews_and_concluded_cases_are_not_filed_ones():
    rec = _record({"table4": {"review": {"total": 813}, "litigation_direct": {"total": 442},
                              "litigation_after_review": {"total": 289}}})
    _, facts, findings = facts_and_findings(
        "信息公开类行政复议813件。信息公开类行政诉讼立案731件，其中，未经复议直接起诉442件，复议后起诉289件。"
        "一审行政诉讼案件687件，结果纠正23件，纠错率3.35%。", rec)
    metrics = {(f.metric, f.value) for f in facts for f in [f, *f.parts]}
    assert ("reviews", 442) not in metrics and ("reviews", 289) not in metrics
    assert {("lawsuits.direct", 442), ("lawsuits.after_review", 289), ("lawsuits_concluded", 687)} <= metrics
    assert not [f for f in findings if f.status in ("FAIL", "ADVISORY")]


def test_a_time_limit_is_not_a_count():
    _, facts, _ = facts_and_findings("各单位收到的政府信息公开申请要求在2个工作日内录入办理平台。")
    assert not [f for f in facts if f.value == 2]


def test_an_extra_item_and_a_nested_breakdown_are_not_parts():
    _, facts, findings = facts_and_findings(
        "安排项目150项，其中新开工项目100项（其中民生项目60项），续建项目50项，另外安排预备项目60项。")
    assert _sums(facts) == {(150, (100, 50))}
    assert [f.status for f in by_rule(findings, "N.SUM")] == ["PASS"]


def test_a_rate_off_its_printed_precision_fails_and_one_within_it_passes():
    _, _, findings = facts_and_findings("一审行政诉讼案件687件，结果纠正23件，纠错率3.14%。")
    (f,) = by_rule(findings, "N.RATE")
    assert f.status == "FAIL" and "3.35" in f.message
    _, _, findings = facts_and_findings("一审行政诉讼案件687件，结果纠正23件，纠错率3.35%。")
    assert [f.status for f in by_rule(findings, "N.RATE")] == ["PASS"]


def test_shares_of_a_printed_total_are_checked_and_one_off_share_fails():
    text = "共答复申请200件。其中予以公开100件，占50.00%；不予公开60件，占30.00%；其他处理40件，占25.00%。"
    _, _, findings = facts_and_findings(text)
    assert sorted(f.status for f in by_rule(findings, "N.RATE")) == ["FAIL", "PASS", "PASS"]


def test_a_named_subject_other_than_the_body_is_advisory_against_the_table():
    rec = _record({"table3": {"new_received": {"total": 95}}})
    _, _, findings = facts_and_findings("2024年，区政府办代表区政府受理政府信息公开申请17件。", rec)
    (tm,) = by_rule(findings, "N.TABLE_MATCH")
    assert tm.status == "ADVISORY" and "named:区政府办" in tm.message


def test_the_parts_after_a_subset_clause_belong_to_the_outer_total():
    _, facts, findings = facts_and_findings(
        "共完成答复1453件，包括上年结转申请30件，其中予以公开966件，不予公开81件。")
    assert not [f for f in facts if f.kind == "sum" and f.value == 30]
    assert not [f for f in findings if f.status == "FAIL"]


def test_shares_rounded_to_add_up_to_100_are_advisory_not_errors():
    text = "共收到申请1046件。其中，网上862件，占比82.4%；信函171件，占比16.3%；当面13件，占比1.3%。"
    _, _, findings = facts_and_findings(text)  # 13/1046 = 1.24 %, pushed to 1.3 % so the three add to 100
    assert sorted(f.status for f in by_rule(findings, "N.RATE")) == ["ADVISORY", "PASS", "PASS"]


def test_a_rate_is_not_paired_with_a_count_from_another_statement():
    _, facts, findings = facts_and_findings("发布政策解读信息28条；办结网民留言857条，办结率达91.65%。")
    assert not by_rule(findings, "N.RATE")


def test_narrative_counts_are_compared_with_a_legacy_table_by_indicator_key():
    rec = Record(document=DocumentInfo(name="fixture"), format="legacy")
    rec.tables["legacy"] = Table(key="legacy", template="legacy", cells=[
        Cell(table="legacy", row="L0", col="year", label="受理政府信息公开申请总数", key="applications_received",
             value=12, kind="number"),
        Cell(table="legacy", row="L1", col="year", label="政府门户网站公开信息数", key="published_website",
             value=300, kind="number"),
    ])
    _, _, findings = facts_and_findings("全年共收到政府信息公开申请13件。全年通过政府网站主动公开政府信息300条。", rec)
    tm = {f.scope: f.status for f in by_rule(findings, "N.TABLE_MATCH")}
    assert tm == {"fact applications_received": "FAIL", "fact items_published.website": "PASS"}


def test_another_years_figure_is_not_this_years_quantity():
    d = doc_of("2022年全年主动公开政府信息3000条。2023年全年主动公开政府信息3500条。")
    lay = _Layout(len(d.text))
    lay.year = 2023
    facts = find_facts(d, lay)
    findings = check_facts(d, facts, layout=lay)
    assert [(f.value, f.scope) for f in facts] == [(3000, "period:2022年"), (3500, "")]
    assert [f.status for f in by_rule(findings, "N.SAME_QUANTITY")] == ["ADVISORY"]


def test_a_statement_read_again_under_another_vocabulary_is_read_by_the_new_vocabulary(tmp_path, monkeypatch):
    """classify_label and scope_of remember their readings per rules directory (EXTRACTOR_RULES_DIR):
    a changed vocabulary is what the next reading of the same words uses."""
    import shutil

    from extractor.narrative.vocabulary import VOCABULARY_FILE, classify_label, scope_of
    from extractor.templates import rules_dir

    label, sentence = "本年度共收到政府信息公开申请", "本年度共收到政府信息公开申请12件"
    assert classify_label(label, "", "件", sentence=sentence).metric == "applications_received"
    assert scope_of("上半年收到申请", "上半年收到申请") == "period:上半年"
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    vocab = (rules / VOCABULARY_FILE).read_text(encoding="utf-8")
    vocab = vocab.replace("received: '(?:收到|新收", "received: '(?:得到|新收", 1).replace("'上半年', ", "", 1)
    (rules / VOCABULARY_FILE).write_text(vocab, encoding="utf-8")
    monkeypatch.setenv("EXTRACTOR_RULES_DIR", str(rules))
    assert classify_label(label, "", "件", sentence=sentence).metric is None
    assert scope_of("上半年收到申请", "上半年收到申请") == ""
    monkeypatch.delenv("EXTRACTOR_RULES_DIR")
    assert classify_label(label, "", "件", sentence=sentence).metric == "applications_received"
    assert scope_of("上半年收到申请", "上半年收到申请") == "period:上半年"
