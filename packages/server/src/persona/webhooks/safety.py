"""Where a webhook may point: http(s) URLs whose host resolves to public addresses only.

A server that calls any URL a client gives it can be made to reach into its own network
(SSRF): the cloud metadata service, an admin port on loopback, a database on a private
network. So targets on loopback, private, link-local, shared, reserved or multicast
addresses are refused, unless ``PERSONA_WEBHOOK_ALLOW_PRIVATE=true``. The check runs when a
webhook is created and again before every delivery, against the addresses the host
resolves to then (a name may be re-pointed after creation). A delivery then connects to the
address that was checked, not to the name: a second look-up could answer differently (DNS
rebinding) and reach a private address after all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from persona.errors import InvalidInputError

URL_LOCATION: list[str | int] = ["body", "url"]


class UnsafeTarget(Exception):
    """The URL may not be called; the message says why."""


def check_url_shape(url: str) -> tuple[str, int]:
    """The URL's host and port; InvalidInputError for anything but a plain http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidInputError(f"not a valid URL: {exc}", location=URL_LOCATION) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            "the URL must start with http:// or https:// and name a host", location=URL_LOCATION
        )
    if parts.username or parts.password:
        raise InvalidInputError("the URL may not carry credentials", location=URL_LOCATION)
    return parts.hostname, port


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order of preference."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_target(url: str, *, allow_private: bool) -> str | None:
    """The checked address to connect to for ``url``; UnsafeTarget when the host resolves
    to an address a webhook may not reach. None when private targets are allowed: nothing
    is checked, and the name is resolved when connecting."""
    host, port = check_url_shape(url)
    if allow_private:
        return None
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise UnsafeTarget(f"cannot resolve {host!r}: {exc}") from None
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not address.is_global or address.is_multicast:
            raise UnsafeTarget(
                f"{host!r} resolves to {address}, a loopback, private, link-local or "
                "reserved address (set PERSONA_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
            )
    if not addresses:
        raise UnsafeTarget(f"{host!r} resolves to no address")
    return addresses[0]
