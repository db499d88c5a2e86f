"""`extractor eval --db`: scoring the stored records of a run — with the model on and the reviewers'
decisions applied — not only a fresh deterministic pass.

The model here is a fixture of ours that answers from the gold file (``OracleTableModel``): on a
synthetic report whose flattened table 二 leaves run-together digits ambiguous, it picks the right
one of the parser's candidates. The parser alone cannot; the run with the model can, and only the
stored records show it.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from extractor.cli import app
from extractor.store import Store
from extractor.decisions import reviewed_record
from llm_fixtures import OpenAIStub, _completion
from synth import make_values, render

runner = CliRunner()


class OracleTableModel:
    """Answers each asked-for table cell with the gold value, quoting the row's printed digits."""

    def __init__(self, gold: dict) -> None:
        self.gold = gold
        self.cells = 0

    def __call__(self, body: dict) -> dict:
        tool = (body.get("tools") or [{}])[0].get("function", {}).get("name", "")
        user = next((m["content"] for m in body["messages"] if m["role"] == "user" and "<<<" in m["content"]), "")
        if tool != "TableCellsOut":
            return _completion({"facts": []}, tool)
        key = re.search(r"Table (\w+) as printed", user).group(1)
        text = user.split("<<<\n", 1)[1].split("\n>>>", 1)[0]
        labels = dict(re.findall(r"^- (\S+): (.+)$", user.split("Columns (canonical key", 1)[0], re.M))
        wanted = re.search(r"^Wanted cells: (.+)$", user, re.M).group(1).split(", ")
        out = []
        for ref in wanted:
            row, col = ref.split(".", 1)
            value = self.gold[key][row][col]
            # the row's label and its digits, or (table 四 flattened: labels first) the run of digits
            m = re.search(re.escape(labels[row][:6]) + r"[^\d\n]{0,12}?\d{2,}", text) or re.search(r"\d{5,}", text)
            out.append({"row": row, "col": col, "value": float(value) if isinstance(value, Decimal) else value,
                        "quote": m.group(0) if m else ""})
            self.cells += 1
        return _completion({"cells": out}, tool)


def corpus(tmp_path):
    d, g = tmp_path / "in", tmp_path / "gold"
    d.mkdir()
    g.mkdir()
    v = make_values(1, big=True)
    (d / "flat.txt").write_text(render(v, "flattened"), encoding="utf-8")
    gold = {**v, "document": "flat.txt"}
    (g / "flat.json").write_text(json.dumps(gold, default=lambda x: float(x) if isinstance(x, Decimal) else x),
                                 encoding="utf-8")
    return d, g, v


def evaluate(*args) -> dict:
    r = runner.invoke(app, ["eval", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def run_with_the_oracle(tmp_path, monkeypatch):
    d, g, v = corpus(tmp_path)
    oracle = OracleTableModel(v)
    with OpenAIStub(oracle) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "fixture-key")
        r = runner.invoke(app, ["run", str(d), "--out", str(tmp_path / "out")])
        assert r.exit_code == 0, r.output
    assert oracle.cells > 0
    return d, g, tmp_path / "out" / "extractor.db", oracle


def test_eval_scores_the_stored_records_of_a_run_with_the_model_on(tmp_path, monkeypatch):
    d, g, db, oracle = run_with_the_oracle(tmp_path, monkeypatch)
    fresh = evaluate("--gold", str(g), str(d))  # the deterministic pass, as before
    assert fresh["cell_accuracy"] < 100.0  # run-together digits the identities cannot split
    stored = evaluate("--gold", str(g), "--db", str(db))
    assert stored["source"].startswith("stored records")
    assert stored["cell_accuracy"] == 100.0 > fresh["cell_accuracy"]
    assert stored["by_producer"]["model"]["correct"] == stored["by_producer"]["model"]["total"] == oracle.cells
    assert stored["accepted"] == 0  # the model's values wait for a reviewer

    # a reviewer confirms them (and whatever else is open): the stored, reviewed records are accepted
    with Store(db) as st:
        (rec,) = list(st.records())
        for f in reviewed_record(st, rec.document.sha256).open:
            st.put_review(rec.document.sha256, f.id, "accept", reviewer="ann", comment="checked")
    stored = evaluate("--gold", str(g), "--db", str(db))
    assert stored["accepted"] == 1 and stored["accepted_with_wrong_cells"] == 0
    assert evaluate("--gold", str(g), "--db", str(db), "--unreviewed")["accepted"] == 0


def test_a_reviewer_accepts_the_models_choice_among_the_candidates(tmp_path, monkeypatch):
    """Accepting the model's value checks it like any reviewer value: it is printed — as one of the
    parser's candidate readings of the run-together digits, at the characters the model chose."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        TestClient = pytest.importorskip("fastapi.testclient", reason="the review app needs fastapi").TestClient
    from extractor.review.app import create_review_app

    _, _, db, _ = run_with_the_oracle(tmp_path, monkeypatch)
    with Store(db) as st:
        (rec,) = list(st.records())
    sha = rec.document.sha256
    fill = next(f for f in rec.findings if f.rule == "M.CELL_FILL" and f.status == "UNCERTAIN")
    ref = fill.scope.split(" ", 1)[1]
    cell = rec.tables[ref.split(".")[0]].get(*ref.split(".")[1:])
    c = TestClient(create_review_app(db, reviewer="ann"), base_url="http://127.0.0.1:8765")
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/queue").text).group(1)
    r = c.post("/decide", data={"doc": sha, "fid": fill.id, "action": "accept", "reviewer": "ann", "csrf": csrf,
                                "accept_value": f"{ref}={cell.value}"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with Store(db) as st:
        row = st.review(sha, fill.id)
        rv = reviewed_record(st, sha)
    assert row["grounded"] == 1 and (row["span_start"], row["span_end"]) == (cell.span.start, cell.span.end)
    assert fill.id not in [f.id for f in rv.open]
