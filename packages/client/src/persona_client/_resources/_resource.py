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
AtT = TypeVar("AtT", str, int)
AtT_co = TypeVar("AtT_co", str, int, covariant=True)
PageT = TypeVar("PageT")


class Listing(Protocol[ItemT_co]):
    """A list answer of one page only: ``{items}``."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...


class EventPage(Protocol[ItemT_co, AtT_co]):
    """A page of events: ``{items, next_after}``, the event to resume after."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...

    @property
    def next_after(self) -> AtT_co | None: ...


def _follow(
    fetch: Callable[[AtT | None], PageT], resume: Callable[[PageT], AtT | None]
) -> Iterator[PageT]:
    """Every page, from the first, each fetched at where ``resume`` says the last one ends."""
    at: AtT | None = None
    while True:
        page = fetch(at)
        yield page
        at = resume(page)
        if at is None:
            return


async def _afollow(
    fetch: Callable[[AtT | None], Awaitable[PageT]], resume: Callable[[PageT], AtT | None]
) -> AsyncIterator[PageT]:
    at: AtT | None = None
    while True:
        page = await fetch(at)
        yield page
        at = resume(page)
        if at is None:
            return


def _paginate(fetch: Callable[[str | None], Page[ItemT]]) -> Iterator[ItemT]:
    """Every item of every page, following ``next_cursor`` until the last page."""
    for page in _follow(fetch, lambda page: page.next_cursor):
        yield from page.items


async def _apaginate(fetch: Callable[[str | None], Awaitable[Page[ItemT]]]) -> AsyncIterator[ItemT]:
    async for page in _afollow(fetch, lambda page: page.next_cursor):
        for item in page.items:
            yield item


def _paginate_after(fetch: Callable[[AtT | None], EventPage[ItemT, AtT]]) -> Iterator[ItemT]:
    """Every event of every page, following ``next_after`` until the last page."""
    for page in _follow(fetch, lambda page: page.next_after):
        yield from page.items


async def _apaginate_after(
    fetch: Callable[[AtT | None], Awaitable[EventPage[ItemT, AtT]]],
) -> AsyncIterator[ItemT]:
    async for page in _afollow(fetch, lambda page: page.next_after):
        for item in page.items:
            yield item


async def _aitems(listing: Awaitable[Listing[ItemT]]) -> AsyncIterator[ItemT]:
    """The items of a list answer that comes in one page."""
    for item in (await listing).items:
        yield item


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
