from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "sources"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

MakeFile = Callable[[str, str | bytes], Path]


@pytest.fixture
def fixtures_dir() -> Path:
    """The committed small fixture files, used as a read-only data directory."""
    return FIXTURES


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory with a sibling 'outside' folder next to it."""
    root = tmp_path / "data"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    return root


@pytest.fixture
def make_file(data_dir: Path) -> MakeFile:
    """Write a file under the data directory (parents created) and return its path."""

    def make(name: str, content: str | bytes) -> Path:
        path = data_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return make
