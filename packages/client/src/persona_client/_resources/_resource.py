"""What every resource shares: the client methods it binds, and page-following."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from persona_client._base import Page

if TYPE_CHECKING:
    from persona_client._client import AsyncPersonaClient, PersonaClient

ItemT = TypeVar("ItemT")


def _paginate(fetch: Callable[[str | None], Page[ItemT]]) -> Iterator[ItemT]:
    """Every item of every page, following ``next_cursor`` until the last page."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _apaginate(fetch: Callable[[str | None], Awaitable[Page[ItemT]]]) -> AsyncIterator[ItemT]:
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class _Resource:
    """Binds the client's public request methods, the only ones a resource uses."""

    def __init__(self, client: PersonaClient) -> None:
        self._request = client.request
        self._stream = client.stream
        self._sleep = client.sleep


class _AsyncResource:
    def __init__(self, client: AsyncPersonaClient) -> None:
        self._request = client.request
        self._stream = client.stream
        self._sleep = client.sleep
