"""What a generation plans to send (for estimates) beside what it sends, and the hook called
before every request (where a run's spend cap stops it)."""

from __future__ import annotations

import pytest
from persona.errors import ProviderError
from persona.generation.chunking import TokenBudget
from persona.generation.pipeline import Completion, LLMGeneration
from persona.generation.prompt import ChatPrompt
from persona.schemas import Evidence

from tests.fakes import model_answer

from .test_pipeline import long_evidence


class Recording:
    """A model that answers every prompt as the fake server does, recording each."""

    def __init__(self) -> None:
        self.sent: list[ChatPrompt] = []

    async def __call__(self, prompt: ChatPrompt) -> Completion:
        self.sent.append(prompt)
        return Completion(model_answer(prompt.user, prompt.schema), output_tokens=100)


@pytest.mark.parametrize(("records", "context"), [(3, 16_000), (40, 6_000)])
async def test_the_planned_prompts_are_the_ones_sent_first(records: int, context: int) -> None:
    evidence = long_evidence(records)
    model = Recording()
    budget = TokenBudget(context_tokens=context, output_tokens=1_500)
    generation = LLMGeneration(model, label="m", budget=budget)

    planned = generation.planned_prompts(evidence, 2)
    await generation.personas(evidence, 2)

    *mapped, final = planned
    assert [p.user for p in mapped] == [p.user for p in model.sent[: len(mapped)]]
    assert all(p.max_output_tokens == 1_500 for p in planned)
    if mapped:  # map-reduce: the final request carries the notes the replies gave
        assert len(planned) > 2 and final.kind == model.sent[-1].kind == "personas"
        assert final.system == model.sent[-1].system and "<notes>" in model.sent[-1].user
    else:
        assert [final.user] == [p.user for p in model.sent]


def test_planning_no_evidence_plans_the_one_request_that_would_be_refused() -> None:
    generation = LLMGeneration(Recording(), label="m", budget=TokenBudget(16_000, 1_500))

    (only,) = generation.planned_prompts([], 2)

    assert only.kind == "personas"


async def test_what_the_hook_raises_stops_the_next_request_and_keeps_the_usage() -> None:
    evidence: list[Evidence] = long_evidence(40)
    model = Recording()

    def stop_after_two() -> None:
        if len(model.sent) >= 2:
            raise ProviderError("cap reached", code="budget_exceeded")

    budget = TokenBudget(context_tokens=6_000, output_tokens=1_500)
    generation = LLMGeneration(model, label="m", budget=budget, before_request=stop_after_two)

    with pytest.raises(ProviderError) as stopped:
        await generation.personas(evidence, 2)

    assert stopped.value.code == "budget_exceeded"
    assert len(model.sent) == 2 and generation.requests == 2
    assert generation.usage.output_tokens == 200
