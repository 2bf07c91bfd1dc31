"""Cached reads: a GET route opts in (``CachedReadRoute``), and its JSON bodies are kept in
the app's ``ResponseCache`` until anything stored changes.

A hit is answered right after the route's token check, without FastAPI resolving the
endpoint's parameters and dependencies or serialising its result again: the cost of polling
an experiment between commits (benchmarks/api_throughput.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from persona.api.deps import TokenFirstRoute

DEFAULT_MAX_ENTRIES = 1024

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class ResponseCache:
    """Serialised reads, valid while the database's data version stays the same.

    Any commit, by this process or by another one sharing the database, changes the data
    version and so empties the cache: a cached body is never older than the database. When
    the version cannot be told (``version()`` gives None), nothing is cached.
    """

    def __init__(
        self,
        version: Callable[[], Hashable | None],
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._version = version
        self._max_entries = max_entries
        self._valid_for: Hashable | None = None
        self._bodies: dict[Hashable, bytes] = {}

    def lookup(self, key: Hashable) -> tuple[bytes | None, Hashable | None]:
        """The body kept for ``key`` if still current, and the data version it was told at.

        Read the version before the data: a commit in between then only costs a re-read."""
        version = self._version()
        if version is None:
            return None, None
        if version != self._valid_for:
            self._bodies.clear()
            self._valid_for = version
        return self._bodies.get(key), version

    def keep(self, key: Hashable, body: bytes, version: Hashable | None) -> None:
        """Keep ``body``, read at data version ``version``, unless the version moved on since
        (another request saw a newer one while this one read)."""
        if version is None or self._valid_for != version:
            return
        if len(self._bodies) >= self._max_entries:
            del self._bodies[next(iter(self._bodies))]  # the oldest entry
        self._bodies[key] = body

    async def json(self, key: Hashable, read: Callable[[], Awaitable[BaseModel]]) -> bytes:
        """The JSON body ``read()`` would give, from the cache while still current."""
        body, version = self.lookup(key)
        if body is None:
            body = (await read()).model_dump_json(by_alias=True).encode()
            self.keep(key, body, version)
        return body

    def __len__(self) -> int:
        return len(self._bodies)


class CachedReadRoute(TokenFirstRoute):
    """A GET route whose 200 answers are served from the app's ``ResponseCache``.

    The token is checked first, as on every protected route (``TokenFirstRoute``); then a
    body kept for the same path parameters since the last commit is sent as it is, and
    otherwise the endpoint answers and its body is kept.
    """

    def handler_after_token(self) -> Handler:
        answer = super().handler_after_token()
        path = self.path_format

        async def cached(request: Request) -> Response:
            cache: ResponseCache = request.app.state.response_cache
            key = (path, *request.path_params.values())
            body, version = cache.lookup(key)
            if body is not None:
                return Response(body, media_type="application/json")
            response = await answer(request)
            if response.status_code == 200:
                cache.keep(key, bytes(response.body), version)
            return response

        return cached


def cached_get(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """``@router.get(path, **options)`` for an endpoint whose answers are cached."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=["GET"], route_class_override=CachedReadRoute, **options
        )
        return endpoint

    return register
