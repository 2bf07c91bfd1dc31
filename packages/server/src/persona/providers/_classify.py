"""What a provider's error response means: the run error it becomes, and whether to retry it.

Read as the official SDKs read them (anthropic 2.17, openai 3.63, google-genai 3.6):

- ``x-should-retry: true`` or ``false`` overrides the status, as the SDKs let it;
- a body-level retry delay (Gemini's ``google.rpc.RetryInfo.retryDelay``) counts as much as
  a ``Retry-After`` header;
- exhausted quota or credit (OpenAI ``insufficient_quota``, Anthropic's ``billing_error`` or
  "credit balance is too low", Gemini's billing quota without a retry delay) is
  ``provider_quota``;
- an invalid key reported with a 400 (Gemini ``API_KEY_INVALID``) is ``provider_auth``;
- a prompt longer than the model's context is ``context_exceeded``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

MAX_ERROR_DETAIL = 300

AUTH_STATUSES = frozenset({401, 403})
RETRY_STATUSES = frozenset({408, 409, 429})

QUOTA_MARKERS = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_error"})
QUOTA_PHRASES = ("credit balance is too low", "check your plan and billing")
AUTH_MARKERS = frozenset({"API_KEY_INVALID", "invalid_api_key", "authentication_error"})
CONTEXT_MARKERS = frozenset({"context_length_exceeded", "string_above_max_length"})
CONTEXT_PHRASES = (
    "prompt is too long",  # Anthropic
    "maximum context length",  # OpenAI, vLLM
    "exceeds the maximum number of tokens",  # Gemini
    "exceeds the context window",
    "input length exceeds",
)
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


@dataclass(frozen=True)
class ErrorReply:
    """What an error response says: its message, the codes it names, the delay it asks."""

    message: str
    markers: frozenset[str]
    """Every code, type, status and reason string found in the error object."""
    retry_delay: float | None = None


@dataclass(frozen=True)
class Verdict:
    """What to do with an error response: retry it, or fail with ``code``."""

    retry: bool
    code: str
    why: str


def read_error(response: httpx.Response) -> ErrorReply:
    """The provider's own message, the codes it gives and any retry delay in the body."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        text = response.text.strip()
        return ErrorReply(text[:MAX_ERROR_DETAIL] or response.reason_phrase, frozenset())
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # Gemini's older error shape: a list of one error object
    error = body.get("error", body) if isinstance(body, dict) else body
    if not isinstance(error, dict):
        return ErrorReply(str(error)[:MAX_ERROR_DETAIL], frozenset())
    message = str(error.get("message", error))[:MAX_ERROR_DETAIL]
    markers = {str(error[k]) for k in ("code", "type", "status") if error.get(k)}
    delay = None
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("reason"):
            markers.add(str(detail["reason"]))
        if detail.get("@type") == RETRY_INFO:
            delay = _seconds(detail.get("retryDelay"))
    return ErrorReply(message, frozenset(markers), delay)


def _seconds(duration: Any) -> float | None:
    """A protobuf Duration as JSON ("17s", "0.5s") in seconds."""
    match = _DURATION.match(str(duration)) if duration is not None else None
    return float(match.group(1)) if match else None


def classify(status: int, should_retry: str | None, error: ErrorReply) -> Verdict:
    """Whether an error response is worth another attempt, and the run error it becomes."""
    lowered = error.message.lower()
    quota = error.markers & QUOTA_MARKERS or any(p in lowered for p in QUOTA_PHRASES)
    if quota and error.retry_delay is None:
        # Spent credit or a billing cap does not come back within a retry's wait.
        return Verdict(False, "provider_quota", "quota exhausted")
    if should_retry == "true":
        # The server knows its own state better than the status code tells us.
        return Verdict(True, "provider_unavailable", "the server asked for a retry")
    if status in AUTH_STATUSES or error.markers & AUTH_MARKERS:
        # The same key will be refused again.
        return Verdict(False, "provider_auth", "credentials refused")
    if error.markers & CONTEXT_MARKERS or any(p in lowered for p in CONTEXT_PHRASES):
        # The same prompt will not shrink by being sent again.
        return Verdict(False, "context_exceeded", "prompt too long for the model")
    retryable = status in RETRY_STATUSES or status >= 500
    if should_retry == "false":
        # The server says another attempt would fail the same way, whatever the status.
        code = "provider_unavailable" if retryable else "provider_rejected"
        return Verdict(False, code, "the server said not to retry")
    if retryable:
        # Rate limits, overload and server faults pass with time.
        return Verdict(True, "provider_unavailable", "temporary failure")
    # Any other 4xx is about the request itself: the same request fails again.
    return Verdict(False, "provider_rejected", "request rejected")
