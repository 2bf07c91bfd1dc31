"""The offline ``local`` provider: the synthesizer in ``persona.generation.local`` behind the
Provider protocol. No key, no network, no tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from persona.generation.local.synthesizer import synthesize
from persona.generation.provider import GenerationResult, ProgressCallback
from persona.schemas import Evidence, GenerationConfig, Usage


class LocalProvider:
    """Deterministic persona synthesis from the evidence alone: no key, no network, no tokens."""

    name = "local"
    grounds_personas: ClassVar[bool] = True
    """Its personas are checked against the evidence before they are returned."""

    async def generate(
        self,
        evidence: Sequence[Evidence],
        config: GenerationConfig,
        *,
        progress: ProgressCallback | None = None,
        spend_cap_usd: float | None = None,
    ) -> GenerationResult:
        """``config.persona_count`` personas, one per segment of similar participants (free:
        a spend cap has nothing to stop)."""
        seed = (config.seed or 0) % 2**32  # numpy seeds are 32-bit
        segment = config.columns.segment if config.columns else None
        personas = await synthesize(evidence, config.persona_count, seed, progress, segment)
        return GenerationResult(
            personas=personas, usage=Usage(input_tokens=0, output_tokens=0, cost_usd=0.0)
        )

    async def aclose(self) -> None:
        """Nothing to release: the provider holds no connections."""
