"""Anthropic's Messages API, mocked (respx) to take requests and never answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import respx

ANTHROPIC_MESSAGES = "https://api.anthropic.com/v1/messages"


@contextmanager
def stalled_anthropic() -> Iterator[asyncio.Event]:
    """While open, runs on Anthropic stay running; the event is set once one has called it.
    The caller configures the provider (ANTHROPIC_API_KEY)."""
    called = asyncio.Event()

    async def never_answers(request: httpx.Request) -> httpx.Response:
        called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    with respx.mock(assert_all_called=False) as mock:
        mock.post(ANTHROPIC_MESSAGES).mock(side_effect=never_answers)
        yield called
