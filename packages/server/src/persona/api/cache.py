"""JSON bodies of recently read resources, kept until anything stored changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable

from pydantic import BaseModel

DEFAULT_MAX_ENTRIES = 1024


def experiment_key(experiment_id: str) -> tuple[str, str]:
    """The cache key of GET /experiments/{experiment_id}: the route fills it, and
    CachedReadMiddleware answers from it."""
    return ("experiment", experiment_id)


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

    async def json(self, key: Hashable, read: Callable[[], Awaitable[BaseModel]]) -> bytes:
        """The JSON body ``read()`` would give, from the cache while still current."""
        # Read the version before the data: a commit in between then only costs a re-read.
        version = self._version()
        if version is None:
            return _dump(await read())
        if version != self._valid_for:
            self._bodies.clear()
            self._valid_for = version
        body = self._bodies.get(key)
        if body is None:
            body = _dump(await read())
            # Another request may have seen a newer version while this one read.
            if self._valid_for == version:
                self._store(key, body)
        return body

    def current(self, key: Hashable) -> bytes | None:
        """The cached body for ``key`` when the database has not changed since; else None."""
        version = self._version()
        if version is None or version != self._valid_for:
            return None
        return self._bodies.get(key)

    def _store(self, key: Hashable, body: bytes) -> None:
        if len(self._bodies) >= self._max_entries:
            del self._bodies[next(iter(self._bodies))]  # the oldest entry
        self._bodies[key] = body

    def __len__(self) -> int:
        return len(self._bodies)


def _dump(model: BaseModel) -> bytes:
    return model.model_dump_json(by_alias=True).encode()
