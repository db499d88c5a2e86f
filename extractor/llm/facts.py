"""Narrative facts through the model: one call per narrative section kind (一, 五, 六).

The response model's validators run the same checks as the rules (quote in the section text,
value written in the quote) so that instructor re-asks with the failing rule's message. Whatever
comes back — validated or, after the re-asks, only shape-checked — becomes ``Fact`` objects with
``producer="model"``; ``extractor.verify.narrative.check_facts`` decides what is accepted.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from ..document import Document
from ..model import Fact
from ..verify.narrative import (
    NUMBER_RE,
    ZERO_PATTERNS,
    as_number,
    chunk_text,
    compact,
    narrative_chunks,
    numbers_in,
    same_number,
)
from .client import LLMClient
from .prompts import load_prompt

PROMPT = "narrative_facts"


class PartOut(BaseModel):
    # Every field is required (no defaults): a grammar-constrained local model otherwise stops early.
    metric: str = Field(description="canonical key or the printed label")
    value: float = Field(description="the number as written in the quote")
    unit: str
    quote: str = Field(description="verbatim phrase from the text containing the label and the number")


class FactOut(BaseModel):
    metric: str = Field(description="canonical key or the printed label")
    value: float = Field(description="the number as written in the quote (the total for a sum)")
    unit: str
    quote: str = Field(description="verbatim phrase from the text containing the label and the number")
    kind: Literal["count", "sum", "rate", "money"]
    parts: list[PartOut] = Field(description="其中 parts of a sum; numerator and denominator of a rate; else []")

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> "FactOut":
        text = (info.context or {}).get("text") if info.context else None
        if text is None:
            return self
        problems = [p for item in (self, *self.parts) if (p := _problem(item, text))]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class NarrativeFactsOut(BaseModel):
    facts: list[FactOut]

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        # Small models often answer the list without its wrapper object: accept it as is.
        return {"facts": data} if isinstance(data, list) else data


def _problem(item: PartOut | FactOut, text: str) -> str | None:
    """The rule a model answer breaks, in words the model can act on (used for the re-ask)."""
    if not item.quote.strip() or compact(item.quote) not in compact(text):
        return (f"N.QUOTE_GROUNDED: the quote {item.quote!r} does not occur in the section text; "
                "copy the words exactly as printed")
    nums = numbers_in(item.quote)
    zero = item.value == 0 and re.search(r"没有|未|无", item.quote)
    if not zero and not any(same_number(n, as_number(item.value)) for n in nums):
        return f"N.VALUE_REPARSES: {item.value:g} is not written in the quote {item.quote!r}; give the number as printed"
    return None


def _decimals(v: float) -> int:
    d = Decimal(repr(v))
    return 0 if d == d.to_integral_value() else max(0, -d.normalize().as_tuple().exponent)


def _to_fact(o: PartOut | FactOut, *, section: str, prompt: str, model: str) -> Fact:
    kind = getattr(o, "kind", "count")
    if kind == "count" and o.unit.endswith("元"):
        kind = "money"
    parts = [_to_fact(p, section=section, prompt=prompt, model=model) for p in getattr(o, "parts", [])]
    return Fact(
        metric=o.metric.strip() or "?",
        value=as_number(o.value),
        unit=o.unit,
        quote=o.quote,
        section=section,
        parts=parts,
        rate_of=[p.metric for p in parts] if kind == "rate" and len(parts) == 2 else [],
        kind=kind,
        decimals=_decimals(o.value),
        producer="model",
        prompt=prompt,
        model=model,
    )


def states_a_quantity(text: str) -> bool:
    """A number with a unit, or a zero stated in words: worth a model call (a bare year is not)."""
    return bool(NUMBER_RE.search(text)) or any(p.search(text) for p, _ in ZERO_PATTERNS)


def narrative_facts(client: LLMClient, doc: Document, layout: Any) -> tuple[list[Fact], list[str]]:
    """Model facts for each narrative section kind; notes say what was skipped or failed."""
    prompt = load_prompt(PROMPT)
    facts: list[Fact] = []
    notes: list[str] = []
    for key, ranges in narrative_chunks(doc, layout):
        text = chunk_text(doc, ranges)
        if not states_a_quantity(text):
            notes.append(f"narrative section {key}: no quantitative statement (dates aside), no model call")
            continue
        res = client.extract(
            NarrativeFactsOut,
            prompt.messages(section_key=key, section_text=text),
            doc_sha=doc.sha256,
            prompt=prompt.ref,
            part=f"section:{key}",
            context={"text": text},
        )
        if res.value is None:
            notes.append(f"narrative section {key}: model call failed ({res.error})")
            continue
        if not res.validated:
            notes.append(f"narrative section {key}: model answer kept unvalidated after re-asks ({res.error})")
        for o in res.value.facts:
            facts.append(_to_fact(o, section=key, prompt=prompt.ref, model=client.config.model))
    return facts, notes
