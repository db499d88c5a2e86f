"""The collector's settings for a batch process (extractor/gcpolicy.py): fewer collections, and
garbage in cycles is still freed."""

from __future__ import annotations

import gc
import weakref

from extractor import gcpolicy


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_a_batch_process_still_frees_garbage_in_cycles_without_an_explicit_collection():
    was = gc.get_threshold()
    try:
        gcpolicy.for_batch()
        assert gc.get_threshold()[0] == gcpolicy.YOUNG_THRESHOLD
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None
        junk = [[] for _ in range(3 * gcpolicy.YOUNG_THRESHOLD)]  # allocations trigger a young collection
        del junk
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*was)
