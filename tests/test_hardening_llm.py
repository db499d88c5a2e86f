"""The model layer under failure (issue #12), against scripted fake servers (tests/llm_fixtures.py)
and closed local ports — never a real model.

Every test here failed before the fix: ``--llm local`` without a server retried silently and recorded
no skip; a failed model step vanished from the record (decide() overwrote the note; now it is a
``D.MODEL_STEP`` finding a reviewer settles like any other); the 180 s
timeout could not be set; parallel documents wrote ledger rows under each other's hash (one shared
"current call"); an answer cut at max_tokens left no ledger row; the run's usage line added up the
whole ledger history.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from extractor.document import from_text
from extractor.llm import LLMSteps
from extractor.verify.engine import check_identities
from extractor.llm.client import LLMClient, LLMConfig
from extractor.llm.facts import NarrativeFactsOut
from extractor.pipeline import extract_document
from llm_fixtures import ScriptedModelServer, error_answer, make, tool_answer
from outputs import output_lines

TEXT = "一、总体情况\n本年度共收到政府信息公开申请12件，办结12件。\n五、存在的主要问题及改进情况\n无。\n"
GOOD = {"facts": [{"metric": "applications_received", "value": 12, "unit": "件",
                   "quote": "本年度共收到政府信息公开申请12件", "kind": "count", "scope": "", "parts": []}]}
REPORTS = Path(__file__).resolve().parent.parent / "examples"


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(client: LLMClient, sha: str):
    return client.extract(NarrativeFactsOut, [{"role": "user", "content": "fixture"}], doc_sha=sha,
                          prompt="narrative_facts@1", part="section:一", context={"text": TEXT}, use_cache=False)


def test_llm_local_without_a_server_is_skipped_at_once_and_recorded(tmp_path):
    env = {"EXTRACTOR_LOCAL_URL": f"http://127.0.0.1:{closed_port()}/v1", "PATH": "/usr/bin:/bin"}
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-c", "from extractor.cli import main; main()", "run",
                        str(REPORTS / "example_1_stream.txt"), "--out", str(tmp_path / "out"), "--llm", "local"],
                       capture_output=True, text=True, env=env, timeout=120)
    took = time.monotonic() - t
    assert p.returncode == 0, p.stderr
    assert "no model server answers" in p.stderr and "local_llm.sh start" in p.stderr
    rec = json.loads(output_lines(tmp_path / "out")[0])
    assert any("no model server answers" in s for s in rec["skipped"]), rec["skipped"]
    assert took < 30, f"took {took:.0f} s"


def test_a_failed_model_step_is_marked_on_the_record(tmp_path):
    server = ScriptedModelServer([error_answer(500)] * 12)
    client, _ = make(server, tmp_path, max_attempts=2)
    doc = from_text(TEXT, name="fixture.txt", kind="text", raw=TEXT.encode(), encoding="utf-8")
    rec = extract_document(doc, llm=LLMSteps(client, tables="off"))
    marks = [f for f in rec.findings if f.rule == "D.MODEL_STEP"]
    assert [f.id for f in marks] == ["D.MODEL_STEP:narrative section 一"], rec.findings
    assert marks[0].status == "UNCERTAIN" and "server_error" in marks[0].message
    assert "accept to keep the record without it" in marks[0].message  # what a reviewer can do about it
    assert rec.decision == "needs_review" and any("D.MODEL_STEP" in r for r in rec.reasons), rec.reasons


def test_model_steps_that_failed_the_same_way_are_one_question(tmp_path):
    text = TEXT + "六、其他需要报告的事项\n本年度收取信息处理费0元，行政复议3件。\n"
    server = ScriptedModelServer([error_answer(500)] * 12)
    client, _ = make(server, tmp_path, max_attempts=2)
    doc = from_text(text, name="fixture.txt", kind="text", raw=text.encode(), encoding="utf-8")
    rec = extract_document(doc, llm=LLMSteps(client, tables="off"))
    marks = [f for f in rec.findings if f.rule == "D.MODEL_STEP"]
    assert len(marks) == 2 and len({f.group for f in marks}) == 1, [(f.id, f.group) for f in marks]


def test_llm_timeout_is_settable_by_option_and_environment(tmp_path, monkeypatch):
    assert LLMConfig.from_env(env={"OPENAI_API_KEY": "k"}).timeout == 180.0
    assert LLMConfig.from_env(env={"OPENAI_API_KEY": "k", "EXTRACTOR_LLM_TIMEOUT": "42"}).timeout == 42.0
    assert LLMConfig.from_env(env={"EXTRACTOR_LLM_TIMEOUT": "42"}, llm="local", timeout=7.0).timeout == 7.0
    client = LLMClient(LLMConfig(model="m", base_url="http://fixture.invalid/v1", api_key="k", timeout=12.5))
    assert client.openai.timeout == 12.5

    from extractor.cli import core

    seen = {}

    def fake_steps(llm, model, tables, db_path, mode=None, timeout=None):
        seen["timeout"] = timeout
        return None, "model steps skipped: fixture"

    monkeypatch.setattr(core, "steps_for_options", fake_steps)
    from typer.testing import CliRunner

    r = CliRunner().invoke(core.app, ["run", str(REPORTS / "example_1_stream.txt"), "--out", str(tmp_path / "o"),
                                      "--llm-timeout", "33"])
    assert r.exit_code == 0, r.output
    assert seen["timeout"] == 33.0


def test_parallel_calls_write_ledger_rows_under_their_own_document(tmp_path):
    """Two documents' calls overlap (each answer takes 0.2 s): every row carries its own hash."""

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.2)
        return tool_answer(GOOD)

    client = LLMClient(LLMConfig(model="fixture-model", base_url="http://fixture.invalid/v1", api_key="k"),
                       tmp_path / "state.db", http_client=httpx.Client(transport=httpx.MockTransport(slow)),
                       sleep=lambda s: None)
    shas = [c * 64 for c in "abcdef"]
    ids: dict[str, str] = {}

    def run(sha: str) -> None:
        ids[sha] = call(client, sha).call_id

    threads = [threading.Thread(target=run, args=(s,)) for s in shas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    rows = client.ledger.rows()
    assert len(rows) == len(shas)
    by_call = {r["call_id"]: r["doc_sha"] for r in rows}
    assert by_call == {ids[s]: s for s in shas}


def _cut(payload: dict) -> httpx.Response:
    body = json.loads(tool_answer(payload).content)
    body["choices"][0]["finish_reason"] = "length"
    fn = body["choices"][0]["message"]["tool_calls"][0]["function"]
    fn["arguments"] = fn["arguments"][: len(fn["arguments"]) // 2]
    return httpx.Response(200, json=body)


def test_an_answer_cut_at_max_tokens_leaves_a_ledger_row(tmp_path):
    server = ScriptedModelServer([_cut(GOOD)] * 6)
    client, _ = make(server, tmp_path)
    res = call(client, "d" * 64)
    assert res.value is None and res.error.startswith("truncated")
    rows = client.ledger.rows()
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "truncated")]
    assert "max_tokens" in rows[0]["error"] and rows[0]["prompt_tokens"] == 100
    assert client.totals().failed_attempts == 1


def test_the_run_usage_line_counts_this_run_only(tmp_path):
    first, _ = make(ScriptedModelServer([tool_answer(GOOD)] * 3), tmp_path)
    for k in range(3):  # an earlier run on the same database
        call(first, str(k) * 64)
    first.close()
    client, _ = make(ScriptedModelServer([tool_answer(GOOD)]), tmp_path)
    steps = LLMSteps(client, identities=check_identities)
    call(client, "e" * 64)
    t = steps.totals()
    assert (t.calls, t.attempts, t.prompt_tokens) == (1, 1, 100), t
    assert steps.totals().line().startswith("1 model call(s)")
    assert client.ledger.totals().calls == 4  # the history is still there


def test_waiting_for_the_model_does_not_count_against_the_time_budget(tmp_path, monkeypatch):
    """A 1 s budget and a model answering in 1.5 s: the document is not stopped (the wait is bounded
    by --llm-timeout and the attempts instead); its own work still is."""
    from extractor.sources import Source, process

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(1.5)
        return tool_answer(GOOD)

    client = LLMClient(LLMConfig(model="fixture-model", base_url="http://fixture.invalid/v1", api_key="k"),
                       tmp_path / "state.db", http_client=httpx.Client(transport=httpx.MockTransport(slow)),
                       sleep=lambda s: None)
    monkeypatch.setenv("EXTRACTOR_DOC_SECONDS", "1")
    rec = process(Source.from_bytes(TEXT.encode(), "slow-model.txt"), llm=LLMSteps(client, tables="off")).record
    assert not (rec.error or "").startswith("time budget"), rec.error
    assert [r["outcome"] for r in client.ledger.rows()] == ["ok"]  # the model answered, and was waited for
    assert not any(r.startswith("model step failed") for r in rec.reasons)
