"""The provider registry: which providers exist, which are configured, what they default to."""

from __future__ import annotations

from typing import get_args

import pytest
from persona.errors import ProviderNotConfiguredError
from persona.providers import build_provider, list_providers, provider_names, require_configured
from persona.providers.anthropic import AnthropicProvider
from persona.providers.gemini import GeminiProvider
from persona.providers.ollama import OllamaProvider
from persona.providers.openai import OpenAIProvider, is_loopback_url
from persona.schemas import ProviderName
from persona.settings import Settings

KEY_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
)


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_every_provider_is_listed_with_its_default_model_and_variable() -> None:
    listed = {p.name: p for p in list_providers()}

    assert set(listed) == {"local", "anthropic", "openai", "gemini", "ollama"}
    assert {name: p.configured for name, p in listed.items()} == {
        "local": True,
        "anthropic": False,
        "openai": False,
        "gemini": False,
        "ollama": True,
    }
    assert listed["anthropic"].env_var == "ANTHROPIC_API_KEY"
    assert listed["gemini"].env_var == "GEMINI_API_KEY"
    for cls in (AnthropicProvider, OpenAIProvider, GeminiProvider, OllamaProvider):
        assert listed[cls.name].default_model == cls.default_model
    assert listed["anthropic"].default_model == "claude-sonnet-4-6"


def test_a_key_in_the_environment_configures_its_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("GOOGLE_API_KEY", "k")  # Gemini's alternative name
    listed = {p.name: p.configured for p in list_providers()}
    assert listed["anthropic"] and listed["gemini"] and not listed["openai"]


@pytest.mark.parametrize(
    ("base_url", "configured"),
    [
        ("http://127.0.0.1:1234/v1", True),
        ("http://localhost:8000/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://127.8.9.10/v1", True),
        ("https://api.together.xyz/v1", False),
        ("http://10.0.0.5:8000/v1", False),
    ],
)
def test_openai_needs_no_key_only_for_a_server_on_this_machine(
    monkeypatch: pytest.MonkeyPatch, base_url: str, configured: bool
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    assert {p.name: p.configured for p in list_providers()}["openai"] is configured


def test_an_unconfigured_provider_is_refused_naming_the_variable(tmp_path: object) -> None:
    with pytest.raises(ProviderNotConfiguredError) as caught:
        require_configured("gemini")
    assert caught.value.env_var == "GEMINI_API_KEY"
    assert "set the GEMINI_API_KEY environment variable" in str(caught.value)
    with pytest.raises(ProviderNotConfiguredError, match="OPENAI_API_KEY"):
        build_provider("openai", Settings(_env_file=None))


def test_loopback_urls() -> None:
    assert is_loopback_url("127.0.0.1:8000")
    assert is_loopback_url("http://app.localhost/v1")
    assert not is_loopback_url("http://example.com")
    assert not is_loopback_url("")


def test_the_registry_lists_the_providers_the_api_accepts() -> None:
    assert provider_names() == get_args(ProviderName)


def test_a_provider_that_needs_a_key_is_not_built_without_one() -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(ProviderNotConfiguredError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider(settings)
    with pytest.raises(ProviderNotConfiguredError, match="GEMINI_API_KEY"):
        GeminiProvider(settings)
    assert OpenAIProvider(settings).api.base_url == "https://api.openai.com/v1"


def test_the_endpoint_variable_overrides_the_registry_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gateway.example.com/")
    settings = Settings(_env_file=None)
    assert AnthropicProvider.from_env(settings).api.base_url == "https://gateway.example.com"
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    assert AnthropicProvider.from_env(settings).api.base_url == "https://api.anthropic.com"
