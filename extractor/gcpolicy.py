"""The cyclic garbage collector's settings for a process that extracts a batch of documents.

A document makes tens of thousands of small objects (cells, spans, findings, rows) that reference
counting frees when the document is saved; almost none are in cycles. With CPython's default
thresholds (a young collection every 700 allocations) a batch runs ~3 collections per document,
and every ~10th of those walks the older generations too: every object imported at start-up (the
modules, pydantic's schemas, the rule set) again and again — about 7 % of ``extractor run --llm off``.

:func:`for_batch` moves what start-up made into the permanent generation (``gc.freeze``: never
walked again, never freed — it lives as long as the process anyway) and collects the young
generation every 10,000 allocations instead of 700. Cycles are still collected, only less often.
Only the processes that run a batch call it (``extractor run`` and its worker processes): the
library leaves a host process's collector alone.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def for_batch() -> None:
    """Set this process's collector for a batch (see the module docstring); call it after start-up."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
