"""The model path end to end, replaying cassettes recorded against the local backend.

The cassettes in cassettes/ were recorded by ``make cassettes`` (scripts/local_llm.sh start → these
tests with EXTRACTOR_RECORD_CASSETTES=1 → stop) against Qwen2.5-Coder-1.5B-Instruct Q4_K_M served by
llama-cpp-python on 127.0.0.1, with the prompt narrative_facts@2 (rendered from the vocabulary
narrative_vocabulary@1). They are never written by hand. In CI they replay with record mode
``none``: a request that is not in the cassette (the body is matched too) fails the test.

The documents are our own invented fixtures (tests/fixtures/llm/), so no report text is stored in
the cassettes. Two kinds of tests:

* invariants, whatever the model answered: an answer that failed validation after the re-ask is
  dropped and listed; every fact kept is grounded; a model fact is proven only where the
  deterministic reading of the same characters agrees; the model adds no blocking finding;
* what this recording holds: the small model's actual answers (read from the cassettes) and what the
  rules made of them. A re-recording (another prompt, model or server) must revisit these.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

vcr = pytest.importorskip("vcr")

from extractor.document import from_text  # noqa: E402
from extractor.llm import LLMSteps  # noqa: E402
from extractor.llm.client import LLMClient, LLMConfig  # noqa: E402
from extractor.llm.facts import narrative_facts, non_count_words, FactOut  # noqa: E402
from extractor.llm.prompts import load_prompt  # noqa: E402
from extractor.model import Cell, DocumentInfo, Record, Table  # noqa: E402
from extractor.narrative import find_facts  # noqa: E402
from extractor.narrative import squeeze  # noqa: E402
from extractor.verify.narrative import check_facts, check_narrative, why_not_blocking  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llm"
RECORDING = os.environ.get("EXTRACTOR_RECORD_CASSETTES") == "1"
PROMPT_REF = "narrative_facts@2+narrative_vocabulary@1"
NAMES = ["narrative_a.txt", "narrative_b.txt", "narrative_c.txt"]

VCR = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="new_episodes" if RECORDING else "none",
    match_on=["method", "scheme", "host", "port", "path", "query", "body"],
    decode_compressed_response=True,
    filter_headers=["authorization", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime-version",
                    "x-stainless-package-version", "x-stainless-runtime", "user-agent"],
)


def fixture_doc(name: str):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return from_text(text, name=name, kind="text", raw=text.encode("utf-8"), encoding="utf-8")


def heading_layout(doc):
    """Sections from the fixture's own 一、/五、/六、 headings (no tables)."""
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"^([一二三四五六])、", doc.text, re.M)]
    sections = [
        SimpleNamespace(key=k, title="", start=s, end=heads[i + 1][0] if i + 1 < len(heads) else len(doc.text))
        for i, (s, k) in enumerate(heads)
    ]
    return SimpleNamespace(sections=sections, regions={}, format="2021")


def local_client(tmp_path) -> LLMClient:
    # The local backend's configuration, as `--llm local` uses it; openai retries off (max_retries=0).
    cfg = LLMConfig.from_env(llm="local", env={}, timeout=900.0)
    client = LLMClient(cfg, tmp_path / "extractor.db")
    assert client.openai.max_retries == 0
    return client


def cassette(name: str) -> str:
    return f"narrative_facts_{Path(name).stem}.yaml"


def read(name: str, tmp_path):
    """The model's facts for fixture ``name`` (replayed), the parser's, and the findings on both."""
    doc = fixture_doc(name)
    layout = heading_layout(doc)
    client = local_client(tmp_path)
    with VCR.use_cassette(cassette(name)):
        facts, notes = narrative_facts(client, doc, layout)
    parsed = find_facts(doc, layout)
    findings = check_facts(doc, parsed + facts, None, layout=layout)
    t = client.totals()
    print(f"[ledger] {name}: {t.line()}")
    return SimpleNamespace(doc=doc, layout=layout, client=client, facts=facts, notes=notes, parsed=parsed,
                           findings=findings)


def recorded_answers(name: str) -> list[tuple[str, dict]]:
    """(section, answer) for every response in the cassette, in order: what the model returned."""
    data = yaml.safe_load((CASSETTES / cassette(name)).read_text(encoding="utf-8"))
    out = []
    for it in data["interactions"]:
        req = json.loads(it["request"]["body"])
        section = re.search(r"^Section (\S+) of the report:", next(
            m["content"] for m in reversed(req["messages"]) if m["role"] == "user" and "<<<" in m["content"]), re.M)
        content = json.loads(it["response"]["body"]["string"])["choices"][0]["message"]["content"]
        body = json.loads(re.search(r"```(?:json)?\s*(.*?)```", content, re.S).group(1))
        out.append((section.group(1), {"facts": body} if isinstance(body, list) else body))
    return out


def blocking(findings) -> set[tuple[str, str]]:
    return {(f.id, f.status) for f in findings if f.status in ("FAIL", "UNCERTAIN") and f.rule != "N.AGREE"}


def _flat(fs):
    for f in fs:
        yield f
        yield from _flat(f.parts)


# --- invariants -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_what_the_local_model_returned_is_judged_by_the_rules(name, tmp_path):
    r = read(name, tmp_path)
    rows = r.client.ledger.rows()
    # one call per narrative section that states a number, plus one re-ask; never more than the cap
    calls = {row["call_id"] for row in rows}
    assert 1 <= len(calls) <= 3 and all(row["attempt"] <= r.client.config.hard_cap for row in rows)
    assert {row["prompt"] for row in rows} == {PROMPT_REF}
    t = r.client.totals()
    assert t.prompt_tokens > 0 and t.completion_tokens > 0
    # an answer that stayed invalid is dropped and said so; nothing of it is used
    ok = {row["part"].split(":")[1] for row in rows if row["outcome"] == "ok"}
    failed = {row["part"].split(":")[1] for row in rows} - ok
    dropped = {n.split(":")[0].removeprefix("narrative section ") for n in r.notes if "dropped" in n}
    assert dropped == failed
    assert {f.section for f in r.facts} <= ok
    for f in _flat(r.facts):
        # only validated answers are kept: every fact and part is grounded
        assert f.producer == "model" and f.prompt == PROMPT_REF and f.grounded is True
        assert squeeze(f.quote) in squeeze(r.doc.text)
        # proven only where the deterministic reading of the same characters agrees on the metric
        agree = [g for g in _flat(r.parsed) if g.metric == f.metric and g.span and f.span
                 and g.span.start < f.span.end and f.span.start < g.span.end]
        assert bool(f.anchor) == bool(agree), f
        if not f.anchor:
            assert why_not_blocking(f)
    # the model adds no blocking finding of its own (N.AGREE, a disagreement with the parser, aside)
    alone = check_facts(r.doc, find_facts(r.doc, r.layout), None, layout=r.layout)
    assert blocking(r.findings) <= blocking(alone)


def test_rerun_is_free_from_the_cache(tmp_path):
    doc = fixture_doc("narrative_a.txt")
    layout = heading_layout(doc)
    client = local_client(tmp_path)
    with VCR.use_cassette(cassette("narrative_a.txt")):
        first = narrative_facts(client, doc, layout)
    before = client.totals()
    with VCR.use_cassette(cassette("narrative_a.txt"), record_mode="none", allow_playback_repeats=False) as cas:
        again = narrative_facts(client, doc, layout)
        assert cas.play_count == 0  # no HTTP at all
    after = client.totals()
    assert (after.calls, after.prompt_tokens) == (before.calls, before.prompt_tokens)
    assert after.cached == before.cached + before.calls
    # the cached invalid answer is dropped again; the cached valid one gives the same facts
    assert [f.model_dump() for f in again[0]] == [f.model_dump() for f in first[0]]
    def dropped(notes):
        return [n.split(":")[0] for n in notes if "dropped" in n]

    assert dropped(again[1]) == dropped(first[1]) == ["narrative section 一"]


# --- what this recording holds ---------------------------------------------------------------------


def test_local_model_narrative_a_invented_rate_dropped_zero_fee_confirmed(tmp_path):
    """Section 一: the model invents 办结率 100 % (quoting 办结7件), keeps it when re-asked: the whole
    answer is dropped, its true facts (356 = 210 + 98 + 48, 收到申请7件) with it. Section 六: 未收取信息处理费
    as fees = 0, which the deterministic reading of the same words confirms."""
    answers = recorded_answers("narrative_a.txt")
    assert [s for s, _ in answers] == ["一", "一", "六"]
    for _, a in answers[:2]:
        rate = next(f for f in a["facts"] if f["kind"] == "rate")
        assert (rate["metric"], rate["value"], rate["quote"]) == ("办结率", 100, "办结7件")
    r = read("narrative_a.txt", tmp_path)
    assert r.notes[0] == ("narrative section 一: the model's answer failed validation after re-asks and was dropped "
                          "(N.VALUE_REPARSES)")
    assert [(f.section, f.metric, f.value, f.anchor) for f in r.facts] == [("六", "fees", 0, "zero/fees")]
    assert any(f.rule == "N.AGREE" and f.status == "PASS" and "fees = 0" in f.message for f in r.findings)


def test_local_model_narrative_b_misread_metrics_are_advisory_never_accepted(tmp_path):
    """Section 一's answer passes validation (every quote and number is printed) but misreads: 1200
    市民热线诉求 as applications_received (the vocabulary excludes 热线), a 57 件 'reviews_concluded' rate
    over 1200, 政务微信 420 with a 专栏 scope. The rules: with table 三 counting 60 new applications,
    N.TABLE_MATCH 1200 ≠ 60 is ADVISORY (not the vocabulary's metric), N.RATE 57/1200 ≠ 57 % is
    ADVISORY, the table's 60 stays. Section 五: a 0 for a sentence with no number (但互动回应仍需加强),
    a 1 when re-asked: dropped, listed under skipped."""
    doc = fixture_doc("narrative_b.txt")
    layout = heading_layout(doc)
    client = local_client(tmp_path)
    cell = Cell(table="table3", row="new_received", col="total", value=60, kind="number", raw="60")
    record = Record(document=DocumentInfo(name=doc.name, sha256=doc.sha256), format="2021",
                    tables={"table3": Table(key="table3", template="2021.table3", cells=[cell])})
    with VCR.use_cassette(cassette("narrative_b.txt")):
        LLMSteps(client, tables="off").enrich(doc, layout, record)
    assert record.versions["narrative_facts"] == load_prompt("narrative_facts").ref == "narrative_facts@2"
    check_narrative(doc, layout, record)

    model = {f.metric: f for f in record.facts if f.producer == "model"}
    assert set(model) == {"applications_received", "items_published", "reviews_concluded"}
    assert model["applications_received"].quote == "全年办理市民热线诉求1200件"
    assert model["items_published"].scope == "topic:专栏"
    assert all(f.anchor == "" for f in model.values())
    by_id = {f.id.split("@")[0]: f for f in record.findings}
    match = by_id["N.TABLE_MATCH:applications_received"]
    assert match.status == "ADVISORY" and "1200" in match.message and "60" in match.message
    assert "not confirmed by the vocabulary" in match.message
    rate = by_id["N.RATE:reviews_concluded"]
    assert rate.status == "ADVISORY" and "57 / 1200" in rate.message
    assert not [f for f in record.findings if f.status == "FAIL"]
    assert record.tables["table3"].get("new_received", "total").value == 60
    # the deterministic reading is there whatever the model said
    assert ("N.SUM", "PASS") in {(f.rule, f.status) for f in record.findings}
    assert by_id["N.RATE:办结率"].status == "PASS"
    assert record.skipped == ["narrative section 五: the model's answer failed validation after re-asks and was "
                              "dropped (N.VALUE_REPARSES)"]
    five = [a for s, a in recorded_answers("narrative_b.txt") if s == "五"]
    assert [next(f["value"] for f in a["facts"] if f["quote"] == "但互动回应仍需加强") for a in five] == [0, 1]


def test_local_model_narrative_c_scope_and_non_counts(tmp_path):
    """Both answers are dropped — 一 invents 办结率 100 % from 全部按期答复 (and calls 各乡镇's 40 件
    items_published, 信访 applications); 五 quotes the worked example's 网站发布200条 and gives
    公开率…提高0.5个百分点 as a rate — so the record holds the deterministic reading only: 25 件 for the
    body and 40 件 for 各乡镇 differ as an ADVISORY note (not report-wide), 2个工作日 and 0.5个百分点 are
    not counts. What the model did get right: the 各乡镇 scope, and no fact for 2个工作日."""
    answers = recorded_answers("narrative_c.txt")
    first = answers[0][1]["facts"]
    forty = next(f for f in first if f["value"] == 40)
    assert forty["scope"] == "subunit:各乡镇"
    assert not [f for f in first if f["value"] == 2 and "工作日" in f["quote"]]
    five = next(a for s, a in answers if s == "五")["facts"]
    diff = next(f for f in five if f["value"] == 0.5)
    assert non_count_words(FactOut.model_validate(diff)) == "个百分点"  # left out, had the answer been valid
    assert any(p["quote"] == "网站发布200条" for f in five for p in f["parts"])  # the worked example's words

    r = read("narrative_c.txt", tmp_path)
    assert r.facts == []
    assert sorted(n.split(":")[0] for n in r.notes if "dropped" in n) == ["narrative section 一",
                                                                          "narrative section 五"]
    same = next(f for f in r.findings if f.rule == "N.SAME_QUANTITY")
    assert same.status == "ADVISORY" and "subunit:各乡镇" in same.message
    assert not [g for g in _flat(r.parsed) if "工作日" in g.quote or "百分点" in g.quote]
