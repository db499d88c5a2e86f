"""Layout and table parsing alone, on a folder of reports: documents are loaded once, then
``layout.analyze`` and ``parse.parse_tables`` run ``--repeat`` times over all of them.

    python bench/bench_parse.py DOCS [--repeat 5] [--profile]

Figures only: CPU ms per document (process time, steadier on a shared machine), best of ``--repeat`` (``--profile`` prints the cProfile top items
of one more pass instead of timing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("docs", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sort", default="tottime")
    args = ap.parse_args()

    from extractor.batch import discover
    from extractor.layout import analyze
    from extractor.loaders import load_bytes
    from extractor.parse import parse_tables
    from extractor.tablespec import table_specs

    table_specs()
    docs = [load_bytes(f.read_bytes(), f.name, path=str(f)) for f in discover([args.docs])]
    n = len(docs)

    def one_pass() -> tuple[float, float]:
        t_layout = t_parse = 0.0
        for doc in docs:
            t0 = time.process_time()
            layout = analyze(doc)
            t1 = time.process_time()
            parse_tables(doc, layout)
            t2 = time.process_time()
            t_layout += t1 - t0
            t_parse += t2 - t1
        return t_layout, t_parse

    if args.profile:
        import cProfile
        import pstats

        one_pass()
        prof = cProfile.Profile()
        prof.enable()
        one_pass()
        prof.disable()
        pstats.Stats(prof).sort_stats(args.sort).print_stats(40)
        return
    best_l = best_p = float("inf")
    for _ in range(args.repeat):
        tl, tp = one_pass()
        best_l, best_p = min(best_l, tl), min(best_p, tp)
    print(f"{n} documents; best of {args.repeat}")
    print(f"  layout        {1000 * best_l / n:6.3f} ms/doc")
    print(f"  parse tables  {1000 * best_p / n:6.3f} ms/doc")


if __name__ == "__main__":
    main()
