"""Loading alone (bytes → Document), per real report of ../shared and per synthetic HTML page.

    python bench/bench_loaders.py [--repeat 5]

CPU time of this process, best of ``--repeat`` batches (shared machines are noisy). Figures only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))

from extractor.loaders import load_bytes  # noqa: E402
from synth import make_values, render  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    items: list[tuple[str, bytes]] = []
    for folder in (SHARED / "corpus" / "reports", SHARED / "samples"):
        if folder.is_dir():
            items += [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]
    items.append(("synth.html", render(make_values(3), "html").encode("utf-8")))
    print(f"loading only, CPU ms per document (best of {args.repeat} batches):")
    for name, raw in items:
        load_bytes(raw, name)  # warm-up
        slow = name.endswith(".pdf")
        n = 1 if slow else 10
        best = min(_batch(raw, name, n) for _ in range(args.repeat if not slow else 2))
        print(f"  {name:34s} {len(raw) / 1024:7.1f} KB  {1000 * best:8.2f} ms")


def _batch(raw: bytes, name: str, n: int) -> float:
    t = time.process_time()
    for _ in range(n):
        load_bytes(raw, name)
    return (time.process_time() - t) / n


if __name__ == "__main__":
    main()
