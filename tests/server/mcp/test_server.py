"""Done when: building the MCP server (as `persona serve` does for /mcp, and `persona mcp`)
leaves the process's logging as it was: the SDK would otherwise give the root logger a
handler of its own at INFO, and every library's log lines would change format."""

from __future__ import annotations

import logging

import pytest
from persona.api import create_app
from persona.mcp import build_server
from persona.settings import Settings


def test_building_the_server_leaves_the_root_logger_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a process that configured nothing
    monkeypatch.setattr(root, "level", logging.WARNING)
    build_server(lambda: pytest.fail("no service is needed to build the server"))
    create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    assert root.handlers == [] and root.level == logging.WARNING
