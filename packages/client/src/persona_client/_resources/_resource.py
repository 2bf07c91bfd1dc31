"""What every resource shares: the client methods it binds, and page-following.

Every list operation has two methods on its resource: ``list…(...)`` answers one page (its
``next_cursor``, or ``next_after`` for events, says where the next starts) and ``iter…(...)``
yields every item, following the pages as it goes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from persona_client._base import Page

if TYPE_CHECKING:
    from persona_client._client import AsyncPersonaClient, PersonaClient

ItemT = TypeVar("ItemT")
ItemT_co = TypeVar("ItemT_co", covariant=True)
AfterT = TypeVar("AfterT", str, int)
AfterT_co = TypeVar("AfterT_co", str, int, covariant=True)


class Listing(Protocol[ItemT_co]):
    """A list answer of one page only: ``{items}``."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...


class EventPage(Protocol[ItemT_co, AfterT_co]):
    """A page of events: ``{items, next_after}``, the event to resume after."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...

    @property
    def next_after(self) -> AfterT_co | None: ...


def _paginate(fetch: Callable[[str | None], Page[ItemT]]) -> Iterator[ItemT]:
    """Every item of every page, following ``next_cursor`` until the last page."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _paginate_after(fetch: Callable[[AfterT | None], EventPage[ItemT, AfterT]]) -> Iterator[ItemT]:
    """Every event of every page, following ``next_after`` until the last page."""
    after: AfterT | None = None
    while True:
        page = fetch(after)
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after


async def _apaginate_after(
    fetch: Callable[[AfterT | None], Awaitable[EventPage[ItemT, AfterT]]],
) -> AsyncIterator[ItemT]:
    after: AfterT | None = None
    while True:
        page = await fetch(after)
        for item in page.items:
            yield item
        if page.next_after is None:
            return
        after = page.next_after


async def _aitems(listing: Awaitable[Listing[ItemT]]) -> AsyncIterator[ItemT]:
    """The items of a list answer that comes in one page."""
    for item in (await listing).items:
        yield item


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
