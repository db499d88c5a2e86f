"""How the narrative reader and checks scale with the length of the narrative (CPU seconds).

    python bench/narrative_scaling.py [N ...]

Builds synthetic narratives of N sentence pairs (our own text: totals with 其中 parts, applications
received and closed — thousands of statements of the same quantities, the worst case for the
same-quantity check), reads them with the deterministic finder and runs every narrative check.
Linear behaviour shows as a constant time per thousand characters.
"""

from __future__ import annotations

import random
import sys
import time
from types import SimpleNamespace

from extractor.document import from_text
from extractor.narrative import find_facts
from extractor.verify.narrative import check_facts


def narrative(n: int, seed: int = 1) -> str:
    rnd = random.Random(seed)
    out = ["一、总体情况\n"]
    for _ in range(n):
        a, b = rnd.randint(100, 999), rnd.randint(1, 99)
        out.append(f"全年通过门户网站主动公开政府信息{a}条，其中政策文件{b}条。全年收到政府信息公开申请{b}件，办结{b}件。\n")
    return "".join(out)


def main(argv: list[str]) -> int:
    sizes = [int(x) for x in argv] or [2000, 8000, 32000]
    for n in sizes:
        text = narrative(n)
        doc = from_text(text, name="bench.txt", kind="text", raw=text.encode("utf-8"), encoding="utf-8")
        layout = SimpleNamespace(sections=[SimpleNamespace(key="一", title="一、总体情况", start=0, end=len(doc.text))],
                                 regions={}, format="2021", organ=None, year=None)
        t0 = time.process_time()
        facts = find_facts(doc, layout)
        t1 = time.process_time()
        check_facts(doc, facts, layout=layout)
        t2 = time.process_time()
        kchars = len(text) / 1000
        print(f"{len(text) / 1e6:6.2f} M chars  {len(facts):7d} facts  find {t1 - t0:6.2f} s  check {t2 - t1:6.2f} s  "
              f"{(t2 - t0) / kchars * 1000:6.1f} ms per 1000 chars")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
