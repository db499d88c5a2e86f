"""Whole-process throughput of ``extractor run`` next to a bare-scan floor, the resume cost, and
what ``--concurrency`` gains — all measured in the same run, on the same documents.

    python bench/bench_scale.py [--docs 600] [--repeat 3] [--concurrency 2]

The documents (written to a temporary folder, never into the project): the real text, Markdown and
HTML reports of ../shared (samples and corpus), each copy made distinct by trailing newlines, and
synthetic reports in every encoding (tests/synth.py; four consecutive years per made-up body), one
third real, two thirds synthetic.

* **floor**: read + SHA-256 + decode + normalize (``extractor.document.normalize``) + number scan +
  one JSONL line per document, in this process, one core. What any tool must at least do.
* **whole process**: ``extractor run DOCS --out OUT --llm off`` as a child process (start-up,
  discovery, extraction, SQLite, output files), wall and CPU time; with ``--concurrency N`` too.
* **phases** (in this process): the batch (read → extract → save) and the output files, apart.
* **extraction phase with processes**: ``run_batch(concurrency=1)`` against ``concurrency=N`` (the
  calling process writes every document), and load + extract alone in one process against ``N``
  worker processes (with and without the workers' start-up).
* **merge**: the N documents run as 4 shards (``--shard i/4``), merged into a new folder (and the
  part of that spent writing the output files), and merged again (nothing new).
* **resume**: one new document added to the N finished ones, against a 1-document run.
* **output size**: bytes of the output folder (database + files) per document, per file and for
  the biggest tables (default settings: gzip output files).

Figures only, no assertions. The machine may be shared: every figure is the best of ``--repeat``
runs (as ``timeit`` does), and the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))

from extractor.document import normalize  # noqa: E402
from synth import make_values, render  # noqa: E402

ENCODINGS = ["lines", "stream", "pipe", "tab", "space", "html", "runtogether"]
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def real_reports() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for folder, pattern in ((SHARED / "samples", "*.txt"), (SHARED / "corpus" / "reports", "*")):
        if folder.is_dir():
            out += [(p.name, p.read_bytes()) for p in sorted(folder.glob(pattern))
                    if p.suffix.lower() in (".txt", ".md", ".html", ".htm")]
    return out


PLACES = "青白云临江北东西南山河湖林石松桥泉溪岭川"
BODIES = ["县交通运输局", "区人民政府办公室", "镇人民政府", "市生态环境局", "县数据资源局"]


def synthetic(seed: int) -> tuple[str, bytes]:
    """A synthetic report of its own body: 4 seeds in a row are one body's consecutive years (as a
    real batch holds a few reports per body, not hundreds, so the checks across years stay few)."""
    enc = ENCODINGS[seed % len(ENCODINGS)]
    name = f"synth_{seed:05d}_{enc}." + ("html" if enc == "html" else "txt")
    v = make_values(seed, big=enc == "runtogether")
    k = seed // 4
    v["organ"] = PLACES[k % 20] + PLACES[k // 20 % 20] + PLACES[k // 400 % 20] + BODIES[k % 5]
    return name, render(v, enc).encode("utf-8")


def build_corpus(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    real = real_reports()
    files = []
    for i in range(n):
        if real and i % 3 == 0:
            k = i // 3
            name, raw = real[k % len(real)]
            copy = k // len(real)
            stem, dot, suffix = name.rpartition(".")
            name, raw = f"{i:05d}_{stem}_{copy}.{suffix}", raw + b"\n" * copy
        else:
            name, raw = synthetic(i)
        p = folder / name
        p.write_bytes(raw)
        files.append(p)
    return files


# ----------------------------------------------------------------------------------- timing


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its waited-for children) of fn()."""
    r0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    fn()
    wall = time.perf_counter() - t
    r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(b, f) - getattr(a, f) for a, b in ((r0, r1), (c0, c1)) for f in ("ru_utime", "ru_stime"))
    return wall, cpu


def best(repeat: int, fn, setup=None) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        if setup:
            setup()
        runs.append(timed(fn))
    return min(w for w, _ in runs), min(c for _, c in runs)


def floor_pass(files: list[Path], out: Path) -> None:
    with open(out, "w", encoding="utf-8") as fh:
        for p in files:
            raw = p.read_bytes()
            sha = hashlib.sha256(raw).hexdigest()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("gb18030", errors="replace")
            text = normalize(text)
            nums = NUMBER.findall(text)
            fh.write(json.dumps({"sha256": sha, "name": p.name, "numbers": nums}, ensure_ascii=False) + "\n")


def extract_only(path: str) -> str:
    """Load and extract one document, nothing saved (runs in worker processes too)."""
    from extractor.loaders import load_bytes  # noqa: PLC0415
    from extractor.pipeline import extract_document  # noqa: PLC0415

    p = Path(path)
    return extract_document(load_bytes(p.read_bytes(), p.name, path=p)).decision


def cli(*args: str) -> None:
    env = dict(os.environ, CI="1")  # no progress bar
    subprocess.run([sys.executable, "-c", "from extractor.cli import main; main()", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def table_sizes(db: Path, n: int) -> str:
    """KB per document of the biggest tables and indexes of a database (SQLite's dbstat)."""
    import sqlite3  # noqa: PLC0415

    c = sqlite3.connect(db)
    try:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 4").fetchall()
    except sqlite3.Error:  # an SQLite without dbstat
        return "?"
    finally:
        c.close()
    return ", ".join(f"{name} {size / n / 1024:.1f} KB" for name, size in rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=600, help="documents in the batch (and done before the resume)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is printed")
    ap.add_argument("--concurrency", type=int, default=2, help="worker processes for the parallel figures")
    ap.add_argument("--keep", type=Path, help="build the corpus and outputs here (kept) instead of a temp folder")
    args = ap.parse_args()

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="extractor-bench-"))
    try:
        run(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path) -> None:
    from extractor.batch import discover, run_batch  # noqa: PLC0415
    from extractor.store import Store  # noqa: PLC0415

    n, rep, conc = args.docs, args.repeat, args.concurrency
    docs = tmp / "docs"
    files = build_corpus(docs, n)
    real = sum(1 for f in files if not f.name.startswith("synth"))
    print(f"{n} documents ({real} copies of real reports from {SHARED}, {n - real} synthetic), "
          f"{sum(f.stat().st_size for f in files) / n / 1024:.1f} KB each on average; best of {rep} runs; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    # floor
    fw, fc = best(rep, lambda: floor_pass(files, tmp / "floor.jsonl"))
    print(f"\nfloor (read + hash + normalize + number scan + JSONL, one core): "
          f"{n / fw:8.0f} docs/s wall, {n / fc:8.0f} docs/s CPU")

    # whole process
    def fresh(name: str):
        return lambda: shutil.rmtree(tmp / name, ignore_errors=True)

    ww, wc = best(rep, lambda: cli("run", str(docs), "--out", str(tmp / "out1"), "--llm", "off"), fresh("out1"))
    print(f"whole process `extractor run --llm off`:                  {n / ww:8.1f} docs/s wall, "
          f"{n / wc:8.1f} docs/s CPU  = {100 * fw / ww:5.1f} % of the floor (wall), "
          f"{100 * fc / wc:5.1f} % (CPU)")
    pw, pc = best(rep, lambda: cli("run", str(docs), "--out", str(tmp / "outN"), "--llm", "off",
                                   "--concurrency", str(conc)), fresh("outN"))
    print(f"whole process `extractor run --llm off --concurrency {conc}`:  {n / pw:8.1f} docs/s wall, "
          f"{n / pc:8.1f} docs/s CPU  = {ww / pw:4.2f}x the sequential run (wall)")
    size = folder_bytes(tmp / "out1")
    db = (tmp / "out1" / "extractor.db").stat().st_size
    print(f"output folder: {size / n / 1024:.1f} KB per document (extractor.db {db / n / 1024:.1f} KB)")
    from extractor.store import output_paths  # noqa: PLC0415

    files = {k: p.name for k, p in output_paths(tmp / "out1").items()}
    sizes = {name: (tmp / "out1" / name).stat().st_size for name in files.values()}
    print("  of which " + ", ".join(f"{name} {b / n / 1024:.1f} KB" for name, b in sizes.items())
          + f", database tables: {table_sizes(tmp / 'out1' / 'extractor.db', n)}")
    same = all((tmp / "out1" / f).read_bytes() == (tmp / "outN" / f).read_bytes() for f in files.values())
    print(f"outputs of --concurrency {conc} identical to the sequential run's: {same}")

    # phases, in this process
    listed = discover([docs])
    timings: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rep):  # interleaved, so a change of load on a shared machine hits both alike
        for c in (1, conc):
            shutil.rmtree(tmp / "phase", ignore_errors=True)
            with Store(tmp / "phase" / "extractor.db") as st:
                timings.setdefault(f"batch{c}", []).append(timed(lambda: run_batch(listed, st, concurrency=c)))
                if c == 1:
                    timings.setdefault("outputs", []).append(timed(lambda: st.write_outputs(tmp / "phase")))
    b1 = min(w for w, _ in timings["batch1"])
    bn = min(w for w, _ in timings[f"batch{conc}"])
    o1 = min(w for w, _ in timings["outputs"])
    print(f"\nphases (in-process, wall): batch (read → extract → save) {n / b1:7.1f} docs/s, "
          f"output files {n / o1:7.1f} docs/s ({100 * o1 / (b1 + o1):.0f} % of the two)")
    print(f"extraction phase, run_batch concurrency 1 → {conc}: {n / b1:7.1f} → {n / bn:7.1f} docs/s = "
          f"{b1 / bn:4.2f}x (this process writes every document)")
    paths = [str(f) for f in listed]
    try:
        from extractor.parallel import ProcessPool  # noqa: PLC0415
    except ImportError:  # a checkout from before worker processes
        ProcessPool = None  # noqa: N806
    if conc > 1 and ProcessPool is not None:

        started = set()

        def pooled(warm: bool) -> float:
            pool = ProcessPool(conc)
            started.add(getattr(pool, "start_method", "spawn"))
            try:
                t = time.perf_counter()
                if warm:  # every worker started and past its first document
                    for f in [pool.submit(extract_only, p) for p in paths[:conc * 2]]:
                        f.result()
                    t = time.perf_counter()
                for f in [pool.submit(extract_only, p) for p in paths]:
                    f.result()
                return time.perf_counter() - t
            finally:
                pool.shutdown()

        one, cold, warm = [], [], []
        for _ in range(rep):  # interleaved
            one.append(timed(lambda: [extract_only(p) for p in paths])[0])
            cold.append(pooled(False))
            warm.append(pooled(True))
        sw_, cw, ww_ = min(one), min(cold), min(warm)
        print(f"load + extract only (no saving), 1 process → {conc} worker processes: {n / sw_:7.1f} → "
              f"{n / cw:7.1f} docs/s = {sw_ / cw:4.2f}x with the workers' start-up, {sw_ / ww_:4.2f}x without "
              f"(workers started by {'/'.join(sorted(started))}"
              + (": this process has threads by now; `extractor run` forks)" if started == {"spawn"} else ")"))

    # shards and merge
    from extractor.merge import merge  # noqa: PLC0415

    k = 4
    for i in range(k):
        shutil.rmtree(tmp / f"shard-{i}", ignore_errors=True)
        cli("run", str(docs), "--out", str(tmp / f"shard-{i}"), "--llm", "off", "--shard", f"{i}/{k}")
    shards = [tmp / f"shard-{i}" for i in range(k)]
    mw, mc = best(rep, lambda: merge(shards, tmp / "merged"), fresh("merged"))
    ow, oc = best(rep, lambda: Store(tmp / "merged" / "extractor.db").write_outputs(tmp / "merged"))
    aw, ac = best(rep, lambda: merge(shards, tmp / "merged"))
    print(f"\nmerge of {k} shards ({n} documents): {mw:5.2f} s wall = {n / mw:7.1f} docs/s, of which the output "
          f"files {ow:5.2f} s; merging the same shards again: {aw:5.2f} s")

    # resume: 1 new document on top of n done, against a 1-document run
    seeds = iter(range(10**6, 10**6 + 2 * rep + 2))

    def add_one():
        name, raw = synthetic(next(seeds))
        (docs / name).write_bytes(raw)

    def one_doc_folder():
        shutil.rmtree(tmp / "single", ignore_errors=True)
        (tmp / "single").mkdir()
        name, raw = synthetic(next(seeds))
        (tmp / "single" / name).write_bytes(raw)
        shutil.rmtree(tmp / "out-single", ignore_errors=True)

    rw, rc = best(rep, lambda: cli("run", str(docs), "--out", str(tmp / "out1"), "--llm", "off"), add_one)
    sw, sc = best(rep, lambda: cli("run", str(tmp / "single"), "--out", str(tmp / "out-single"), "--llm", "off"),
                  one_doc_folder)
    print(f"\nresume: 1 new document added to {n} done: {rw:6.2f} s wall ({rc:6.2f} s CPU); "
          f"a 1-document run: {sw:5.2f} s wall ({sc:5.2f} s CPU) → {rw / sw:5.1f}x (wall), {rc / sc:5.1f}x (CPU)")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
