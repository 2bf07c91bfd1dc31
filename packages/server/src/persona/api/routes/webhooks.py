from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from persona.api.deps import Cursor, Limit, ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.events.schemas import (
    RunCancelledEvent,
    RunFailedEvent,
    RunProgressEvent,
    RunQueuedEvent,
    RunStartedEvent,
    RunSucceededEvent,
)
from persona.schemas import OutputModel
from persona.webhooks.schemas import (
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookList,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=TokenFirstRoute)


@router.post(
    "",
    operation_id="createWebhook",
    status_code=201,
    response_model=WebhookWithSecret,
    responses={
        201: {
            "description": "Created; `Location` is the webhook's URL.",
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "The webhook's URL."}
            },
        },
        **problems(401, 422),
    },
)
async def create_webhook(
    body: WebhookCreate, service: ServiceDep, request: Request, response: Response
) -> WebhookWithSecret:
    """Register an endpoint for run events. The answer holds the signing secret, shown only
    now: every delivery is signed with it per the Standard Webhooks specification.

    Deliveries are sent at least once, and not necessarily in order: a receiver orders the
    events of a run by their `id` (1, 2, 3, ...) and skips a `webhook-id` it has seen."""
    created = await service.create_webhook(body)
    response.headers["Location"] = request.url_for("get_webhook", webhook_id=created.id).path
    return created


@router.get("", operation_id="listWebhooks", response_model=WebhookList, responses=problems(401))
async def list_webhooks(service: ServiceDep) -> WebhookList:
    """Every webhook, oldest first (without secrets)."""
    return await service.list_webhooks()


@router.get(
    "/{webhook_id}",
    operation_id="getWebhook",
    response_model=Webhook,
    responses=problems(401, 404, 422),
)
async def get_webhook(webhook_id: str, service: ServiceDep) -> Webhook:
    """One webhook: its URL, event types, and whether it is enabled (without its secret)."""
    return await service.get_webhook(webhook_id)


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=204,
    responses=problems(401, 404, 422),
)
async def delete_webhook(webhook_id: str, service: ServiceDep) -> Response:
    """Delete the webhook with its deliveries; pending ones are not sent."""
    await service.delete_webhook(webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    response_model=WebhookWithSecret,
    responses=problems(401, 404, 422),
)
async def rotate_webhook_secret(webhook_id: str, service: ServiceDep) -> WebhookWithSecret:
    """A new signing secret, shown only now. For 24 hours deliveries carry a signature with
    the previous secret too, so receivers can switch without missing one."""
    return await service.rotate_webhook_secret(webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=WebhookDeliveryPage,
    responses=problems(401, 404, 422),
)
async def list_webhook_deliveries(
    webhook_id: str, service: ServiceDep, limit: Limit = 50, cursor: Cursor = None
) -> WebhookDeliveryPage:
    """The webhook's deliveries, newest first: status, attempts, next retry, and the last
    attempt's response status, error and duration."""
    return await service.list_webhook_deliveries(webhook_id, limit=limit, cursor=cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhookDelivery",
    status_code=202,
    response_model=WebhookDelivery,
    responses=problems(401, 404, 422),
)
async def redeliver_webhook_delivery(
    webhook_id: str, delivery_id: str, service: ServiceDep
) -> WebhookDelivery:
    """Send the delivery again now, whatever its state (a failed one included)."""
    return await service.redeliver_webhook_delivery(webhook_id, delivery_id)


# --------------------------------------------------------------------------- what receivers get

SIGNATURE_HEADERS = {
    "webhook-id": "The event's key, `{run_id}:{event id}`: the same on every retry.",
    "webhook-timestamp": "Seconds since the epoch when this attempt was signed.",
    "webhook-signature": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated "
    "when two secrets sign (during a rotation).",
}
EVENT_SCHEMAS = {
    "run.queued": RunQueuedEvent,
    "run.started": RunStartedEvent,
    "run.progress": RunProgressEvent,
    "run.succeeded": RunSucceededEvent,
    "run.failed": RunFailedEvent,
    "run.cancelled": RunCancelledEvent,
}


def document_deliveries(receiver: APIRouter) -> None:
    """One webhook operation per event type in the OpenAPI document's ``webhooks``: the body
    a receiver gets (the event, as in event pages and streams) and the signature headers."""
    for event_type, model in EVENT_SCHEMAS.items():
        receiver.add_api_route(
            event_type,
            _receiver_of(model),
            methods=["POST"],
            operation_id=f"receive{model.__name__}",
            summary=f"{event_type} delivered to a webhook",
            description=(
                f"POSTed to every webhook that receives `{event_type}` (or `*`). Verify the "
                "signature with the webhook's secret (Standard Webhooks; "
                "`persona_client.verify_webhook`) before trusting the body. Answer 2xx "
                "within 15 s; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h "
                "and 10 h (later when the answer's `Retry-After` asks, up to 10 h), and 410 "
                "Gone disables the webhook. Deliveries are at least once and not in order: "
                "order a run's events by `id` and skip a `webhook-id` already seen."
            ),
            status_code=200,
            responses={
                410: {"description": "Disable this webhook: no more deliveries."},
                503: {
                    "description": "Not now: retried after the schedule's next delay, or "
                    "after `Retry-After` (seconds or an HTTP date) when that is longer.",
                    "headers": {"Retry-After": {"schema": {"type": "string"}}},
                },
            },
        )


def _receiver_of(model: type[OutputModel]) -> Callable[..., None]:
    """A path-operation function whose signature is the delivery: ``model`` as the body and
    the three signature headers (built at run time: the body's type varies)."""

    def receive(**_: object) -> None:
        """Documentation only: receivers implement it."""

    body = inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=model)
    headers = [
        inspect.Parameter(
            name.replace("-", "_"),
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[str, Header(alias=name, description=description)],
        )
        for name, description in SIGNATURE_HEADERS.items()
    ]
    receive.__signature__ = inspect.Signature([body, *headers])  # type: ignore[attr-defined]
    return receive
