"""A run's estimate: its requests planned with the pipeline's own prompts, counted and priced.

Nothing is sent: the pipeline builds the prompts the run would send first
(``LLMGeneration.planned_prompts``), each is counted as a chat request carries it (its system
and user messages and its reply schema, plus the framing of the messages), and its reply is
bounded by the ``max_tokens`` the request sets. Prices come from ``providers.pricing``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from persona.generation.pipeline import Completion, LLMGeneration
from persona.generation.prompt import ChatPrompt
from persona.providers import Provider
from persona.providers.pricing import cost_usd
from persona.schemas import Evidence, ResolvedConfig
from persona.spend.budgets import Budget
from persona.spend.schemas import BudgetState, RunEstimate
from persona.spend.tokens import count_tokens, counting_method

MESSAGE_FRAMING_TOKENS = 3
"""Tokens a chat API adds around each message (OpenAI counts 3, and 3 more priming the reply)."""


def states(budgets: Sequence[Budget]) -> list[BudgetState]:
    return [
        BudgetState(
            name=b.name,
            limit_usd=b.limit_usd,
            spent_usd=b.spent_usd,
            reserved_usd=b.reserved_usd,
            remaining_usd=b.remaining_usd,
        )
        for b in budgets
    ]


def offline_estimate(config: ResolvedConfig, budgets: Sequence[Budget]) -> RunEstimate:
    """The local provider's: no request, no token, no cost."""
    return RunEstimate(
        provider=config.provider,
        model=None,
        strategy="offline",
        requests=0,
        prompt_tokens=0,
        prompt_tokens_max=0,
        completion_tokens_max=0,
        cost_usd_min=0.0,
        cost_usd_max=0.0,
        counted_with="none",
        budgets=states(budgets),
        notes=["the local provider writes personas on this machine: no requests and no cost"],
    )


def prompt_tokens(prompt: ChatPrompt) -> int:
    """Tokens of ``prompt`` as a chat request carries it: two messages and the reply schema."""
    sent = count_tokens(prompt.system) + count_tokens(prompt.user)
    return sent + count_tokens(json.dumps(prompt.schema)) + 3 * MESSAGE_FRAMING_TOKENS


async def _never_sent(prompt: ChatPrompt) -> Completion:
    raise AssertionError("an estimate sends no request")


def chat_estimate(
    provider: Provider,
    evidence: Sequence[Evidence],
    config: ResolvedConfig,
    budgets: Sequence[Budget],
) -> RunEstimate:
    """The estimate of a run of ``config`` over ``evidence`` on an LLM ``provider``."""
    # Imported here: the chat providers' HTTP stack loads with a run or an estimate, not
    # with the service (a short-lived app imports no provider at start).
    from persona.providers._chat import ChatProvider

    if not isinstance(provider, ChatProvider):
        return offline_estimate(config, budgets)
    model = config.model or provider.default_model
    budget = provider.budget(model, config.persona_count)
    planner = LLMGeneration(_never_sent, label=f"{provider.name} model {model}", budget=budget)
    prompts = planner.planned_prompts(evidence, config.persona_count)
    counted = sum(prompt_tokens(p) for p in prompts)
    mapped = len(prompts) > 1
    # The final request of map-reduce carries the notes: at most what its context holds.
    counted_max = counted + (budget.input_limit if mapped else 0)
    notes = [
        "repairs of unusable replies, replies asked again with more room and further rounds "
        "of condensing notes are not planned: they depend on the replies (a run stops at its "
        "cap all the same)"
    ]
    if provider.limits_output:
        completion_max = sum(p.max_output_tokens for p in prompts)
    else:
        completion_max = len(prompts) * provider.output_limit(model)
        notes.append(
            f"{provider.name}'s requests set no output limit (one would cut a reasoning "
            f"model's thinking): each reply is bounded by the model's, "
            f"{provider.output_limit(model)} tokens"
        )
    low = cost_usd(model, counted, 0)
    high = cost_usd(model, counted_max, completion_max)
    if high is None:
        notes.append(f"model {model!r} has no known price")
    return RunEstimate(
        provider=config.provider,
        model=model,
        strategy="map_reduce" if mapped else "direct",
        requests=len(prompts),
        prompt_tokens=counted,
        prompt_tokens_max=counted_max,
        completion_tokens_max=completion_max,
        cost_usd_min=low,
        cost_usd_max=high,
        counted_with=counting_method(),
        budgets=states(budgets),
        notes=notes,
    )


def described(estimate: RunEstimate) -> str:
    """The estimate in a few words, for errors."""
    return (
        f"estimated {estimate.requests} request(s) to {estimate.provider} model "
        f"{estimate.model}, {estimate.prompt_tokens_max} prompt and up to "
        f"{estimate.completion_tokens_max} completion tokens"
    )
