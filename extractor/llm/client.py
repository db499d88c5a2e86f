"""The model client: openai + instructor, an explicit retry policy, the usage ledger and the cache.

Two layers of retry, both bounded:

* **transport** (tenacity, here): 429, 5xx, 408/409, timeouts and connection errors are retried
  with exponential backoff and jitter, honouring ``Retry-After``/``retry-after-ms`` when the server
  sends one; at most ``max_attempts`` tries. The openai client itself never retries
  (``max_retries=0``), so every HTTP attempt is visible here and in the ledger.
* **validation** (instructor): a response that fails the response model's validators is re-asked
  with the validator's message (our rule ids, e.g. ``N.QUOTE_GROUNDED: …``), at most
  ``max_reasks`` times per transport attempt. What still fails after the last re-ask is dropped,
  never returned (table cells and narrative facts alike): ``value`` is None and ``error`` starts
  with ``invalid:``; every attempt is an ``invalid`` row in the ledger.

``hard_cap`` bounds the HTTP attempts of one logical call across both layers.

Without an API key and without a base URL (a local server needs no key) the client is unavailable
and callers record that the model steps were skipped.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import instructor
import openai
from instructor.core import InstructorRetryException
from instructor.v2.core.providers import Provider
from instructor.v2.core.registry import mode_registry
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_exception_type, stop_after_attempt

from ..budget import paused as budget_paused
from .cache import ResponseCache
from .ledger import Ledger, Totals

# instructor logs every failed attempt at ERROR; the ledger records them, so keep the console quiet.
logging.getLogger("instructor").setLevel(logging.CRITICAL)

LOCAL_BASE_URL = "http://127.0.0.1:8765/v1"
LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
DEFAULT_MODEL = "gpt-4o-mini"

MODES = {
    "tools": instructor.Mode.TOOLS,
    "md_json": instructor.Mode.MD_JSON,
    "json": instructor.Mode.JSON,
}


@dataclass
class LLMConfig:
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = None
    mode: str = "tools"
    timeout: float = 180.0  # seconds per HTTP attempt (a local CPU model is slow); --llm-timeout, EXTRACTOR_LLM_TIMEOUT
    max_attempts: int = 4  # transport attempts
    max_reasks: int = 1  # validation re-asks per transport attempt
    hard_cap: int = 6  # HTTP attempts per logical call, everything included
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    jitter: float = 1.0
    retry_after_max: float = 60.0
    temperature: float = 0.0
    max_tokens: int = 1536
    seed: int | None = 0
    backend: str = "env"  # env | local

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: one of {', '.join(MODES)}")

    @classmethod
    def from_env(
        cls, *, llm: str | None = None, model: str | None = None, mode: str | None = None,
        env: dict[str, str] | None = None, **overrides: Any,
    ) -> "LLMConfig":
        """``llm``: None/"auto" (OPENAI_BASE_URL, OPENAI_API_KEY), "local" (the llama.cpp server on
        127.0.0.1:8765), or "off"/"none" (no model)."""
        env = dict(os.environ if env is None else env)
        if "timeout" not in overrides and env.get("EXTRACTOR_LLM_TIMEOUT"):
            try:
                overrides["timeout"] = max(1.0, float(env["EXTRACTOR_LLM_TIMEOUT"]))
            except ValueError as exc:
                raise ValueError(f"EXTRACTOR_LLM_TIMEOUT must be a number of seconds, "
                                 f"got {env['EXTRACTOR_LLM_TIMEOUT']!r}") from exc
        if llm in ("off", "none"):
            return cls(model=model or DEFAULT_MODEL, base_url=None, api_key=None, mode=mode or "tools", backend="off", **overrides)
        if llm == "local":
            return cls(
                model=model or env.get("EXTRACTOR_LOCAL_MODEL", LOCAL_MODEL),
                base_url=env.get("EXTRACTOR_LOCAL_URL", LOCAL_BASE_URL),
                api_key="local",
                # llama.cpp's grammar-constrained tool/JSON output makes the 1.5B model answer an
                # empty list; free text with a fenced JSON block (re-asked when invalid) works.
                mode=mode or env.get("EXTRACTOR_LLM_MODE", "md_json"),
                backend="local",
                **overrides,
            )
        return cls(
            model=model or env.get("EXTRACTOR_MODEL") or DEFAULT_MODEL,
            base_url=env.get("OPENAI_BASE_URL") or None,
            api_key=env.get("OPENAI_API_KEY") or None,
            mode=mode or env.get("EXTRACTOR_LLM_MODE", "tools"),
            **overrides,
        )

    @property
    def available(self) -> bool:
        return self.backend != "off" and bool(self.api_key or self.base_url)

    @property
    def unavailable_reason(self) -> str:
        if self.backend == "off":
            return "model steps skipped: --llm off"
        return "model steps skipped: no OPENAI_API_KEY or OPENAI_BASE_URL (and no --llm local)"

    def unreachable(self, timeout: float = 3.0) -> str | None:
        """Why the server cannot be reached (connection refused, nothing answers within ``timeout``),
        or None when it answers at all (any HTTP status). Asked once, before a run, so a missing
        local server is said at once instead of after every call's retries."""
        if not self.base_url:
            return None
        url = self.base_url.rstrip("/") + "/models"
        try:
            httpx.get(url, timeout=timeout, headers={"Authorization": f"Bearer {self.api_key or 'unused'}"})
        except httpx.HTTPError as exc:
            hint = " (start it: scripts/local_llm.sh start)" if self.backend == "local" else ""
            return f"model steps skipped: no model server answers at {self.base_url}{hint}: {type(exc).__name__}"
        return None


class LLMUnavailable(RuntimeError):
    pass


@dataclass
class CallResult:
    value: Any | None
    validated: bool = False  # passed the response model's validators (with context)
    cached: bool = False
    attempts: int = 0
    error: str | None = None
    call_id: str = ""


# --- the transport retry policy ------------------------------------------------------------------

_TRANSIENT_STATUS = {408, 409, 429}


def _root(exc: BaseException | None) -> BaseException | None:
    """The API error under instructor's wrapper (InstructorRetryException from <error>)."""
    seen = 0
    while exc is not None and not isinstance(exc, openai.APIError) and exc.__cause__ is not None and seen < 5:
        exc = exc.__cause__
        seen += 1
    return exc


def is_transient(exc: BaseException) -> bool:
    e = _root(exc)
    if isinstance(e, (openai.APITimeoutError, openai.APIConnectionError, httpx.TimeoutException, httpx.TransportError)):
        return True
    if isinstance(e, openai.APIStatusError):
        return e.status_code in _TRANSIENT_STATUS or e.status_code >= 500
    return False


def outcome_of(exc: BaseException) -> str:
    e = _root(exc)
    if isinstance(e, (openai.APITimeoutError, httpx.TimeoutException)):
        return "timeout"
    if isinstance(e, (openai.APIConnectionError, httpx.TransportError)):
        return "connection"
    if isinstance(e, openai.APIStatusError):
        if e.status_code == 429:
            return "rate_limited"
        if e.status_code >= 500:
            return "server_error"
    if isinstance(e, (ValidationError, json.JSONDecodeError)):
        return "invalid"
    if type(e).__name__ == "IncompleteOutputException":  # the answer was cut at max_tokens
        return "truncated"
    return "error"


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``Retry-After`` seconds or date)."""
    e = _root(exc)
    resp = getattr(e, "response", None)
    headers = getattr(resp, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class _Wait:
    """Retry-After when the server gives one (capped), else exponential backoff with jitter."""

    def __init__(self, cfg: LLMConfig, rng: random.Random):
        self.cfg, self.rng = cfg, rng

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        ra = retry_after(exc)
        if ra is not None:
            return min(ra, self.cfg.retry_after_max)
        n = max(0, state.attempt_number - 1)
        return min(self.cfg.backoff_max, self.cfg.backoff_initial * (2**n)) + self.rng.uniform(0, self.cfg.jitter)


# --- the client -----------------------------------------------------------------------------------


@dataclass
class _Call:
    call_id: str
    doc_sha: str
    prompt: str
    part: str
    attempts: int = 0
    t0: float = 0.0
    usage: tuple[int, int] | None = None
    latency_ms: int = 0
    events: list[str] = field(default_factory=list)
    rows: int = 0  # attempts with a ledger row


class LLMClient:
    """Structured extraction with retries, a ledger row per attempt and a response cache."""

    def __init__(
        self,
        config: LLMConfig,
        db_path: str | Path | None = None,
        *,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not config.available:
            raise LLMUnavailable(config.unavailable_reason)
        self.config = config
        self.openai = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "unused",
            max_retries=0,  # tenacity does it, visibly
            timeout=config.timeout,
            http_client=http_client,
        )
        self.instructor = instructor.from_openai(self.openai, mode=MODES[config.mode])
        db = str(db_path) if db_path else ":memory:"
        self.ledger = Ledger(db)
        self.cache = ResponseCache(db)
        self._sleep = sleep
        self._rng = rng or random.Random(0)
        self._local = threading.local()  # the call in progress, per thread (parallel documents)
        self.instructor.on("completion:kwargs", self._on_kwargs)
        self.instructor.on("completion:response", self._on_response)
        self.instructor.on("completion:error", self._on_error)
        self.instructor.on("parse:error", self._on_parse_error)

    @property
    def _cur(self) -> _Call | None:
        return getattr(self._local, "call", None)

    @_cur.setter
    def _cur(self, call: _Call | None) -> None:
        self._local.call = call

    # hooks: one ledger row per HTTP attempt ---------------------------------------------------
    def _on_kwargs(self, *args: Any, **kwargs: Any) -> None:
        c = self._cur
        if c is None:
            return
        c.attempts += 1
        c.t0 = time.monotonic()
        c.usage = None

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        c = self._cur
        if c is None:
            return
        c.latency_ms = int((time.monotonic() - c.t0) * 1000)
        u = getattr(response, "usage", None)
        c.usage = (int(getattr(u, "prompt_tokens", 0) or 0), int(getattr(u, "completion_tokens", 0) or 0))

    def _row(self, outcome: str, error: str | None = None) -> None:
        c = self._cur
        assert c is not None
        pt, ct = c.usage or (0, 0)
        latency = c.latency_ms if c.usage is not None else int((time.monotonic() - c.t0) * 1000)
        self.ledger.record(
            doc_sha=c.doc_sha, prompt=c.prompt, part=c.part, model=self.config.model, mode=self.config.mode,
            call_id=c.call_id, attempt=c.attempts, outcome=outcome, prompt_tokens=pt, completion_tokens=ct,
            latency_ms=latency, error=error,
        )
        c.events.append(outcome)
        c.usage = None
        c.rows = c.attempts

    def _on_error(self, error: BaseException, *args: Any, **kwargs: Any) -> None:
        if self._cur is not None:
            self._row(outcome_of(error), f"{type(error).__name__}: {error}")

    def _on_parse_error(self, error: BaseException, *args: Any, **kwargs: Any) -> None:
        if self._cur is not None:
            self._row("invalid", str(error))

    # the call -------------------------------------------------------------------------------------
    def _cap_reached(self, _state: RetryCallState) -> bool:
        return self._cur is not None and self._cur.attempts >= self.config.hard_cap

    def extract(
        self,
        response_model: type[BaseModel],
        messages: list[dict[str, str]],
        *,
        doc_sha: str,
        prompt: str,
        part: str = "",
        context: dict[str, Any] | None = None,
        use_cache: bool = True,
    ) -> CallResult:
        """One logical call. Never raises for model or transport failures: see ``CallResult.error``.

        An answer that failed validation after the last re-ask is dropped (never returned), also
        when it comes from the cache: ``value`` is None and ``error`` starts with ``invalid:``. The
        wait for the model does not count against the document's time budget (it has its own
        timeout and attempts)."""
        with budget_paused():
            return self._extract(response_model, messages, doc_sha=doc_sha, prompt=prompt, part=part,
                                 context=context, use_cache=use_cache)

    def _extract(self, response_model: type[BaseModel], messages: list[dict[str, str]], *, doc_sha: str,
                 prompt: str, part: str, context: dict[str, Any] | None, use_cache: bool) -> CallResult:
        cfg = self.config
        key = ResponseCache.key(doc_sha, prompt, part, cfg.model, cfg.mode, response_model)
        call_id = uuid.uuid4().hex[:12]
        if use_cache:
            hit = self.cache.get(key, response_model)
            if hit is not None:
                self.ledger.record(doc_sha=doc_sha, prompt=prompt, part=part, model=cfg.model, mode=cfg.mode,
                                   call_id=call_id, attempt=0, outcome="cached")
                if not hit[1]:
                    return CallResult(None, cached=True, call_id=call_id,
                                      error="invalid: the cached answer failed validation; dropped")
                return CallResult(hit[0], validated=hit[1], cached=True, call_id=call_id)
        self._cur = _Call(call_id=call_id, doc_sha=doc_sha, prompt=prompt, part=part)
        last_invalid: Any = None
        try:
            transport = Retrying(
                stop=stop_after_attempt(cfg.max_attempts) | self._cap_reached,
                wait=_Wait(cfg, self._rng),
                retry=retry_if_exception(is_transient),
                sleep=self._sleep,
                reraise=True,
            )
            for attempt in transport:
                with attempt:
                    reasks = Retrying(
                        stop=stop_after_attempt(cfg.max_reasks + 1) | self._cap_reached,
                        retry=retry_if_exception_type((ValidationError, json.JSONDecodeError)),
                        reraise=True,
                    )
                    try:
                        value = self.instructor.chat.completions.create(
                            model=cfg.model,
                            messages=messages,
                            response_model=response_model,
                            max_retries=reasks,
                            context=context,
                            temperature=cfg.temperature,
                            max_tokens=cfg.max_tokens,
                            **({"seed": cfg.seed} if cfg.seed is not None else {}),
                        )
                    except InstructorRetryException as exc:
                        if not is_transient(exc) and exc.failed_attempts:
                            last_invalid = exc.failed_attempts[-1].completion
                        raise
            self._row("ok")
            if use_cache:
                self.cache.put(key, value, validated=True)
            return CallResult(value, validated=True, attempts=self._cur.attempts, call_id=call_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result, never a crash
            c = self._cur
            if c is not None and c.attempts > c.rows:  # an attempt no hook reported (an answer cut at max_tokens)
                msg = f"{type(_root(exc)).__name__}: {_root(exc)}"
                if outcome_of(exc) == "truncated":
                    msg = f"answer cut at max_tokens={cfg.max_tokens}: {msg}"
                self._row(outcome_of(exc), msg)
            attempts = self._cur.attempts if self._cur else 0
            salvaged = self._salvage(response_model, last_invalid) if last_invalid is not None else None
            if salvaged is not None:
                # Re-asks exhausted: cached as unvalidated (a re-run costs nothing), never returned.
                if use_cache:
                    self.cache.put(key, salvaged, validated=False)
                return CallResult(None, attempts=attempts, call_id=call_id,
                                  error=f"invalid: validation failed after re-asks, answer dropped: {_short(exc)}")
            return CallResult(None, attempts=attempts, call_id=call_id, error=f"{outcome_of(exc)}: {_short(exc)}")
        finally:
            self._cur = None

    def _salvage(self, response_model: type[BaseModel], completion: Any) -> BaseModel | None:
        """Parse the last completion without the validation context (shape only)."""
        try:
            handlers = mode_registry.get_handlers(Provider.OPENAI, MODES[self.config.mode])
            return handlers.response_parser(response=completion, response_model=response_model,
                                            validation_context=None, strict=False, stream=False, is_async=False)
        except Exception:  # noqa: BLE001
            return None

    def totals(self, doc_sha: str | None = None) -> Totals:
        return self.ledger.totals(doc_sha)

    def close(self) -> None:
        self.ledger.close()
        self.cache.close()


def _short(exc: BaseException, n: int = 300) -> str:
    s = f"{type(_root(exc)).__name__}: {_root(exc)}"
    return s if len(s) <= n else s[: n - 1] + "…"


def make_client(
    *, llm: str | None = None, model: str | None = None, mode: str | None = None, db_path: str | Path | None = None,
    **overrides: Any,
) -> tuple[LLMClient | None, str | None]:
    """(client, None) when a model is configured, else (None, the reason the model steps are skipped)."""
    cfg = LLMConfig.from_env(llm=llm, model=model, mode=mode, **overrides)
    if not cfg.available:
        return None, cfg.unavailable_reason
    if cfg.backend == "local":
        why = cfg.unreachable()
        if why:
            return None, why
    return LLMClient(cfg, db_path), None
