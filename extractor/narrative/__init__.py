"""The narrative reader: facts from a report's prose, beside the table readers (layout, parse).

* :mod:`.text` — the narrative's chunks (sections 一, 五, 六 outside the tables) and quote location;
* :mod:`.vocabulary` — the controlled vocabulary of ``rules/narrative_vocabulary.yaml`` (metric keys,
  anchoring phrases, exclusions, scope words);
* :mod:`.reader` — :func:`find_facts`, the deterministic finder.

Numbers are read by :mod:`extractor.numbers`; the rules that check facts are in
:mod:`extractor.verify.narrative`.
"""

from .reader import find_facts
from .text import chunk_text, locate, narrative_chunks, squeeze

__all__ = ["chunk_text", "find_facts", "locate", "narrative_chunks", "squeeze"]
