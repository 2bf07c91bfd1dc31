"""/mcp: the MCP server over Streamable HTTP, when the mcp extra is installed
(persona.mcp.http). Not an OpenAPI operation: the API's description names it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext

from fastapi import FastAPI
from starlette.routing import Route

from persona.service import PersonaService
from persona.settings import Settings


def install_mcp(app: FastAPI, settings: Settings) -> None:
    """Add the /mcp route; its session manager runs in the app's lifespan (``mcp_sessions``)."""
    try:
        from persona.mcp.http import MCP_METHODS, MCP_PATH, McpEndpoint, session_manager
    except ImportError:  # no mcp extra: no /mcp
        app.state.mcp_sessions = None
        return

    def service() -> PersonaService:
        started: PersonaService = app.state.service
        return started

    sessions = session_manager(service, settings)
    app.state.mcp_sessions = sessions
    app.router.routes.append(Route(MCP_PATH, McpEndpoint(sessions), methods=MCP_METHODS))


def mcp_sessions(app: FastAPI) -> AbstractAsyncContextManager[None]:
    """The MCP sessions' lifetime: entered once the service has started, left before it stops."""
    if app.state.mcp_sessions is None:
        return nullcontext()
    running: AbstractAsyncContextManager[None] = app.state.mcp_sessions.run()
    return running
