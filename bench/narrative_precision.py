"""Precision and recall of the narrative FAILs that block acceptance, on a folder of reports.

    python bench/narrative_precision.py DIR [DIR...] [--labels LABELS.json] [--show]

Runs the deterministic pipeline on every report under the folders and lists, per report, the
narrative findings that block acceptance (status FAIL) and the advisory ones. With ``--labels`` (a
JSON file kept beside the reports, never in the project) it scores them:

    {"report-file-name": {"real": [{"rule": "N.TABLE_MATCH", "metric": "applications_received",
                                    "value": 2}], "note": "..."}, ...}

A blocking FAIL is a true positive when a ``real`` entry of its report has its rule, its metric (the
fact's metric in an operand ``fact:<metric>``, when given) and its value (among the finding's
numbers, when given); every other blocking FAIL is a false positive; a ``real`` entry that no FAIL
matches is a miss. Reports without an entry count as having no published inconsistency.
Prints figures only: no report text is stored by this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from extractor.batch import discover
from extractor.pipeline import extract


def _numbers(f: Any) -> set[str]:
    out = {str(o.value) for o in f.operands if o.value is not None}
    for v in (f.values or {}).values():
        if isinstance(v, (int, float)) or (isinstance(v, str) and v.replace(".", "").isdigit()):
            out.add(str(v))
    return out


def _matches(f: Any, want: dict[str, Any]) -> bool:
    if f.rule != want.get("rule", f.rule):
        return False
    if "metric" in want and f"fact:{want['metric']}" not in {o.ref for o in f.operands}:
        return False
    return "value" not in want or str(want["value"]) in _numbers(f)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--labels", type=Path)
    ap.add_argument("--show", action="store_true", help="print each blocking and advisory finding's message")
    args = ap.parse_args(argv)
    labels: dict[str, Any] = json.loads(args.labels.read_text(encoding="utf-8")) if args.labels else {}
    files = discover(args.dirs)
    tp = fp = fn = advisory = docs = 0
    t0 = time.process_time()
    for path in files:
        rec = extract(path)
        docs += 1
        name = Path(path).name
        narrative = [f for f in rec.findings if f.rule.startswith("N.")]
        fails = [f for f in narrative if f.status == "FAIL"]
        notes = [f for f in narrative if f.status == "ADVISORY"]
        advisory += len(notes)
        real = list(labels.get(name, {}).get("real", []))
        used: set[int] = set()
        verdicts = []
        for f in fails:
            k = next((i for i, w in enumerate(real) if i not in used and _matches(f, w)), None)
            if k is None:
                fp += 1
                verdicts.append(("FP", f))
            else:
                used.add(k)
                tp += 1
                verdicts.append(("TP", f))
        missed = [w for i, w in enumerate(real) if i not in used]
        fn += len(missed)
        print(f"{name}: {rec.decision}, blocking narrative FAIL {len(fails)}, advisory {len(notes)}"
              + (f", missed {len(missed)}" if missed else ""))
        if args.show:
            for v, f in verdicts:
                print(f"   {v if labels else 'FAIL'} {f.rule} {f.message[:140]}")
            for f in notes:
                print(f"   ADVISORY {f.rule} {f.message[:140]}")
            for w in missed:
                print(f"   MISSED {w}")
    secs = time.process_time() - t0
    print(f"\n{docs} report(s), {tp + fp} blocking narrative FAIL(s), {advisory} advisory note(s), {secs:.1f} s CPU")
    if labels:
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        print(f"precision {tp}/{tp + fp} = {precision:.3f} · recall {tp}/{tp + fn} = {recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
