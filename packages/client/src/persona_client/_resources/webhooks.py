"""Webhooks: create, list, get, delete, rotate the secret, deliveries and redelivery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from persona_client import _operations as ops
from persona_client._resources._resource import (
    _aitems,
    _apaginate,
    _AsyncResource,
    _paginate,
    _Resource,
)
from persona_client.models import (
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookList,
    WebhookWithSecret,
)


class Webhooks(_Resource):
    def create(
        self, *, url: str, events: Sequence[str], description: str | None = None
    ) -> WebhookWithSecret:
        """Register ``url`` for ``events`` (``["*"]``: all). Keep the returned ``secret``: it
        is shown only now, and ``verify_webhook`` needs it."""
        return self._request(ops.create_webhook(url=url, events=events, description=description))

    def list(self) -> WebhookList:
        """Every webhook, in one answer."""
        return self._request(ops.list_webhooks())

    def iter(self) -> Iterator[Webhook]:
        """Every webhook."""
        return iter(self.list().items)

    def get(self, webhook_id: str) -> Webhook:
        return self._request(ops.get_webhook(webhook_id))

    def delete(self, webhook_id: str) -> None:
        self._request(ops.delete_webhook(webhook_id))

    def rotate_secret(self, webhook_id: str) -> WebhookWithSecret:
        """A new secret; the previous one keeps signing deliveries for 24 hours."""
        return self._request(ops.rotate_webhook_secret(webhook_id))

    def list_deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> WebhookDeliveryPage:
        """One page of the webhook's deliveries, newest first."""
        operation = ops.list_webhook_deliveries(webhook_id, limit=limit, cursor=cursor)
        return self._request(operation)

    def iter_deliveries(
        self, webhook_id: str, *, page_size: int | None = None
    ) -> Iterator[WebhookDelivery]:
        """Every delivery of the webhook, newest first, page after page."""
        return _paginate(
            lambda cursor: self.list_deliveries(webhook_id, limit=page_size, cursor=cursor)
        )

    def redeliver(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again now, whatever its state."""
        return self._request(ops.redeliver_webhook_delivery(webhook_id, delivery_id))


class AsyncWebhooks(_AsyncResource):
    async def create(
        self, *, url: str, events: Sequence[str], description: str | None = None
    ) -> WebhookWithSecret:
        """Register ``url`` for ``events``; see ``Webhooks.create``."""
        operation = ops.create_webhook(url=url, events=events, description=description)
        return await self._request(operation)

    async def list(self) -> WebhookList:
        """Every webhook, in one answer."""
        return await self._request(ops.list_webhooks())

    def iter(self) -> AsyncIterator[Webhook]:
        """Every webhook."""
        return _aitems(self.list())

    async def get(self, webhook_id: str) -> Webhook:
        return await self._request(ops.get_webhook(webhook_id))

    async def delete(self, webhook_id: str) -> None:
        await self._request(ops.delete_webhook(webhook_id))

    async def rotate_secret(self, webhook_id: str) -> WebhookWithSecret:
        return await self._request(ops.rotate_webhook_secret(webhook_id))

    async def list_deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> WebhookDeliveryPage:
        """One page of the webhook's deliveries, newest first."""
        operation = ops.list_webhook_deliveries(webhook_id, limit=limit, cursor=cursor)
        return await self._request(operation)

    def iter_deliveries(
        self, webhook_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[WebhookDelivery]:
        """Every delivery of the webhook, newest first, page after page."""
        return _apaginate(
            lambda cursor: self.list_deliveries(webhook_id, limit=page_size, cursor=cursor)
        )

    async def redeliver(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        return await self._request(ops.redeliver_webhook_delivery(webhook_id, delivery_id))
