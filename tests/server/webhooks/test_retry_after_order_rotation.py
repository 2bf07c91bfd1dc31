"""Webhook deliveries as the Standard Webhooks guidance asks: a receiver's Retry-After is
honoured (up to the schedule's longest delay), events of a run carry the number receivers
order them by (they may arrive out of order), and rotating twice keeps every secret still
inside its grace period."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
from persona.service import PersonaService
from persona.settings import Settings
from persona.storage import Database, Repository
from persona.storage.models import WebhookRow
from persona.webhooks.schemas import WebhookCreate, WebhookDelivery
from persona.webhooks.sender import retry_after

from tests.fakes.receiver import WebhookReceiver
from tests.server.conftest import ScriptedProvider, WaitUntil
from tests.server.webhooks.test_deliveries import WITHIN, _body

ALL = ["*"]


async def _first_attempted(
    service: PersonaService, webhook_id: str, wait_until: WaitUntil
) -> WebhookDelivery:
    async def answered() -> bool:
        page = await service.list_webhook_deliveries(webhook_id)
        return any(d.response_status is not None for d in page.items)

    await wait_until(answered, within=WITHIN)
    page = await service.list_webhook_deliveries(webhook_id)
    return next(d for d in page.items if d.response_status is not None)


@pytest.mark.parametrize(
    ("header", "delays", "waits"),
    [
        ("3", [0.2, 10.0], (2.9, 3.1)),  # longer than the next delay: honoured
        ("120", [0.2, 1.0], (0.99, 1.01)),  # longer than the schedule allows: its longest
    ],
)
async def test_a_retry_waits_for_the_receivers_retry_after(
    make_settings: Callable[..., Settings],
    scripted: ScriptedProvider,
    wait_until: WaitUntil,
    header: str,
    delays: list[float],
    waits: tuple[float, float],
) -> None:
    settings = make_settings(webhook_allow_private=True, webhook_retry_delays=delays)
    with WebhookReceiver(503, 503, 503, retry_after=header) as receiver:
        async with PersonaService(settings) as service:
            hook = await service.create_webhook(
                WebhookCreate(url=receiver.url, events=["run.queued"])
            )
            experiment = await service.create_experiment(_body())
            await service.start_run(experiment.id)
            delivery = await _first_attempted(service, hook.id, wait_until)

    assert (delivery.status, delivery.response_status) == ("pending", 503)
    assert delivery.next_attempt_at is not None
    waited = (delivery.next_attempt_at - delivery.updated_at).total_seconds()
    assert waits[0] <= waited <= waits[1]
    assert delivery.error == f"the receiver answered 503 (Retry-After: {float(header):g} s)"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 7, 9, 0, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after(" 7 ", now) == 7.0
    assert retry_after("Mon, 07 Dec 2026 09:01:30 GMT", now) == 90.0
    assert retry_after("Mon, 07 Dec 2026 08:00:00 GMT", now) == 0.0  # already past
    assert retry_after("soon", now) is None
    assert retry_after("-5", now) is None
    assert retry_after(None, now) is None


async def test_deliveries_carry_the_number_to_order_a_runs_events_by(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    """The first event's delivery fails once, so it arrives after later ones: receivers
    order by ``id``, which numbers a run's events 1, 2, 3, ... without gaps."""
    settings = make_settings(webhook_allow_private=True, webhook_retry_delays=[1.0, 1.0])
    with WebhookReceiver(503) as receiver:
        async with PersonaService(settings) as service:
            hook = await service.create_webhook(WebhookCreate(url=receiver.url, events=ALL))
            experiment = await service.create_experiment(_body())
            run = (await service.start_run(experiment.id)).run
            await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)
            stored = (await service.list_run_events(experiment.id, run.id, limit=200)).items
            arrived = await asyncio.to_thread(receiver.wait_for, len(stored) + 1)

    succeeded = [d for d in arrived if d.answered == 200]
    payloads = [standardwebhooks.Webhook(hook.secret).verify(d.body, d.headers) for d in succeeded]
    ids = [payload["id"] for payload in payloads]
    assert ids != sorted(ids), "the retried first event arrives after later ones"
    assert sorted(ids) == list(range(1, len(stored) + 1))
    by_id = {payload["id"]: payload for payload in payloads}
    assert [by_id[event.id]["type"] for event in stored] == [event.type for event in stored]
    first = json.loads(succeeded[0].body)
    assert first["timestamp"] == first["created_at"]


async def test_a_second_rotation_keeps_every_secret_still_in_its_grace_period(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    settings = make_settings(webhook_allow_private=True, webhook_retry_delays=[0.2])
    with WebhookReceiver() as receiver:
        async with PersonaService(settings) as service:
            hook = await service.create_webhook(
                WebhookCreate(url=receiver.url, events=["run.queued"])
            )
            second = await service.rotate_webhook_secret(hook.id)
            third = await service.rotate_webhook_secret(hook.id)
            experiment = await service.create_experiment(_body())
            await service.start_run(experiment.id)
            (delivery,) = await asyncio.to_thread(receiver.wait_for, 1)

    assert len(delivery.headers["webhook-signature"].split(" ")) == 3
    for secret in (hook.secret, second.secret, third.secret):
        payload = standardwebhooks.Webhook(secret).verify(delivery.body, delivery.headers)
        assert payload["type"] == "run.queued"


def test_a_rotation_drops_only_the_secrets_whose_grace_period_ended(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    database = Database(settings.effective_database_url)
    try:
        database.migrate()
        repository = Repository(database)
        start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        overlap = timedelta(hours=24)
        repository.create_webhook(
            webhook_id="wh-1",
            url="https://example.com/hooks",
            events=["*"],
            description=None,
            secret="whsec_first",
            now=start,
        )
        repository.rotate_webhook_secret("wh-1", "whsec_second", start, overlap)
        repository.rotate_webhook_secret("wh-1", "whsec_third", start + timedelta(hours=1), overlap)
        two_in_grace = _kept(database)
        # The first secret's grace ends at start + 24 h; the second's at start + 25 h.
        later = start + timedelta(hours=24, minutes=30)
        repository.rotate_webhook_secret("wh-1", "whsec_fourth", later, overlap)
        after_one_ended = _kept(database)
    finally:
        database.dispose()

    assert two_in_grace == ["whsec_second", "whsec_first"]
    assert after_one_ended == ["whsec_third", "whsec_second"]


def _kept(database: Database) -> list[str]:
    with database.read() as session:
        row = session.get(WebhookRow, "wh-1")
        assert row is not None
        return [kept["secret"] for kept in row.previous_secrets]
