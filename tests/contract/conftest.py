"""Tools for the contract tests: linters and client generators run on schemas/openapi.json.

The Python generators are test dependencies (hatch.toml). The rest come from the machine:
Java for openapi-generator (Debian's default-jre-headless) and the npm packages pinned in
tools/contract (``npm ci`` there). Where one is missing the test is skipped, unless
PERSONA_REQUIRE_TOOLS=1 (.ci/run sets it): in CI a missing tool fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "schemas" / "openapi.json"
NODE_TOOLS = REPO / "tools" / "contract"
NODE_BIN = NODE_TOOLS / "node_modules" / ".bin"
NPM_CI_HINT = "run `npm ci` in tools/contract (Node.js >= 20.19)"
# Read at import: the autouse _clean_environment fixture removes PERSONA_* during each test.
REQUIRE_TOOLS = os.environ.get("PERSONA_REQUIRE_TOOLS") == "1"
TOOL_TIMEOUT = 300.0
# Redocly CLI would report usage to redocly.com and check npm for a newer version.
QUIET_NODE_ENV = {
    "REDOCLY_TELEMETRY": "off",
    "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
    "NO_UPDATE_NOTIFIER": "1",
}


def missing(message: str) -> None:
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (PERSONA_REQUIRE_TOOLS=1: every contract tool must be present)")
    pytest.skip(message)


def node_tool(name: str) -> Path:
    """An executable from tools/contract/node_modules/.bin (and Node.js to run it)."""
    if shutil.which("node") is None:
        missing(f"node is not installed: install Node.js >= 20.19, then {NPM_CI_HINT}")
    path = NODE_BIN / name
    if not path.exists():
        missing(f"{name} is not installed: {NPM_CI_HINT}")
    return path


def java() -> str:
    found = shutil.which("java")
    if found is None:
        missing(
            "java is not installed (openapi-generator runs on it): apt-get install -y "
            "default-jre-headless"
        )
    return str(found)


def run_tool(argv: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion; a non-zero exit fails the test with its output."""
    done = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env={**os.environ, **QUIET_NODE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, argv))} exited with {done.returncode}:\n"
            f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        )
    return done
