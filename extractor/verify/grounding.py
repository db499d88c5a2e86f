"""Grounding: every cell's value must re-read from its span of the *original* document text.

The span is cut out of ``Document.original`` (the file as published, or the PDF/OCR text layer),
normalized the same way as the document, and parsed again; the value must come back equal. Also
here: completeness (every template cell found), ambiguity and OCR confidence.
"""

from __future__ import annotations

from ..cells import classify
from ..document import Document, normalize
from ..model import Cell, Finding, Operand, Record, set_field
from ..templates import rule_version

OCR_MIN_CONFIDENCE = 0.90


def reread(doc: Document, cell: Cell) -> tuple[str, object, str] | None:
    """What the cell's span says, read afresh from the original: (kind, value, raw text);
    None without a span."""
    if cell.span is None:
        return None
    raw = doc.original[cell.span.start : cell.span.end]
    if raw.isdigit() and raw.isascii():  # printed as a plain count: nothing to normalize
        v = int(raw)
        return ("zero" if v == 0 else "number"), v, raw
    raw = normalize(raw)
    tok = classify(raw, 0, len(raw))
    kind = _KIND[tok.kind]
    if kind == "number" and tok.value == 0:
        kind = "zero"
    return kind, tok.value, raw


_KIND = {"num": "number", "na": "not_applicable", "empty": "empty", "text": "text"}


def check_grounding(record: Record, doc: Document) -> list[Finding]:
    findings: list[Finding] = []
    original = doc.original
    for c in record.cells():
        kind = c.kind
        if kind == "number" or kind == "zero":
            sp = c.span
            raw = original[sp.start : sp.end] if sp is not None else ""
            if raw.isdigit() and raw.isascii():  # a plain count re-reads as itself (as ``reread`` does)
                v = int(raw)
                ok = v == c.value and (kind == "zero") == (v == 0)
                set_field(c, "grounded", ok)
                if ok and not c.inferred and c.confidence is None:
                    continue
        fid_scope = f"{c.table}.{c.row}.{c.col}"
        if c.kind in ("number", "zero", "not_applicable"):
            again = reread(doc, c)
            ok = again is not None and again[0] == c.kind and (c.kind == "not_applicable" or again[1] == c.value)
            set_field(c, "grounded", ok)
            if not ok:
                findings.append(Finding(
                    id=f"G.GROUNDED:{fid_scope}", rule="G.GROUNDED", version=rule_version("G.GROUNDED"), status="FAIL", classification="ungrounded",
                    scope=fid_scope,
                    message=f"{fid_scope}: value {c.value!r} does not re-read from its span"
                            + (f" (reads {again[2]!r})" if again is not None else " (no span)"),
                    operands=[Operand(ref=c.ref, value=c.value, kind=c.kind, span=c.span)],
                    values={c.producer: str(c.value), "source": again[2] if again is not None else None},
                ))
            elif c.inferred == "displaced":
                findings.append(Finding(
                    id=f"G.DISPLACED:{fid_scope}", rule="G.DISPLACED", version=rule_version("G.DISPLACED"), status="UNCERTAIN",
                    classification="suspected_extraction_error", severity="warning", scope=fid_scope,
                    message=f"{fid_scope}: printed away from its row ({c.raw!r} at another place in the table); "
                            "placed here because the row and column identities both require it — confirm",
                    operands=[Operand(ref=c.ref, value=c.value, kind=c.kind, span=c.span)],
                ))
            elif c.confidence is not None and c.confidence < OCR_MIN_CONFIDENCE:
                findings.append(Finding(
                    id=f"G.OCR_CONFIDENCE:{fid_scope}", rule="G.OCR_CONFIDENCE", version=rule_version("G.OCR_CONFIDENCE"), status="UNCERTAIN",
                    classification="suspected_extraction_error", severity="warning", scope=fid_scope,
                    message=(f"{fid_scope}: {c.raw!r} read as {c.value} from look-alike letters (text from a scan): confirm"
                             if not c.raw.isdigit() and not doc.geometry else
                             f"{fid_scope}: OCR read {c.raw!r} with confidence {c.confidence:.2f} (< {OCR_MIN_CONFIDENCE})"),
                    operands=[Operand(ref=c.ref, value=c.value, kind=c.kind, span=c.span)],
                ))
        elif c.kind == "ambiguous":
            c.grounded = False
            findings.append(Finding(
                id=f"G.UNAMBIGUOUS:{fid_scope}", rule="G.UNAMBIGUOUS", version=rule_version("G.UNAMBIGUOUS"), status="UNCERTAIN", classification="ambiguous",
                severity="warning", scope=fid_scope,
                message=f"{fid_scope}: {len(c.candidates)} readings of {c.raw!r} fit ({c.note}): "
                        + ", ".join(str(x.value) for x in c.candidates),
                operands=[Operand(ref=c.ref, value=None, kind="ambiguous", span=c.span)],
                values={"candidates": [str(x.value) for x in c.candidates]},
            ))
        elif c.kind == "empty" and c.missing:
            findings.append(Finding(
                id=f"G.COMPLETE:{fid_scope}", rule="G.COMPLETE", version=rule_version("G.COMPLETE"), status="UNCERTAIN",
                classification="suspected_extraction_error", severity="warning", scope=fid_scope,
                message=f"{fid_scope}: {c.note}",
                operands=[Operand(ref=c.ref, value=None, kind="missing")],
            ))
    for key, table in record.tables.items():
        if not any(c.kind not in ("empty", "text") for c in table.cells) and not any(c.missing for c in table.cells):
            # a table region whose values were all lost (legacy tables have no template to miss)
            findings.append(Finding(
                id=f"G.COMPLETE:{key}", rule="G.COMPLETE", version=rule_version("G.COMPLETE"), status="UNCERTAIN",
                classification="suspected_extraction_error", severity="warning", scope=key,
                message=f"{key}: the table's region was found but none of its values could be read",
            ))
    if not record.tables:
        # a question for a reviewer (in the queue, settled like any other), not only a reason on the record
        findings.append(Finding(
            id="G.COMPLETE:document", rule="G.COMPLETE", version=rule_version("G.COMPLETE"), status="UNCERTAIN",
            classification="suspected_extraction_error", severity="warning", scope="document",
            message="no report table found: none of the tables (二, 三, 四, or a statistical table) was located — "
                    "open the document: if it has tables, they were not read; accept only if it has none",
        ))
    return findings
