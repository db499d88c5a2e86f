"""The model path end to end, replaying cassettes recorded against the local backend.

The cassettes in cassettes/ were recorded by ``make cassettes`` (scripts/local_llm.sh start → these
tests with EXTRACTOR_RECORD_CASSETTES=1 → stop) against Qwen2.5-Coder-1.5B-Instruct Q4_K_M served by
llama-cpp-python on 127.0.0.1. They are never written by hand. In CI they replay with record mode
``none``: a request that is not in the cassette (the body is matched too) fails the test.

The documents are our own invented fixtures (tests/fixtures/llm/), so no report text is stored in
the cassettes. The assertions are about the rules, not about the small model's skill: whatever it
answered, nothing it returned is accepted unless the deterministic checks confirm it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

vcr = pytest.importorskip("vcr")

from extractor.document import from_text  # noqa: E402
from extractor.llm import ModelSteps  # noqa: E402
from extractor.llm.client import LLMClient, LLMConfig  # noqa: E402
from extractor.llm.facts import narrative_facts  # noqa: E402
from extractor.llm.prompts import load_prompt  # noqa: E402
from extractor.model import DocumentInfo, Record  # noqa: E402
from extractor.verify.narrative import check_facts, check_narrative, numbers_in, same_number  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llm"
RECORDING = os.environ.get("EXTRACTOR_RECORD_CASSETTES") == "1"
PROMPT_REF = "narrative_facts@2+narrative_vocabulary@1"

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


def ledger_summary(client: LLMClient, label: str) -> str:
    t = client.totals()
    line = f"[ledger] {label}: {t.line()}"
    print(line)
    return line


def assert_model_facts_judged(doc, facts, findings):
    """Every model fact is either confirmed by the rules or carries a failing rule — never silently accepted."""
    assert facts, "the cassette answer produced no facts at all"
    for f in facts:
        assert f.producer == "model" and f.prompt == PROMPT_REF
        metrics = {f.metric, *(p.metric for p in f.parts)}
        mine = [x for x in findings if x.id.split(":")[1].split("@")[0] in metrics]
        if f.grounded:
            assert f.span is not None
            assert any(same_number(n, f.value) for n in numbers_in(f.quote)) or f.value == 0
            assert re.sub(r"\s", "", f.quote) in re.sub(r"\s", "", doc.text)
        else:
            assert any(x.status == "FAIL" for x in mine), f"ungrounded model fact without a finding: {f}"


@pytest.mark.parametrize("name", ["narrative_a.txt", "narrative_b.txt", "narrative_c.txt"])
def test_narrative_facts_from_the_local_model(name, tmp_path):
    doc = fixture_doc(name)
    layout = heading_layout(doc)
    client = local_client(tmp_path)
    with VCR.use_cassette(f"narrative_facts_{Path(name).stem}.yaml"):
        facts, notes = narrative_facts(client, doc, layout)
    findings = check_facts(doc, facts, None, layout=layout)
    assert_model_facts_judged(doc, facts, findings)
    # one call per narrative section kind that states a number, plus re-asks; never more than the cap
    rows = client.ledger.rows()
    calls = {r["call_id"] for r in rows}
    assert len(calls) <= 3
    assert all(r["attempt"] <= client.config.hard_cap for r in rows)
    t = client.totals()
    assert t.prompt_tokens > 0 and t.completion_tokens > 0
    ledger_summary(client, name)


def test_enrich_then_rules_on_a_record(tmp_path):
    """The pipeline's order: ModelSteps.enrich adds model facts, check_narrative judges them all."""
    doc = fixture_doc("narrative_b.txt")
    layout = heading_layout(doc)
    client = local_client(tmp_path)
    record = Record(document=DocumentInfo(name=doc.name, sha256=doc.sha256), format="2021")
    with VCR.use_cassette("narrative_facts_narrative_b.yaml"):
        ModelSteps(client).enrich(doc, layout, record)
    assert record.versions["narrative_facts"] == load_prompt("narrative_facts").ref == "narrative_facts@2"
    check_narrative(doc, layout, record)
    # the deterministic finder's results are there whatever the model said
    rules = {(f.rule, f.status) for f in record.findings}
    assert ("N.SUM", "PASS") in rules and ("N.RATE", "PASS") in rules
    assert any(f.rule == "N.SAME_QUANTITY" and "items_published.wechat" in f.message for f in record.findings)
    assert all(f.grounded is not None for f in record.facts)
    ledger_summary(client, "enrich narrative_b")


def test_rerun_is_free_from_the_cache(tmp_path):
    doc = fixture_doc("narrative_a.txt")
    layout = heading_layout(doc)
    client = local_client(tmp_path)
    with VCR.use_cassette("narrative_facts_narrative_a.yaml"):
        narrative_facts(client, doc, layout)
    before = client.totals()
    with VCR.use_cassette("narrative_facts_narrative_a.yaml", record_mode="none", allow_playback_repeats=False) as cas:
        narrative_facts(client, doc, layout)
        assert cas.play_count == 0  # no HTTP at all
    after = client.totals()
    assert (after.calls, after.prompt_tokens) == (before.calls, before.prompt_tokens)
    assert after.cached == before.cached + before.calls
