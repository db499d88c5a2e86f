"""A hostile model cannot lower accuracy or get a wrong cell accepted (real reports from ../shared).

``extractor run --tables both`` is pointed (``OPENAI_BASE_URL``) at ``OpenAIStub`` serving
``HostileTableModel`` (tests/llm_fixtures.py, our own fixture): every table cell it is asked for is
answered wrong — blanks filled with 0 quoted from another cell, digit runs re-cut (``260`` from
``26029``), numbers quoted from the narrative sections, invented numbers — plus a cell it was not
asked for, and it repeats itself when re-asked. The outputs (``records.jsonl``, as a user gets them)
are scored against the gold files and compared with ``--llm off``: on the real reports of
../shared (skipped where absent) and on synthetic reports of our own (tests/synth.py) whose
flattened tables leave run-together digits ambiguous.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractor.cli import app
from extractor.evaluate import evaluate_record, find_gold, summarize
from extractor.model import Record
from llm_fixtures import HostileTableModel, OpenAIStub
from outputs import output_lines
from synth import make_values, render

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = {
    "samples": (SHARED / "samples", SHARED / "samples" / "gold"),
    "corpus": (SHARED / "corpus" / "reports", SHARED / "corpus" / "gold"),
}


def scores(out: Path, gold: Path) -> dict:
    """Cell accuracy and acceptance precision of a run's records.jsonl against the gold files."""
    evals = []
    for line in output_lines(out):
        rec = Record.model_validate(json.loads(line)["record"])
        gp = find_gold(gold, rec)
        if gp is not None:
            evals.append(evaluate_record(rec, json.loads(gp.read_text(encoding="utf-8"))))
    return summarize(evals)


def run(args: list[str]) -> None:
    res = CliRunner().invoke(app, ["run", *args])
    assert res.exit_code == 0, res.output


def synthetic(folder: Path) -> tuple[Path, Path]:
    """Our own reports (made-up organs and numbers) with their gold: flattened tables (run-together
    digits the identities cannot split stay ambiguous), run-together rows, HTML, one cell per line."""
    reports, gold = folder / "reports", folder / "gold"
    reports.mkdir(parents=True)
    gold.mkdir()
    plan = [("flattened", s, ".txt") for s in range(1, 7)] + [("runtogether", 7, ".txt"), ("html", 8, ".html"),
                                                              ("stream", 9, ".txt")]
    for enc, seed, ext in plan:
        v = make_values(seed, big=enc != "stream")
        (reports / f"synth_{seed}_{enc}{ext}").write_text(render(v, enc), encoding="utf-8")
        (gold / f"synth_{seed}_{enc}.json").write_text(
            json.dumps({**v, "document": f"synth_{seed}_{enc}{ext}"}, ensure_ascii=False,
                       default=lambda x: float(x) if isinstance(x, Decimal) else x), encoding="utf-8")
    return reports, gold


@pytest.mark.parametrize("corpus,tables,cunning", [
    ("samples", "both", False), ("corpus", "both", False), ("synthetic", "both", False), ("synthetic", "auto", False),
    ("samples", "both", True), ("corpus", "both", True), ("synthetic", "both", True), ("synthetic", "auto", True)])
def test_hostile_model_lowers_no_accuracy_and_gets_no_wrong_cell_accepted(corpus, tables, cunning, tmp_path,
                                                                          monkeypatch):
    """``--tables both``: every cell is asked (a second reading); ``auto``: only the cells the parser
    could not read (here: run-together digits several splits fit) — the model's only chance to fill.
    A cunning model's answers all pass validation: the reconciliation has to stop them."""
    if corpus == "synthetic":
        reports, gold = synthetic(tmp_path / "synthetic")
    else:
        reports, gold = CORPORA[corpus]
    if not reports.is_dir() or not gold.is_dir():
        pytest.skip(f"the shared {corpus} are not here ({reports})")
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACTOR_MODEL", "EXTRACTOR_LLM_MODE"):
        monkeypatch.delenv(k, raising=False)
    run([str(reports), "--out", str(tmp_path / "off"), "--llm", "off"])
    hostile = HostileTableModel(cunning=cunning)
    with OpenAIStub(hostile) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "fixture-key")
        run([str(reports), "--out", str(tmp_path / "hostile"), "--tables", tables])
    assert hostile.requests > 0
    if cunning:
        assert hostile.answers["candidate" if tables == "auto" else "zero"] > 0, hostile.answers
    elif tables == "both":  # asked about every table, it made every kind of mistake
        assert all(n > 0 for n in hostile.answers.values()), hostile.answers
    else:
        assert hostile.answers["recut"] > 0, hostile.answers
    off, bad = scores(tmp_path / "off", gold), scores(tmp_path / "hostile", gold)
    assert bad["documents"] == off["documents"] > 0
    assert bad["cell_accuracy"] >= off["cell_accuracy"], [d["wrong"][:5] for d in bad["by_document"]]
    assert bad["accepted_with_wrong_cells"] == 0, [d["document"] for d in bad["by_document"]
                                                  if d["decision"] == "accepted" and d["wrong"]]
