"""Reading a run's output files whichever kind the run wrote: ``records.jsonl.gz`` (the default,
one gzip member per document) or ``records.jsonl`` (``--plain-outputs``); the same for the CSVs."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path


def output_path(out: Path, name: str) -> Path:
    """The file ``name`` (``records.jsonl``, ``cells.csv``, ``findings.csv``) of a run, compressed or not."""
    gz, plain = Path(out) / (name + ".gz"), Path(out) / name
    assert not (gz.exists() and plain.exists()), f"both {gz.name} and {plain.name} in {out}"
    return gz if gz.exists() else plain


def output_text(out: Path, name: str) -> str:
    p = output_path(out, name)
    data = p.read_bytes()
    return (gzip.decompress(data) if p.suffix == ".gz" else data).decode("utf-8")


def output_lines(out: Path, name: str = "records.jsonl") -> list[str]:
    return output_text(out, name).splitlines()


def output_records(out: Path) -> list[dict]:
    """The lines of records.jsonl, parsed."""
    return [json.loads(x) for x in output_lines(out, "records.jsonl")]


def output_rows(out: Path, name: str) -> list[dict]:
    """The rows of cells.csv or findings.csv, by column name."""
    return list(csv.DictReader(io.StringIO(output_text(out, name), newline="")))
