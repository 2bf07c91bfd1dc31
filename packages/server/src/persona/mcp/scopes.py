"""The access each MCP tool needs, as data: the one place the server's key scopes are
checked against when a caller's access is limited.

Reading tools need ``read``; tools that create, start, cancel or delete need ``write``.
Resources and the prompt only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from persona.access.principal import Principal
from persona.access.scopes import Scope

TOOL_SCOPES: Mapping[str, Scope] = {
    "create_experiment": Scope.write,
    "start_run": Scope.write,
    "get_run": Scope.read,
    "wait_for_run": Scope.read,
    "cancel_run": Scope.write,
    "list_personas": Scope.read,
    "get_persona": Scope.read,
    "search_evidence": Scope.read,
    "list_experiments": Scope.read,
    "delete_experiment": Scope.write,
}
RESOURCE_SCOPE = Scope.read
PROMPT_SCOPE = Scope.read
ENDPOINT_SCOPE = Scope.read
"""What /mcp itself needs: every request of it reads at least."""


def principal_of(request: Any) -> Principal | None:
    """Who an MCP request over HTTP acts as, as /mcp's check found it (None over stdio, whose
    caller started the process and may do anything)."""
    if request is None:
        return None
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal
