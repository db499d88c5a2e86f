"""One line (`error: …`, exit code 2) instead of a traceback, for every bad invocation and every bad
database a hostile but fair user tried (issue #12); two runs on one --out; XLSX cells never formulas.

Each test failed before the fix (a traceback, a silently accepted value, exit code 0, or a formula).
The commands run as the console entry point does (``extractor.cli.main``) in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fakereport import report_bytes
from outputs import output_lines

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def cli(*args: str, timeout: float = 120):
    return subprocess.run([sys.executable, "-c", "from extractor.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(p, *needles: str, code: int = 2) -> str:
    err = p.stderr.strip()
    assert p.returncode == code, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, err[-2000:]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture
def reports(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "r.html").write_bytes(report_bytes(0))
    return d


@pytest.fixture
def run_db(tmp_path, reports) -> Path:
    out = tmp_path / "out"
    p = cli("run", reports, "--out", out, "--llm", "off")
    assert p.returncode == 0, p.stderr
    return out / "extractor.db"


@pytest.mark.parametrize("option,value", [("--mode", "bogus"), ("--llm", "maybe"), ("--tables", "xyz")])
def test_bad_option_values_are_refused_in_one_line(tmp_path, reports, option, value):
    p = cli("run", reports, "--out", tmp_path / "o", option, value)
    one_line_error(p, option, value)
    assert not (tmp_path / "o" / "extractor.db").exists()  # refused before any work


def test_out_that_is_a_file_is_one_line(tmp_path, reports):
    f = tmp_path / "taken"
    f.write_text("not a folder")
    one_line_error(cli("run", reports, "--out", f, "--llm", "off"), str(f), "file, not a folder")


def test_out_that_cannot_be_created_or_written_is_one_line(tmp_path, reports):
    f = tmp_path / "taken"
    f.write_text("not a folder")
    one_line_error(cli("run", reports, "--out", f / "sub", "--llm", "off"), "cannot create the output folder")
    if os.geteuid() != 0:  # root writes anywhere: the permission case needs an ordinary user
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            one_line_error(cli("run", reports, "--out", ro, "--llm", "off"), str(ro))
        finally:
            ro.chmod(0o755)


def test_report_of_a_file_that_is_not_sqlite_is_one_line(tmp_path):
    f = tmp_path / "notes.db"
    f.write_text("just text")
    one_line_error(cli("report", "--db", f, "--out", tmp_path / "rep"), str(f), "not an SQLite database")


def test_merge_of_a_file_that_is_not_sqlite_is_one_line(tmp_path, run_db):
    f = tmp_path / "shard.db"
    f.write_bytes(b"PK\x03\x04 a zip, not a database" * 10)
    one_line_error(cli("merge", run_db.parent, f, "--out", tmp_path / "all"), str(f), "not an SQLite database")
    assert not (tmp_path / "all" / "extractor.db").exists()  # nothing half-merged


@pytest.mark.parametrize("content,needle", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object")])
def test_eval_with_a_bad_gold_file_is_one_line(tmp_path, reports, content, needle):
    g = tmp_path / "gold"
    g.mkdir()
    (g / "r.json").write_text(content, encoding="utf-8")
    one_line_error(cli("eval", "--gold", g, reports), "r.json", needle)


def test_a_corrupt_database_is_one_line(tmp_path, reports, run_db):
    raw = bytearray(run_db.read_bytes())
    raw[100:4096] = os.urandom(3996)  # the header stays: SQLite opens it, then finds garbage
    run_db.write_bytes(bytes(raw))
    for wal in run_db.parent.glob("extractor.db-*"):
        wal.unlink()
    p = cli("run", reports, "--out", run_db.parent, "--llm", "off", "--force")
    one_line_error(p, "extractor.db")
    one_line_error(cli("report", "--db", run_db, "--out", tmp_path / "rep"), "damaged")


def test_a_locked_database_is_one_line(tmp_path, reports, run_db):
    holder = sqlite3.connect(str(run_db), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program in the middle of a write
    try:
        p = cli("run", reports, "--out", run_db.parent, "--llm", "off", "--force")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(p, "locked")


def test_a_read_only_database_is_one_line(tmp_path, reports, run_db):
    files = [run_db, *run_db.parent.glob("extractor.db-*")]
    if os.geteuid() != 0:
        for f in files:
            f.chmod(0o444)
        undo = [lambda f=f: f.chmod(0o644) for f in files]
    else:  # root ignores permissions: make the file immutable instead (ext4 and most Linux filesystems)
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(run_db)]).returncode != 0:
            pytest.skip("running as root and `chattr +i` is not available here: cannot make a read-only file")
        undo = [lambda: subprocess.run(["chattr", "-i", str(run_db)])]
    try:
        p = cli("run", reports, "--out", run_db.parent, "--llm", "off", "--force")
    finally:
        for u in undo:
            u()
    one_line_error(p, "extractor.db")


def test_two_runs_on_one_out_take_a_lock_and_say_so(tmp_path, reports):
    from extractor.store import folder_lock

    out = tmp_path / "out"
    with folder_lock(out):  # a run in progress (this process stands for it)
        p = cli("run", reports, "--out", out, "--llm", "off")
    one_line_error(p, str(out), "in use by another extractor command", f"pid {os.getpid()}")
    assert cli("run", reports, "--out", out, "--llm", "off").returncode == 0  # free again


def test_two_real_runs_on_one_out_never_crash(tmp_path, reports):
    """Two processes started together: one runs, the other stops with the lock message or, having
    started after the first one ended, runs too — never a crash on a shared temporary file."""
    for k in range(6):
        (reports / f"r{k}.html").write_bytes(report_bytes(10 + k))
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from extractor.cli import main; main()", "run", str(reports), "--out", str(out),
           "--llm", "off"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(120), p.stderr.read()) for p in procs]
    for rc, err in results:
        assert "Traceback" not in err, err[-2000:]
        assert rc == 0 or (rc == 2 and "in use by another extractor command" in err), (rc, err[-1000:])
    assert any(rc == 0 for rc, _ in results)
    assert len(output_lines(out)) == 7


def test_check_on_a_failed_document_never_says_every_identity_holds(tmp_path):
    f = tmp_path / "broken.pdf"
    f.write_bytes(b"%PDF-1.7\n" + os.urandom(200))
    p = cli("check", f)
    assert "every identity holds" not in p.stdout
    one_line_error(p, "broken.pdf")
    p = cli("check", f, "--json")
    assert p.returncode == 2 and '"decision": "failed"' in p.stdout


def test_xlsx_export_writes_text_never_formulas(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    d = tmp_path / "in"
    d.mkdir()
    (d / "=HYPERLINK(1+1).html").write_bytes(report_bytes(3))
    (d / "@SUM(A1).html").write_bytes(report_bytes(4))
    out = tmp_path / "out"
    assert cli("run", d, "--out", out, "--llm", "off").returncode == 0
    from extractor.store import Store

    with Store(out / "extractor.db") as st:
        sha = next(st.records()).document.sha256
        st.put_review(sha, "X.NOTE:any", "accept", reviewer="+ann", comment="-1+2 looks right")
    p = cli("export", "--db", out / "extractor.db", "--format", "xlsx", "--out", tmp_path / "x.xlsx", "--all")
    assert p.returncode == 0, p.stderr
    wb = openpyxl.load_workbook(tmp_path / "x.xlsx")
    texts = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value[:1] in "=+-@":
                    texts[c.value] = c.data_type
    assert texts.get("=HYPERLINK(1+1).html") == "s" and texts.get("@SUM(A1).html") == "s", texts
    assert all(t == "s" for t in texts.values()), texts
