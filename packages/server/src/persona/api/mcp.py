"""/mcp: the MCP server over Streamable HTTP, when the mcp extra is installed
(persona.mcp.http). Not an OpenAPI operation: the API's description names it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.routing import Route

from persona.service import PersonaService
from persona.settings import Settings

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager


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

    def sessions() -> StreamableHTTPSessionManager:
        # A session manager runs once: each run of the app's lifespan gets a new one.
        return session_manager(service, settings)

    def running() -> StreamableHTTPSessionManager:
        current: StreamableHTTPSessionManager = app.state.mcp_running
        return current

    app.state.mcp_sessions = sessions
    app.router.routes.append(Route(MCP_PATH, McpEndpoint(running), methods=MCP_METHODS))


@asynccontextmanager
async def mcp_sessions(app: FastAPI) -> AsyncIterator[None]:
    """The MCP sessions' lifetime: entered once the service has started, left before it stops.

    The session manager runs in a task of its own: its task group must be left by the task
    that entered it, and a lifespan may be entered and left by different tasks (as test
    fixtures do)."""
    new_sessions = app.state.mcp_sessions
    if new_sessions is None:
        yield
        return
    sessions = app.state.mcp_running = new_sessions()
    running, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with sessions.run():
            running.set()
            await stop.wait()

    task = asyncio.create_task(run(), name="mcp sessions")
    await asyncio.wait([task, asyncio.create_task(running.wait())], return_when="FIRST_COMPLETED")
    if task.done():
        task.result()  # the manager failed to start: raise its error
    try:
        yield
    finally:
        stop.set()
        await task
