"""`--concurrency N`: worker processes load and extract, this process alone writes; the outputs are
those of a sequential run; a dying worker fails only its document; Ctrl-C and kill stay resumable."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from extractor.batch import discover, run_batch
from extractor.store import Store
from fakereport import report_bytes
from outputs import output_lines, output_path, output_text
from synth import make_values, render

OUTPUTS = ("records.jsonl", "cells.csv", "findings.csv")


def corpus(folder: Path, n: int = 8) -> Path:
    folder.mkdir(parents=True)
    encodings = ["lines", "stream", "pipe", "tab", "space", "html"]
    for i in range(n):
        if i % 2:
            (folder / f"r{i:03d}.html").write_bytes(report_bytes(i))
        else:
            enc = encodings[i % len(encodings)]
            (folder / f"s{i:03d}.{'html' if enc == 'html' else 'txt'}").write_text(render(make_values(i), enc),
                                                                                   encoding="utf-8")
    (folder / "r001-copy.html").write_bytes(report_bytes(1))  # the same bytes twice
    (folder / "empty.txt").write_bytes(b"")
    (folder / "garbage.pdf").write_bytes(bytes(range(256)) * 8)
    return folder


def run_into(out: Path, files: list[Path], **kw):
    with Store(out / "extractor.db") as st:
        res = run_batch(files, st, **kw)
        st.write_outputs(out)
    return res


def test_worker_processes_give_the_outputs_of_a_sequential_run_byte_for_byte(tmp_path):
    files = discover([corpus(tmp_path / "in", n=10)])
    seq = run_into(tmp_path / "seq", files)
    par = run_into(tmp_path / "par", files, concurrency=3)
    assert (par.processed, par.skipped, par.failed, par.decisions) == \
        (seq.processed, seq.skipped, seq.failed, seq.decisions)
    assert seq.skipped == 1 and seq.failed == 2  # the copy; the empty and the garbage file
    for name in OUTPUTS:
        assert output_path(tmp_path / "par", name).read_bytes() == output_path(tmp_path / "seq", name).read_bytes(), name
    again = run_into(tmp_path / "par", files, concurrency=3)
    assert again.processed == 0 and again.skipped == len(files)


@pytest.mark.parametrize("how, says", [("kill", "killed by SIGKILL"), ("exit", "exit status 3")])
def test_a_worker_that_dies_fails_its_document_and_the_batch_goes_on(tmp_path, how, says):
    files = discover([corpus(tmp_path / "in", n=8)])
    from parallel_crash import die_on

    res = run_into(tmp_path / "par", files, concurrency=2, worker_init=die_on, worker_init_args=("r003.html", how))
    seq = run_into(tmp_path / "seq", files)
    assert res.processed == seq.processed and res.failed == seq.failed + 1
    errors = dict(res.errors)
    died = errors[str(tmp_path / "in" / "r003.html")]
    assert died.startswith(f"worker process died ({says}) while processing r003.html"), died
    with Store(tmp_path / "par" / "extractor.db") as st:
        recs = {r.document.name: r for r in st.records()}
    assert recs["r003.html"].decision == "failed"
    assert recs["r003.html"].document.sha256 == __import__("hashlib").sha256(
        (tmp_path / "in" / "r003.html").read_bytes()).hexdigest()
    with Store(tmp_path / "seq" / "extractor.db") as st:
        want = {r.document.name: r.decision for r in st.records()}
    assert {k: r.decision for k, r in recs.items() if k != "r003.html"} == \
        {k: v for k, v in want.items() if k != "r003.html"}


@pytest.mark.parametrize("concurrency", [1, 2])
def test_on_start_is_called_once_the_workers_exist_and_before_the_first_document(tmp_path, concurrency):
    import multiprocessing
    import threading

    files = discover([_big_corpus(tmp_path / "in", 4)])
    events: list = []

    def on_start():  # what the command line does here: start the display's refresh thread
        events.append(("start", len(multiprocessing.active_children())))
        threading.Thread(target=time.sleep, args=(0.2,), daemon=True).start()

    res = run_into(tmp_path / "out", files, concurrency=concurrency, on_start=on_start,
                   on_progress=lambda path, status, rec: events.append(status))
    assert events == [("start", 0 if concurrency == 1 else 2)] + ["done"] * 4 and res.processed == 4


def test_urls_with_model_steps_are_loaded_by_workers_and_extracted_in_threads(tmp_path):
    import threading

    from localhttp import LocalServer

    class Model:  # stands for the model steps; lives in this process (never sent to a worker)
        def __init__(self):
            self.lock, self.names = threading.Lock(), []

        def enrich(self, doc, layout, record):
            with self.lock:
                self.names.append(doc.name)

    srv = LocalServer().start()
    try:
        urls = [srv.route(f"/r{i}.html", report_bytes(i), headers={"Content-Type": "text/html; charset=gbk"})
                for i in range(4)]
        seq_model, par_model = Model(), Model()
        opts = {"allow_private": True}  # the test server is on loopback
        seq = run_into(tmp_path / "seq", urls, llm=seq_model, fetch_options=opts)
        par = run_into(tmp_path / "par", urls, llm=par_model, concurrency=2, fetch_options=opts)
    finally:
        srv.stop()
    assert sorted(par_model.names) == sorted(seq_model.names) and len(par_model.names) == 4
    assert (par.processed, par.decisions) == (seq.processed, seq.decisions)
    for name in OUTPUTS:
        assert output_text(tmp_path / "par", name).replace(str(tmp_path / "par"), "") == \
            output_text(tmp_path / "seq", name).replace(str(tmp_path / "seq"), ""), name


# --- signals, on the real command line ------------------------------------------------------------


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, CI="1")
    return subprocess.Popen([sys.executable, "-c", "from extractor.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kw)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _saved(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as c:
            return c.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _wait_for(cond, what: str, limit: float = 120) -> None:
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _big_corpus(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"s{i:04d}.txt").write_text(render(make_values(1000 + i), "lines"), encoding="utf-8")
    return folder


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_parallel_run_stopped_by_ctrl_c_or_kill_leaves_no_workers_and_resumes(tmp_path, sig):
    src = _big_corpus(tmp_path / "in", 300)
    out = tmp_path / "out"
    p = _cli("run", str(src), "--out", str(out), "--llm", "off", "--concurrency", "2", start_new_session=True)
    _wait_for(lambda: _saved(out / "extractor.db") >= 3 or p.poll() is not None, "the first documents")
    workers = _children(p.pid)
    if sig == signal.SIGINT:
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    else:
        p.kill()
    _, err = p.communicate(timeout=120)
    if sig == signal.SIGINT and p.returncode != 0:  # (a fast machine may have finished already)
        assert p.returncode == 130, err.decode()
        assert b"interrupted" in err and b"Traceback" not in err, err.decode()
    _wait_for(lambda: not any(Path(f"/proc/{w}").exists() and "zombie" not in _state(w) for w in workers),
              "the workers to exit", limit=30)
    done = _saved(out / "extractor.db")
    assert 0 < done <= 300
    q = _cli("run", str(src), "--out", str(out), "--llm", "off", "--concurrency", "2")
    _, err = q.communicate(timeout=300)
    assert q.returncode == 0, err.decode()
    lines = output_lines(out)
    assert len(lines) == 300 and _saved(out / "extractor.db") == 300


# records each os.fork of the command (an audit event: a spawned worker is started by fork_exec instead,
# which raises none), then runs it as the console entry point does
_FORK_LOG = """
import os, sys
def _hook(event, args, log=os.environ["TEST_FORK_LOG"]):
    if event == "os.fork":
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\\n")
sys.addaudithook(_hook)
from extractor.cli import main
main()
"""


def _in_terminal(args: list[str], env: dict[str, str], meanwhile=None) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdin, stdout and stderr (in a session of its own),
    ``meanwhile(process)`` while it runs: its exit status and all it wrote to the terminal, plain
    (without colours and cursor moves)."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                         start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal's other side is gone
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if meanwhile is not None:
            meanwhile(p)
        code = p.wait(timeout=300)
        reader.join(60)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)


def _terminal_env(**extra: str) -> dict[str, str]:
    """This environment as an interactive terminal has it: no CI (which turns the progress display off)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(TERM="xterm-256color", **extra)
    return env


def test_a_run_in_a_terminal_forks_its_workers_and_shows_the_progress_bar(tmp_path):
    src = _big_corpus(tmp_path / "in", 6)
    out, log = tmp_path / "out", tmp_path / "forks.log"
    code, plain = _in_terminal([sys.executable, "-c", _FORK_LOG, "run", str(src), "--out", str(out), "--llm", "off",
                                "--concurrency", "2"], _terminal_env(TEST_FORK_LOG=str(log)))
    assert code == 0, plain
    assert re.search(r"extracting .*\b0/6 ", plain) and re.search(r"extracting .*\b6/6 \d+:\d\d:\d\d", plain), plain
    assert "processed now" in plain and "Traceback" not in plain, plain
    forks = log.read_text().split() if log.exists() else []
    assert len(forks) == 2, f"workers forked: {len(forks)} of 2 (spawned otherwise)"
    assert _saved(out / "extractor.db") == 6


def test_ctrl_c_in_a_terminal_stops_the_progress_bar_saves_finished_documents_and_the_run_resumes(tmp_path):
    src = _big_corpus(tmp_path / "in", 300)
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from extractor.cli import main; main()", "run", str(src), "--out", str(out),
           "--llm", "off", "--concurrency", "2"]

    def ctrl_c(p: subprocess.Popen) -> None:
        _wait_for(lambda: _saved(out / "extractor.db") >= 3 or p.poll() is not None, "the first documents")
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group

    code, plain = _in_terminal(cmd, _terminal_env(), ctrl_c)
    assert "extracting" in plain and "Traceback" not in plain, plain
    if code != 0:  # (a fast machine may have finished already)
        assert code == 130 and "interrupted: finished documents are saved" in plain, plain
    assert 0 < _saved(out / "extractor.db") <= 300
    code, plain = _in_terminal(cmd, _terminal_env())
    assert code == 0, plain
    assert len(output_lines(out)) == 300 and _saved(out / "extractor.db") == 300


def _state(pid: int) -> str:
    try:
        return {"Z": "zombie"}.get(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0], "alive")
    except OSError:
        return "gone"


# --- group commit ---------------------------------------------------------------------------------


def run_groups(out: Path, files: list[Path], **kw) -> list[list[str]]:
    """Run ``files`` in 2 worker processes; the names of the documents of each transaction, in order."""
    from extractor.files import BatchResult
    from extractor.parallel import run_parallel

    log: list[str | None] = []
    with Store(out / "extractor.db") as st:
        st.db.set_trace_callback(lambda sql: log.append(None) if sql.strip().upper() == "COMMIT" else None)
        run_parallel(files, st, force=False, llm=None, skipped_reason=None, concurrency=2,
                     on_progress=lambda path, status, rec: log.append(Path(path).name), downloads=out / "downloads",
                     fetch_options=None, result=BatchResult(), **kw)
    groups: list[list[str]] = []
    for name in log:  # a transaction's COMMIT, then its documents' progress
        if name is None:
            groups.append([])
        else:
            groups[-1].append(name)
    return [g for g in groups if g]


def test_finished_documents_are_saved_in_groups_in_input_order(tmp_path):
    files = discover([_big_corpus(tmp_path / "in", 20)])
    groups = run_groups(tmp_path / "out", files, group=4, linger=60)
    assert [n for g in groups for n in g] == [f.name for f in files]
    assert all(len(g) >= 4 for g in groups[:-1]) and len(groups) <= 5, groups


def test_documents_ready_before_a_slow_one_are_saved_after_the_linger_without_a_full_group(tmp_path):
    from parallel_crash import hold_until_saved

    files = discover([_big_corpus(tmp_path / "in", 6)])
    db = tmp_path / "out" / "extractor.db"
    groups = run_groups(tmp_path / "out", files, group=100, linger=0.05, initializer=hold_until_saved,
                        initargs=(files[3].name, str(db), 3))
    assert groups[0] == [f.name for f in files[:3]], groups  # saved while the fourth was held back
    assert [n for g in groups for n in g] == [f.name for f in files]
