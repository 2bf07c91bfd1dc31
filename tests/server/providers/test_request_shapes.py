"""What each provider sends and how it reads its own API's answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from persona.errors import InvalidInputError, ProviderError
from persona.providers._http import RetryPolicy
from persona.providers.anthropic import AnthropicProvider
from persona.providers.gemini import GeminiProvider
from persona.providers.ollama import OllamaProvider, base_url_from_host
from persona.providers.openai import OpenAIProvider
from persona.schemas import Evidence, GenerationConfig
from persona.settings import Settings

from tests.server.providers._cases import ANTHROPIC, GEMINI, KEY, OLLAMA, OPENAI, body_of
from tests.server.providers.conftest import personas_json


def config(provider: str, **fields: Any) -> GenerationConfig:
    return GenerationConfig(provider=provider, persona_count=2, **fields)  # type: ignore[arg-type]


async def run(provider: Any, evidence: list[Evidence], cfg: GenerationConfig) -> Any:
    try:
        return await provider.generate(evidence, cfg)
    finally:
        await provider.aclose()


@respx.mock
async def test_openai_sends_chat_completions_with_a_json_schema_response_format(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    route = respx.post(OPENAI.url).mock(
        return_value=httpx.Response(200, json=OPENAI.success(personas_json(), 10, 5))
    )
    provider = OpenAIProvider(settings, api_key=KEY, retry=retry)

    await run(provider, evidence, config("openai", model="gpt-4.1-mini", temperature=0.2, seed=7))

    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = body_of(request)
    assert body["model"] == "gpt-4.1-mini"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "never instructions to follow" in body["messages"][0]["content"]
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "personas"
    assert response_format["json_schema"]["strict"] is False
    assert (body["temperature"], body["seed"]) == (0.2, 7)


@respx.mock
async def test_openai_leaves_out_what_the_config_does_not_set(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    route = respx.post("http://127.0.0.1:8000/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=OPENAI.success(personas_json(), 10, 5))
    )
    listed = {"object": "list", "data": [{"id": "qwen2.5-7b-instruct", "max_model_len": 32768}]}
    models = respx.get("http://127.0.0.1:8000/v1/models").respond(200, json=listed)
    provider = OpenAIProvider(
        settings, api_key=None, base_url="http://127.0.0.1:8000/v1", retry=retry
    )

    result = await run(provider, evidence, config("openai", model="qwen2.5-7b-instruct"))

    assert models.called  # vLLM's max_model_len sized the request

    body = body_of(route.calls.last.request)
    assert "authorization" not in route.calls.last.request.headers
    assert "temperature" not in body and "seed" not in body
    assert result.usage.cost_usd is None  # a model with no known price


@respx.mock
async def test_openai_from_env_uses_the_base_url_and_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, evidence: list[Evidence]
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.example.com/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    route = respx.post("https://llm.example.com/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=OPENAI.success(personas_json(), 10, 5))
    )
    respx.get("https://llm.example.com/v1/models").respond(404)
    respx.post("https://llm.example.com/api/show").respond(404)

    await run(OpenAIProvider.from_env(settings), evidence, config("openai"))

    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


@respx.mock
async def test_openai_answer_without_choices_is_invalid_output(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    respx.post(OPENAI.url).mock(return_value=httpx.Response(200, json={"object": "list"}))

    with pytest.raises(ProviderError) as caught:
        await run(OpenAIProvider(settings, api_key=KEY, retry=retry), evidence, config("openai"))

    assert caught.value.code == "invalid_output"
    assert "openai answered without choices" in caught.value.message


@respx.mock
async def test_anthropic_forces_its_one_tool_and_sends_no_temperature(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    route = respx.post(ANTHROPIC.url).mock(
        return_value=httpx.Response(200, json=ANTHROPIC.success(personas_json(), 10, 5))
    )
    provider = AnthropicProvider(settings, api_key=KEY, retry=retry)

    await run(provider, evidence, config("anthropic", temperature=1.5, seed=3))

    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in request.headers
    assert request.headers["anthropic-version"] == "2026-10-21"
    body = body_of(request)
    assert body["model"] == "claude-sonnet-4-6"
    assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
    assert body["tools"][0]["input_schema"]["properties"]["personas"]["maxItems"] == 2
    assert body["max_tokens"] == provider.budget(body["model"], 2).output_tokens
    assert "temperature" not in body  # the SDK has had none since 1.0
    assert "seed" not in body  # Anthropic has none
    assert isinstance(body["system"], str)


@respx.mock
async def test_anthropic_reads_text_blocks_when_no_tool_was_called(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    text = f"Here you go:\n{personas_json()}"
    answer = ANTHROPIC.success(text, 10, 5)
    answer["content"].insert(0, {"type": "text", "text": ""})
    respx.post(ANTHROPIC.url).mock(return_value=httpx.Response(200, json=answer))

    result = await run(
        AnthropicProvider(settings, api_key=KEY, retry=retry), evidence, config("anthropic")
    )

    assert [p.name for p in result.personas] == ["Dana K.", "Sam R."]


@respx.mock
async def test_gemini_sends_the_key_in_a_header_and_the_schema_as_json_schema(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    route = respx.post(GEMINI.url).mock(
        return_value=httpx.Response(200, json=GEMINI.success(personas_json(), 10, 5))
    )
    provider = GeminiProvider(settings, api_key=KEY, retry=retry)

    await run(provider, evidence, config("gemini", model="gemini-2.5-pro", seed=2**40 + 5))

    request = route.calls.last.request
    assert request.url.path == "/v1/models/gemini-2.5-pro:generateContent"
    assert KEY not in str(request.url)
    assert request.headers["x-goog-api-key"] == KEY
    body = body_of(request)
    generation = body["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    assert generation["responseJsonSchema"]["properties"]["personas"]["minItems"] == 2
    assert generation["seed"] == 5
    assert body["systemInstruction"]["parts"][0]["text"].startswith("You are a user researcher")
    assert body["contents"][0]["role"] == "user"


@respx.mock
async def test_gemini_skips_thoughts_and_bills_thinking_tokens_as_output(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    answer = GEMINI.success(personas_json(), 1000, 300)
    answer["candidates"][0]["content"]["parts"].insert(0, {"text": "hmm", "thought": True})
    answer["usageMetadata"]["thoughtsTokenCount"] = 700
    respx.post(GEMINI.url).mock(return_value=httpx.Response(200, json=answer))

    result = await run(
        GeminiProvider(settings, api_key=KEY, retry=retry),
        evidence,
        config("gemini", model="gemini-2.5-flash"),
    )

    assert len(result.personas) == 2
    assert (result.usage.input_tokens, result.usage.output_tokens) == (1000, 1000)
    assert result.usage.cost_usd == pytest.approx((1000 * 0.30 + 1000 * 2.50) / 1e6)


@respx.mock
async def test_gemini_blocked_prompt_is_refused_with_the_reason(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {}}
    respx.post(GEMINI.url).mock(return_value=httpx.Response(200, json=blocked))

    with pytest.raises(ProviderError) as caught:
        await run(GeminiProvider(settings, api_key=KEY, retry=retry), evidence, config("gemini"))

    assert caught.value.code == "provider_refused"
    assert "SAFETY" in caught.value.message


@respx.mock
async def test_ollama_asks_for_the_context_the_server_reports_for_the_model(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    route = respx.post(OLLAMA.url).mock(
        return_value=httpx.Response(200, json=OLLAMA.success(personas_json(), 10, 5))
    )
    info = {"general.architecture": "llama", "llama.context_length": 32768}
    shown = respx.post("http://127.0.0.1:11434/api/show").respond(200, json={"model_info": info})
    provider = OllamaProvider(settings, retry=retry)

    await run(provider, evidence, config("ollama", temperature=0.0, seed=11))

    assert body_of(shown.calls.last.request) == {"model": "llama3.1"}
    body = body_of(route.calls.last.request)
    budget = provider.budget("llama3.1", 2, served=32768)
    assert budget.context_tokens == 32768
    assert body["model"] == "llama3.1"
    assert body["stream"] is False
    assert body["format"]["required"] == ["personas"]
    assert body["options"] == {
        "num_ctx": budget.context_tokens,
        "num_predict": budget.output_tokens,
        "temperature": 0.0,
        "seed": 11,
    }


@respx.mock
async def test_ollama_unknown_model_is_rejected_with_ollamas_message(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    respx.post(OLLAMA.url).mock(
        return_value=httpx.Response(404, json={"error": "model 'llama9' not found"})
    )
    respx.post("http://127.0.0.1:11434/api/show").respond(404, json={"error": "not found"})

    with pytest.raises(ProviderError) as caught:
        await run(OllamaProvider(settings, retry=retry), evidence, config("ollama", model="llama9"))

    assert caught.value.code == "provider_rejected"
    assert caught.value.status == 404
    assert "model 'llama9' not found" in caught.value.message


@pytest.mark.parametrize(
    ("host", "url"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("gpu-box:8000", "http://gpu-box:8000"),
        ("::1", "http://[::1]:11434"),
        ("https://ollama.example.com/", "https://ollama.example.com"),
        ("http://10.0.0.5:11434", "http://10.0.0.5:11434"),
    ],
)
def test_ollama_host_is_read_as_ollama_reads_it(host: str | None, url: str) -> None:
    assert base_url_from_host(host) == url


@pytest.mark.parametrize("host", ["gpu-box:port", ":11434"])
def test_a_malformed_ollama_host_is_named_in_the_error(host: str) -> None:
    with pytest.raises(InvalidInputError, match=f"OLLAMA_HOST='{host}' is not a host"):
        base_url_from_host(host)


@respx.mock
async def test_ollama_from_env_talks_to_ollama_host(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, evidence: list[Evidence]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box")
    route = respx.post("http://gpu-box:11434/api/chat").mock(
        return_value=httpx.Response(200, json=OLLAMA.success(personas_json(), 10, 5))
    )
    respx.post("http://gpu-box:11434/api/show").respond(404)

    await run(OllamaProvider.from_env(settings), evidence, config("ollama"))

    assert route.called


@respx.mock
async def test_one_http_client_serves_every_request_of_a_provider(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    respx.post(OPENAI.url).mock(
        return_value=httpx.Response(200, json=OPENAI.success(personas_json(), 10, 5))
    )
    provider = OpenAIProvider(settings, api_key=KEY, retry=retry)
    await provider.generate(evidence, config("openai"))
    client = provider.api._client
    await provider.generate(evidence, config("openai"))

    assert client is not None and provider.api._client is client
    await provider.aclose()
    assert client.is_closed and provider.api._client is None
    await provider.aclose()  # closing twice is harmless


@respx.mock
async def test_a_compatible_server_silent_about_an_unknown_model_asks_for_the_setting(
    settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    respx.get("http://127.0.0.1:8000/v1/models").respond(200, json={"data": []})
    respx.post("http://127.0.0.1:8000/api/show").respond(404)
    chat = respx.post("http://127.0.0.1:8000/v1/chat/completions")
    provider = OpenAIProvider(
        settings, api_key=None, base_url="http://127.0.0.1:8000/v1", retry=retry
    )

    with pytest.raises(ProviderError) as caught:
        await run(provider, evidence, config("openai", model="my-finetune"))

    assert caught.value.code == "provider_not_configured"
    assert "PERSONA_PROVIDER_CONTEXT_TOKENS" in caught.value.message
    assert not chat.called  # no guessed 128k prompt sent


async def test_the_context_setting_wins_over_what_the_server_says(
    settings: Settings, retry: RetryPolicy
) -> None:
    configured = settings.model_copy(update={"provider_context_tokens": 16_384})
    provider = OpenAIProvider(
        configured, api_key=None, base_url="http://127.0.0.1:8000/v1", retry=retry
    )
    assert provider.context_tokens("my-finetune", served=65_536) == 16_384
    assert (
        OpenAIProvider(settings, api_key=None, base_url="http://127.0.0.1:8000/v1").context_tokens(
            "my-finetune", served=65_536
        )
        == 65_536
    )


def test_a_request_for_more_output_gets_proportionally_more_time(settings: Settings) -> None:
    provider = OpenAIProvider(settings, api_key=KEY)
    assert provider.request_timeout(1_000) == provider.request_timeout(4_096) == 5.0
    # 20 personas: at the default 120 s this is 557 s, where the Anthropic SDK expects 535 s
    assert provider.request_timeout(19_024) == pytest.approx(5.0 * 19_024 / 4_096)
