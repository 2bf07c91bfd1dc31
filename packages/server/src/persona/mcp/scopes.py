"""The access each MCP tool needs, as data: the one place the server's key scopes are
checked against when a caller's access is limited.

Reading tools need ``read``; tools that create, start, cancel or delete need ``write``.
Resources and the prompt only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Scope = Literal["read", "write"]

TOOL_SCOPES: Mapping[str, Scope] = {
    "create_experiment": "write",
    "start_run": "write",
    "get_run": "read",
    "wait_for_run": "read",
    "cancel_run": "write",
    "list_personas": "read",
    "get_persona": "read",
    "search_evidence": "read",
    "list_experiments": "read",
    "delete_experiment": "write",
}
RESOURCE_SCOPE: Scope = "read"
PROMPT_SCOPE: Scope = "read"
