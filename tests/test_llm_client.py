"""The client's retry policy, re-asks, ledger and cache, against a scripted fake server.

Nothing here is a recording: ``ScriptedModelServer`` (tests/llm_fixtures.py) is a test fixture, an
httpx MockTransport that plays a fixed list of HTTP answers — including deliberate model *mistakes* and transport
failures — so that the policy can be asserted exactly. Recorded model answers live in cassettes/
and are replayed by tests/test_llm_cassettes.py.
"""

from __future__ import annotations

import json

import httpx

from extractor.document import from_text
from extractor.llm.client import LLMClient, LLMConfig, make_client, retry_after
from llm_fixtures import ScriptedModelServer, error_answer, make, tool_answer
from extractor.llm.facts import NarrativeFactsOut, narrative_facts
from extractor.verify.narrative import check_facts

TEXT = "一、总体情况\n本年度共收到政府信息公开申请12件，办结12件。\n五、存在的主要问题及改进情况\n无。\n"


GOOD = {"facts": [{"metric": "applications_received", "value": 12, "unit": "件", "quote": "本年度共收到政府信息公开申请12件", "kind": "count", "scope": "", "parts": []}]}
FABRICATED_NUMBER = {"facts": [{"metric": "applications_received", "value": 15, "unit": "件", "quote": "本年度共收到政府信息公开申请12件", "kind": "count", "scope": "", "parts": []}]}
QUOTE_NOT_IN_SOURCE = {"facts": [{"metric": "applications_received", "value": 15, "unit": "件", "quote": "本年度共收到政府信息公开申请15件", "kind": "count", "scope": "", "parts": []}]}


def doc():
    return from_text(TEXT, name="fixture.txt", kind="text", raw=TEXT.encode(), encoding="utf-8")


def call(client: LLMClient, context_text: str = TEXT):
    return client.extract(NarrativeFactsOut, [{"role": "user", "content": "fixture"}], doc_sha="d" * 64,
                          prompt="narrative_facts@1", part="section:一", context={"text": context_text})


def outcomes(client: LLMClient) -> list[tuple[int, str]]:
    return [(r["attempt"], r["outcome"]) for r in client.ledger.rows()]


def test_unavailable_without_key_or_base_url():
    cfg = LLMConfig.from_env(env={})
    assert not cfg.available and "skipped" in cfg.unavailable_reason
    assert LLMConfig.from_env(env={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}).available
    assert LLMConfig.from_env(env={"OPENAI_API_KEY": "k"}).available
    assert LLMConfig.from_env(llm="local", env={}).base_url.startswith("http://127.0.0.1:")
    assert not LLMConfig.from_env(llm="off", env={"OPENAI_API_KEY": "k"}).available


def test_make_client_reports_why_it_is_skipped(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    client, reason = make_client()
    assert client is None and "OPENAI_API_KEY" in reason


def test_429_then_success_is_retried_with_retry_after_and_every_attempt_is_in_the_ledger(tmp_path):
    server = ScriptedModelServer([error_answer(429, {"retry-after": "2"}), tool_answer(GOOD)])
    client, sleeps = make(server, tmp_path)
    res = call(client)
    assert res.validated and res.value.facts[0].value == 12
    assert sleeps == [2.0]  # honoured Retry-After
    assert outcomes(client) == [(1, "rate_limited"), (2, "ok")]
    t = client.totals()
    assert (t.calls, t.attempts, t.failed_attempts, t.prompt_tokens, t.completion_tokens) == (1, 2, 1, 100, 20)


def test_5xx_and_timeouts_back_off_exponentially_and_stop_at_the_bound(tmp_path):
    server = ScriptedModelServer([error_answer(503), httpx.ReadTimeout("fixture timeout"), error_answer(500), error_answer(502)])
    client, sleeps = make(server, tmp_path, max_attempts=4, jitter=0.0)
    res = call(client)
    assert res.value is None and res.error.startswith("server_error")
    assert outcomes(client) == [(1, "server_error"), (2, "timeout"), (3, "server_error"), (4, "server_error")]
    assert sleeps == [1.0, 2.0, 4.0]
    assert server.script == []


def test_client_errors_are_not_retried(tmp_path):
    server = ScriptedModelServer([error_answer(400), tool_answer(GOOD)])
    client, sleeps = make(server, tmp_path)
    res = call(client)
    assert res.value is None and sleeps == [] and outcomes(client) == [(1, "error")]


def test_invalid_answer_is_reasked_with_the_failing_rule_message(tmp_path):
    server = ScriptedModelServer([tool_answer(QUOTE_NOT_IN_SOURCE), tool_answer(GOOD)])
    client, _ = make(server, tmp_path)
    res = call(client)
    assert res.validated and res.value.facts[0].value == 12
    assert outcomes(client) == [(1, "invalid"), (2, "ok")]
    reask = json.dumps(server.requests[1], ensure_ascii=False)
    assert "N.QUOTE_GROUNDED" in reask  # the re-ask carries the rule's message
    assert "N.QUOTE_GROUNDED" in client.ledger.rows()[0]["error"]


def test_hard_cap_bounds_reasks_and_the_invalid_answer_is_dropped(tmp_path):
    server = ScriptedModelServer([tool_answer(FABRICATED_NUMBER)] * 5)
    client, _ = make(server, tmp_path, max_reasks=4, hard_cap=3)
    res = call(client)
    assert [o for _, o in outcomes(client)] == ["invalid"] * 3  # capped at 3 HTTP attempts
    assert res.value is None and res.error.startswith("invalid:") and "N.VALUE_REPARSES" in res.error
    # cached as invalid (a re-run costs nothing) and dropped again
    again = call(client)
    assert again.cached and again.value is None and again.error.startswith("invalid:")
    assert len(server.requests) == 3


def test_cache_makes_a_rerun_free(tmp_path):
    server = ScriptedModelServer([tool_answer(GOOD)])
    client, _ = make(server, tmp_path)
    first, second = call(client), call(client)
    assert not first.cached and second.cached and second.value.model_dump() == first.value.model_dump()
    assert outcomes(client) == [(1, "ok"), (0, "cached")]
    t = client.totals()
    assert (t.calls, t.attempts, t.cached, t.prompt_tokens) == (1, 1, 1, 100)
    # a new client on the same state DB also hits the cache
    client2, _ = make(ScriptedModelServer([]), tmp_path)
    assert call(client2).cached


def test_cache_key_includes_model_mode_and_schema(tmp_path):
    server = ScriptedModelServer([tool_answer(GOOD), tool_answer(GOOD)])
    client, _ = make(server, tmp_path)
    call(client)
    client.config.model = "another-model"
    assert not call(client).cached


def test_retry_after_forms():
    req = httpx.Request("POST", "http://x")
    import openai

    def err(h):
        return openai.RateLimitError("x", response=httpx.Response(429, headers=h, request=req), body=None)

    assert retry_after(err({"retry-after-ms": "1500"})) == 1.5
    assert retry_after(err({"retry-after": "3"})) == 3.0
    assert retry_after(err({})) is None


def test_narrative_facts_one_call_per_section_with_numbers(tmp_path):
    from types import SimpleNamespace

    server = ScriptedModelServer([tool_answer(GOOD)])
    client, _ = make(server, tmp_path)
    d = doc()
    n = len(d.text)
    five = d.text.index("五、")
    layout = SimpleNamespace(
        sections=[SimpleNamespace(key="一", start=0, end=five), SimpleNamespace(key="五", start=five, end=n)], regions={}
    )
    facts, notes = narrative_facts(client, d, layout)
    assert len(server.requests) == 1  # section 五 has no number: no call
    assert [f.producer for f in facts] == ["model"] and facts[0].prompt == "narrative_facts@2+narrative_vocabulary@1"
    assert facts[0].model == "fixture-model"
    assert any("五" in n for n in notes)
    # the stable text comes first, the question last
    content = server.requests[0]["messages"][-1]["content"]
    assert content.index("本年度共收到") < content.index("List every quantitative statement")


def test_a_bare_list_answer_is_accepted(tmp_path):
    server = ScriptedModelServer([tool_answer(GOOD["facts"])])
    client, _ = make(server, tmp_path)
    res = call(client)
    assert res.validated and res.value.facts[0].value == 12


def test_sections_without_a_quantity_make_no_call():
    from extractor.llm.facts import states_a_quantity

    assert not states_a_quantity("2024年，本局认真贯彻条例，一是加强领导，二是完善制度。")
    assert states_a_quantity("全年收到申请3件。")
    assert states_a_quantity("本年度没有收到政府信息公开申请。")
