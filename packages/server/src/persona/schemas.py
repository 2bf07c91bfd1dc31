"""Pydantic models shared by the SDK, the API and the CLI: the single source of the contract.

Input models (``*Create``, ``GenerationOverrides``, ``InlineSource``) reject unknown fields.
Output models are what the service returns and what the API serialises.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

ProviderName = Literal["local", "anthropic", "openai", "gemini", "ollama"]
ExperimentStatus = Literal["created", "running", "completed", "failed"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

ACTIVE_RUN_STATUSES: frozenset[str] = frozenset({"queued", "running"})
FINISHED_RUN_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

MAX_INLINE_SOURCE_CHARS = 1_000_000
MAX_SEED = 2**53 - 1
"""Largest seed: JSON numbers above 2**53 lose precision in many languages."""


def _integral_float_as_int(value: object) -> object:
    """JSON does not tell 7 from 7.0, and JSON Schema calls both integers: take 7.0 as 7.

    Strings and booleans stay refused by the fields' strict validation."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class InputModel(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class OutputModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- config


class GenerationConfig(InputModel):
    """How personas are generated. ``provider: null`` means the server's default provider."""

    provider: ProviderName | None = Field(
        default=None, description="LLM provider; null means the configured default ('local')."
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Model name; null means the provider's default model.",
    )
    persona_count: int = Field(
        default=3, ge=1, le=20, strict=True, description="How many personas to generate."
    )
    temperature: float | None = Field(default=None, ge=0, le=2, strict=True)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, strict=True)

    _integral_counts = field_validator("persona_count", "seed", mode="before")(
        _integral_float_as_int
    )


class ResolvedConfig(GenerationConfig):
    """A stored config: the provider is resolved, and fields a newer server adds are ignored."""

    model_config = ConfigDict(extra="ignore")

    provider: ProviderName = Field(description="LLM provider the runs use.")
    model: str | None = Field(default=None, description="Model name; null: the provider's default.")


class GenerationOverrides(InputModel):
    """Per-run overrides of an experiment's config; every field is optional."""

    provider: ProviderName | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    persona_count: int | None = Field(default=None, ge=1, le=20, strict=True)
    temperature: float | None = Field(default=None, ge=0, le=2, strict=True)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, strict=True)

    _integral_counts = field_validator("persona_count", "seed", mode="before")(
        _integral_float_as_int
    )


# --------------------------------------------------------------------------- evidence


class Evidence(OutputModel):
    """One unit of research data: a CSV row, a JSON object, a transcript turn, a paragraph."""

    id: str = Field(description="Stable id derived from source and locator.")
    source: str = Field(description="Source name relative to the data directory.")
    locator: str = Field(description="Where in the source: 'row 12', 'line 4-9'.")
    participant: str | None = None
    text: str
    attributes: dict[str, str] = {}


# --------------------------------------------------------------------------- experiments

SourcePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="A path relative to the server's data directory (file or folder).",
    ),
]


class InlineSource(InputModel):
    """Inline text stored by the server as a file in the experiment's own folder."""

    name: str = Field(min_length=1, max_length=255, description="File name, e.g. 'notes.md'.")
    content: str = Field(min_length=1, max_length=MAX_INLINE_SOURCE_CHARS)


DataSource = SourcePath | InlineSource


class ExperimentCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    data_sources: list[DataSource] = Field(min_length=1, max_length=100)
    config: GenerationConfig = GenerationConfig()

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Checkout research Q3",
                    "data_sources": ["./interviews.csv"],
                    "config": {
                        "provider": "anthropic",
                        "model": "claude-sonnet-4-5-20250929",
                        "persona_count": 3,
                    },
                }
            ]
        },
    )


class Experiment(OutputModel):
    id: str = Field(description="'exp-' followed by a random URL-safe id.")
    name: str
    description: str | None = None
    status: ExperimentStatus
    data_sources: list[str] = Field(
        description="Stored source paths, relative to the data directory."
    )
    config: ResolvedConfig
    created_at: AwareDatetime
    updated_at: AwareDatetime
    run_count: int = 0
    persona_count: int = 0


class ExperimentPage(OutputModel):
    items: list[Experiment]
    next_cursor: str | None = None


# --------------------------------------------------------------------------- personas


class Insight(OutputModel):
    """A goal, pain point or behaviour, with the evidence it came from."""

    text: str
    evidence_ids: list[str] = []


class Quote(OutputModel):
    text: str
    evidence_ids: list[str] = []
    verified: bool = Field(description="True when the quote appears in the cited evidence text.")


class PersonaContent(OutputModel):
    """What a provider produces for one persona, before it is stored."""

    name: str
    title: str
    demographics: dict[str, str] = {}
    goals: list[Insight] = []
    pain_points: list[Insight] = []
    behaviours: list[Insight] = []
    quotes: list[Quote] = []
    evidence_ids: list[str] = []
    grounding: float = Field(default=1.0, ge=0, le=1, description="Verified quotes / quotes.")
    dropped_evidence_ids: int = Field(
        default=0, ge=0, description="Cited evidence ids that did not exist and were removed."
    )


class Persona(PersonaContent):
    id: str = Field(description="'persona-' followed by a random URL-safe id.")
    experiment_id: str
    run_id: str
    created_at: AwareDatetime


class PersonaPage(OutputModel):
    items: list[Persona]
    next_cursor: str | None = None


# --------------------------------------------------------------------------- runs


class Usage(OutputModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


class RunError(OutputModel):
    code: str = Field(
        description="Machine-readable: invalid_output, provider_auth, interrupted, ..."
    )
    message: str


class Run(OutputModel):
    id: str = Field(description="'run-' followed by a random URL-safe id.")
    experiment_id: str
    status: RunStatus
    config: ResolvedConfig = Field(
        description="The effective config: experiment config + overrides."
    )
    progress: float = Field(ge=0, le=1)
    stage: str | None = None
    attempts: int = 0
    created_at: AwareDatetime
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    usage: Usage = Usage()
    error: RunError | None = None
    persona_ids: list[str] = []


class RunDetail(Run):
    """A run with its personas embedded (empty until it has succeeded)."""

    personas: list[Persona] = []


class RunPage(OutputModel):
    items: list[Run]
    next_cursor: str | None = None


# --------------------------------------------------------------------------- misc


class ProviderInfo(OutputModel):
    name: ProviderName
    configured: bool
    default_model: str | None = None
    env_var: str | None = Field(
        default=None, description="Environment variable that configures it."
    )


class Health(OutputModel):
    status: Literal["ok", "unavailable"]
    version: str
    database: Literal["ok", "unreachable"]


class FieldError(OutputModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(OutputModel):
    """RFC 9457 problem details: the one shape of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = Field(default=None, description="Machine-readable error code.")
    request_id: str | None = None
    errors: list[FieldError] | None = None
