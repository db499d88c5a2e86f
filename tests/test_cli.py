"""The command line: run, check, eval — one clear line for errors, never a traceback."""

import json

from typer.testing import CliRunner

from extractor.cli import app
from synth import make_values, render
from outputs import output_lines, output_path

runner = CliRunner()


def _reports(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_text(render(make_values(31), "stream"), encoding="utf-8")
    v = make_values(32)
    v["table3"]["total"]["total"] += 3
    (d / "b.txt").write_text(render(v, "tab"), encoding="utf-8")
    return d


def test_run_writes_jsonl_csv_and_sqlite_and_prints_a_summary(tmp_path):
    d = _reports(tmp_path)
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(d), "--out", str(out), "--llm", "off"])
    assert r.exit_code == 0, r.output
    for name in ("records.jsonl.gz", "cells.csv.gz", "findings.csv.gz", "extractor.db"):
        assert (out / name).exists()
    recs = [json.loads(x) for x in output_lines(out)]
    assert {x["document"]: x["decision"] for x in recs} == {"a.txt": "accepted", "b.txt": "needs_review"}
    assert "accepted" in r.output and "needs_review" in r.output


def test_run_says_once_that_model_steps_were_skipped_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    d = _reports(tmp_path)
    r = runner.invoke(app, ["run", str(d), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert r.output.count("skipped") >= 1
    rec = json.loads(output_lines(tmp_path / "o")[0])
    assert rec["skipped"], "each document records that the model steps were skipped"


def test_check_prints_tables_and_the_failing_arithmetic(tmp_path):
    d = _reports(tmp_path)
    r = runner.invoke(app, ["check", str(d / "b.txt")])
    assert r.exit_code == 0, r.output
    assert "T3.OUTCOME_TOTAL" in r.output and "≠" in r.output and "needs_review" in r.output


def test_check_json_prints_the_record_as_plain_json(tmp_path):
    from extractor.pipeline import extract

    d = _reports(tmp_path)
    r = runner.invoke(app, ["check", str(d / "b.txt"), "--json"])
    assert r.exit_code == 0, r.output
    assert "\x1b[" not in r.output  # no highlighting codes
    assert json.loads(r.output) == json.loads(extract(d / "b.txt").model_dump_json())


def test_eval_reports_accuracy_against_gold_as_json(tmp_path):
    d = tmp_path / "in"
    g = tmp_path / "gold"
    d.mkdir()
    g.mkdir()
    v = make_values(33)
    (d / "x.txt").write_text(render(v, "pipe"), encoding="utf-8")
    (g / "x.json").write_text(json.dumps({**v, "document": "x.txt"}, default=str), encoding="utf-8")
    r = runner.invoke(app, ["eval", "--gold", str(g), str(d), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["cell_accuracy"] == 100.0 and s["accepted"] == 1 and s["accepted_with_wrong_cells"] == 0


def test_missing_input_is_one_clear_error_line(tmp_path):
    from extractor.cli import main
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", "from extractor.cli import main; main()", "run", str(tmp_path / "nope")],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().startswith("error: no such file or folder")
    assert "Traceback" not in p.stderr
    assert main  # the console entry point exists


def test_every_command_is_documented_in_the_readme():
    from pathlib import Path

    import typer.main

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    missing = [name for name in group.commands if f"extractor {name}" not in readme]
    assert missing == []
