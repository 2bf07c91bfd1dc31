"""What the end-to-end tests share: a data directory for the servers they start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import make_data_dir


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The example interviews as ``interviews.csv``, and ``small.csv``."""
    return make_data_dir(tmp_path)
