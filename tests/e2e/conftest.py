"""What the end-to-end tests share: a data directory for the servers they start, and a
provider that never answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import StalledProvider, make_data_dir


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The example interviews as ``interviews.csv``, and ``small.csv``."""
    return make_data_dir(tmp_path)


@pytest.fixture(scope="module")
def stalled_provider() -> Iterator[StalledProvider]:
    """An OpenAI-compatible API on loopback that takes requests and never answers: runs on it
    stay running."""
    provider = StalledProvider()
    yield provider
    provider.close()
