"""Narrative facts through the model: the prompt asks for the vocabulary's metrics and scopes, an
answer that stays invalid is dropped, and a model's claims never make a fact stronger.

The models here are test fixtures (tests/llm_fixtures.py): ``ScriptedModelServer`` plays fixed
answers, ``HostileNarrativeModel`` answers every narrative request wrong on purpose. Recorded
answers of a real (local) model are in cassettes/ (tests/test_llm_cassettes.py).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import yaml

from extractor.document import from_text
from extractor.llm import LLMSteps
from extractor.llm.facts import NarrativeFactsOut, model_scope, narrative_facts
from extractor.llm.prompts import load_prompt
from extractor.model import DocumentInfo, Record
from extractor.pipeline import extract, extract_document
from extractor.loaders import load
from extractor.narrative import find_facts
from extractor.narrative.vocabulary import in_words, load_vocabulary, readable
from extractor.numbers import same_number
from extractor.verify.narrative import check_facts, why_not_blocking
from llm_fixtures import HostileNarrativeModel, ScriptedModelServer, make, tool_answer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "example_1_stream.txt"

TEXT = ("一、总体情况\n本年度共收到政府信息公开申请12件，办结12件，均在2个工作日内登记。\n"
        "五、存在的主要问题及改进情况\n无。\n六、其他需要报告的事项\n各乡镇共收到政府信息公开申请30件。\n")


def doc_of(text: str):
    return from_text(text, name="fixture.txt", kind="text", raw=text.encode(), encoding="utf-8")


def heading_layout(doc):
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"^([一二三四五六])、", doc.text, re.M)]
    return SimpleNamespace(sections=[
        SimpleNamespace(key=k, title="", start=s, end=heads[i + 1][0] if i + 1 < len(heads) else len(doc.text))
        for i, (s, k) in enumerate(heads)], regions={}, format="2021")


def fact(metric, value, quote, *, scope="", unit="件", kind="count", parts=()):
    return {"metric": metric, "value": value, "unit": unit, "quote": quote, "kind": kind, "scope": scope,
            "parts": list(parts)}


def system_prompt(**_) -> str:
    return load_prompt("narrative_facts").messages(vocab=in_words(), section_key="一", section_text="x")[0]["content"]


# --- an answer that stays invalid is dropped --------------------------------------------------------


def test_a_narrative_answer_that_stays_invalid_is_dropped_and_listed_under_skipped(tmp_path):
    """The hostile model's answers never pass validation: nothing of them reaches the record (no
    model fact, no finding about one), each section is listed under ``skipped``, every attempt is an
    ``invalid`` row in the ledger, and the record is what the deterministic path makes of it."""
    hostile = HostileNarrativeModel()
    server = ScriptedModelServer([], responder=hostile)
    client, _ = make(server, tmp_path)
    with_model = extract_document(load(EXAMPLE), llm=LLMSteps(client, tables="off"))
    without = extract(EXAMPLE)

    assert hostile.answers["inflated"] and hostile.answers["unquoted"] and hostile.answers["true"]
    assert not [f for f in with_model.facts if f.producer == "model"]
    assert not [f for f in with_model.findings if (f.values or {}).get("producer") == "model"]
    dropped = [s for s in with_model.skipped if "dropped" in s]
    rows = client.ledger.rows()
    invalid = sorted({r["part"] for r in rows if r["outcome"] == "invalid"})
    assert invalid == ["section:一"]  # section 六 states no count: the hostile model answers it no fact
    assert {r["outcome"] for r in rows if r["part"] == "section:一"} == {"invalid"}
    assert len([r for r in rows if r["part"] == "section:一"]) == 2  # asked, re-asked once, dropped
    assert dropped == ["narrative section 一: the model's answer failed validation after re-asks and was dropped "
                       "(N.VALUE_REPARSES)"]
    assert with_model.decision == without.decision
    assert sorted((f.id, f.status) for f in with_model.findings) == sorted((f.id, f.status) for f in without.findings)


def test_only_the_section_whose_answer_stays_invalid_is_dropped(tmp_path):
    inflated = {"facts": [fact("applications_received", 13, "本年度共收到政府信息公开申请12件")]}
    good = {"facts": [fact("applications_received", 30, "各乡镇共收到政府信息公开申请30件", scope="subunit:各乡镇")]}
    server = ScriptedModelServer([tool_answer(inflated), tool_answer(inflated), tool_answer(good)])
    client, _ = make(server, tmp_path)
    doc = doc_of(TEXT)
    record = Record(document=DocumentInfo(name=doc.name, sha256=doc.sha256), format="2021")
    LLMSteps(client, tables="off").enrich(doc, heading_layout(doc), record)
    assert [(f.section, f.value, f.scope) for f in record.facts] == [("六", 30, "subunit:各乡镇")]
    assert record.skipped == ["narrative section 一: the model's answer failed validation after re-asks and was "
                              "dropped (N.VALUE_REPARSES)"]
    outcomes = [(r["part"], r["outcome"]) for r in client.ledger.rows()]
    assert outcomes == [("section:一", "invalid"), ("section:一", "invalid"), ("section:六", "ok")]


# --- the prompt asks in the vocabulary's words ------------------------------------------------------


def test_the_prompt_renders_the_vocabulary_from_its_data_file(tmp_path, monkeypatch):
    text = system_prompt()
    vocab = load_vocabulary()
    for m in vocab.metrics:
        assert f"  {m.key} (" in text
    for key, phrase in (("applications_received", "[收到/新收/受理/接到/接收/收悉]…申请"),
                        ("lawsuits.direct", "未经复议(直接)(提起)[起诉/诉讼/行政诉讼]")):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"  {key} ("))
        assert phrase in line
    assert "信访" in next(ln for ln in text.splitlines() if ln.startswith("  applications_received ("))
    assert "items_published.wechat: the same, on 微信" in text
    assert "subunit: 各[乡镇/街道" in text and "topic: 专栏; 专题" in text and "extra: 另外" in text
    assert all(w in text for w in vocab.not_counts)
    # rendered, not copied: another vocabulary gives another prompt
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    data = yaml.safe_load((rules / "narrative_vocabulary.yaml").read_text(encoding="utf-8"))
    data["version"] = 99
    data["metrics"]["reviews"]["anchors"]["review"] = "(?:行政)?复议|复核申请"
    data["scope"]["topic"].append("示范点")
    (rules / "narrative_vocabulary.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("EXTRACTOR_RULES_DIR", str(rules))
    other = system_prompt()
    assert "(行政)复议; 复核申请" in other and "示范点" in other and other != text
    assert in_words().ref == "narrative_vocabulary@99"


def test_the_prompt_puts_the_stable_text_first_and_the_question_last(tmp_path):
    answer = {"facts": [fact("applications_received", 12, "本年度共收到政府信息公开申请12件")]}
    sub = {"facts": [fact("applications_received", 30, "各乡镇共收到政府信息公开申请30件", scope="subunit:各乡镇")]}
    server = ScriptedModelServer([tool_answer(answer), tool_answer(sub)])
    client, _ = make(server, tmp_path)
    doc = doc_of(TEXT)
    facts, _ = narrative_facts(client, doc, heading_layout(doc))
    first, second = (r["messages"] for r in server.requests)
    assert first[:-1] == second[:-1]  # system and worked example: the same prefix for every call
    assert first[-1]["content"].index("本年度共收到") < first[-1]["content"].index("List every quantitative statement")
    ref = f"{load_prompt('narrative_facts').ref}+{load_vocabulary().ref}"
    assert {f.prompt for f in facts} == {ref} and {r["prompt"] for r in client.ledger.rows()} == {ref}


def test_the_prompts_worked_example_reads_as_the_vocabulary_does():
    """Every fact of the worked example has the metric, value and scope the deterministic reader
    gives the same characters: the example teaches the vocabulary, not another one."""
    msgs = load_prompt("narrative_facts").messages(vocab=in_words(), section_key="一", section_text="x")
    example = msgs[1]["content"].split("<<<\n", 1)[1].split("\n>>>", 1)[0]
    answer = NarrativeFactsOut.model_validate_json(msgs[2]["content"].strip("`").removeprefix("json"))
    doc = doc_of(example)
    layout = SimpleNamespace(sections=[SimpleNamespace(key="一", title="", start=0, end=len(doc.text))], regions={})
    parsed = [(f.metric, f.value, f.scope) for f in _flat(find_facts(doc, layout))]

    def read(metric, value, scope):
        if re.search(r"[\u4e00-\u9fff]", metric):  # a printed label: no key is proven for it
            return any(same_number(v, value) and s == scope and not m.isascii() for m, v, s in parsed)
        return any(m == metric and same_number(v, value) and s == scope for m, v, s in parsed)

    for o in answer.facts:
        assert read(o.metric, o.value, model_scope(o.scope)), o
        for p in o.parts:
            assert read(p.metric, p.value, ""), p
    assert "2个工作日" in example and all(o.value != 2 for o in answer.facts)


def _flat(fs):
    for f in fs:
        yield f
        yield from _flat(f.parts)


def test_readable_vocabulary_phrases():
    assert readable(r"(?:收到|受理)[^，。]{0,16}申请|申请[^，。]{0,4}受理") == ["[收到/受理]…申请", "申请…受理"]
    assert readable(r"(?:行政)?复议") == ["(行政)复议"]
    assert readable(r"[区县市]直(?:部门|单位)?") == ["[区/县/市]直(部门/单位)"]
    assert readable(r"较20\d\d年") == ["较20NN年"]
    assert readable(r"^其中") == ["其中"]
    assert readable(r"(?<![较比])(20\d\d)年(?!度?前)") == ["20NN年"]


# --- the model's claims never make a fact stronger ---------------------------------------------------


def test_a_model_scope_claim_narrows_a_fact_and_never_widens_it(tmp_path):
    d = doc_of("一、总体情况\n全年收到政府信息公开申请5件。各乡镇共收到政府信息公开申请30件。\n")
    answer = {"facts": [
        # report-wide, but the model says it is a sub-unit's: it stays unblocking
        fact("applications_received", 5, "全年收到政府信息公开申请5件", scope="subunit:某乡镇"),
        # a sub-unit's, the model says report-wide: the deterministic reading's scope wins
        fact("applications_received", 30, "各乡镇共收到政府信息公开申请30件", scope=""),
    ]}
    client, _ = make(ScriptedModelServer([tool_answer(answer)]), tmp_path)
    facts, _ = narrative_facts(client, d, heading_layout(d))
    check_facts(d, find_facts(d, heading_layout(d)) + facts, layout=heading_layout(d))
    five, thirty = facts
    assert five.anchor == "applications_received/received" and five.scope == "subunit:某乡镇"
    assert why_not_blocking(five) == "not report-wide (subunit:某乡镇)"
    assert thirty.scope == "subunit:各乡镇" and why_not_blocking(thirty).startswith("not report-wide")
    assert model_scope("各乡镇") == "model:各乡镇" and model_scope("none") == "" and model_scope("Topic:专栏") == "topic:专栏"


def test_a_model_money_fact_is_confirmed_by_the_same_words_read_as_a_count(tmp_path):
    """未收取信息处理费: the parser's zero statement (no unit) and the model's 0 元 are one reading."""
    d = doc_of("六、其他需要报告的事项\n本年度未收取信息处理费。\n")
    answer = {"facts": [fact("fees", 0, "本年度未收取信息处理费", unit="元", kind="money")]}
    client, _ = make(ScriptedModelServer([tool_answer(answer)]), tmp_path)
    facts, _ = narrative_facts(client, d, heading_layout(d))
    check_facts(d, find_facts(d, heading_layout(d)) + facts, layout=heading_layout(d))
    assert facts[0].kind == "money" and facts[0].anchor == "zero/fees" and why_not_blocking(facts[0]) == ""


def test_durations_and_differences_are_left_out_of_the_models_facts(tmp_path):
    answer = {"facts": [
        fact("applications_received", 12, "本年度共收到政府信息公开申请12件"),
        fact("办理时限", 2, "均在2个工作日内登记", unit="个工作日"),
        fact("登记", 2, "均在2个工作日内登记", unit="个"),
    ]}
    client, _ = make(ScriptedModelServer([tool_answer(answer)]), tmp_path)
    d = doc_of(TEXT.split("五、")[0])
    facts, notes = narrative_facts(client, d, heading_layout(d))
    assert [(f.metric, f.value) for f in facts] == [("applications_received", 12)]
    assert "narrative section 一: not counts, left out: 2个工作日, 2个工作日" in notes


def test_punctuation_at_the_edges_of_a_quote_is_not_part_of_it(tmp_path):
    """"…行政复议1件。" quoted from "…行政复议1件，未经复议…": the phrase is there, the full stop is not."""
    d = doc_of("一、总体情况\n因政府信息公开引起行政复议1件，未经复议直接起诉2件。\n")
    answer = {"facts": [fact("reviews", 1, "因政府信息公开引起行政复议1件。"),
                        fact("lawsuits.direct", 2, "，未经复议直接起诉2件。")]}
    server = ScriptedModelServer([tool_answer(answer)])
    client, _ = make(server, tmp_path)
    facts, notes = narrative_facts(client, d, heading_layout(d))
    assert [f.quote for f in facts] == ["因政府信息公开引起行政复议1件", "未经复议直接起诉2件"]
    assert len(server.requests) == 1 and not [n for n in notes if "dropped" in n]


def test_the_response_schema_asks_for_a_scope():
    schema = json.dumps(NarrativeFactsOut.model_json_schema(), ensure_ascii=False)
    assert '"scope"' in schema and "subunit:各乡镇" in schema
    assert "scope" in NarrativeFactsOut.model_json_schema()["$defs"]["FactOut"]["required"]


def test_parser_and_model_agree_on_an_amount_whatever_its_unit(tmp_path):
    """"0.5万元": the parser reads 0.5 万元, a model may say 5000 元 — one amount, no question for a
    reviewer; a model saying 0.5 元 read the unit wrong, and that is a disagreement."""
    d = doc_of("六、其他需要报告的事项\n本年度收取信息处理费0.5万元。\n")

    def agree(value, unit):
        answer = {"facts": [fact("fees", value, "收取信息处理费0.5万元", unit=unit, kind="money")]}
        client, _ = make(ScriptedModelServer([tool_answer(answer)]), tmp_path / f"{value}{unit}")
        facts, _ = narrative_facts(client, d, heading_layout(d))
        found = check_facts(d, find_facts(d, heading_layout(d)) + facts, layout=heading_layout(d))
        return next(f for f in found if f.rule == "N.AGREE")

    assert agree(5000, "元").status == "PASS"
    assert agree(0.5, "万元").status == "PASS"
    wrong = agree(0.5, "元")
    assert wrong.status == "FAIL" and "0.5 万元" in wrong.message and "0.5 元" in wrong.message


def test_a_quote_that_stops_inside_a_number_does_not_make_its_first_digits_a_value(tmp_path):
    """"收到政府信息公开申请26" is printed — inside "…申请260件". The model's 26 is not written there:
    the answer is re-asked, then dropped; a fact checked afterwards does not re-read either."""
    d = doc_of("一、总体情况\n本年度共收到政府信息公开申请260件。\n")
    cut = {"facts": [fact("applications_received", 26, "收到政府信息公开申请26")]}
    client, _ = make(ScriptedModelServer([tool_answer(cut)] * 3), tmp_path)
    facts, notes = narrative_facts(client, d, heading_layout(d))
    assert facts == [] and any("dropped" in n for n in notes), notes
    from extractor.model import Fact

    f = Fact(metric="applications_received", value=26, quote="收到政府信息公开申请26", producer="model")
    found = check_facts(d, [f], layout=heading_layout(d))
    assert next(x for x in found if x.rule == "N.VALUE_REPARSES").status == "FAIL" and f.grounded is False
