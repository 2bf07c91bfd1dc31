"""``persona mcp``: the MCP server on stdin and stdout, for desktop assistants that start it.

stdout carries the protocol alone: logs go to stderr, which assistants show in their logs.
"""

from __future__ import annotations

from persona.mcp.server import build_server
from persona.service import PersonaService
from persona.settings import Settings


async def serve_stdio(settings: Settings) -> None:
    """Serve until the client closes stdin; active runs stay re-queueable, as with serve."""
    async with PersonaService(settings) as service:
        await build_server(lambda: service).run_stdio_async()
