"""The committed spec lints clean: Redocly CLI (`recommended`) and Spectral (`spectral:oas`).

Redocly reads tools/contract/redocly.yaml with its .redocly.lint-ignore.yaml (not the
repository root, where openapi-typescript would take it for its own configuration), Spectral
the root's .spectral.yaml; each exception says why it is one.
A warning fails as an error does: a warning left alone is a problem nobody decided on.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import NODE_TOOLS, REPO, SPEC, node_tool, run_tool


def test_redocly_lint_reports_no_errors_or_warnings() -> None:
    redocly = node_tool("redocly")

    done = run_tool(
        [redocly, "lint", "--format=json", "--config", NODE_TOOLS / "redocly.yaml"], REPO
    )

    report = json.loads(done.stdout)
    problems = [
        f"{p['ruleId']} ({p['severity']}): {p['message']} at {p['location'][0]['pointer']}"
        for p in report["problems"]
    ]
    assert report["totals"]["errors"] == 0, problems
    assert report["totals"]["warnings"] == 0, problems
    # The one deliberate exception (GET /health has no 4xx) stays the only one.
    assert report["totals"]["ignored"] == 1


def test_spectral_oas_lint_reports_no_errors_or_warnings(tmp_path: Path) -> None:
    spectral = node_tool("spectral")
    report = tmp_path / "spectral.json"

    run_tool(
        [
            spectral, "lint", "--ruleset", REPO / ".spectral.yaml", "--fail-severity", "warn",
            "--format", "json", "--output", report, SPEC,
        ],
        REPO,
    )  # fmt: skip

    assert json.loads(report.read_text(encoding="utf-8")) == []
