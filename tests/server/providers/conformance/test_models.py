"""The default models are current by the SDKs' own model lists, and priced."""

from __future__ import annotations

import inspect
import typing

from anthropic._data.deprecated_models import DEPRECATED_MODELS
from anthropic.types import Model
from openai.types.shared import chat_model
from persona.providers import provider_spec
from persona.providers.pricing import context_window, max_output_tokens, price_of


def test_the_anthropic_default_is_a_listed_model_with_no_end_of_life() -> None:
    default = str(provider_spec("anthropic").default_model)
    listed = typing.get_args(typing.get_args(Model)[0])
    assert default in listed
    assert default not in DEPRECATED_MODELS


def test_the_openai_default_is_a_listed_model_with_no_shutdown_date() -> None:
    default = str(provider_spec("openai").default_model)
    assert default in typing.get_args(chat_model.ChatModel)
    # The SDK lists deprecated models, with their shutdown dates, in the alias's docstring.
    source = inspect.getsource(chat_model)
    deprecations = source[source.index('"""') :]
    assert f'"{default}"' not in deprecations


def test_every_default_model_of_an_llm_provider_is_priced_and_sized() -> None:
    for name in ("anthropic", "openai", "gemini"):
        model = str(provider_spec(name).default_model)
        assert price_of(model) is not None, model
        assert context_window(model) is not None, model
        assert max_output_tokens(model) is not None, model
