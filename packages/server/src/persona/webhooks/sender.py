"""``WebhookSender``: sends due deliveries, signed, and schedules the retries.

Every process that owns a service runs one. It looks for due deliveries every
``POLL_INTERVAL`` (sooner when woken), claims each for one attempt with a lease (so two
processes never send one attempt twice, and a process killed mid-attempt leaves a delivery
another takes over once the lease lapses), and posts the event as JSON with the Standard
Webhooks headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` computed by
the ``standardwebhooks`` package, with both secrets during a rotation). A 2xx answer
succeeds; 410 Gone disables the webhook; anything else, or no answer within
``Settings.webhook_timeout``, is retried after the next of ``Settings.webhook_retry_delays``
until they run out, or later when the receiver's ``Retry-After`` asks for more time (never
later than the longest delay of the schedule). Redirects are not followed and at most
``MAX_RESPONSE_BYTES`` of an answer is read. Deliveries are concurrent, so a run's events
may arrive out of order (as Standard Webhooks allows): receivers order them by ``id``.
Sending runs beside the runs, never in their way: a run's transaction only records the
delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from persona.events.schemas import event_key, run_event
from persona.ids import utcnow
from persona.settings import Settings
from persona.storage import Repository
from persona.storage.faults import is_transient
from persona.storage.webhooks import DeliveryKey, Outgoing
from persona.webhooks.safety import UnsafeTarget, check_target

logger = logging.getLogger("persona.webhooks")

POLL_INTERVAL = 1.0
"""Seconds between two looks for due deliveries."""
MAX_RESPONSE_BYTES = 64 * 1024
LEASE = timedelta(seconds=60)
"""How long a claimed attempt is held: longer than the timeout (at most 30 s) plus
recording it."""
BATCH = 50
"""Deliveries claimed at a look; sent concurrently."""

Call = Callable[..., Awaitable[Any]]


class WebhookSender:
    def __init__(self, settings: Settings, repository: Repository, call: Call) -> None:
        self._settings = settings
        self._repository = repository
        self._call = call
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(
            timeout=settings.webhook_timeout,
            follow_redirects=False,
            # Deliveries connect to a checked address, not a name, so a kept-alive connection
            # would be shared by every host name on that address, TLS-verified for only one.
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": "persona-webhooks", "Content-Type": "application/json"},
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="persona-webhook-sender")

    def wake(self) -> None:
        self._woken.set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._http.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except Exception as exc:  # the sender must outlive a failed look; it tries again
                # A database outage is logged once, by the engine's outage log.
                if not is_transient(exc):
                    logger.exception("looking for due webhook deliveries failed")
                sent = 0
            if sent < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), POLL_INTERVAL)
                self._woken.clear()

    async def send_due(self) -> int:
        """Claim and send what is due now; how many were due."""
        now = utcnow()
        keys: list[DeliveryKey] = await self._call(self._repository.due_deliveries, now, BATCH)
        await asyncio.gather(*(self._attempt(key) for key in keys))
        return len(keys)

    async def _attempt(self, key: DeliveryKey) -> None:
        outgoing: Outgoing | None = await self._call(
            self._repository.claim_delivery, key, utcnow(), LEASE
        )
        if outgoing is None:
            return
        started = time.monotonic()
        status: int | None = None
        wait: float | None = None
        try:
            allow_private = self._settings.webhook_allow_private
            address = await check_target(outgoing.url, allow_private=allow_private)
            status, wait = await self._post(outgoing, address)
            error = None if 200 <= status < 300 else f"the receiver answered {status}"
        except UnsafeTarget as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except asyncio.CancelledError:
            # A stop mid-attempt: free the delivery for the next start at once rather than
            # after its lease (the receiver may have had it: at least once, as promised).
            release = self._call(
                self._repository.finish_attempt,
                outgoing.key,
                "pending",
                utcnow(),
                utcnow(),
                error="interrupted by a server stop",
            )
            with contextlib.suppress(Exception):
                await asyncio.shield(release)
            raise
        duration = round((time.monotonic() - started) * 1000)
        await self._record(outgoing, status, error, duration, wait)

    async def _post(self, outgoing: Outgoing, address: str | None) -> tuple[int, float | None]:
        """The receiver's status, and the seconds its ``Retry-After`` asks to wait; sent to
        ``address`` when given (the one checked), else to wherever the URL's host resolves."""
        event = run_event(outgoing.event)
        body = event.model_dump_json().encode()
        message_id = event_key(event)
        timestamp = utcnow()
        signatures = " ".join(
            Webhook(secret).sign(message_id, timestamp, body) for secret in outgoing.secrets
        )
        url, host_headers, extensions = pinned(outgoing.url, address)
        headers = {
            **host_headers,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signatures,
        }
        async with self._http.stream(
            "POST", url, content=body, headers=headers, extensions=extensions
        ) as reply:
            read = 0
            async for chunk in reply.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
            return reply.status_code, retry_after(reply.headers.get("retry-after"), utcnow())

    async def _record(
        self,
        outgoing: Outgoing,
        status: int | None,
        error: str | None,
        duration: int,
        wait: float | None = None,
    ) -> None:
        now = utcnow()
        repository = self._repository
        if error is None:
            state, next_at = "succeeded", None
        elif status == 410:
            state, next_at = "failed", None
            reason = "the receiver answered 410 Gone"
            await self._call(repository.disable_webhook, outgoing.key[0], reason)
        else:
            state, next_at = self._retry(outgoing.attempts, now, wait)
            if wait is not None and state == "pending":
                error = f"{error} (Retry-After: {wait:g} s)"
        await self._call(
            repository.finish_attempt,
            outgoing.key,
            state,
            next_at,
            now,
            response_status=status,
            error=error,
            duration_ms=duration,
        )

    def _retry(
        self, attempts: int, now: datetime, wait: float | None
    ) -> tuple[str, datetime | None]:
        """After failed attempt number ``attempts``: pending until the next delay (or the
        receiver's ``wait``, when longer, up to the schedule's longest delay), or failed once
        every delay was used."""
        delays = self._settings.webhook_retry_delays
        if attempts > len(delays):
            return "failed", None
        # Jitter, so deliveries that failed together (a receiver down) do not return together.
        delay = delays[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311 - not a secret
        if wait is not None:
            delay = max(delay, min(wait, max(delays)))
        return "pending", now + timedelta(seconds=delay)


def pinned(url: str, address: str | None) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The request to ``url`` connecting to ``address``: the URL names the address, while the
    Host header and the TLS server name (SNI, and the name the certificate is verified
    against) stay the URL's host. Unchanged when ``address`` is None."""
    target = httpx.URL(url)
    if address is None:
        return target, {}, {}
    server_name = target.raw_host.decode("ascii")
    extensions = {"sni_hostname": server_name} if target.scheme == "https" else {}
    return target.copy_with(host=address), {"Host": target.netloc.decode("ascii")}, extensions


def retry_after(header: str | None, now: datetime) -> float | None:
    """The seconds a ``Retry-After`` header asks for: a number of seconds or an HTTP date
    (RFC 9110, 10.2.3). None when absent or unreadable; 0 for a date already past."""
    if header is None:
        return None
    header = header.strip()
    if header.isascii() and header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may say nothing
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
