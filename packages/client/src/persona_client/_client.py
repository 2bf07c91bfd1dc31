"""``PersonaClient`` and ``AsyncPersonaClient``: they send, retry and sleep; all the I/O is here."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import IO, TypeVar

import httpx
from httpx_sse import EventSource

from persona_client import _operations as ops
from persona_client._base import DEFAULT_MAX_RETRIES, BaseClient, connection_error, resolve_timeout
from persona_client._exceptions import make_status_error
from persona_client._operations import Operation
from persona_client._resources import (
    AsyncAudit,
    AsyncExperiments,
    AsyncKeys,
    AsyncPersonas,
    AsyncProviders,
    AsyncRuns,
    AsyncSources,
    AsyncWebhooks,
    Audit,
    Experiments,
    Keys,
    Personas,
    Providers,
    Runs,
    Sources,
    Webhooks,
)
from persona_client._streams import (
    EventStreamUnavailable,
    StreamCursor,
    is_event_stream,
    stream_timeout,
)
from persona_client.models import Health

T = TypeVar("T")
NOTHING_FOLLOWS = 204
"""A stream's answer when the run has ended and no event follows the one resumed after."""

UploadFiles = list[tuple[str, tuple[str, IO[bytes], str]]]

_sleep = time.sleep
_async_sleep = asyncio.sleep


@contextlib.contextmanager
def _opened_files(operation: Operation[object]) -> Iterator[UploadFiles | None]:
    """The operation's upload files, opened afresh for each attempt and closed after it."""
    if not operation.files:
        yield None
        return
    with contextlib.ExitStack() as stack:
        files: UploadFiles = []
        for path in operation.files:
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            stream = stack.enter_context(path.open("rb"))
            files.append((ops.UPLOAD_FIELD, (path.name, stream, content_type)))
        yield files


class PersonaClient(BaseClient):
    """Synchronous client of a Persona server.

    ``base_url`` falls back to ``PERSONA_BASE_URL`` then http://127.0.0.1:8000, ``token`` to
    ``PERSONA_API_TOKEN``. ``timeout`` is in seconds (or an ``httpx.Timeout``); ``max_retries``
    counts retries after the first attempt. An injected ``http_client`` is used as is (its own
    timeout unless ``timeout`` is given) and is not closed by ``close()``: its owner closes it.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError(
                f"http_client must be an httpx.Client, got {type(http_client).__name__}"
                " (use AsyncPersonaClient with an httpx.AsyncClient)"
            )
        super().__init__(
            base_url=base_url,
            token=token,
            timeout=resolve_timeout(timeout, http_client),
            max_retries=max_retries,
            override_client_timeout=http_client is not None and timeout is not None,
        )
        self._owns_http_client = http_client is None
        self._http = http_client or httpx.Client(timeout=self.timeout)
        self.experiments = Experiments(self)
        self.runs = Runs(self)
        self.personas = Personas(self)
        self.sources = Sources(self)
        self.providers = Providers(self)
        self.webhooks = Webhooks(self)
        self.keys = Keys(self)
        self.audit = Audit(self)

    def health(self) -> Health:
        """The server's status, version and database state (``status: "unavailable"`` when the
        database is unreachable, rather than an error); needs no token."""
        return self.request(ops.get_health())

    def close(self) -> None:
        if self._owns_http_client:
            self._http.close()

    def __enter__(self) -> PersonaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def request(self, operation: Operation[T]) -> T:
        """Send ``operation``, retrying what may pass, and return its parsed answer."""
        retries_taken = 0
        while True:
            try:
                response = self._send_once(operation)
            except httpx.TransportError as error:
                delay = self._delay_after_error(operation, error, retries_taken)
                if delay is None:
                    raise connection_error(error) from error
            else:
                if operation.is_answer(response):
                    return operation.parse(response)
                delay = self._delay_after_response(operation, response, retries_taken)
                if delay is None:
                    raise make_status_error(response)
            retries_taken += 1
            self.sleep(delay)

    def _send_once(self, operation: Operation[object]) -> httpx.Response:
        with _opened_files(operation) as files:
            return self._http.request(
                operation.method,
                self._url(operation),
                params=operation.params,
                json=operation.json,
                files=files,
                headers=self._headers_for(operation),
                timeout=self._request_timeout,
            )

    @contextlib.contextmanager
    def stream(
        self, operation: Operation[object], cursor: StreamCursor
    ) -> Iterator[EventSource | None]:
        """Open ``operation`` as a stream of Server-Sent Events, resuming after the cursor's
        last event; None when nothing follows it (204: the run has ended). Raises the API
        error of an error answer, and EventStreamUnavailable when the answer is not an event
        stream."""
        with self._http.stream(
            operation.method,
            self._url(operation),
            params=operation.params,
            headers={**self._headers_for(operation), **cursor.headers()},
            timeout=stream_timeout(self.timeout, cursor),
        ) as response:
            if response.status_code == NOTHING_FOLLOWS:
                yield None
                return
            if not response.is_success:
                response.read()
                raise make_status_error(response)
            if not is_event_stream(response):
                raise EventStreamUnavailable(response.headers.get("content-type"))
            yield EventSource(response)

    def sleep(self, seconds: float) -> None:
        """Wait between two attempts or two polls (the one place this client waits)."""
        _sleep(seconds)


class AsyncPersonaClient(BaseClient):
    """Asynchronous twin of ``PersonaClient`` (asyncio): same arguments, same resources.

    Use ``async with`` or ``await client.aclose()``.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
                " (use PersonaClient with an httpx.Client)"
            )
        super().__init__(
            base_url=base_url,
            token=token,
            timeout=resolve_timeout(timeout, http_client),
            max_retries=max_retries,
            override_client_timeout=http_client is not None and timeout is not None,
        )
        self._owns_http_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout)
        self.experiments = AsyncExperiments(self)
        self.runs = AsyncRuns(self)
        self.personas = AsyncPersonas(self)
        self.sources = AsyncSources(self)
        self.providers = AsyncProviders(self)
        self.webhooks = AsyncWebhooks(self)
        self.keys = AsyncKeys(self)
        self.audit = AsyncAudit(self)

    async def health(self) -> Health:
        """The server's status, version and database state; see ``PersonaClient.health``."""
        return await self.request(ops.get_health())

    async def aclose(self) -> None:
        if self._owns_http_client:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncPersonaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def request(self, operation: Operation[T]) -> T:
        """Send ``operation``, retrying what may pass, and return its parsed answer."""
        retries_taken = 0
        while True:
            try:
                response = await self._send_once(operation)
            except httpx.TransportError as error:
                delay = self._delay_after_error(operation, error, retries_taken)
                if delay is None:
                    raise connection_error(error) from error
            else:
                if operation.is_answer(response):
                    return operation.parse(response)
                delay = self._delay_after_response(operation, response, retries_taken)
                if delay is None:
                    raise make_status_error(response)
            retries_taken += 1
            await self.sleep(delay)

    async def _send_once(self, operation: Operation[object]) -> httpx.Response:
        with _opened_files(operation) as files:
            return await self._http.request(
                operation.method,
                self._url(operation),
                params=operation.params,
                json=operation.json,
                files=files,
                headers=self._headers_for(operation),
                timeout=self._request_timeout,
            )

    @contextlib.asynccontextmanager
    async def stream(
        self, operation: Operation[object], cursor: StreamCursor
    ) -> AsyncIterator[EventSource | None]:
        """Open ``operation`` as a stream of Server-Sent Events; see ``PersonaClient.stream``."""
        async with self._http.stream(
            operation.method,
            self._url(operation),
            params=operation.params,
            headers={**self._headers_for(operation), **cursor.headers()},
            timeout=stream_timeout(self.timeout, cursor),
        ) as response:
            if response.status_code == NOTHING_FOLLOWS:
                yield None
                return
            if not response.is_success:
                await response.aread()
                raise make_status_error(response)
            if not is_event_stream(response):
                raise EventStreamUnavailable(response.headers.get("content-type"))
            yield EventSource(response)

    async def sleep(self, seconds: float) -> None:
        """Wait between two attempts or two polls (the one place this client waits)."""
        await _async_sleep(seconds)
