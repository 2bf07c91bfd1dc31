"""Pydantic models shared by the SDK, the API and the CLI: the single source of the contract.

Input models (``*Create``, ``GenerationOverrides``, ``InlineSource``) reject unknown fields.
Output models are what the service returns and what the API serialises.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

ProviderName = Literal["local", "anthropic", "openai", "gemini", "ollama"]
QuoteMatch = Literal["exact", "approximate", "none"]
CitationOrigin = Literal["given", "corrected"]
PersonaSection = Literal["summary", "goals", "pain_points", "behaviours", "quotes"]
ExperimentStatus = Literal["created", "running", "succeeded", "failed"]
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


class ColumnRoles(InputModel):
    """Which column of the tabular sources plays which role, for columns not recognised by
    name. Each is matched case- and separator-insensitively ("Customer ID" = customer_id);
    null: recognised by name (participant, respondent, user, person, customer, id, *_id;
    segment, role, department, team, persona, group, cohort, plan, tier, job, occupation,
    type)."""

    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The column holding the participants' words; null: the longest free text.",
    )
    participant: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The column naming the participant of each record.",
    )
    segment: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The column grouping participants (a segment, role or department): the "
        "local provider keeps its groups apart and titles personas by its values.",
    )


# --------------------------------------------------------------------------- privacy

PiiKind = Literal["participant", "name", "email", "phone", "url", "ip", "card", "iban"]


class PrivacyConfig(InputModel):
    """What leaves the machine: personal data in the evidence is replaced by stable
    pseudonyms before a provider not on this machine sees it, and put back before storing."""

    pseudonymize: bool | None = Field(
        default=None,
        strict=True,
        description="null: on for anthropic, gemini and openai (unless its base URL is "
        "loopback), off for local, ollama and a loopback OpenAI-compatible server. false for "
        "a cloud provider is recorded on every run.",
    )
    names: list[Annotated[str, Field(min_length=2, max_length=200)]] = Field(
        default=[],
        max_length=10_000,
        description="Names of people and organisations to replace wherever they appear.",
    )
    names_file: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="A file in the data directory listing more names, one a line.",
    )
    keep: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default=[],
        max_length=10_000,
        description="Values never replaced (a product's or the team's own name), any case.",
    )
    phone_region: str = Field(
        default="US",
        pattern=r"^[A-Z]{2}$",
        description="The region whose local phone formats are recognised (ISO 3166 code).",
    )
    ner: bool = Field(
        default=False,
        strict=True,
        description="Also replace the names a named-entity recogniser finds (persona[pii] "
        "with a spaCy model the user installed).",
    )


class PrivacyKindCount(OutputModel):
    kind: PiiKind
    replaced: int = Field(ge=0, description="Occurrences replaced.")
    records: int = Field(ge=0, description="Records with at least one.")
    values: int = Field(ge=0, description="Distinct values replaced.")


class PrivacyReport(OutputModel):
    """What a run's privacy step replaced before the provider saw the evidence."""

    pseudonymized: bool
    reason: str = Field(description="Why it was on or off for this run.")
    records: int = Field(default=0, ge=0, description="Records checked.")
    records_affected: int = Field(default=0, ge=0, description="Records with a replacement.")
    kinds: list[PrivacyKindCount] = []


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
    columns: ColumnRoles | None = Field(
        default=None, description="Column roles in tabular sources; null: recognised by name."
    )
    max_cost_usd: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        strict=True,
        allow_inf_nan=False,
        description="The experiment's budget: what all its runs together may cost, in USD. A run "
        "whose estimate may exceed what is left is refused (409 budget_exceeded), and a run "
        "stops before the request that would pass it; null: no budget.",
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig,
        description="Pseudonymising personal data before it reaches a provider.",
    )

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
    attributes: dict[str, str] = Field(
        default={},
        description="The record's other columns; a transcript turn's interviewer question is "
        "under 'question'.",
    )


class EvidencePage(OutputModel):
    """A page of a run's evidence, in source order."""

    items: list[Evidence]
    next_cursor: str | None = None


class TextSpan(OutputModel):
    """Characters ``start`` (inclusive) to ``end`` (exclusive) of an evidence record's text."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)


class EvidenceCitation(OutputModel):
    """One statement of a persona that cites an evidence record."""

    section: PersonaSection
    index: int = Field(ge=0, description="Position of the statement in its section, from 0.")
    text: str = Field(description="The statement (goal, pain point, behaviour or quote).")
    spans: list[TextSpan] = Field(
        default=[],
        description="For a quote: where its words (or, for an approximate match, the source "
        "text it most likely meant) stand in the record's text.",
    )


class CitedEvidence(Evidence):
    """An evidence record a persona cites, with the statements that cite it."""

    cited_by: list[EvidenceCitation] = []


class CitedEvidencePage(OutputModel):
    items: list[CitedEvidence]
    next_cursor: str | None = None


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
    status: ExperimentStatus = Field(
        description="'running' while a run is queued or running; else the outcome of its latest "
        "run that succeeded or failed ('created' before any)."
    )
    data_sources: list[str] = Field(
        description="Stored source paths, relative to the data directory."
    )
    config: ResolvedConfig
    created_at: AwareDatetime
    updated_at: AwareDatetime
    run_count: int = 0
    personas_stored: int = Field(
        default=0, description="Personas stored by all its runs (each run's own count is config)."
    )
    spent_usd: float = Field(
        default=0.0,
        ge=0,
        description="What its runs have cost so far, in USD, from the usage they recorded (runs "
        "of a model without a known price count nothing).",
    )


class ExperimentPage(OutputModel):
    items: list[Experiment]
    next_cursor: str | None = None


# --------------------------------------------------------------------------- sources

SourceKind = Literal["path", "inline", "upload"]


class ExperimentSource(OutputModel):
    """One of an experiment's data sources, as stored, with what is known of its content."""

    name: str = Field(
        description="The stored source, relative to the data directory, as in the "
        "experiment's data_sources; the name to delete it by."
    )
    kind: SourceKind = Field(
        description="'path': a file or folder of the data directory, named at creation; "
        "'inline': stored from an inline source; 'upload': stored from an upload."
    )
    size_bytes: int | None = Field(
        default=None,
        ge=0,
        description="Bytes of the file (of a folder: of its data files); null when it is "
        "missing or unreadable now.",
    )
    records: int | None = Field(
        default=None,
        ge=0,
        description="Evidence records it holds, when known (its current bytes were read "
        "before); null otherwise.",
    )


class ExperimentSourceList(OutputModel):
    """An experiment's data sources, in the order of its data_sources."""

    items: list[ExperimentSource]


# --------------------------------------------------------------------------- personas


class Insight(OutputModel):
    """A goal, pain point or behaviour, with the evidence it came from."""

    text: str
    evidence_ids: list[str] = []
    supported: bool = Field(
        default=True,
        description="False when it cites no evidence record of the run (none, or only ids "
        "that do not exist).",
    )


class Quote(OutputModel):
    text: str
    evidence_ids: list[str] = Field(
        default=[], description="The record(s) the quote is in; corrected when it was miscited."
    )
    verified: bool = Field(
        description="True when the quote appears word for word (up to case, white space and "
        "quote marks) in the evidence it now cites."
    )
    citation: CitationOrigin = Field(
        default="given",
        description="'corrected' when the quote was found in other evidence than the model "
        "cited (or it cited none) and its evidence_ids now point there.",
    )
    match: QuoteMatch = Field(
        default="exact",
        description="'exact': found word for word; 'approximate': a record holds words close to "
        "it (see source_text); 'none': found nowhere in the run's evidence.",
    )
    source_text: str | None = Field(
        default=None,
        description="For an approximate match: the exact words of the evidence it most likely "
        "meant.",
    )

    @model_validator(mode="before")
    @classmethod
    def _match_follows_verified(cls, data: object) -> object:
        """A quote stored or built without ``match`` is exact when verified, else unmatched."""
        if isinstance(data, dict) and "match" not in data and data.get("verified") is False:
            return {**data, "match": "none"}
        return data


class GroundingCounts(OutputModel):
    """How well statements are backed by the evidence. Every quote is counted once as
    verified, approximate or unverified; corrected counts the verified ones re-attributed."""

    quotes_verified: int = Field(default=0, ge=0, description="Found word for word.")
    quotes_corrected: int = Field(
        default=0, ge=0, description="Verified in other evidence than the model cited."
    )
    quotes_approximate: int = Field(default=0, ge=0, description="Close to a record's words.")
    quotes_unverified: int = Field(default=0, ge=0, description="Found nowhere.")
    insights_supported: int = Field(
        default=0,
        ge=0,
        description="Summary sentences, goals, pain points and behaviours citing existing "
        "evidence.",
    )
    insights_unsupported: int = Field(
        default=0,
        ge=0,
        description="Summary sentences, goals, pain points and behaviours citing none.",
    )


class Grounding(GroundingCounts):
    score: float = Field(
        default=1.0, ge=0, le=1, description="Verified quotes / quotes; 1.0 when there are none."
    )

    @classmethod
    def total(cls, parts: list[Grounding]) -> Grounding:
        """The counts of ``parts`` added up, and the score over all their quotes."""
        counts = {
            name: sum(getattr(p, name) for p in parts) for name in GroundingCounts.model_fields
        }
        quotes = counts["quotes_verified"] + counts["quotes_approximate"]
        quotes += counts["quotes_unverified"]
        return cls(**counts, score=counts["quotes_verified"] / quotes if quotes else 1.0)


class PersonaContent(OutputModel):
    """What a provider produces for one persona, before it is stored."""

    name: str = Field(
        description="Invented for the persona, never a participant's: every persona's name is."
    )
    title: str = Field(description="Who they are: a role or a phrase naming what they do.")
    summary: list[Insight] = Field(
        default=[],
        description="Two or three sentences a reader takes in at a glance: who they are, what "
        "they want, what stands in their way. Each cites its evidence and is checked like a goal.",
    )
    demographics: dict[str, str] = {}
    goals: list[Insight] = []
    pain_points: list[Insight] = []
    behaviours: list[Insight] = []
    quotes: list[Quote] = []
    evidence_ids: list[str] = []
    participants: list[str] = Field(
        default=[],
        description="Ids of the participants whose evidence the persona is built from, sorted.",
    )
    grounding: Grounding = Field(
        default=Grounding(), description="How well its statements are backed by the evidence."
    )
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
        description=(
            "Machine-readable: invalid_output, provider_auth, provider_quota, provider_refused, "
            "provider_rejected, provider_unavailable, context_exceeded, budget_exceeded, "
            "interrupted, ..."
        )
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
    grounding: Grounding | None = Field(
        default=None, description="Totals over the run's personas, once it has succeeded."
    )
    spend_cap_usd: float | None = Field(
        default=None,
        description="The most the run may spend, in USD: the least that was left of its budgets "
        "when it started. Once its usage reaches it, no further provider request is sent and the "
        "run fails with budget_exceeded. Null: no budget applies.",
    )
    privacy: PrivacyReport | None = Field(
        default=None,
        description="What the privacy step replaced before the provider saw the evidence; "
        "null until the run has read its evidence.",
    )
    warnings: list[str] = Field(
        default=[],
        description="What the run noticed about its input, once it has read it: a source with "
        "no participant column, whose records each count as a participant of their own.",
    )


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
    """``database``: ``ok``; ``busy`` when it answers but this process's connections do not
    get through in time (every one waits on a lock, say); ``unreachable`` when it does not
    answer. ``status`` follows it: ``ok``, ``degraded`` (HTTP 200), ``unavailable`` (503)."""

    status: Literal["ok", "degraded", "unavailable"]
    version: str
    database: Literal["ok", "busy", "unreachable"]


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
