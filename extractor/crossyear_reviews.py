"""Reviewers' decisions on cross-year findings (checks between a body's reports for years N and N+1).

A decision is a row of the store's ``crossyear_reviews`` table keyed by both reports' SHA-256 and the
finding's stable id (``X.IN_FORCE:row normative_documents``), so it outlives ``extractor run --force``
and ``extractor crossyear`` (which re-evaluate the findings from the records). Three actions — the
ones a rule allows are data (``decisions`` in ``rules/crossyear.yaml``):

* ``accept`` — the check's values are right as extracted and nothing is wrong (a blank that is
  really blank, a break the reviewer has looked at and leaves as it is);
* ``confirm_source`` — the two published reports disagree; the numbers stay as printed;
* ``explained`` — (rules that are questions, X.IN_FORCE) the report states why the stock changed,
  e.g. a 清理 of its documents; a comment is required and a quoted passage, when given, must be
  printed in one of the two reports (its characters are kept).

A decision records the arithmetic the reviewer saw: when the finding's numbers have changed since
(a correction in one of the reports, a better reading), the decision settles nothing and is listed
as stale — the finding is open again. A decision on a check that now passes is stale too.

Applying the decisions never changes a document's own decision. No web framework here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .crossyear import CrossFinding
from .document import Document, normalize
from .model import OPEN_STATUSES, Span
from .decisions import DecisionError, row_reader

ACTION_LABELS = {"accept": "accepted", "confirm_source": "source inconsistency confirmed",
                 "explained": "explained by the report"}
HINT_CONTEXT = 40  # characters either side of an explanation word offered to the reviewer


@dataclass
class CrossReview:
    """One stored decision on a cross-year finding (a row of ``crossyear_reviews``)."""

    prev_sha256: str
    next_sha256: str
    finding_id: str
    action: str
    reviewer: str = ""
    created_at: float = 0.0
    comment: str = ""
    arithmetic: str | None = None  # the finding's arithmetic when the decision was taken
    quote: str | None = None
    quote_doc: str | None = None  # "N" | "N+1": the report the quote is printed in
    span: Span | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "CrossReview":
        get, span = row_reader(row)
        return cls(prev_sha256=row["prev_sha256"], next_sha256=row["next_sha256"], finding_id=row["finding_id"],
                   action=row["action"], reviewer=get("reviewer") or "", created_at=float(get("created_at") or 0),
                   comment=get("comment") or "", arithmetic=get("arithmetic"), quote=get("quote"),
                   quote_doc=get("quote_doc"), span=span)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.prev_sha256, self.next_sha256, self.finding_id)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "reviewer": self.reviewer, "at": self.created_at}
        if self.comment:
            out["comment"] = self.comment
        if self.quote:
            out["quote"] = self.quote
            out["quote_doc"] = self.quote_doc
            if self.span is not None:
                out["quote_span"] = [self.span.start, self.span.end]
        if self.arithmetic is not None:
            out["arithmetic"] = self.arithmetic
        return out


@dataclass
class Stale:
    review: CrossReview
    why: str


@dataclass
class ReviewedCross:
    findings: list[CrossFinding]  # copies, each with ``settled_by`` set where a decision settles it
    settled: dict[tuple[str, str, str], CrossReview] = field(default_factory=dict)
    stale: list[Stale] = field(default_factory=list)

    @property
    def open(self) -> list[CrossFinding]:
        return [f for f in self.findings if f.open]


def apply_cross_reviews(findings: Iterable[CrossFinding], rows: Iterable[Mapping[str, Any] | CrossReview]
                        ) -> ReviewedCross:
    """The findings as the reviewers left them: each decision settles its finding when the finding is
    still failing or uncertain with the numbers the reviewer saw; otherwise it is stale."""
    reviews = {r.key: r for r in (x if isinstance(x, CrossReview) else CrossReview.from_row(x) for x in rows)}
    out: list[CrossFinding] = []
    settled: dict[tuple[str, str, str], CrossReview] = {}
    stale: list[Stale] = []
    seen: set[tuple[str, str, str]] = set()
    for f0 in findings:
        rv = reviews.get(f0.key)
        if rv is None:
            out.append(f0)
            continue
        seen.add(f0.key)
        f = f0.model_copy(deep=True)
        f.values = {**f.values, "reviewer": rv.summary()}
        if f.status not in OPEN_STATUSES:
            stale.append(Stale(rv, f"the check {f.status} now"))
        elif rv.arithmetic is not None and rv.arithmetic != f.arithmetic:
            why = f"decided on other numbers ({rv.arithmetic}); now {f.arithmetic}"
            stale.append(Stale(rv, why))
            f.message += f" — {rv.reviewer}'s decision ({ACTION_LABELS.get(rv.action, rv.action)}) was {why}: decide again"
        elif rv.action not in f.decisions:
            stale.append(Stale(rv, f"{rv.action!r} is not a decision {f.rule} allows"))
        else:
            f.settled_by = rv.summary()
            settled[f.key] = rv
            if rv.action == "confirm_source" and f.status == "FAIL":
                f.classification = "source_inconsistency"
        out.append(f)
    for k, rv in reviews.items():
        if k not in seen:
            stale.append(Stale(rv, "no such finding between these two reports now"))
    return ReviewedCross(findings=out, settled=settled, stale=stale)


# ----------------------------------------------------------------------------- new decisions
def find_quote(doc: Document, quote: str) -> Span | None:
    """Where ``quote`` is printed in the document (compared after normalization, spaces ignored)."""
    q = re.sub(r"\s+", "", normalize(quote))
    if not q:
        return None
    text = doc.text
    # map positions of the text without spaces back to the text
    keep = [i for i, ch in enumerate(text) if not ch.isspace()]
    squeezed = "".join(text[i] for i in keep)
    k = squeezed.find(q)
    if k < 0:
        return None
    return doc.span(keep[k], keep[k + len(q) - 1] + 1)


def prepare_cross_decision(
    f: CrossFinding, action: str, *, reviewer: str, comment: str = "", quote: str = "",
    documents: Mapping[str, Document | None] | None = None,
) -> dict[str, Any]:
    """Check a decision on a cross-year finding; return the keyword arguments of
    :meth:`Store.put_crossyear_review` (without the key). ``documents`` maps "N" / "N+1" to the two
    reports' loaded documents (needed to verify a quoted passage)."""
    reviewer = (reviewer or "").strip()
    comment = (comment or "").strip()
    quote = (quote or "").strip()
    if not reviewer:
        raise DecisionError("enter your name (reviewer) first")
    if action not in f.decisions:
        allowed = " or ".join(ACTION_LABELS.get(a, a) for a in f.decisions)
        raise DecisionError(f"{f.rule} findings are settled by: {allowed} — not {action!r}")
    if f.status not in OPEN_STATUSES:
        raise DecisionError(f"{f.id} {f.status}: only failing or uncertain checks are decided")
    if action == "explained" and not comment:
        raise DecisionError("say in the comment where the report explains it (e.g. the 清理 it states)")
    out: dict[str, Any] = {"reviewer": reviewer, "comment": comment, "arithmetic": f.arithmetic}
    if quote:
        docs = documents or {}
        for side in ("N+1", "N"):
            doc = docs.get(side)
            span = find_quote(doc, quote) if doc is not None else None
            if span is not None:
                out.update(quote=quote, quote_doc=side, span=(span.start, span.end, span.page))
                break
        else:
            if not any(docs.get(s) is not None for s in ("N", "N+1")):
                raise DecisionError("the two reports' files are not available to check the quoted passage; "
                                    "leave the quote out and say where it is in the comment")
            raise DecisionError("the quoted passage is printed in neither report: copy it from the report")
    return out


@dataclass
class Hint:
    """A passage of a report that may state the explanation (a word of the rule's ``explained_by``)."""

    side: str
    word: str
    start: int  # offsets of the normalized text (for the quote) …
    end: int
    span: Span  # … and the characters of the original file
    before: str
    text: str
    after: str
    sentence: str = ""  # the sentence the word is in (to be quoted as the explanation)

    @property
    def quote(self) -> str:
        return self.sentence or (self.before[-20:] + self.text + self.after[:20]).strip()


def explanation_hints(f: CrossFinding, documents: Mapping[str, Document | None], limit: int = 6) -> list[Hint]:
    """Occurrences of the rule's explanation words in the N+1 report (then the N report), outside the
    statistical tables' labels (本年废止 is not an explanation)."""
    out: list[Hint] = []
    if not f.explained_by:
        return out
    pat = re.compile("|".join(re.escape(normalize(w)) for w in f.explained_by))
    for side in ("N+1", "N"):
        doc = documents.get(side)
        if doc is None:
            continue
        text = doc.text
        last_sentence = -1
        for m in pat.finditer(text):
            if len(out) >= limit:
                return out
            a, b = m.start(), m.end()
            line_start = text.rfind("\n", 0, a) + 1
            line_end = text.find("\n", b)
            line_end = len(text) if line_end < 0 else line_end
            if len(text[line_start:line_end].strip()) < 12 or "|" in text[line_start:line_end]:
                continue  # a table label, not a sentence
            s0 = max(line_start, max(text.rfind(c, 0, a) for c in "。；;!！?？") + 1)
            ends = [k for k in (text.find(c, b) for c in "。；;!！?？") if 0 <= k < line_end]
            s1 = min(ends) + 1 if ends else line_end
            if s0 == last_sentence:
                continue  # one hint per sentence
            last_sentence = s0
            out.append(Hint(side=side, word=m.group(), start=a, end=b, span=doc.span(a, b),
                            before=text[max(line_start, a - HINT_CONTEXT):a], text=m.group(),
                            after=text[b: min(b + HINT_CONTEXT, line_end)],
                            sentence=text[s0:s1].strip()[:120]))
    return out
