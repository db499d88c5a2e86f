"""Throughput of the deterministic path (load → layout → parse → verify → decide) on one core.

Prints reports/second and peak memory. Inputs: the real samples in ../shared/samples when present,
plus synthetic reports in every encoding (tests/synth.py). No timing assertions anywhere: figures only.

    python bench/bench_deterministic.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from extractor.loaders import load_bytes  # noqa: E402
from extractor.pipeline import extract_document  # noqa: E402
from synth import make_values, render  # noqa: E402


def inputs() -> list[tuple[str, bytes]]:
    items: list[tuple[str, bytes]] = []
    samples = ROOT.parent / "shared" / "samples"
    if samples.is_dir():
        items += [(p.name, p.read_bytes()) for p in sorted(samples.glob("*.txt"))]
    for i, enc in enumerate(["stream", "pipe", "tab", "space", "html", "runtogether"]):
        name = f"synth_{enc}.html" if enc == "html" else f"synth_{enc}.txt"
        items.append((name, render(make_values(100 + i, big=enc == "runtogether"), enc).encode("utf-8")))
    return items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    items = inputs()
    # warm-up (template/rule loading, regex compilation)
    for name, raw in items:
        extract_document(load_bytes(raw, name))
    n = 0
    per_kind: dict[str, list[float]] = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        for name, raw in items:
            a = time.process_time()
            extract_document(load_bytes(raw, name))
            per_kind.setdefault(name, []).append(time.process_time() - a)
            n += 1
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"deterministic path: {n} reports in {cpu:.2f}s of CPU = {n / cpu:.0f} reports/second on one core "
          f"(wall clock {n / dt:.0f}/s; lower when other processes share the core)")
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    for name, ts in sorted(per_kind.items()):
        ts.sort()
        print(f"  {name:34s} median {1000 * ts[len(ts) // 2]:.2f} ms CPU")


if __name__ == "__main__":
    main()
