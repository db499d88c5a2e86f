"""Serve the hostile test model (tests/llm_fixtures.py HostileTableModel) as an OpenAI-compatible
endpoint on 127.0.0.1, to measure what a model that answers tables wrong on purpose does to a run:

    .venv/bin/python scripts/hostile_model.py --port 8799 &
    OPENAI_BASE_URL=http://127.0.0.1:8799/v1 OPENAI_API_KEY=x \\
        .venv/bin/extractor run ../shared/corpus/reports --out /tmp/hostile --tables both
    .venv/bin/extractor eval --gold ../shared/corpus/gold --db /tmp/hostile/extractor.db

A test fixture, never a model: it zero-fills blanks, re-cuts digit runs, quotes other sections,
invents numbers and answers cells it was not asked for. Stop it with Ctrl+C (or kill its PID).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from llm_fixtures import HostileTableModel, OpenAIStub  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8799)
    args = ap.parse_args()
    model = HostileTableModel()
    stub = OpenAIStub(model, port=args.port)
    with stub:
        print(f"hostile model on {stub.base_url}", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            print(f"answered {model.requests} requests: {model.answers}")


if __name__ == "__main__":
    main()
