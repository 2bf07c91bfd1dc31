"""The Provider protocol: evidence and a generation config in, personas and token usage out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from persona.schemas import Evidence, GenerationConfig, PersonaContent, Usage

ProgressCallback = Callable[[float, str], Awaitable[None]]
"""Called with (fraction done 0..1, stage name) as the work advances."""


@dataclass
class GenerationResult:
    personas: list[PersonaContent]
    usage: Usage = field(default_factory=Usage)


@runtime_checkable
class Provider(Protocol):
    """One place that talks to one LLM (or, for ``local``, to none)."""

    name: str

    async def generate(
        self,
        evidence: Sequence[Evidence],
        config: GenerationConfig,
        *,
        progress: ProgressCallback | None = None,
        spend_cap_usd: float | None = None,
    ) -> GenerationResult:
        """Produce ``config.persona_count`` personas grounded in ``evidence``; with
        ``spend_cap_usd``, send no request once the usage so far costs that much (the run
        fails with ``budget_exceeded``)."""
        ...

    async def aclose(self) -> None:
        """Release network resources (a no-op for offline providers)."""
        ...
