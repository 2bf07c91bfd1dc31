"""Estimates and budgets through PersonaService, against the loopback fake of an
OpenAI-compatible server (real sockets, the real runner, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from persona.errors import BudgetExceededError
from persona.schemas import ExperimentCreate, GenerationConfig, RunDetail
from persona.service import PersonaService, StartedRun
from persona.settings import Settings
from persona.spend.budgets import Budget
from persona.sync_service import SyncPersonaService

from tests.fakes import Content, FakeOpenAIServer, serving_openai

MANY_TOKENS = 1_000_000
"""A reply reported as this many tokens costs $4.50 on gpt-5.4-mini: past any cap below."""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with serving_openai(monkeypatch) as server:
        yield server


@pytest.fixture
async def slow_svc(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[PersonaService]:
    """A service whose provider requests wait longer than a test: its runs stay running,
    their usage unrecorded (tests cancel them)."""
    with serving_openai(monkeypatch, latency=120):
        async with PersonaService(make_settings(provider_retry_base_delay=0.0)) as service:
            yield service


@pytest.fixture
def spend_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(provider_retry_base_delay=0.0)


@pytest.fixture
async def svc(spend_settings: Settings) -> AsyncIterator[PersonaService]:
    async with PersonaService(spend_settings) as started:
        yield started


async def new_experiment(
    service: PersonaService, provider: str = "openai", **config: object
) -> str:
    created = await service.create_experiment(
        ExperimentCreate(
            name="Spend",
            data_sources=["interviews.csv"],
            config=GenerationConfig.model_validate(
                {"provider": provider, "persona_count": 2, **config}
            ),
        )
    )
    return created.id


async def run_to_end(
    service: PersonaService, experiment_id: str, budgets: tuple[Budget, ...] = ()
) -> RunDetail:
    started = await service.start_run(experiment_id, budgets=budgets)
    return await service.wait_for_run(experiment_id, started.run.id, timeout=60)


async def test_the_estimate_counts_the_prompt_the_run_then_sends(
    fake: FakeOpenAIServer, svc: PersonaService
) -> None:
    experiment_id = await new_experiment(svc)

    estimate = await svc.estimate_run(experiment_id)

    assert fake.chat_requests == []  # an estimate sends nothing
    assert (estimate.strategy, estimate.requests) == ("direct", 1)
    assert estimate.counted_with == "tokenizer"
    assert estimate.model == "gpt-5.4-mini"
    run = await run_to_end(svc, experiment_id)
    assert run.status == "succeeded", run.error
    assert len(fake.chat_requests) == 1
    # Counted on the prompt the run sent: within a few tokens of what the server reports.
    assert abs(estimate.prompt_tokens - run.usage.input_tokens) <= 0.01 * run.usage.input_tokens
    # OpenAI's requests set no output limit: the model's own bounds the reply.
    assert estimate.completion_tokens_max == 128_000
    assert estimate.cost_usd_min is not None and estimate.cost_usd_max is not None
    assert run.usage.cost_usd is not None
    assert estimate.cost_usd_min <= run.usage.cost_usd <= estimate.cost_usd_max


async def test_a_map_reduce_estimate_plans_the_requests_the_run_sends(
    fake: FakeOpenAIServer, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(provider_retry_base_delay=0.0, provider_context_tokens=6_000)
    async with PersonaService(settings) as service:
        experiment_id = await new_experiment(service)
        estimate = await service.estimate_run(experiment_id)
        run = await run_to_end(service, experiment_id)

    assert run.status == "succeeded", run.error
    assert estimate.strategy == "map_reduce" and estimate.requests > 2
    assert len(fake.chat_requests) == estimate.requests  # chunks' notes, then the personas
    assert estimate.prompt_tokens <= run.usage.input_tokens <= estimate.prompt_tokens_max
    assert run.usage.output_tokens <= estimate.completion_tokens_max


async def test_the_local_provider_is_estimated_free_without_requests(
    svc: PersonaService,
) -> None:
    experiment_id = await new_experiment(svc, provider="local", max_cost_usd=0.01)

    estimate = await svc.estimate_run(experiment_id)

    assert (estimate.strategy, estimate.requests, estimate.cost_usd_max) == ("offline", 0, 0.0)
    assert estimate.counted_with == "none" and "no cost" in estimate.notes[0]
    assert [b.remaining_usd for b in estimate.budgets] == [0.01]
    run = await run_to_end(svc, experiment_id)
    assert run.status == "succeeded" and run.spend_cap_usd == 0.01


async def test_a_run_whose_estimate_exceeds_the_budget_is_refused_before_any_request(
    fake: FakeOpenAIServer, svc: PersonaService
) -> None:
    experiment_id = await new_experiment(svc, max_cost_usd=0.000001)

    with pytest.raises(BudgetExceededError) as refused:
        await svc.start_run(experiment_id)

    assert refused.value.code == "budget_exceeded"
    assert f"experiment {experiment_id}'s max_cost_usd" in refused.value.message
    assert "may cost up to $" in refused.value.message
    assert "request(s) to openai model gpt-5.4-mini" in refused.value.message
    assert fake.chat_requests == []
    assert (await svc.list_runs(experiment_id)).items == []


async def test_a_run_stops_at_its_cap_fails_and_keeps_its_usage(
    fake: FakeOpenAIServer, svc: PersonaService
) -> None:
    experiment_id = await new_experiment(svc, max_cost_usd=1.0)
    # An unusable reply reported as costing more than the cap: its repair is never sent.
    fake.script(Content("this is not JSON", completion_tokens=MANY_TOKENS))

    run = await run_to_end(svc, experiment_id)

    assert run.status == "failed" and run.error is not None
    assert run.error.code == "budget_exceeded"
    assert "cap of $1.000000" in run.error.message
    assert run.spend_cap_usd == 1.0
    assert len(fake.chat_requests) == 1
    assert run.usage.output_tokens == MANY_TOKENS
    assert run.usage.cost_usd is not None and run.usage.cost_usd > 1.0
    experiment = await svc.get_experiment(experiment_id)
    assert experiment.spent_usd == pytest.approx(run.usage.cost_usd)
    # Nothing is left: the next run is refused before any request.
    with pytest.raises(BudgetExceededError):
        await svc.start_run(experiment_id)
    assert len(fake.chat_requests) == 1


async def test_spend_adds_up_over_runs_and_shrinks_what_is_left(
    fake: FakeOpenAIServer, svc: PersonaService
) -> None:
    experiment_id = await new_experiment(svc, max_cost_usd=5.0)

    first = await run_to_end(svc, experiment_id)
    second = await run_to_end(svc, experiment_id)

    assert first.status == second.status == "succeeded"
    assert first.spend_cap_usd == 5.0
    assert first.usage.cost_usd is not None and second.usage.cost_usd is not None
    spent = first.usage.cost_usd + second.usage.cost_usd
    assert second.spend_cap_usd == pytest.approx(5.0 - first.usage.cost_usd)
    assert (await svc.get_experiment(experiment_id)).spent_usd == pytest.approx(spent)
    (budget,) = (await svc.estimate_run(experiment_id)).budgets
    assert budget.spent_usd == pytest.approx(spent)
    assert budget.remaining_usd == pytest.approx(5.0 - spent)


async def test_a_callers_budget_applies_beside_the_experiments(
    fake: FakeOpenAIServer, svc: PersonaService
) -> None:
    experiment_id = await new_experiment(svc, max_cost_usd=2.0)
    nearly_spent = Budget("key ci's max_cost_usd", limit_usd=1.0, spent_usd=0.999999)

    with pytest.raises(BudgetExceededError) as refused:
        await svc.start_run(experiment_id, budgets=(nearly_spent,))
    assert "key ci's max_cost_usd: $0.000001 of $1.000000" in refused.value.message
    assert fake.chat_requests == []

    roomy = Budget("key ci's max_cost_usd", limit_usd=10.0, spent_usd=9.0)
    run = await run_to_end(svc, experiment_id, budgets=(roomy,))
    assert run.status == "succeeded" and run.spend_cap_usd == pytest.approx(1.0)


async def test_an_experiment_without_a_budget_runs_uncapped_and_counts_its_spend(
    fake: FakeOpenAIServer, svc: PersonaService
) -> None:
    experiment_id = await new_experiment(svc)

    run = await run_to_end(svc, experiment_id)

    assert run.status == "succeeded" and run.spend_cap_usd is None
    assert run.usage.cost_usd is not None
    assert (await svc.get_experiment(experiment_id)).spent_usd == pytest.approx(run.usage.cost_usd)


async def test_active_runs_hold_their_estimate_so_a_loop_of_starts_stops_at_the_budget(
    slow_svc: PersonaService,
) -> None:
    experiment_id = await new_experiment(slow_svc, max_cost_usd=1.5)
    bound = (await slow_svc.estimate_run(experiment_id)).cost_usd_max
    assert bound is not None and 0.5 < bound < 0.75  # two fit in 1.5, three do not

    first = await slow_svc.start_run(experiment_id)
    second = await slow_svc.start_run(experiment_id)
    with pytest.raises(BudgetExceededError) as refused:
        await slow_svc.start_run(experiment_id)

    assert f"${2 * bound:.6f} held by active runs" in refused.value.message
    assert second.run.spend_cap_usd == pytest.approx(1.5 - bound)
    (budget,) = (await slow_svc.estimate_run(experiment_id)).budgets
    assert budget.reserved_usd == pytest.approx(2 * bound) and budget.spent_usd == 0.0
    # A cancelled run holds nothing any more.
    await slow_svc.cancel_run(experiment_id, first.run.id)
    third = await slow_svc.start_run(experiment_id)
    assert third.run.spend_cap_usd == pytest.approx(1.5 - bound)
    for started in (second, third):
        await slow_svc.cancel_run(experiment_id, started.run.id)


async def test_runs_started_at_once_cannot_all_take_the_same_room(
    slow_svc: PersonaService,
) -> None:
    experiment_id = await new_experiment(slow_svc, max_cost_usd=1.5)

    outcomes = await asyncio.gather(
        *(slow_svc.start_run(experiment_id) for _ in range(8)), return_exceptions=True
    )

    started = [o for o in outcomes if isinstance(o, StartedRun)]
    refused = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    assert (len(started), len(refused)) == (2, 6), outcomes
    assert len((await slow_svc.list_runs(experiment_id)).items) == 2
    for run in started:
        await slow_svc.cancel_run(experiment_id, run.run.id)


def test_the_sync_wrapper_estimates_and_passes_budgets(
    fake: FakeOpenAIServer, spend_settings: Settings
) -> None:
    with SyncPersonaService(spend_settings) as service:
        experiment = service.create_experiment(
            ExperimentCreate(
                name="Sync spend",
                data_sources=["interviews.csv"],
                config=GenerationConfig(provider="openai", persona_count=2),
            )
        )
        spent = Budget("key ci's max_cost_usd", limit_usd=1.0, spent_usd=1.0)

        estimate = service.estimate_run(experiment.id, budgets=[spent])
        with pytest.raises(BudgetExceededError, match="key ci's max_cost_usd"):
            service.start_run(experiment.id, budgets=[spent])

    assert estimate.strategy == "direct" and estimate.budgets[0].remaining_usd == 0.0
    assert fake.chat_requests == []
