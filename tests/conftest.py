"""Shared test fixtures: where the real reports are (``../shared``), and synthetic reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(__import__("os").environ.get("EXTRACTOR_SHARED", ROOT.parent / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/synth.py


def shared_path(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real reports not available: {p} is missing (CI places ../shared beside the checkout)")
    return p


@pytest.fixture
def samples_dir() -> Path:
    return shared_path("samples")


@pytest.fixture
def corpus_dir() -> Path:
    return shared_path("corpus")
