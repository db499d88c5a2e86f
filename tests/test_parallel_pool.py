"""The worker processes of ``--concurrency``: started by fork where that is safe (one thread), each
sent its next task while it runs one, replaced when one dies, gone when the parent is killed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from extractor.parallel import ProcessPool, WorkerDied
from parallel_crash import exit_when, pid_and_square, wait_for
from test_parallel import _children, _state, _wait_for

ROOT = Path(__file__).resolve().parent.parent
HAS_FORK = sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.skipif(not HAS_FORK, reason="workers are forked on Linux and other POSIX systems but macOS")
def test_workers_are_forked_in_a_process_of_one_thread_and_spawned_beside_another_thread():
    p = _python("""
        import threading
        from extractor.parallel import ProcessPool
        pool = ProcessPool(1)
        print(pool.start_method, pool.submit(pow, 2, 5).result())
        pool.shutdown()
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        pool = ProcessPool(1)
        print(pool.start_method, pool.submit(pow, 2, 5).result())
        pool.shutdown()
        stop.set()
    """)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert out.split("\n")[:2] == ["fork 32", "spawn 32"], out + err


@pytest.mark.skipif(not HAS_FORK or not Path("/proc/self/stat").exists(),
                    reason="forked workers (not on macOS), found in /proc")
def test_forked_workers_exit_when_their_parent_is_killed():
    p = _python("""
        import time
        from extractor.parallel import ProcessPool
        pool = ProcessPool(2)
        print(pool.start_method, pool.submit(pow, 3, 2).result(), flush=True)
        time.sleep(600)
    """)
    try:
        assert p.stdout.readline().split() == ["fork", "9"], p.stderr.read()
        workers = _children(p.pid)
        assert len(workers) == 2
    finally:
        p.kill()
        p.communicate(timeout=60)
    try:
        _wait_for(lambda: not any(_state(w) == "alive" for w in workers), "the workers to exit", limit=30)
    finally:
        for w in workers:  # left over when this test fails
            if _state(w) == "alive":
                os.kill(w, signal.SIGKILL)


def test_the_task_sent_behind_one_whose_worker_dies_runs_in_the_replacement(tmp_path):
    flag = tmp_path / "go"
    pool = ProcessPool(1, start="spawn")
    try:
        first, _ = pool.submit(pid_and_square, 1).result(timeout=120)
        dying = pool.submit(exit_when, str(flag), 3)
        behind = pool.submit(pid_and_square, 7)  # sent to the same worker, waiting behind the dying task
        flag.touch()
        with pytest.raises(WorkerDied, match=r"exit status 3"):
            dying.result(timeout=120)
        pid, square = behind.result(timeout=120)
    finally:
        pool.shutdown()
    assert square == 49 and pid != first


def test_a_task_sent_behind_a_running_one_can_still_be_cancelled(tmp_path):
    flag = tmp_path / "go"
    pool = ProcessPool(1, start="spawn")
    try:
        running = pool.submit(wait_for, str(flag))
        behind = pool.submit(pid_and_square, 2)
        assert running.running() and not behind.running()
        assert behind.cancel()
        flag.touch()
        assert running.result(timeout=120) == "waited"
        assert pool.submit(pid_and_square, 3).result(timeout=120)[1] == 9  # the cancelled one's result is dropped
    finally:
        pool.shutdown()
    assert behind.cancelled()


@pytest.mark.skipif(not HAS_FORK, reason="workers are forked on Linux and other POSIX systems but macOS")
def test_forked_workers_leave_what_they_inherit_out_of_garbage_collection_and_the_parent_does_not():
    p = _python("""
        import gc, sys
        sys.path.insert(0, "tests")
        from extractor.parallel import ProcessPool
        from parallel_crash import frozen_objects
        pool = ProcessPool(1)
        print(pool.start_method, pool.submit(frozen_objects).result() > 1000, gc.get_freeze_count())
        pool.shutdown()
        gc.freeze()  # frozen by the caller itself: left so
        pool = ProcessPool(1)
        print(pool.submit(frozen_objects).result() > 1000, gc.get_freeze_count() > 1000)
        pool.shutdown()
    """)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert out.split("\n")[:2] == ["fork True 0", "True True"], out + err
