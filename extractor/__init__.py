"""extractor: verified structured records from 政府信息公开工作年度报告.

Public API::

    from extractor import load, extract, verify_record, process, Source
    record = extract("report.txt")      # load → layout → parse → verify → decide
    outcome = process(Source.from_bytes(data, "report.pdf"), store)   # the one input path: a file, a URL or
                                        # bytes; budgets, failed records, skip finished, save (see extractor.sources)
    findings = verify_record(record, load("report.txt"))   # grounding and identities again

(``extractor.verify`` is the verification package; the function is ``verify_record``.)
"""

__version__ = "0.1.0"

from .loaders import load  # noqa: E402
from .pipeline import extract, extract_document  # noqa: E402
from .sources import Source, process  # noqa: E402
from .verify import verify_record  # noqa: E402

__all__ = ["load", "extract", "extract_document", "verify_record", "process", "Source", "__version__"]
