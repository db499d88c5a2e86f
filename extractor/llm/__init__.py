"""The LLM layer: the only package that imports openai/instructor.

The pipeline uses it through :class:`LLMSteps` (the ``extractor.pipeline.ModelSteps`` protocol)::

    steps, skipped = model_steps(llm=None | "local" | "off", model=..., mode=..., db_path=out/extractor.db,
                                 identities=extractor.verify.engine.check_identities)
    record = extract_document(doc, llm=steps, skipped_reason=skipped)
    ...
    print(steps.totals().line())   # ledger totals of this run

``enrich`` adds the model's narrative facts to ``record.facts`` (checked afterwards by
``extractor.verify.narrative.check_narrative`` like any other fact; an answer that failed
validation after the re-asks is dropped and listed under ``record.skipped``) and, for tables the parser
left incomplete (or every table with ``tables="both"``), reconciles the model's cells with the
parser's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..budget import findings_for, problem
from .client import CallResult, LLMClient, LLMConfig, LLMUnavailable, make_client
from .facts import narrative_facts
from .ledger import Ledger, Totals
from .prompts import load_prompt, prompt_versions
from .tables import IdentityCheck, model_tables

__all__ = [
    "CallResult", "LLMClient", "LLMConfig", "LLMUnavailable", "Ledger", "LLMSteps", "Totals",
    "load_prompt", "make_client", "model_steps", "prompt_versions",
]


def step_failures(notes: list[str]) -> list:
    """One ``D.MODEL_STEP`` finding (UNCERTAIN) per model step that still failed after its retries
    ("narrative section 一: model call failed (timeout: …)"): the record goes to review saying which
    step is missing, and a reviewer settles it like any other finding (rules/limits.yaml)."""
    out = []
    for n in notes:
        if "model call failed" not in n:
            continue
        scope = n.split(": model call failed", 1)[0].strip() or "model"
        out.append(problem("D.MODEL_STEP", scope, f"model step failed: {n} — nothing of the model was used for "
                                                  f"{scope}: accept to keep the record without it, or run the "
                                                  "document again (extractor run --force) when the model answers"))
    return findings_for(out)


class LLMSteps:
    """What the pipeline calls: ``enrich(doc, layout, record)``.

    ``identities`` — the identity check of the verification layer
    (``extractor.verify.engine.check_identities``) — is needed for the table step (``tables`` auto or
    both): a model value goes into a table only where no identity then fails. The model layer sits
    below verification and never imports it; the caller hands it in."""

    def __init__(self, client: LLMClient, *, tables: str = "auto", identities: IdentityCheck | None = None) -> None:
        if tables not in ("auto", "both", "off"):
            raise ValueError("tables must be auto, both or off")
        if tables != "off" and identities is None:
            raise ValueError("the table step needs identities= (extractor.verify.engine.check_identities)")
        self.client = client
        self.tables = tables
        self.identities = identities

    def enrich(self, doc: Any, layout: Any, record: Any) -> None:
        start = self.client.ledger.last_id()
        facts, notes = narrative_facts(self.client, doc, layout)
        record.facts.extend(facts)
        if self.tables != "off":
            findings, tnotes = model_tables(self.client, doc, layout, record, identities=self.identities,
                                           every=self.tables == "both")
            record.findings.extend(findings)
            notes.extend(tnotes)
        record.skipped.extend(n for n in notes if "dropped" in n)  # nothing of such an answer was used
        record.reasons.extend(n for n in notes if "failed" in n)
        record.findings.extend(step_failures(notes))  # a question on the record, settled like any other
        t = self.client.ledger.totals(doc.sha256, since_id=start)
        record.versions.update(prompt_versions())
        record.versions["model"] = f"{self.client.config.model} ({self.client.config.mode})"
        record.versions["model_usage"] = (
            f"{t.calls} calls, {t.attempts} attempts, {t.cached} cached, "
            f"{t.prompt_tokens}+{t.completion_tokens} tokens"
        )

    def totals(self, doc_sha: str | None = None) -> Totals:
        """Usage of this run (since the client opened its ledger), all documents or one."""
        ledger = self.client.ledger
        return ledger.run_totals() if doc_sha is None else ledger.totals(doc_sha, since_id=ledger.opened_at_id)


def model_steps(
    *, llm: str | None = None, model: str | None = None, mode: str | None = None,
    db_path: str | Path | None = None, tables: str = "auto", identities: IdentityCheck | None = None, **overrides: Any,
) -> tuple[LLMSteps | None, str | None]:
    """``(steps, None)`` when a model is configured; ``(None, reason)`` to record as skipped.
    ``identities``: see :class:`LLMSteps`."""
    client, reason = make_client(llm=llm, model=model, mode=mode, db_path=db_path, **overrides)
    if client is None:
        return None, reason
    return LLMSteps(client, tables=tables, identities=identities), None
