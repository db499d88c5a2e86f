"""Worker-process set-up for tests of ``--concurrency``: make a worker die on one document.

Passed as ``run_batch(worker_init=die_on, worker_init_args=(name,))``; runs inside each worker
process (importable there because the workers get this process's ``sys.path``).
"""

from __future__ import annotations

import os
import signal


def die_on(name: str, how: str = "kill") -> None:
    import extractor.files as files

    real = files.extract_document

    def extract(doc, **kw):
        if doc.name == name:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
            os._exit(3)
        return real(doc, **kw)

    files.extract_document = extract
