"""Webhooks: create, list, get, delete, rotate the secret, deliveries and redelivery."""

from __future__ import annotations

from collections.abc import Sequence

from persona_client import _operations as ops
from persona_client._resources._resource import _AsyncResource, _Resource
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
        return self._request(ops.list_webhooks())

    def get(self, webhook_id: str) -> Webhook:
        return self._request(ops.get_webhook(webhook_id))

    def delete(self, webhook_id: str) -> None:
        self._request(ops.delete_webhook(webhook_id))

    def rotate_secret(self, webhook_id: str) -> WebhookWithSecret:
        """A new secret; the previous one keeps signing deliveries for 24 hours."""
        return self._request(ops.rotate_webhook_secret(webhook_id))

    def deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> WebhookDeliveryPage:
        """One page of the webhook's deliveries, newest first."""
        operation = ops.list_webhook_deliveries(webhook_id, limit=limit, cursor=cursor)
        return self._request(operation)

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
        return await self._request(ops.list_webhooks())

    async def get(self, webhook_id: str) -> Webhook:
        return await self._request(ops.get_webhook(webhook_id))

    async def delete(self, webhook_id: str) -> None:
        await self._request(ops.delete_webhook(webhook_id))

    async def rotate_secret(self, webhook_id: str) -> WebhookWithSecret:
        return await self._request(ops.rotate_webhook_secret(webhook_id))

    async def deliveries(
        self, webhook_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> WebhookDeliveryPage:
        operation = ops.list_webhook_deliveries(webhook_id, limit=limit, cursor=cursor)
        return await self._request(operation)

    async def redeliver(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        return await self._request(ops.redeliver_webhook_delivery(webhook_id, delivery_id))
