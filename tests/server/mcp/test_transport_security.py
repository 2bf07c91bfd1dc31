"""Done when: /mcp accepts the Host and Origin headers of the address the server listens
on, of loopback, of PERSONA_ALLOWED_HOSTS and of PERSONA_CORS_ORIGINS, and refuses others
(DNS-rebinding protection) rather than the SDK's defaults, which refuse every host but
localhost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp.server.transport_security import TransportSecurityMiddleware
from persona.mcp.http import transport_security
from persona.settings import Settings
from starlette.requests import Request


def _checked(settings: Settings, host: str, origin: str | None = None) -> int:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/mcp", "headers": headers}
    middleware = TransportSecurityMiddleware(transport_security(settings))
    refused = asyncio.run(middleware.validate_request(Request(scope)))
    return 200 if refused is None else refused.status_code


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("values", "host", "origin", "status"),
    [
        ({}, "127.0.0.1:8000", None, 200),
        ({}, "localhost:8000", "http://localhost:8000", 200),
        ({}, "[::1]:8000", None, 200),
        ({}, "attacker.example:8000", None, 421),
        ({}, "127.0.0.1:8000", "http://attacker.example", 403),
        ({"host": "10.1.2.3"}, "10.1.2.3:8000", "http://10.1.2.3:8000", 200),
        ({"host": "10.1.2.3"}, "10.9.9.9:8000", None, 421),
        ({"host": "::"}, "anything.example", "http://anything.example", 200),
        ({"host": "0.0.0.0", "allowed_hosts": "persona.internal"}, "persona.internal", None, 200),
        ({"host": "0.0.0.0", "allowed_hosts": "persona.internal"}, "10.1.2.3:8000", None, 421),
        ({"allowed_hosts": "Persona.Example, other.example"}, "persona.example", None, 200),
        ({"allowed_hosts": "persona.example"}, "persona.example", "https://persona.example", 200),
        ({"cors_origins": "https://app.example"}, "127.0.0.1:8000", "https://app.example", 200),
        ({"cors_origins": "https://app.example"}, "127.0.0.1:8000", "https://evil.example", 403),
    ],
)  # fmt: skip
def test_host_and_origin_checks_follow_the_server_s_settings(
    monkeypatch: pytest.MonkeyPatch,
    values: dict[str, str],
    host: str,
    origin: str | None,
    status: int,
) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"PERSONA_{name.upper()}", value)
    assert _checked(_settings(), host, origin) == status
