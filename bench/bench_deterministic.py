"""Throughput of the deterministic path (load → layout → parse → verify → decide) on one core.

Prints reports/second and peak memory. Inputs: the real samples in ../shared/samples when present,
plus synthetic reports in every encoding (tests/synth.py). No timing assertions anywhere: figures only.

Timing is CPU time of this process. Shared machines are noisy, so each input is timed in several
batches and both the typical (median batch) and the best batch are reported, as `timeit` does.

    python bench/bench_deterministic.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from extractor.loaders import load_bytes  # noqa: E402
from extractor.pipeline import extract_document  # noqa: E402
from synth import make_values, render  # noqa: E402

ENCODINGS = ["lines", "stream", "pipe", "tab", "space", "html", "runtogether"]


def inputs() -> list[tuple[str, bytes]]:
    items: list[tuple[str, bytes]] = []
    samples = ROOT.parent / "shared" / "samples"
    if samples.is_dir():
        items += [(p.name, p.read_bytes()) for p in sorted(samples.glob("*.txt"))]
    for i, enc in enumerate(ENCODINGS):
        name = f"synth_{enc}.html" if enc == "html" else f"synth_{enc}.txt"
        items.append((name, render(make_values(100 + i, big=enc == "runtogether"), enc).encode("utf-8")))
    return items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--batch", type=int, default=10, help="documents per timed batch")
    args = ap.parse_args()
    items = inputs()
    for name, raw in items:  # warm-up: template and rule loading, regex compilation
        extract_document(load_bytes(raw, name))
    per_doc: dict[str, list[float]] = {name: [] for name, _ in items}
    deadline = time.process_time() + args.seconds
    while time.process_time() < deadline:
        for name, raw in items:
            a = time.process_time()
            for _ in range(args.batch):
                extract_document(load_bytes(raw, name))
            per_doc[name].append((time.process_time() - a) / args.batch)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def rate(names: list[str], pick) -> float:
        return len(names) / sum(pick(per_doc[n]) for n in names)

    everything = list(per_doc)
    regular = [n for n in everything if "runtogether" not in n]
    print("deterministic path, one core (CPU time per report, load → verify → decide):")
    for label, names in (("all inputs", everything), ("without the run-together stress case", regular)):
        print(f"  {label:40s} {rate(names, statistics.median):6.0f} reports/s typical, "
              f"{rate(names, min):6.0f} reports/s best batch")
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    for name, ts in per_doc.items():
        print(f"  {name:34s} median {1000 * statistics.median(ts):6.2f} ms, best {1000 * min(ts):6.2f} ms")


if __name__ == "__main__":
    main()
