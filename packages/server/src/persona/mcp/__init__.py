"""The MCP server: Persona's curated tools, resources and prompt for AI assistants.

``persona mcp`` serves it on stdio (persona.mcp.stdio); ``persona serve`` at ``/mcp`` over
Streamable HTTP, behind the API's authentication (persona.mcp.http). Every tool, resource
and prompt calls ``PersonaService``, with the names the SDK and the REST API use. Needs the
``mcp`` extra.
"""

from persona.mcp.server import build_server

__all__ = ["build_server"]
