"""DNS rebinding: a webhook's host resolves to a public address when it is checked and to a
private one a moment later. The delivery connects to the address that was checked, with the
URL's host in the Host header (and as the TLS server name), and never to the second answer.

The machine's resolver (``socket.getaddrinfo``, which both the check and an HTTP client's
own connect use) is replaced by one that answers the public address first and loopback
after. The public address is routed to a receiver on loopback, standing for the host that
was checked; a second receiver listens where the rebound name points.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from persona.schemas import ExperimentCreate, GenerationConfig
from persona.service import PersonaService
from persona.settings import Settings
from persona.webhooks.schemas import WebhookCreate
from persona.webhooks.sender import pinned

from tests.fakes.receiver import WebhookReceiver
from tests.server.conftest import ScriptedProvider, WaitUntil

HOST = "rebind.example"
PUBLIC = "93.184.215.14"
WITHIN = 30.0


class RebindingResolver:
    """Answers ``PUBLIC`` for ``HOST`` on its first look-up and loopback on every later one;
    any other name goes to the real resolver."""

    def __init__(self) -> None:
        self.lookups = 0
        self._real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name != HOST:
            return self._real(host, port, *args, **kwargs)
        self.lookups += 1
        address = PUBLIC if self.lookups == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> RebindingResolver:
    fake = RebindingResolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def route_public_to(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections to ``PUBLIC`` (any port) reach 127.0.0.1:``port`` instead: the network
    between the sender and the host that was checked."""
    real = anyio.connect_tcp

    async def routed(remote_host: Any, remote_port: int, **kwargs: Any) -> Any:
        if str(remote_host) == PUBLIC:
            remote_host, remote_port = "127.0.0.1", port
        return await real(remote_host, remote_port, **kwargs)

    monkeypatch.setattr(anyio, "connect_tcp", routed)


async def test_a_delivery_goes_to_the_checked_address_not_a_rebound_one(
    make_settings: Callable[..., Settings],
    scripted: ScriptedProvider,
    wait_until: WaitUntil,
    resolver: RebindingResolver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(webhook_allow_private=False, webhook_retry_delays=[0.2])
    with WebhookReceiver() as checked, WebhookReceiver() as rebound:
        route_public_to(checked.server.server_address[1], monkeypatch)
        rebound_port = rebound.server.server_address[1]
        url = f"http://{HOST}:{rebound_port}/hooks"
        async with PersonaService(settings) as service:
            hook = await service.create_webhook(WebhookCreate(url=url, events=["run.queued"]))
            resolver.lookups = 0  # the delivery's own check is the first look-up from here
            experiment = await service.create_experiment(
                ExperimentCreate(
                    name="rebinding",
                    data_sources=["interviews.csv"],
                    config=GenerationConfig(provider="local", persona_count=1),
                )
            )
            await service.start_run(experiment.id)
            (delivery,) = await asyncio.to_thread(checked.wait_for, 1)

            async def settled() -> bool:
                page = await service.list_webhook_deliveries(hook.id)
                return [d.status for d in page.items] == ["succeeded"]

            await wait_until(settled, within=WITHIN)

    assert delivery.headers["host"] == f"{HOST}:{rebound_port}"
    assert rebound.deliveries == []
    assert resolver.lookups == 1, "the sender resolved the name again after checking it"


def test_an_https_delivery_keeps_the_host_as_the_tls_server_name() -> None:
    url, headers, extensions = pinned("https://Hooks.bücher.example/in?x=1", PUBLIC)

    assert str(url) == f"https://{PUBLIC}/in?x=1"
    assert headers == {"Host": "hooks.xn--bcher-kva.example"}
    assert extensions == {"sni_hostname": "hooks.xn--bcher-kva.example"}
    # With private targets allowed nothing was checked: the URL is sent as it is.
    assert pinned("https://[2001:db8::1]:8443/a", None) == (
        httpx.URL("https://[2001:db8::1]:8443/a"),
        {},
        {},
    )
