"""A run's configuration: the experiment's, with the overrides its start request gave."""

from __future__ import annotations

from typing import Any

from persona.errors import InvalidInputError
from persona.providers import provider_names
from persona.schemas import GenerationConfig, GenerationOverrides, ResolvedConfig


def require_known_provider(name: str, location: list[str | int]) -> None:
    known = provider_names()
    if name not in known:
        raise InvalidInputError(
            f"provider {name!r} is not available; available: {', '.join(sorted(known))}",
            location=location,
        )


def effective_config(
    base: GenerationConfig, overrides: GenerationOverrides | None, default_provider: str
) -> ResolvedConfig:
    """The experiment's config with the overrides given; a new provider without a model
    uses that provider's default model."""
    changes: dict[str, Any] = overrides.model_dump(exclude_none=True) if overrides else {}
    if "provider" in changes and changes["provider"] != base.provider and "model" not in changes:
        changes["model"] = None
    merged = base.model_dump() | changes
    merged["provider"] = merged["provider"] or default_provider
    return ResolvedConfig.model_validate(merged)
