"""Webhooks as the API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from persona.schemas import InputModel, OutputModel

WebhookEventType = Literal[
    "run.queued",
    "run.started",
    "run.progress",
    "run.succeeded",
    "run.failed",
    "run.cancelled",
    "*",
]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookCreate(InputModel):
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="An http(s) URL. Addresses on loopback, private, link-local or metadata "
        "networks are refused unless the server sets PERSONA_WEBHOOK_ALLOW_PRIVATE=true.",
        examples=["https://example.com/hooks/persona"],
    )
    events: list[WebhookEventType] = Field(
        min_length=1,
        max_length=7,
        description="The event types to receive; `*` for all of them.",
        examples=[["run.succeeded", "run.failed"]],
    )
    description: str | None = Field(default=None, max_length=500)


class Webhook(OutputModel):
    id: str
    url: str
    events: list[WebhookEventType]
    description: str | None = None
    enabled: bool = Field(description="False once the receiver answered 410 Gone.")
    disabled_reason: str | None = None
    created_at: AwareDatetime


class WebhookWithSecret(Webhook):
    secret: str = Field(
        description="The signing secret (`whsec_…`), shown only when created or rotated: "
        "verify each delivery with it (Standard Webhooks)."
    )


class WebhookList(OutputModel):
    items: list[Webhook]


class WebhookDelivery(OutputModel):
    id: str = Field(description="The event's key `{run_id}:{event id}`; the webhook-id header.")
    webhook_id: str
    event_type: str
    run_id: str
    event_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: AwareDatetime | None = Field(
        default=None, description="When it is tried next; null once it succeeded or failed."
    )
    response_status: int | None = Field(
        default=None, description="The HTTP status of the last attempt's answer."
    )
    error: str | None = Field(default=None, description="Why the last attempt failed.")
    duration_ms: int | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class WebhookDeliveryPage(OutputModel):
    items: list[WebhookDelivery]
    next_cursor: str | None = None
