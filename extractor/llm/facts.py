"""Narrative facts through the model: one call per narrative section kind (一, 五, 六).

The prompt (``prompts/narrative_facts.j2``) is rendered with the controlled vocabulary of
``rules/narrative_vocabulary.yaml`` (:func:`extractor.narrative.vocabulary.in_words`): the model is
asked for the same metric keys, anchoring phrases, exclusions, scope words and non-count units as the
deterministic reader uses, and says each fact's scope. The prompt reference recorded on every fact,
in the ledger and in the cache key is ``narrative_facts@<version>+narrative_vocabulary@<version>``.

The response model's validators run the same checks as the rules (quote in the section text,
value written in the quote) so that instructor re-asks with the failing rule's message. An answer
that still fails after the last re-ask is dropped whole (its section is listed under the record's
``skipped``), like a table answer. A validated answer becomes ``Fact`` objects with
``producer="model"``, less the numbers that are not counts (2个工作日, 0.5个百分点);
``extractor.verify.narrative.check_facts`` decides what is accepted — a model's metric is proven
only where the deterministic reading of the same characters agrees.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from ..document import Document
from ..model import Fact
from ..narrative.reader import ZERO_PATTERNS
from ..narrative.text import chunk_text, narrative_chunks, squeeze, whole_quote
from ..narrative.vocabulary import in_words, load_vocabulary
from ..numbers import NUMBER_RE, as_number, numbers_in, same_number
from .client import LLMClient
from .prompts import load_prompt

FACTS_PROMPT = "narrative_facts"


# Punctuation and spaces at the edges of a quote are not part of the phrase: a model copying
# "…行政复议1件。" from "…行政复议1件，未经复议…" quotes the right characters.
_QUOTE_EDGES = " \t\r\n。，,；;、：:"


def _trim_quote(v: str) -> str:
    return v.strip(_QUOTE_EDGES) if isinstance(v, str) else v


class PartOut(BaseModel):
    # Every field is required (no defaults): a grammar-constrained local model otherwise stops early.
    metric: str = Field(description="canonical key or the printed label")
    value: float = Field(description="the number as written in the quote")
    unit: str
    quote: str = Field(description="verbatim phrase from the text containing the label and the number")

    _quote = field_validator("quote")(_trim_quote)


class FactOut(BaseModel):
    metric: str = Field(description="canonical key or the printed label")
    value: float = Field(description="the number as written in the quote (the total for a sum)")
    unit: str
    quote: str = Field(description="verbatim phrase from the text containing the label and the number")
    kind: Literal["count", "sum", "rate", "money"]
    scope: str = Field(description='"" for the whole year\'s count of the report\'s own body; else kind:word '
                                   "(subset/extra/topic/subunit/period/named), e.g. subunit:各乡镇")
    parts: list[PartOut] = Field(description="其中 parts of a sum; numerator and denominator of a rate; else []")

    _quote = field_validator("quote")(_trim_quote)

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
    q, t = squeeze(item.quote), squeeze(text)
    at = t.find(q) if item.quote.strip() else -1
    if at < 0:
        return (f"N.QUOTE_GROUNDED: the quote {item.quote!r} does not occur in the section text; "
                "copy the words exactly as printed")
    nums = numbers_in(whole_quote(t, at, at + len(q)))  # a quote cut inside a number reads the whole number
    zero = item.value == 0 and re.search(r"没有|未|无", item.quote)
    if not zero and not any(same_number(n, as_number(item.value)) for n in nums):
        return f"N.VALUE_REPARSES: {item.value:g} is not written in the quote {item.quote!r}; give the number as printed"
    return None


def _decimals(v: float) -> int:
    d = Decimal(repr(v))
    return 0 if d == d.to_integral_value() else max(0, -d.normalize().as_tuple().exponent)


_SCOPE_KINDS = ("subset", "extra", "topic", "subunit", "period", "named")
_NO_SCOPE = {"", "none", "null", "无", "全年", "全部", "whole", "report", "report-wide", "own", "-", "—"}


def model_scope(scope: str) -> str:
    """The model's scope claim as ``kind:word`` ("" = report-wide). An answer without a known kind
    keeps its words under ``model:`` — any claim narrows the fact, so it never makes it stronger."""
    s = re.sub(r"\s+", "", scope or "")
    if s.lower() in _NO_SCOPE:
        return ""
    kind, sep, word = s.partition(":")
    if sep and kind.lower() in _SCOPE_KINDS:
        return f"{kind.lower()}:{word}" if word else kind.lower()
    return f"model:{s}"


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
        scope=model_scope(getattr(o, "scope", "")),
    )


def non_count_words(o: PartOut | FactOut) -> str | None:
    """The words that make ``o`` a time limit or a difference, not a count (vocabulary ``not_counts``:
    2个工作日, 0.5个百分点), in its unit or right after its number in the quote; else None."""
    unit = re.sub(r"\s+", "", o.unit)
    quote = squeeze(o.quote)
    for w in load_vocabulary().not_counts:
        bare = w[1:] if w.startswith("个") else w
        if unit and (unit == w or unit == bare or unit.startswith(w)):
            return w
        for n in re.finditer(r"\d+(?:\.\d+)?", quote):
            if same_number(as_number(float(n.group())), as_number(o.value)) and quote.startswith(w, n.end()):
                return w
    return None


def states_a_quantity(text: str) -> bool:
    """A number with a unit, or a zero stated in words: worth a model call (a bare year is not)."""
    return bool(NUMBER_RE.search(text)) or any(p.search(text) for p, _ in ZERO_PATTERNS)


def narrative_facts(client: LLMClient, doc: Document, layout: Any) -> tuple[list[Fact], list[str]]:
    """Model facts for each narrative section kind; notes say what was skipped, failed or dropped
    (a note with "dropped" names an answer of which nothing was used)."""
    prompt = load_prompt(FACTS_PROMPT)
    vocab = in_words()
    ref = f"{prompt.ref}+{vocab.ref}"  # the rendered prompt depends on both
    facts: list[Fact] = []
    notes: list[str] = []
    for key, ranges in narrative_chunks(doc, layout):
        text = chunk_text(doc, ranges)
        if not states_a_quantity(text):
            notes.append(f"narrative section {key}: no quantitative statement (dates aside), no model call")
            continue
        res = client.extract(
            NarrativeFactsOut,
            prompt.messages(vocab=vocab, section_key=key, section_text=text),
            doc_sha=doc.sha256,
            prompt=ref,
            part=f"section:{key}",
            context={"text": text},
        )
        if res.value is None or not res.validated:
            why = res.error or "answer not validated"
            if not why.startswith("invalid"):
                notes.append(f"narrative section {key}: model call failed ({why})")
                continue
            rules = sorted(set(re.findall(r"\b[A-Z]\.[A-Z_]+\b", why)))
            notes.append(f"narrative section {key}: the model's answer failed validation after re-asks and was dropped"
                         + (f" ({', '.join(rules)})" if rules else ""))
            continue
        skipped = []
        for o in res.value.facts:
            w = non_count_words(o)
            if w:
                skipped.append(f"{o.value:g}{w}")
                continue
            facts.append(_to_fact(o, section=key, prompt=ref, model=client.config.model))
        if skipped:
            notes.append(f"narrative section {key}: not counts, left out: {', '.join(skipped)}")
    return facts, notes
