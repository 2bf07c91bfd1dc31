"""Where the tests' inputs live: every suite takes its files from here, none from another's.

``tests/data`` holds the inputs shared by the suites (``interviews.csv``: 18 checkout
interview answers, small enough for every API test to generate from; the source-format
fixtures under ``sources/``; the labelled quality sets under ``labelled/``). ``examples/`` is
what the README ships to users: tests that prove the shipped example works read it there.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = REPO_ROOT / "tests" / "data"
TEST_INTERVIEWS = TEST_DATA / "interviews.csv"
EXAMPLES_DIR = REPO_ROOT / "examples"
EXAMPLE_INTERVIEWS = EXAMPLES_DIR / "interviews.csv"
