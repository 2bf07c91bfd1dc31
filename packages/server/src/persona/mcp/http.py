"""/mcp on ``persona serve``: the MCP server over Streamable HTTP, behind the API's own
authentication, with Host and Origin checked against the server's settings.

DNS-rebinding protection: a web page an attacker serves can make a browser resolve its own
host name to this server's address; the Host header then names the attacker's host, and
Origin the attacker's page. Hosts accepted: the address the server listens on, loopback,
and ``PERSONA_ALLOWED_HOSTS``. Origins accepted: those hosts' and ``PERSONA_CORS_ORIGINS``.
A server listening on every interface (0.0.0.0) with no allowed hosts cannot know the names
it is reached by, and checks neither; its token (required off loopback) guards it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from persona.api.auth import authorize
from persona.mcp.scopes import ENDPOINT_SCOPE
from persona.mcp.server import build_server
from persona.mcp.tools import ServiceSource
from persona.settings import Settings

MCP_PATH = "/mcp"
MCP_METHODS = ["POST"]
"""A server that keeps no session has no stream to open (GET) and none to end (DELETE):
both get 405, as the transport allows, rather than a stream that never carries anything."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _host_name(host: str) -> str:
    """A host as a Host header carries it: an IPv6 address in brackets."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower()
    return f"[{address}]" if address.version == 6 else str(address)


def _listens_everywhere(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Which Host and Origin headers /mcp accepts (see the module's docstring)."""
    if _listens_everywhere(settings.host) and not settings.allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = [*LOOPBACK_HOSTS, *(_host_name(h) for h in [settings.host, *settings.allowed_hosts])]
    names = list(dict.fromkeys(names))
    hosts = [pattern for name in names for pattern in (name, f"{name}:*")]
    origins = [f"{scheme}://{pattern}" for pattern in hosts for scheme in ("http", "https")] + list(
        settings.cors_origins
    )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class McpEndpoint:
    """The ASGI endpoint of /mcp: the API's access check (``authorize``, the one check every
    protected route makes: key or token, read scope, rate limits), then the MCP session
    manager; each tool checks the scope it needs (``persona.mcp.scopes``). A refusal is
    raised to the app's error handlers, which answer it as for any route."""

    def __init__(self, sessions: Callable[[], StreamableHTTPSessionManager]) -> None:
        self.sessions = sessions
        """The session manager of the app's running lifespan."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await authorize(Request(scope, receive), ENDPOINT_SCOPE)
        await self.sessions().handle_request(scope, receive, send)


def session_manager(service: ServiceSource, settings: Settings) -> StreamableHTTPSessionManager:
    """The Streamable HTTP session manager of a new MCP server over the app's service."""
    server = build_server(service)
    # Builds the manager (kept on the server); the Starlette app it comes in is not used:
    # /mcp is a route of the API's app, and its lifespan runs the manager.
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        # Each request on its own, no session kept in this process: the next request of a
        # client may reach another worker process (--workers) or replica. Progress still
        # streams on the response of the request it belongs to.
        stateless_http=True,
        transport_security=transport_security(settings),
        max_request_body_size=settings.max_body_bytes,
    )
    return server.session_manager
