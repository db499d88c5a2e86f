"""Test fixtures for the LLM layer: a scripted fake OpenAI-compatible server, and a hostile one.

``ScriptedModelServer`` is NOT a recording: it plays a fixed list of HTTP answers written by hand in
the tests — deliberate model mistakes (a number absent from the source, a quote not in the source),
429s, 5xx and timeouts — so that the retry policy and the rules can be asserted exactly. Recorded
model answers live only in cassettes/ (see tests/test_llm_cassettes.py).

``HostileNarrativeModel`` answers narrative requests with facts that never pass validation (numbers
changed, quotes printed nowhere). ``HostileTableModel`` answers table requests wrong on purpose from the text it is sent (zero-filled
blanks, re-cut digit runs, numbers quoted from other sections, invented numbers, cells not asked
for); ``OpenAIStub`` serves any such responder over HTTP on 127.0.0.1, so ``extractor run`` itself
can be pointed at it.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from extractor.llm.client import LLMClient, LLMConfig


class ScriptedModelServer:
    """Fake OpenAI-compatible endpoint: answers requests from a script, records what it was sent.

    When the script runs out, ``responder`` (if given: request JSON → response JSON, e.g. a
    :class:`HostileTableModel`) answers every further request."""

    def __init__(self, script: list[httpx.Response | Exception], responder=None):
        self.script = list(script)
        self.requests: list[dict] = []
        self.responder = responder

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.requests.append(body)
        if not self.script and self.responder is not None:
            return httpx.Response(200, json=self.responder(body))
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


# --- a hostile model, answering from what it is sent ------------------------------------------------


class HostileTableModel:
    """A model that answers table requests wrong on purpose, from the table text it is sent (a test
    fixture, not a recording). Each asked-for cell gets one of four mistakes, in turn:

    * ``zero``: a blank (or any cell) answered 0, quoting a real "0" of the table — another cell's;
    * ``recut``: a digit run of the table re-cut: the value is its first digits ("260" for "26029"),
      the quote the whole run;
    * ``elsewhere``: a number from a narrative section it was sent earlier, quoted from there;
    * ``invented``: a number printed nowhere, quoting a label of the table.

    It also answers one cell it was not asked for, and it never corrects itself when re-asked.
    Narrative requests get an empty list of facts (their text is remembered for ``elsewhere``).
    ``answers`` counts the cells it answered per mistake.

    ``cunning=True``: every answer passes validation — only the asked-for cells, each quoting a
    number really printed in the table as a whole number, just not its own: ``zero`` (another
    cell's 0, for blanks too), ``borrow`` (another cell's number), and for run-together digits the
    first of the candidate readings it is offered (``candidate``). What stops these is the
    reconciliation (another cell's characters, blanks never 0, identities, review), not the validator.
    """

    MISTAKES = ("zero", "recut", "elsewhere", "invented")
    CUNNING = ("zero", "borrow", "candidate")

    def __init__(self, cunning: bool = False) -> None:
        self.cunning = cunning
        self.narrative: list[tuple[int, str]] = []  # (number, quote) from narrative sections
        self.answers: dict[str, int] = {m: 0 for m in (self.CUNNING if cunning else self.MISTAKES)}
        self.requests = 0

    @staticmethod
    def _user_text(body: dict) -> str:
        """The last user message with a text between <<< and >>> (the worked example's comes first)."""
        for m in reversed(body.get("messages", [])):
            c = m.get("content")
            if m.get("role") == "user" and isinstance(c, str) and "<<<" in c:
                return c
        return ""

    @staticmethod
    def _tool(body: dict) -> str:
        tools = body.get("tools") or []
        return tools[0]["function"]["name"] if tools else ""

    def __call__(self, body: dict) -> dict:
        """The chat-completion response (JSON) for one request (JSON)."""
        self.requests += 1
        name = self._tool(body) or "TableCellsOut"
        user = self._user_text(body)
        text = user.split("<<<\n", 1)[1].split("\n>>>", 1)[0] if "<<<\n" in user else ""
        if name != "TableCellsOut":
            for m in re.finditer(r"[^，。；\n]{0,12}?(\d+)[^，。；\n]{0,3}", text):
                self.narrative.append((int(m.group(1)), m.group(0)))
            return _completion({"facts": []}, name)
        return _completion({"cells": self.table_cells(user, text)}, name)

    def table_cells(self, user: str, text: str) -> list[dict]:
        row_part = user.split("Rows (canonical key", 1)[-1].split("Columns (canonical key", 1)[0]
        rows = re.findall(r"^- (\S+): ", row_part, re.M)
        labels_of = dict(re.findall(r"^- (\S+): (.+)$", row_part, re.M))
        cols = re.findall(r"^- (\S+): ", user.split("Columns (canonical key", 1)[-1].split("Wanted cells", 1)[0], re.M)
        m = re.search(r"^Wanted cells: (.+)$", user, re.M)
        every = [(r, c) for r in rows for c in cols]
        wanted = [tuple(x.strip().split(".", 1)) for x in m.group(1).split(",")] if m else every
        if self.cunning:
            return self.cunning_cells(user, text, wanted)
        extra = next((rc for rc in every if rc not in wanted), None)
        zeros = [z.start() for z in re.finditer(r"(?<!\d)0(?![\d.])", text)]
        runs = [r for r in re.finditer(r"\d{3,}", text)]
        labels = [x for x in re.findall(r"[\u4e00-\u9fff（）()]{4,}", text)]
        out = []
        for i, (r, c) in enumerate(list(wanted) + ([extra] if extra else [])):
            kind = self.MISTAKES[i % 4]
            own_run = self._row_run(text, labels_of.get(r, ""))
            if own_run is not None:  # the row's digits run together: cut them its own (wrong) way
                a, b, digits = own_run
                j = cols.index(c) if c in cols else 0
                self.answers["recut"] += 1
                out.append({"row": r, "col": c, "value": int(digits[j: j + 1 + j % 2] or digits),
                            "quote": text[max(0, a - 6): b]})
                continue
            if kind == "zero" and zeros:
                z = zeros[i % len(zeros)]
                cell = {"value": 0, "quote": text[max(0, z - 8): z + 1]}
            elif kind == "recut" and runs:
                run = runs[i % len(runs)]
                cell = {"value": int(run.group()[: max(1, len(run.group()) - 2)]), "quote": run.group()}
            elif kind == "elsewhere" and self.narrative:
                value, quote = self.narrative[i % len(self.narrative)]
                cell = {"value": value, "quote": quote}
            else:
                kind = "invented"
                cell = {"value": 7000 + i, "quote": labels[i % len(labels)] if labels else text[:12]}
            self.answers[kind] += 1
            out.append({"row": r, "col": c, **cell})
        return out


    def cunning_cells(self, user: str, text: str, wanted: list[tuple[str, str]]) -> list[dict]:
        hints = dict(re.findall(r"^- (\S+): one of (.+)$", user, re.M))
        numbers = list(re.finditer(r"(?<![\d.,])\d+(?![\d.,])", text))
        zeros = [n for n in numbers if n.group() == "0"]
        out = []
        for i, (r, c) in enumerate(wanted):
            hint = hints.get(f"{r}.{c}")
            if hint:  # run-together digits: the first reading offered, quoting the run
                value = hint.split(" | ")[0]
                run = re.search(r"\d*" + re.escape(value) + r"\d*", text)
                kind, cell = "candidate", {"value": int(value), "quote": run.group() if run else value}
            else:
                pool = zeros if i % 2 == 0 and zeros else numbers
                if not pool:
                    continue
                n = pool[(i * 7) % len(pool)]
                kind = "zero" if n.group() == "0" else "borrow"
                cell = {"value": int(n.group()), "quote": text[max(0, n.start() - 8): n.end()]}
            self.answers[kind] += 1
            out.append({"row": r, "col": c, **cell})
        return out

    @staticmethod
    def _row_run(text: str, label: str) -> tuple[int, int, str] | None:
        """The run of 4+ digits printed right after the row's label (a run-together row), if any."""
        core = re.sub(r"^[（(]?[一二三四五六七八九十\d]+[)）、.]", "", label).strip()[:6]
        if len(core) < 2:
            return None
        m = re.search(re.escape(core) + r"[^\d\n]{0,12}?(\d{4,})", text)
        return (m.start(1), m.end(1), m.group(1)) if m else None


class HostileNarrativeModel:
    """A model that answers narrative requests wrong on purpose, from the section text it is sent
    (a test fixture, not a recording), and never corrects itself when re-asked. For each number of
    the section it answers one fact, in turn:

    * ``inflated``: the number plus one, quoting the real phrase (fails N.VALUE_REPARSES);
    * ``unquoted``: the real number, quoting a phrase printed nowhere (fails N.QUOTE_GROUNDED);
    * ``true``: the real number and phrase, as a canonical key (valid on its own).

    So every answer fails validation as a whole, however many true facts it also holds.
    ``requests`` counts the requests, ``answers`` the facts per kind."""

    KINDS = ("inflated", "unquoted", "true")

    def __init__(self) -> None:
        self.requests = 0
        self.answers = {k: 0 for k in self.KINDS}

    def __call__(self, body: dict) -> dict:
        self.requests += 1
        name = HostileTableModel._tool(body) or "NarrativeFactsOut"
        user = HostileTableModel._user_text(body)
        text = user.split("<<<\n", 1)[1].split("\n>>>", 1)[0] if "<<<\n" in user else ""
        facts = []
        for i, m in enumerate(re.finditer(r"([^，。；\n\d]{2,12}?)(\d+)([件条个次项])", text)):
            kind = self.KINDS[i % 3]
            label, n, unit = m.group(1), int(m.group(2)), m.group(3)
            value, quote = n, m.group(0)
            if kind == "inflated":
                value = n + 1
            elif kind == "unquoted":
                quote = f"全年共计{label}{n}{unit}（据统计）"
            self.answers[kind] += 1
            facts.append({"metric": "applications_received", "value": value, "unit": unit, "quote": quote,
                          "kind": "count", "scope": "", "parts": []})
        return _completion({"facts": facts}, name)


def _completion(payload: dict, name: str) -> dict:
    return {
        "id": "chatcmpl-hostile", "object": "chat.completion", "created": 0, "model": "hostile-fixture",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": None,
            "tool_calls": [{"id": "call_0", "type": "function",
                            "function": {"name": name, "arguments": json.dumps(payload, ensure_ascii=False)}}]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


class OpenAIStub:
    """A local OpenAI-compatible HTTP endpoint (127.0.0.1, a thread) answering ``POST /v1/chat/completions``
    with ``responder(request_json) -> response_json`` — so ``extractor run`` itself can be pointed at
    it with ``OPENAI_BASE_URL``. Use as a context manager; ``base_url`` ends in ``/v1``."""

    def __init__(self, responder, port: int = 0) -> None:
        self.responder = responder
        self.lock = threading.Lock()
        stub = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with stub.lock:
                    out = json.dumps(stub.responder(body), ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "OpenAIStub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
