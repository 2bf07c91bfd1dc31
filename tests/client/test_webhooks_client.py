"""client.webhooks and verify_webhook against the real app served on a loopback port, with a
real receiver on 127.0.0.1."""

from __future__ import annotations

import time

import persona_client as pc
import pytest

from tests.fakes.receiver import WebhookReceiver

from .conftest import AppFactory
from .test_against_app import RUN_TIMEOUT, SEED, sync_client


def test_a_webhook_receives_signed_typed_events_and_shows_its_deliveries(
    make_app: AppFactory,
) -> None:
    app = make_app(webhook_allow_private=True)
    with WebhookReceiver() as receiver, sync_client(app) as client:
        hook = client.webhooks.create(url=receiver.url, events=["run.succeeded"], description="ci")
        assert [h.id for h in client.webhooks.list().items] == [hook.id]
        experiment = client.experiments.create(**SEED)
        run = client.runs.wait(client.runs.start(experiment.id), timeout=RUN_TIMEOUT)
        (delivery,) = receiver.wait_for(1)

        event = pc.verify_webhook(delivery.body, delivery.headers, hook.secret)
        assert isinstance(event, pc.models.RunSucceededEvent)
        assert event.run_id == run.id and event.data.persona_ids == run.persona_ids
        with pytest.raises(pc.WebhookVerificationError):
            pc.verify_webhook(
                delivery.body.replace(b"run.", b"RUN."), delivery.headers, hook.secret
            )
        rotated = client.webhooks.rotate_secret(hook.id)
        with pytest.raises(pc.WebhookVerificationError):
            pc.verify_webhook(delivery.body, delivery.headers, rotated.secret)

        deadline = time.monotonic() + RUN_TIMEOUT
        while (page := client.webhooks.list_deliveries(hook.id)).items[0].status == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert (page.items[0].id, page.items[0].status) == (f"{run.id}:{event.id}", "succeeded")
        assert [d.id for d in client.webhooks.iter_deliveries(hook.id, page_size=1)] == [
            page.items[0].id
        ]
        assert [h.id for h in client.webhooks.iter()] == [hook.id]
        again = client.webhooks.redeliver(hook.id, page.items[0].id)
        assert again.status == "pending"
        client.webhooks.delete(hook.id)
        with pytest.raises(pc.NotFoundError):
            client.webhooks.get(hook.id)
