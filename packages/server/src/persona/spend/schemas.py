"""The API's shapes of spend: a run's estimate and the budgets it was checked against."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from persona.schemas import OutputModel, ProviderName


class BudgetState(OutputModel):
    """A budget that applies to a run, as it stands."""

    name: str = Field(description="Which budget: the experiment's max_cost_usd, or a key's.")
    limit_usd: float
    spent_usd: float = Field(description="Recorded by finished runs.")
    reserved_usd: float = Field(
        description="Held by runs still queued or running: the upper bounds of their estimates."
    )
    remaining_usd: float


class RunEstimate(OutputModel):
    """What a run of the experiment would send and what it may cost, planned with the prompts
    it would send, without sending any."""

    provider: ProviderName
    model: str | None = Field(description="The model priced; null for the local provider.")
    strategy: Literal["offline", "direct", "map_reduce"] = Field(
        description="'offline': the local provider, no requests; 'direct': the evidence fits one "
        "request; 'map_reduce': a notes request per chunk of evidence, then one writing the "
        "personas from the notes."
    )
    requests: int = Field(ge=0, description="Provider requests planned.")
    prompt_tokens: int = Field(
        ge=0,
        description="Tokens of the planned prompts (instructions, data and reply schema); for "
        "map_reduce, the final request counted without the notes it will carry.",
    )
    prompt_tokens_max: int = Field(
        ge=0, description="With the final map_reduce request as full as its context allows."
    )
    completion_tokens_max: int = Field(
        ge=0,
        description="The most the planned requests may write: each one's max_tokens, or the "
        "model's output limit where the provider's requests set none (openai, gemini).",
    )
    cost_usd_min: float | None = Field(
        description="The prompt tokens at the model's input price; null when it has no price."
    )
    cost_usd_max: float | None = Field(
        description="prompt_tokens_max and completion_tokens_max at the model's prices; null when "
        "it has no price. A run is refused when this exceeds what is left of a budget."
    )
    counted_with: Literal["tokenizer", "characters", "none"] = Field(
        description="'tokenizer': counted with the o200k_base encoding (OpenAI's; close for "
        "other providers); 'characters': estimated from characters (the tokenizer is not "
        "installed); 'none': nothing is sent."
    )
    budgets: list[BudgetState] = Field(
        default=[], description="The budgets a run would be checked against."
    )
    notes: list[str] = Field(default=[], description="What the estimate leaves out, in words.")
