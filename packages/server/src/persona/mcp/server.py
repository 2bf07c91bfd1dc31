"""The MCP server: Persona's tools, resources and prompt over one service."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from persona.__about__ import __version__
from persona.mcp.errors import error_result, problem_of, scope_problem
from persona.mcp.prompts import add_prompts
from persona.mcp.resources import add_resources
from persona.mcp.scopes import TOOL_SCOPES, principal_of
from persona.mcp.tools import ServiceSource, add_tools

INSTRUCTIONS = """\
Persona turns qualitative research data (interview transcripts, survey exports, notes) into
evidence-backed user personas. The usual path: create_experiment from files in the data
directory or pasted text; start_run; wait_for_run; list_personas; get_persona for one in
full; search_evidence for what participants said. Every persona statement cites evidence
ids; persona://runs/{run_id}/evidence/{evidence_id} reads one record. Persona names are
invented.
"""


class PersonaMcpServer(MCPServer[Any]):
    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Arguments that do not fit a tool's schema are a tool error with the code and
        message of the API's validation problems, like any other error of a tool. A caller
        over HTTP whose key lacks the tool's scope gets the API's 403 problem."""
        needed = TOOL_SCOPES.get(name)
        request = context.request_context.request if context is not None else None
        principal = principal_of(request)
        if needed is not None and principal is not None and not principal.allows(needed):
            return error_result(scope_problem(principal, needed))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return error_result(problem_of(exc.__cause__))
            raise


@contextmanager
def root_logging_left_alone() -> Iterator[None]:
    """MCPServer() configures the root logger (a rich handler, level INFO) unless it has a
    handler already; the process that builds one has its own logging (``persona serve``),
    or keeps Python's default (``persona mcp``: warnings on stderr)."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)


def build_server(service: ServiceSource) -> PersonaMcpServer:
    """The MCP server over the started service ``service()`` gives, on any transport."""
    with root_logging_left_alone():
        server = PersonaMcpServer(
            "persona", title="Persona", version=__version__, instructions=INSTRUCTIONS
        )
    add_tools(server, service)
    add_resources(server, service)
    add_prompts(server, service)
    return server
