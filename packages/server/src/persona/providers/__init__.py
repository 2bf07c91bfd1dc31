"""LLM providers behind one protocol, and the one registry of what each provider is.

Every fact about a provider that is not how it talks to its API lives in its
``ProviderSpec`` below: its name, default model, the environment variables holding its key,
its default endpoint and the variable that overrides it. The provider classes read them
from here; ``persona.schemas.ProviderName`` lists the same names for the API contract.

``local`` needs no key and no network; the others read their keys from the usual
environment variables and are refused, naming the variable, when it is unset.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from persona.errors import ProviderNotConfiguredError
from persona.generation.provider import GenerationResult, ProgressCallback, Provider
from persona.schemas import ProviderInfo, ProviderName
from persona.settings import Settings

__all__ = [
    "GenerationResult",
    "ProgressCallback",
    "Provider",
    "ProviderSpec",
    "build_provider",
    "import_providers",
    "list_providers",
    "provider_names",
    "provider_spec",
    "require_configured",
]


@dataclass(frozen=True)
class ProviderSpec:
    name: ProviderName
    default_model: str | None
    env_vars: tuple[str, ...]
    """Any one of these holds its key (the first set one is used); empty means no key."""
    factory: Callable[[Settings], Provider]
    keyless: Callable[[], bool] | None = None
    """When it returns True the provider is configured without any of ``env_vars``."""
    base_url: str | None = None
    """The API's endpoint when nothing overrides it; None for a provider with no API."""
    base_url_env: str | None = None
    """The environment variable that overrides ``base_url``, if the provider reads one."""
    base_url_env_aliases: tuple[str, ...] = ()
    """Further variables the official SDK reads for the endpoint, after ``base_url_env``."""
    key_order: tuple[str, ...] = ()
    """The order the official SDK reads ``env_vars`` in, when it differs from theirs (whose
    first is the one messages name)."""

    def configured(self) -> bool:
        if not self.env_vars or self.api_key() is not None:
            return True
        return self.keyless is not None and self.keyless()

    @property
    def needs_key(self) -> bool:
        """Whether the API refuses a request without a key (a keyless setup aside)."""
        return bool(self.env_vars) and self.keyless is None

    def api_key(self) -> str | None:
        """The key from the first of ``env_vars`` (in ``key_order``) that is set and not empty."""
        order = self.key_order or self.env_vars
        return next((os.environ[v] for v in order if os.environ.get(v)), None)

    def configured_base_url(self) -> str | None:
        """The endpoint named by ``base_url_env`` (or an alias), when set and not empty."""
        names = (self.base_url_env, *self.base_url_env_aliases) if self.base_url_env else ()
        return next((os.environ[v] for v in names if os.environ.get(v)), None)


# Factories import their module when called, so that importing the registry stays cheap.


def _local(settings: Settings) -> Provider:
    from persona.providers.local import LocalProvider

    return LocalProvider()


def _anthropic(settings: Settings) -> Provider:
    from persona.providers.anthropic import AnthropicProvider

    return AnthropicProvider.from_env(settings)


def _openai(settings: Settings) -> Provider:
    from persona.providers.openai import OpenAIProvider

    return OpenAIProvider.from_env(settings)


def _openai_keyless() -> bool:
    from persona.providers.openai import keyless_configured

    return keyless_configured()


def _gemini(settings: Settings) -> Provider:
    from persona.providers.gemini import GeminiProvider

    return GeminiProvider.from_env(settings)


def _ollama(settings: Settings) -> Provider:
    from persona.providers.ollama import OllamaProvider

    return OllamaProvider.from_env(settings)


_SPECS: dict[str, ProviderSpec] = {
    "local": ProviderSpec("local", "tfidf-kmeans", (), _local),
    "anthropic": ProviderSpec(
        "anthropic",
        "claude-sonnet-4-6",
        ("ANTHROPIC_API_KEY",),
        _anthropic,
        base_url="https://api.anthropic.com",
        base_url_env="ANTHROPIC_BASE_URL",
    ),
    "openai": ProviderSpec(
        "openai",
        "gpt-5.4-mini",
        ("OPENAI_API_KEY",),
        _openai,
        keyless=_openai_keyless,
        base_url="https://api.openai.com/v1",
        base_url_env="OPENAI_BASE_URL",
    ),
    "gemini": ProviderSpec(
        "gemini",
        "gemini-3.5-flash",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        _gemini,
        base_url="https://generativelanguage.googleapis.com",
        base_url_env="GEMINI_BASE_URL",
        base_url_env_aliases=("GOOGLE_GEMINI_BASE_URL",),
        # google-genai prefers GOOGLE_API_KEY when both are set.
        key_order=("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    ),
    "ollama": ProviderSpec(
        "ollama",
        "llama3.1",
        (),
        _ollama,
        base_url="http://127.0.0.1:11434",
        base_url_env="OLLAMA_HOST",
    ),
}


def import_providers() -> None:
    """Import every provider's module, and with them the HTTP stack, now.

    A server does this at start-up: otherwise the first run on each provider imports it on
    the event loop, stalling every request while it does."""
    for name in _SPECS:
        importlib.import_module(f"{__name__}.{name}")


def provider_names() -> tuple[str, ...]:
    """Every provider's name, in the order ``list_providers`` gives them."""
    return tuple(_SPECS)


def provider_spec(name: str) -> ProviderSpec:
    """What the registry knows about provider ``name`` (KeyError for an unknown name)."""
    return _SPECS[name]


def list_providers() -> list[ProviderInfo]:
    return [
        ProviderInfo(
            name=spec.name,
            configured=spec.configured(),
            default_model=spec.default_model,
            env_var=spec.env_vars[0] if spec.env_vars else None,
        )
        for spec in _SPECS.values()
    ]


def require_configured(name: str) -> ProviderSpec:
    """The spec of provider ``name``, or ProviderNotConfiguredError naming the env var to set."""
    spec = _SPECS[name]
    if not spec.configured():
        raise ProviderNotConfiguredError(name, spec.env_vars[0])
    return spec


def build_provider(name: str, settings: Settings) -> Provider:
    return require_configured(name).factory(settings)
