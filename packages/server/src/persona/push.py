"""The service's push side: run events (pages and streams) and webhooks.

A mixin of ``PersonaService``: the one facade users call, kept in two modules. It reaches
the started service only through ``_call``, ``_write``, ``_repository`` and ``_started``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from persona.events import reads as events
from persona.events.schemas import ExperimentEventPage, RunEvent, RunEventPage
from persona.events.streams import ClosingStream
from persona.ids import utcnow
from persona.service_parts import ServiceParts
from persona.webhooks import operations as webhooks
from persona.webhooks.schemas import (
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookList,
    WebhookWithSecret,
)

if TYPE_CHECKING:
    from persona.runtime import Parts


class PushOperations(ServiceParts):
    if TYPE_CHECKING:
        _parts: Parts | None

    async def list_run_events(
        self, experiment_id: str, run_id: str, *, after: int = 0, limit: int = 100
    ) -> RunEventPage:
        """A page of the run's events after event ``after``; NotFoundError for an unknown run."""
        repository = self._repository
        return await events.list_run_events(
            self._call, repository, experiment_id, run_id, after, limit
        )

    async def stream_run_events(
        self, experiment_id: str, run_id: str, *, after: int = 0
    ) -> ClosingStream[RunEvent]:
        """The run's events after event ``after``, then each as it is committed (by this
        process or another), ending after the terminal one. NotFoundError at once for an
        unknown run. Close the iterator (``aclose``) to stop early. Its ``nothing_follows``
        says at once that the run has ended and no event follows ``after``."""
        hub, repository = self._started.hub, self._repository
        return await events.stream_run_events(
            hub, self._call, repository, experiment_id, run_id, after
        )

    async def list_experiment_events(
        self, experiment_id: str, *, after: str | None = None, limit: int = 100
    ) -> ExperimentEventPage:
        """A page of the events of all the experiment's runs, in the order they happened,
        after the event whose key (``{run_id}:{id}``) is ``after``."""
        repository = self._repository
        return await events.list_experiment_events(
            self._call, repository, experiment_id, after, limit
        )

    async def stream_experiment_events(
        self, experiment_id: str, *, after: str | None = None
    ) -> AsyncIterator[RunEvent]:
        """The experiment's events after ``after`` (a key; None: all), then live ones, until
        the iterator is closed."""
        hub, repository = self._started.hub, self._repository
        return await events.stream_experiment_events(
            hub, self._call, repository, experiment_id, after
        )

    def stop_streams(self) -> None:
        """End every open event stream now (their iterators finish), and every stream opened
        from now on once it has given what is stored: the process is about to stop."""
        self._started.hub.stop_streams()

    @property
    def streams_stopped(self) -> bool:
        """Whether ``stop_streams`` was called: a stream that ended did so for the stop."""
        return self._parts is not None and self._parts.hub.stopping

    # ------------------------------------------------------------------ webhooks

    async def create_webhook(self, body: WebhookCreate) -> WebhookWithSecret:
        """A webhook for the events ``body`` lists; its secret is in the answer only."""
        return await webhooks.create_webhook(self._call, self._repository, self.settings, body)

    async def list_webhooks(self) -> WebhookList:
        stored = await self._call(self._repository.list_webhooks)
        return WebhookList(items=[webhooks.shown(item) for item in stored])

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return webhooks.shown(await self._call(self._repository.get_webhook, webhook_id))

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._write(self._repository.delete_webhook, webhook_id)

    async def rotate_webhook_secret(self, webhook_id: str) -> WebhookWithSecret:
        """A new secret; the previous one keeps signing deliveries for 24 hours."""
        return await webhooks.rotate_webhook_secret(self._call, self._repository, webhook_id)

    async def list_webhook_deliveries(
        self, webhook_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> WebhookDeliveryPage:
        page = self._repository.list_deliveries
        stored = await self._call(page, webhook_id, limit=limit, cursor=cursor)
        return webhooks.deliveries_shown(stored)

    async def redeliver_webhook_delivery(
        self, webhook_id: str, delivery_id: str
    ) -> WebhookDelivery:
        """Send the delivery again at once (whatever its state); attempts keep counting."""
        again = self._repository.redeliver
        delivery = await self._write(again, webhook_id, delivery_id, utcnow())
        self._started.sender.wake()
        return webhooks.delivery_shown(delivery)
