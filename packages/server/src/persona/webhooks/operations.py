"""The service's webhook operations. ``PersonaService`` delegates to these."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from persona.errors import InvalidInputError
from persona.events.hub import Call
from persona.ids import new_id, utcnow
from persona.settings import Settings
from persona.storage import Repository
from persona.storage.webhooks import StoredDelivery, StoredDeliveryPage, StoredWebhook
from persona.webhooks.safety import URL_LOCATION, UnsafeTarget, check_target
from persona.webhooks.schemas import (
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookWithSecret,
)

SECRET_OVERLAP = timedelta(hours=24)
"""How long the previous secret keeps signing after a rotation."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def create_webhook(
    call: Call, repository: Repository, settings: Settings, body: WebhookCreate
) -> WebhookWithSecret:
    try:
        await check_target(body.url, allow_private=settings.webhook_allow_private)
    except UnsafeTarget as exc:
        raise InvalidInputError(str(exc), location=URL_LOCATION) from None
    created: StoredWebhook = await call(
        repository.create_webhook,
        webhook_id=new_id("wh"),
        url=body.url,
        events=["*"] if "*" in body.events else body.events,
        description=body.description,
        secret=new_secret(),
        now=utcnow(),
    )
    return with_secret(created)


async def rotate_webhook_secret(
    call: Call, repository: Repository, webhook_id: str
) -> WebhookWithSecret:
    rotated: StoredWebhook = await call(
        repository.rotate_webhook_secret, webhook_id, new_secret(), utcnow(), SECRET_OVERLAP
    )
    return with_secret(rotated)


def shown(stored: StoredWebhook) -> Webhook:
    """A stored webhook as the API shows it, without its secret."""
    return Webhook.model_validate(stored, from_attributes=True)


def with_secret(stored: StoredWebhook) -> WebhookWithSecret:
    return WebhookWithSecret.model_validate(stored, from_attributes=True)


def delivery_shown(stored: StoredDelivery) -> WebhookDelivery:
    return WebhookDelivery.model_validate(stored, from_attributes=True)


def deliveries_shown(page: StoredDeliveryPage) -> WebhookDeliveryPage:
    items = [delivery_shown(item) for item in page.items]
    return WebhookDeliveryPage(items=items, next_cursor=page.next_cursor)
