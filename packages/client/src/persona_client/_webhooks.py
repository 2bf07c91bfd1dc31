"""Receiving webhooks: check a delivery's Standard Webhooks signature, then read its event."""

from __future__ import annotations

from collections.abc import Mapping

import standardwebhooks

from persona_client._exceptions import WebhookVerificationError
from persona_client._streams import RUN_EVENT, RunEvent


def verify_webhook(payload: bytes | str, headers: Mapping[str, str], secret: str) -> RunEvent:
    """The run event a delivery carries, once its signature is checked.

    ``payload`` is the request body exactly as received, ``headers`` the request's headers
    (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``), ``secret`` the webhook's
    (``whsec_…``). Raises WebhookVerificationError when the signature does not match, a
    header is missing, or the timestamp is more than five minutes away from now (a replay).
    """
    try:
        standardwebhooks.Webhook(secret).verify(payload, dict(headers), json_parse=False)
    except standardwebhooks.WebhookVerificationError as exc:
        raise WebhookVerificationError(str(exc)) from exc
    return RUN_EVENT.validate_json(payload)
