"""Webhook deliveries through the service, to a real receiver on 127.0.0.1: signed per
Standard Webhooks (checked with the standardwebhooks library), retried, kept across a
restart, disabled by 410, signed with both secrets during a rotation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
import standardwebhooks
from persona.schemas import ExperimentCreate, GenerationConfig
from persona.service import PersonaService
from persona.settings import Settings
from persona.storage import Database, Repository
from persona.webhooks import sender as sender_module
from persona.webhooks.schemas import WebhookCreate, WebhookDelivery

from tests.fakes.receiver import Delivery, WebhookReceiver
from tests.server.conftest import ScriptedProvider, WaitUntil

WITHIN = 30.0
TERMINAL = ["run.succeeded", "run.failed", "run.cancelled"]


@pytest.fixture
def hook_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(webhook_allow_private=True, webhook_retry_delays=[0.2, 0.2])


def _body() -> ExperimentCreate:
    return ExperimentCreate(
        name="study",
        data_sources=["interviews.csv"],
        config=GenerationConfig(provider="local", persona_count=2),
    )


def _verified(delivery: Delivery, secret: str) -> dict[str, object]:
    payload = standardwebhooks.Webhook(secret).verify(delivery.body, delivery.headers)
    assert isinstance(payload, dict)
    return payload


async def _deliveries(
    service: PersonaService, webhook_id: str, wait_until: WaitUntil, settled: int
) -> list[WebhookDelivery]:
    """The webhook's deliveries once ``settled`` of them are no longer pending."""

    async def done() -> bool:
        page = await service.list_webhook_deliveries(webhook_id)
        return sum(d.status != "pending" for d in page.items) >= settled

    await wait_until(done, within=WITHIN)
    return (await service.list_webhook_deliveries(webhook_id)).items


async def test_a_failed_delivery_is_retried_and_every_attempt_is_signed(
    hook_settings: Settings, scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    with WebhookReceiver(500) as receiver:
        async with PersonaService(hook_settings) as service:
            hook = await service.create_webhook(WebhookCreate(url=receiver.url, events=TERMINAL))
            experiment = await service.create_experiment(_body())
            run = (await service.start_run(experiment.id)).run
            await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)

            first, second = await asyncio.to_thread(receiver.wait_for, 2)
            deliveries = await _deliveries(service, hook.id, wait_until, settled=1)

    assert (first.answered, second.answered) == (500, 200)
    payloads = [_verified(d, hook.secret) for d in (first, second)]
    assert payloads[0] == payloads[1]
    assert payloads[0]["type"] == "run.succeeded" and payloads[0]["run_id"] == run.id
    assert (
        first.headers["webhook-id"]
        == second.headers["webhook-id"]
        == f"{run.id}:{payloads[0]['id']}"
    )
    assert json.loads(first.body) == payloads[0]
    (delivery,) = deliveries
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 2, 200)
    assert delivery.next_attempt_at is None and delivery.duration_ms is not None
    assert len(receiver.deliveries) == 2, "only the terminal event was asked for"


async def test_deliveries_pending_at_a_stop_are_sent_after_the_restart(
    hook_settings: Settings,
    scripted: ScriptedProvider,
    wait_until: WaitUntil,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patched:  # a first life whose sender never gets to send
        patched.setattr(sender_module, "POLL_INTERVAL", 3600.0)
        async with PersonaService(hook_settings) as service:
            with WebhookReceiver() as receiver:
                url = receiver.url
            hook = await service.create_webhook(WebhookCreate(url=url, events=["run.queued"]))
            experiment = await service.create_experiment(_body())
            run = (await service.start_run(experiment.id)).run
            (pending,) = (await service.list_webhook_deliveries(hook.id)).items
    assert (pending.status, pending.attempts) == ("pending", 0)

    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with WebhookReceiver(port=port) as back:
        async with PersonaService(hook_settings) as restarted:
            (delivery,) = await asyncio.to_thread(back.wait_for, 1)
            settled = await _deliveries(restarted, hook.id, wait_until, settled=1)
    assert _verified(delivery, hook.secret)["run_id"] == run.id
    # The one pending at the stop. (A run the stop caught running is queued again by the
    # restarted service: a second run.queued, delivered in its own time.)
    (sent,) = [d for d in settled if d.id == pending.id]
    assert (sent.status, sent.attempts) == ("succeeded", 1)


async def test_a_receiver_answering_410_disables_its_webhook(
    hook_settings: Settings, scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    with WebhookReceiver(410) as receiver:
        async with PersonaService(hook_settings) as service:
            hook = await service.create_webhook(
                WebhookCreate(url=receiver.url, events=["run.succeeded"])
            )
            experiment = await service.create_experiment(_body())
            for _ in range(2):  # the second run's end is not sent: the webhook is disabled
                run = (await service.start_run(experiment.id)).run
                await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)
                await _deliveries(service, hook.id, wait_until, settled=1)
            disabled = await service.get_webhook(hook.id)
            deliveries = (await service.list_webhook_deliveries(hook.id)).items

    assert disabled.enabled is False and "410" in (disabled.disabled_reason or "")
    assert len(receiver.deliveries) == 1
    assert [(d.status, d.response_status) for d in deliveries] == [("failed", 410)]


async def test_after_a_rotation_both_secrets_sign_and_a_redelivery_is_sent_again(
    hook_settings: Settings, scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    with WebhookReceiver() as receiver:
        async with PersonaService(hook_settings) as service:
            hook = await service.create_webhook(
                WebhookCreate(url=receiver.url, events=["run.succeeded"])
            )
            rotated = await service.rotate_webhook_secret(hook.id)
            experiment = await service.create_experiment(_body())
            run = (await service.start_run(experiment.id)).run
            await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)
            (first,) = await asyncio.to_thread(receiver.wait_for, 1)
            (delivery,) = await _deliveries(service, hook.id, wait_until, settled=1)

            again = await service.redeliver_webhook_delivery(hook.id, delivery.id)
            _, second = await asyncio.to_thread(receiver.wait_for, 2)

    assert rotated.secret != hook.secret
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert _verified(first, hook.secret) == _verified(first, rotated.secret)
    assert again.status == "pending"
    assert second.headers["webhook-id"] == first.headers["webhook-id"]


async def test_an_attempt_cut_short_by_a_stop_is_sent_at_the_next_start(
    hook_settings: Settings, scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    """Not after its lease: the stop gives the delivery back."""
    stalled = WebhookReceiver(stall=True)
    port = stalled.server.server_address[1]
    async with PersonaService(hook_settings) as service:
        hook = await service.create_webhook(WebhookCreate(url=stalled.url, events=["run.queued"]))
        experiment = await service.create_experiment(_body())
        await service.start_run(experiment.id)
        await asyncio.to_thread(stalled.wait_for, 1)  # the attempt is in flight: stop now
    stalled.close()
    (interrupted,) = await _page(hook_settings, hook.id)
    assert (interrupted.status, interrupted.error) == ("pending", "interrupted by a server stop")

    with WebhookReceiver(port=port) as back:
        async with PersonaService(hook_settings) as restarted:
            (delivery,) = await asyncio.to_thread(back.wait_for, 1, 10.0)
            await _deliveries(restarted, hook.id, wait_until, settled=1)
    assert _verified(delivery, hook.secret)["type"] == "run.queued"


async def _page(settings: Settings, webhook_id: str) -> list[WebhookDelivery]:
    """The deliveries as stored, read without starting a sender."""
    database = Database(settings.effective_database_url)
    try:
        return (await asyncio.to_thread(Repository(database).list_deliveries, webhook_id)).items
    finally:
        database.dispose()
