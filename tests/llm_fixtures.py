"""Test fixtures for the LLM layer: a scripted fake OpenAI-compatible server.

``ScriptedModelServer`` is NOT a recording: it plays a fixed list of HTTP answers written by hand in
the tests — deliberate model mistakes (a number absent from the source, a quote not in the source),
429s, 5xx and timeouts — so that the retry policy and the rules can be asserted exactly. Recorded
model answers live only in cassettes/ (see tests/test_llm_cassettes.py).
"""

from __future__ import annotations

import json

import httpx

from extractor.llm.client import LLMClient, LLMConfig


class ScriptedModelServer:
    """Fake OpenAI-compatible endpoint: answers requests from a script, records what it was sent."""

    def __init__(self, script: list[httpx.Response | Exception]):
        self.script = list(script)
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content or b"{}"))
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def tool_answer(payload: dict, *, prompt_tokens: int = 100, completion_tokens: int = 20, name: str = "NarrativeFactsOut") -> httpx.Response:
    body = {
        "id": "chatcmpl-fixture",
        "object": "chat.completion",
        "created": 0,
        "model": "fixture-model",
        "choices": [{
            "index": 0,
            "finish_reason": "stop",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_0", "type": "function",
                                "function": {"name": name, "arguments": json.dumps(payload, ensure_ascii=False)}}],
            },
        }],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
    return httpx.Response(200, json=body)


def error_answer(status: int, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": f"fixture {status}", "type": "fixture"}}, headers=headers or {})


def make(server: ScriptedModelServer, tmp_path, **cfg) -> tuple[LLMClient, list[float]]:
    sleeps: list[float] = []
    config = LLMConfig(model="fixture-model", base_url="http://fixture.invalid/v1", api_key="k", **cfg)
    return LLMClient(config, tmp_path / "state.db", http_client=server.client(), sleep=sleeps.append), sleeps
