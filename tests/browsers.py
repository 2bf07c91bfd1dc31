"""Debian's Chromium for the browser tests: where it is, and what to do when it is missing.

The tests never install the browser: .ci/run does that in CI. A missing browser skips
them, saying how to run them, unless PERSONA_REQUIRE_BROWSER=1 (set by .ci/run) makes it a
failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = "PERSONA_REQUIRE_BROWSER"
# Read at import: the autouse fixture of tests/conftest.py removes PERSONA_* variables
# from the environment before each test runs.
BROWSER_REQUIRED = os.environ.get(REQUIRE_BROWSER) == "1"
OFFLINE_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Containers often have a small /dev/shm; the launcher's own check for it can misfire.
    "--disable-dev-shm-usage",
    # No name resolves and no non-loopback address is reachable: only 127.0.0.1 is.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
)  # fmt: skip
"""Chromium headless and cut off from every network but the loopback server's."""


def unavailable(message: str, *, required: bool) -> None:
    """Skip, saying how to run the test, or fail when the browser is ``required``."""
    if required:
        pytest.fail(f"{message}; {REQUIRE_BROWSER}=1 makes this a failure")
    pytest.skip(f"{message}, or set {REQUIRE_BROWSER}=1 to make this a failure")


def find_chromium(binary: Path, *, required: bool) -> Path:
    """``binary``; when it is missing, a skip saying how to run these tests, or a failure
    when ``required``."""
    if not os.access(binary, os.X_OK):
        unavailable(
            f"{binary} is missing: install Debian's chromium package "
            "(sudo apt-get install -y chromium) to run the browser tests",
            required=required,
        )
    return binary


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """Playwright's Chromium on Debian's binary, headless and offline; a skip (or a failure
    under PERSONA_REQUIRE_BROWSER=1) when the browser or Playwright is missing."""
    find_chromium(CHROMIUM, required=BROWSER_REQUIRED)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(
            "playwright is not installed (hatch test installs it)", required=BROWSER_REQUIRED
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(OFFLINE_ARGS), headless=True
        )
        yield launched
        launched.close()
