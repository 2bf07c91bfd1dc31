"""What every LLM provider does the same way, checked against each one's documented API shape
(respx stands in for the provider's servers)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from persona.errors import ProviderError, ProviderNotConfiguredError
from persona.generation.chunking import estimate_tokens
from persona.generation.provider import GenerationResult
from persona.providers import build_provider, require_configured
from persona.providers._http import RetryPolicy
from persona.providers.pricing import cost_usd
from persona.schemas import Evidence, GenerationConfig
from persona.settings import Settings

from tests.fakes import model_answer
from tests.server.providers._cases import ALL, KEY, ApiCase, body_of
from tests.server.providers.conftest import RecordingSleep, personas_json

pytestmark = pytest.mark.parametrize("case", ALL, ids=str)


async def generate(
    case: ApiCase,
    settings: Settings,
    retry: RetryPolicy,
    evidence: list[Evidence],
    *,
    count: int = 2,
    progress: Any = None,
) -> GenerationResult:
    provider = case.build(settings, retry)
    try:
        config = GenerationConfig(provider=case.name, persona_count=count)  # type: ignore[arg-type]
        return await provider.generate(evidence, config, progress=progress)
    finally:
        await provider.aclose()


def ok(
    case: ApiCase, text: str, input_tokens: int = 1200, output_tokens: int = 400
) -> httpx.Response:
    return httpx.Response(200, json=case.success(text, input_tokens, output_tokens))


@respx.mock
async def test_success_gives_grounded_personas_usage_and_cost(
    case: ApiCase, settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    route = respx.post(case.url).mock(return_value=ok(case, personas_json(2)))

    result = await generate(case, settings, retry, evidence)

    assert [p.name for p in result.personas] == ["Dana K.", "Sam R."]
    assert all(q.verified for p in result.personas for q in p.quotes)
    assert [p.grounding.score for p in result.personas] == [1.0, 1.0]
    assert result.personas[1].evidence_ids == ["ev-04", "ev-05"]
    model = case.build(settings, retry).default_model
    assert result.usage.input_tokens == 1200
    assert result.usage.output_tokens == 400
    assert result.usage.cost_usd == cost_usd(model, 1200, 400)
    assert (result.usage.cost_usd is None) == (case.name == "ollama")
    body = body_of(route.calls.last.request)
    prompt = case.prompt_of(body)
    named = enumerate(evidence, start=1)
    assert all(f'"id": "E{n}"' in prompt and e.text in prompt for n, e in named)
    assert not any(e.id in prompt for e in evidence)  # stored ids stay out of prompts
    assert '"participant": "P3"' in prompt and '"role": "nurse"' in prompt
    assert "Write 2 distinct user personas" in prompt
    personas_schema = case.schema_of(body)["properties"]["personas"]
    assert personas_schema["minItems"] == personas_schema["maxItems"] == 2


@respx.mock
async def test_429_waits_as_long_as_retry_after_says_then_succeeds(
    case: ApiCase,
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    evidence: list[Evidence],
) -> None:
    limited = httpx.Response(429, headers={"retry-after": "7"}, json={"error": "rate limited"})
    route = respx.post(case.url).mock(side_effect=[limited, ok(case, personas_json(2))])

    result = await generate(case, settings, retry, evidence)

    assert len(result.personas) == 2
    assert route.call_count == 2
    assert sleep.delays == [7.0]


@respx.mock
async def test_server_errors_exhaust_the_retries(
    case: ApiCase,
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    evidence: list[Evidence],
) -> None:
    route = respx.post(case.url).mock(
        return_value=httpx.Response(503, json={"error": {"message": "overloaded"}})
    )

    with pytest.raises(ProviderError) as caught:
        await generate(case, settings, retry, evidence)

    assert caught.value.code == "provider_unavailable"
    assert caught.value.status == 503
    assert case.name in caught.value.message and "HTTP 503" in caught.value.message
    assert "overloaded" in caught.value.message
    assert route.call_count == 3  # the first attempt and max_retries=2
    assert len(sleep.delays) == 2
    assert 0.5 <= sleep.delays[0] <= 1.0 and 1.0 <= sleep.delays[1] <= 2.0  # capped, jittered


@respx.mock
async def test_401_fails_at_once_without_retrying_or_leaking_the_key(
    case: ApiCase,
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    evidence: list[Evidence],
) -> None:
    route = respx.post(case.url).mock(return_value=httpx.Response(401, json=case.error_body))

    with pytest.raises(ProviderError) as caught:
        await generate(case, settings, retry, evidence)

    assert caught.value.code == "provider_auth"
    assert caught.value.status == 401
    assert route.call_count == 1
    assert sleep.delays == []
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda j: f"Sure! Here are the personas you asked for:\n```json\n{j}\n```\nAnything else?",
        lambda j: f"<thinking>two segments stand out</thinking>\n<output>\n{j}\n</output>",
        lambda j: f"Based on the interviews, these are the personas. {j}",
    ],
    ids=["fenced", "output-tags", "after-prose"],
)
@respx.mock
async def test_json_wrapped_in_prose_fences_or_tags_is_found(
    case: ApiCase, settings: Settings, retry: RetryPolicy, evidence: list[Evidence], wrap: Any
) -> None:
    route = respx.post(case.url).mock(return_value=ok(case, wrap(personas_json(2))))

    result = await generate(case, settings, retry, evidence)

    assert [p.title for p in result.personas] == [
        "Price-wary designer",
        "Night-shift mobile shopper",
    ]
    assert route.call_count == 1


@respx.mock
async def test_invalid_json_gets_one_repair_request(
    case: ApiCase, settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    cut_off = personas_json(2)[:150]
    route = respx.post(case.url).mock(
        side_effect=[ok(case, cut_off, 1000, 300), ok(case, personas_json(2), 1500, 400)]
    )

    result = await generate(case, settings, retry, evidence)

    assert len(result.personas) == 2
    assert route.call_count == 2
    repair = case.prompt_of(body_of(route.calls[1].request))
    assert "could not be used: no JSON found in the reply: the JSON is cut off" in repair
    assert cut_off in repair
    assert '"id": "E4"' in repair  # the original request came along: content can be fixed too
    assert (result.usage.input_tokens, result.usage.output_tokens) == (2500, 700)


@respx.mock
async def test_output_unusable_after_the_repair_fails_with_the_raw_text_kept(
    case: ApiCase, settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    respx.post(case.url).mock(
        side_effect=[ok(case, "I cannot help with that."), ok(case, '{"personas": []}')]
    )

    with pytest.raises(ProviderError) as caught:
        await generate(case, settings, retry, evidence)

    assert caught.value.code == "invalid_output"
    assert "$.personas: List should have at least 1 item" in caught.value.message
    raw = caught.value.raw_output or ""
    assert "I cannot help with that." in raw and '"personas": []' in raw


@respx.mock
async def test_quote_not_in_the_data_is_flagged_unverified(
    case: ApiCase, settings: Settings, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    reply = json.loads(personas_json(1))
    reply["personas"][0]["quotes"].append(
        {"text": "Checkout is a delight and I love it", "evidence_ids": ["ev-00", "ev-99"]}
    )
    respx.post(case.url).mock(return_value=ok(case, json.dumps(reply)))

    result = await generate(case, settings, retry, evidence, count=1)

    (persona,) = result.personas
    assert [q.verified for q in persona.quotes] == [True, False]
    assert persona.quotes[1].evidence_ids == ["ev-00"]
    assert persona.quotes[1].match == "none"
    assert persona.grounding.score == 0.5
    assert (persona.grounding.quotes_verified, persona.grounding.quotes_unverified) == (1, 1)
    assert persona.dropped_evidence_ids == 1


@respx.mock
async def test_evidence_beyond_the_context_is_condensed_then_synthesised(
    case: ApiCase, tmp_path: Any, retry: RetryPolicy, evidence: list[Evidence]
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, provider_context_tokens=2048)
    many = [
        e.model_copy(update={"id": f"{e.id}-{n}", "text": f"{e.text} " * 3})
        for n in range(6)
        for e in evidence
    ]
    requests: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        requests.append(body)
        return ok(case, model_answer(case.prompt_of(body), case.schema_of(body)), 900, 200)

    respx.post(case.url).mock(side_effect=answer)
    stages: list[tuple[float, str]] = []

    async def progress(fraction: float, stage: str) -> None:
        stages.append((fraction, stage))

    result = await generate(case, settings, retry, many, progress=progress)

    provider = case.build(settings, retry)
    budget = provider.budget(provider.default_model, 2)
    assert estimate_tokens("\n".join(e.text for e in many)) > budget.context_tokens
    kinds = [
        "notes" if "notes" in case.schema_of(b)["properties"] else "personas" for b in requests
    ]
    assert kinds[-1] == "personas" and set(kinds[:-1]) == {"notes"} and len(kinds) > 3
    assert "<notes>" in case.prompt_of(requests[-1])
    for body in requests:  # never a request that cannot fit
        sent = case.prompt_of(body) + json.dumps(case.schema_of(body))
        assert estimate_tokens(sent) <= budget.input_limit
    assert len(result.personas) == 2
    assert all(q.verified for p in result.personas for q in p.quotes)
    cited = {i for p in result.personas for i in p.evidence_ids}
    assert cited <= {e.id for e in many} and len(cited) > 10
    assert result.usage.input_tokens == 900 * len(requests)
    fractions = [f for f, _ in stages]
    assert fractions == sorted(fractions)
    assert any(stage.startswith("condensing evidence: 1/") for _, stage in stages)
    assert stages[-1][1] == "writing personas from notes"


def test_a_provider_without_its_key_is_refused_naming_the_variable(
    case: ApiCase, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    for variable in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    if not case.env:  # ollama needs no key
        assert require_configured(case.name).name == case.name
        return
    (variable,) = case.env
    with pytest.raises(ProviderNotConfiguredError) as caught:
        build_provider(case.name, settings)
    assert variable in str(caught.value)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    assert type(build_provider(case.name, settings)) is type(case.build(settings, RetryPolicy()))
