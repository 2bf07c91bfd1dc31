"""Fixtures for every test: a clean environment, and where the shipped example data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "examples"

# Keys that would make tests depend on the machine they run on.
_PROVIDER_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PERSONA_* setting or provider key leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("PERSONA_") or name in _PROVIDER_KEYS:
            monkeypatch.delenv(name)


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES_DIR
