"""One document from file to verified record: load → layout → parse → verify → decide.

The model steps (narrative facts, tables the parser could not finish) plug in through ``llm``;
without one the deterministic path runs alone and the record says which model steps were skipped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

from . import __version__
from .budget import findings_for
from .document import Document
from .errors import ExtractorError
from .layout import Layout, analyze
from .loaders import load
from .model import DocumentInfo, Record
from .parse import parse_tables
from .templates import rules_version
from .verify import decide, verify_record
from .verify.narrative import check_narrative


class ModelSteps(Protocol):
    """What the LLM layer offers the pipeline (see ``extractor.llm``)."""

    def enrich(self, doc: Document, layout: Layout, record: Record) -> None: ...


def info(doc: Document) -> DocumentInfo:
    return DocumentInfo(
        name=doc.name, path=doc.path, sha256=doc.sha256, kind=doc.kind, encoding=doc.encoding,
        chars=len(doc.original), url=doc.url,
    )


def extract_document(doc: Document, *, llm: ModelSteps | None = None, skipped_reason: str | None = None) -> Record:
    layout = analyze(doc)
    record = Record(
        document=info(doc), organ=layout.organ, year=layout.year,
        format=layout.format if layout.format in ("2021", "2019", "legacy") else "unknown",
        tables=parse_tables(doc, layout),
        versions={"extractor": __version__, "rules": rules_version()},
    )
    for note in doc.notes:
        record.reasons.append(note)
    if llm is not None:
        llm.enrich(doc, layout, record)
    elif skipped_reason:
        record.skipped.append(skipped_reason)
    check_narrative(doc, layout, record)
    record.findings.extend(verify_record(record, doc))
    record.findings.extend(findings_for(doc.problems))
    decide(record)
    return record


def failed_record(path: str | Path, error: str, raw: bytes | None = None) -> Record:
    p = Path(path)
    sha = hashlib.sha256(raw).hexdigest() if raw is not None else ""
    r = Record(document=DocumentInfo(name=p.name, path=str(p), sha256=sha), error=error,
               versions={"extractor": __version__, "rules": rules_version()})
    decide(r)
    return r


def extract(path: str | Path, *, llm: ModelSteps | None = None, skipped_reason: str | None = None) -> Record:
    """Extract and verify one report file. Unreadable input gives a ``failed`` record."""
    try:
        doc = load(path)
    except ExtractorError as exc:
        raw = None
        try:
            raw = Path(path).read_bytes()
        except OSError:
            pass
        return failed_record(path, str(exc), raw)
    return extract_document(doc, llm=llm, skipped_reason=skipped_reason)

