"""A streamed reply put back together as the response a non-streamed request would have had.

Each provider streams in its own shape (Anthropic's message events, OpenAI's chunks, Gemini's
partial responses, Ollama's lines); its ``StreamedReply`` gathers them into the body its
non-streamed reader already reads, so that stop reasons, refusals, usage and cached tokens are
read one way whichever way the reply came. The tokens received are reported as they arrive.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from persona.generation.chunking import CHARS_PER_TOKEN

TokensReceived = Callable[[int], Awaitable[None]]
"""Told how many tokens of a streamed reply have arrived so far."""

REPORT_EVERY_TOKENS = 1000
"""A streamed reply's progress is reported this often: each report is a stored run event."""


class StreamedReply(ABC):
    """The events of one streamed reply, gathered into the provider's non-streamed response."""

    ndjson: ClassVar[bool] = False
    """Whether the stream is one JSON object a line rather than server-sent events."""

    def __init__(self, received: TokensReceived) -> None:
        self._received = received
        self._chars = 0
        self._reported = 0
        self.restart()

    def restart(self) -> None:
        """Forget what arrived: a retried stream starts from the beginning."""
        self._chars = 0
        self._reported = 0
        self._begin()

    async def received(self, piece: str) -> None:
        """Counts ``piece`` of the reply's text, reporting every ``REPORT_EVERY_TOKENS``."""
        self._chars += len(piece)
        tokens = int(self._chars / CHARS_PER_TOKEN)
        if tokens - self._reported >= REPORT_EVERY_TOKENS:
            self._reported = tokens
            await self._received(tokens)

    @abstractmethod
    def _begin(self) -> None:
        """Set up an empty reply."""

    @abstractmethod
    async def add(self, event: dict[str, Any]) -> None:
        """Take in one event of the stream."""

    @abstractmethod
    def finished(self) -> bool:
        """Whether the reply's last event has arrived: a stream closed before it is cut off."""

    @abstractmethod
    def assembled(self) -> dict[str, Any]:
        """The response a non-streamed request would have returned."""


def text_of(value: Any) -> str:
    """A text field of an event that may be missing or null."""
    return value if isinstance(value, str) else ""
