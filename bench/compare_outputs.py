"""Are a change's outputs byte-identical to another checkout's? Runs ``extractor run --llm off`` (and
``extractor check --json`` per file) with this checkout and with a reference checkout on the same inputs
and compares ``records.jsonl``, ``cells.csv``, ``findings.csv`` (decompressed when the run wrote the
``.gz`` kind, so a change of compression level alone compares equal) and the ``check --json`` text.

    python bench/compare_outputs.py --ref /tmp/main-checkout INPUT [INPUT ...] [--check-json]

The reference is a plain tree of the other version (e.g. ``git archive main | tar -x -C /tmp/ref``);
it runs with this interpreter and ``PYTHONPATH`` set to it. Exit status 1 when anything differs.
Not a test: a tool for performance work that must not change any output.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("records.jsonl", "cells.csv", "findings.csv")
SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}


def run(tree: Path, *args: str) -> bytes:
    env = dict(os.environ, CI="1", PYTHONPATH=str(tree))
    return subprocess.run([sys.executable, "-c", "from extractor.cli import main; main()", *args],
                          check=False, capture_output=True, env=env, cwd=tree).stdout


def content(out: Path, name: str) -> bytes:
    """The bytes of output file ``name`` in ``out``, decompressed if the run wrote ``name.gz``."""
    gz = out / (name + ".gz")
    if gz.exists():
        return gzip.decompress(gz.read_bytes())
    return (out / name).read_bytes() if (out / name).exists() else b""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", type=Path, required=True, help="the reference checkout (a source tree)")
    ap.add_argument("--check-json", action="store_true", help="also compare `check --json` per input file")
    ap.add_argument("inputs", nargs="+", type=Path)
    args = ap.parse_args()
    inputs = [str(p.resolve()) for p in args.inputs]
    bad = 0
    with tempfile.TemporaryDirectory(prefix="extractor-compare-") as tmp:
        outs = {}
        for label, tree in (("ref", args.ref.resolve()), ("new", ROOT)):
            out = Path(tmp) / label
            run(tree, "run", *inputs, "--out", str(out), "--llm", "off")
            outs[label] = out
        for f in FILES:
            a, b = content(outs["ref"], f), content(outs["new"], f)
            same = a == b
            bad += not same
            print(f"{f:14s} {'identical' if same else 'DIFFERS'} ({len(a)} / {len(b)} bytes)")
        if args.check_json:
            files = [p for i in args.inputs for p in (sorted(i.rglob('*')) if i.is_dir() else [i])
                     if p.is_file() and p.suffix.lower() in SUFFIXES and "gold" not in p.parts]
            diff = [p for p in files
                    if run(args.ref.resolve(), "check", str(p.resolve()), "--json")
                    != run(ROOT, "check", str(p.resolve()), "--json")]
            bad += len(diff)
            print(f"check --json: {len(files) - len(diff)}/{len(files)} identical"
                  + (f"; differ: {', '.join(p.name for p in diff)}" if diff else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
