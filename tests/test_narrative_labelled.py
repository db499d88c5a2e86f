"""The labelled narrative set (tests/labelled/narrative_shared.yaml) against the real reports.

Each item points at a sentence of a report in ../shared (offsets + a hash, never its text); the
sentence is read from ../shared here, and the whole report goes through the deterministic
pipeline. Every item's facts and findings must be as labelled, and over the set the narrative FAILs
that block acceptance must be precise (≥ 95 %) and find every labelled published inconsistency.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from extractor.loaders import load
from extractor.model import Record
from extractor.pipeline import extract

SHARED = Path(__file__).resolve().parents[2] / "shared"
LABELS = Path(__file__).resolve().parent / "labelled" / "narrative_shared.yaml"
ITEMS = yaml.safe_load(LABELS.read_text(encoding="utf-8"))["items"]

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (the real reports) is not present")


@lru_cache(maxsize=None)
def _record(path: str) -> Record:
    return extract(SHARED / path)


@lru_cache(maxsize=None)
def _original(path: str) -> str:
    return load(SHARED / path).original


def _overlaps(span, item) -> bool:
    return span is not None and span.start < item["end"] and item["start"] < span.end


def _facts(rec: Record, item):
    out = []
    for f in rec.facts:
        for g in [f, *f.parts]:
            if _overlaps(g.span, item):
                out.append(g)
    return out


def _findings(rec: Record, item, rule: str, metric: str | None = None):
    out = []
    for f in rec.findings:
        if f.rule != rule:
            continue
        ops = [o for o in f.operands if o.ref.startswith("fact:")]
        if metric is not None:
            ops = [o for o in ops if o.ref == f"fact:{metric}"]
        if any(_overlaps(o.span, item) for o in ops):
            out.append(f)
    return out


def _blocking_narrative_fail(rec: Record, item) -> bool:
    return any(
        f.rule.startswith("N.") and f.status == "FAIL"
        and any(o.ref.startswith("fact:") and _overlaps(o.span, item) for o in f.operands)
        for f in rec.findings
    )


@pytest.mark.parametrize("item", ITEMS, ids=[i["id"] for i in ITEMS])
def test_labelled_statement_reads_as_labelled(item):
    text = _original(item["path"])[item["start"] : item["end"]]
    assert hashlib.sha1(text.encode("utf-8")).hexdigest()[:12] == item["sha1"], (
        f"{item['path']} changed at {item['start']}–{item['end']}: relabel this item")
    rec = _record(item["path"])
    facts = _facts(rec, item)
    for want in item.get("facts", []):
        assert any(f.metric == want["metric"] and str(f.value) == str(want["value"]) and f.anchor for f in facts), (
            f"no proven {want['metric']} = {want['value']} in {item['id']}: "
            f"{[(f.metric, f.value, f.anchor, f.scope) for f in facts]}")
    for metric in item.get("absent", []):
        assert not [f for f in facts if f.metric == metric], f"{metric} misread in {item['id']}"
    for want in item.get("expect", []):
        got = _findings(rec, item, want["rule"], want.get("metric"))
        assert want["status"] in {f.status for f in got}, (
            f"{item['id']}: want {want}, got {[(f.rule, f.status, f.message[:80]) for f in got]}")


def test_labelled_set_precision_and_recall_of_blocking_narrative_fails():
    tp = fp = fn = 0
    for item in ITEMS:
        flagged = _blocking_narrative_fail(_record(item["path"]), item)
        if item["real"]:
            tp += flagged
            fn += not flagged
        else:
            fp += flagged
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    assert precision >= 0.95, (tp, fp)
    assert recall == 1.0, (tp, fn)
