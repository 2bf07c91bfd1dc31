# Generated from schemas/openapi.json by datamodel-code-generator. Do not edit: run `hatch run gen-client`.

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

MaxCostUsd = TypeAliasType(
    "MaxCostUsd",
    Annotated[
        float,
        Field(
            ...,
            description="Most the key's runs may spend in all, in US dollars; null for no cap.",
            gt=0.0,
            le=1000000.0,
            title="Max Cost Usd",
        ),
    ],
)


MaxCostUsd1 = TypeAliasType(
    "MaxCostUsd1",
    Annotated[
        float,
        Field(
            ...,
            description="The key's new spend cap in US dollars; null removes the cap.",
            gt=0.0,
            le=1000000.0,
            title="Max Cost Usd",
        ),
    ],
)


class ApiKeyUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    max_cost_usd: MaxCostUsd1 | None = Field(
        ...,
        description="The key's new spend cap in US dollars; null removes the cap.",
        title="Max Cost Usd",
    )


class AuditEntry(BaseModel):
    id: str = Field(..., title="Id")
    created_at: AwareDatetime = Field(..., title="Created At")
    key_id: str | None = Field(
        ...,
        description="The key used; null for the bootstrap token or an open server.",
        title="Key Id",
    )
    key_name: str | None = Field(..., title="Key Name")
    operation_id: str = Field(
        ...,
        description="The operation, as the OpenAPI document names it.",
        title="Operation Id",
    )
    target_ids: dict[str, str] = Field(
        ..., description="The ids the request's path named.", title="Target Ids"
    )
    status: int = Field(
        ..., description="The HTTP status it was answered with.", title="Status"
    )
    request_id: str | None = Field(..., title="Request Id")


class AuditPage(BaseModel):
    items: list[AuditEntry] = Field(..., title="Items")
    next_cursor: str | None = Field(None, title="Next Cursor")


class BudgetState(BaseModel):
    """
    A budget that applies to a run, as it stands.
    """

    name: str = Field(
        ...,
        description="Which budget: the experiment's max_cost_usd, or a key's.",
        title="Name",
    )
    limit_usd: float = Field(..., title="Limit Usd")
    spent_usd: float = Field(
        ..., description="Recorded by finished runs.", title="Spent Usd"
    )
    reserved_usd: float = Field(
        ...,
        description="Held by runs still queued or running: the upper bounds of their estimates.",
        title="Reserved Usd",
    )
    remaining_usd: float = Field(..., title="Remaining Usd")


Text = TypeAliasType(
    "Text",
    Annotated[
        str,
        Field(
            ...,
            description="The column holding the participants' words; null: the longest free text.",
            max_length=200,
            min_length=1,
            title="Text",
        ),
    ],
)


Participant = TypeAliasType(
    "Participant",
    Annotated[
        str,
        Field(
            ...,
            description="The column naming the participant of each record.",
            max_length=200,
            min_length=1,
            title="Participant",
        ),
    ],
)


Segment = TypeAliasType(
    "Segment",
    Annotated[
        str,
        Field(
            ...,
            description="The column grouping participants (a segment, role or department): the local provider keeps its groups apart and titles personas by its values.",
            max_length=200,
            min_length=1,
            title="Segment",
        ),
    ],
)


class ColumnRoles(BaseModel):
    """
    Which column of the tabular sources plays which role, for columns not recognised by
    name. Each is matched case- and separator-insensitively ("Customer ID" = customer_id);
    null: recognised by name (participant, respondent, user, person, customer, id, *_id;
    segment, role, department, team, persona, group, cohort, plan, tier, job, occupation,
    type).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    text: Text | None = Field(
        None,
        description="The column holding the participants' words; null: the longest free text.",
        title="Text",
    )
    participant: Participant | None = Field(
        None,
        description="The column naming the participant of each record.",
        title="Participant",
    )
    segment: Segment | None = Field(
        None,
        description="The column grouping participants (a segment, role or department): the local provider keeps its groups apart and titles personas by its values.",
        title="Segment",
    )


class Evidence(BaseModel):
    """
    One unit of research data: a CSV row, a JSON object, a transcript turn, a paragraph.
    """

    id: str = Field(
        ..., description="Stable id derived from source and locator.", title="Id"
    )
    source: str = Field(
        ..., description="Source name relative to the data directory.", title="Source"
    )
    locator: str = Field(
        ..., description="Where in the source: 'row 12', 'line 4-9'.", title="Locator"
    )
    participant: str | None = Field(None, title="Participant")
    text: str = Field(..., title="Text")
    attributes: dict[str, str] = Field(
        {},
        description="The record's other columns; a transcript turn's interviewer question is under 'question'.",
        title="Attributes",
    )


class EvidencePage(BaseModel):
    """
    A page of a run's evidence, in source order.
    """

    items: list[Evidence] = Field(..., title="Items")
    next_cursor: str | None = Field(None, title="Next Cursor")


Description = TypeAliasType(
    "Description", Annotated[str, Field(..., max_length=2000, title="Description")]
)


DataSources = TypeAliasType(
    "DataSources",
    Annotated[
        str,
        Field(
            ...,
            description="A path relative to the server's data directory (file or folder).",
            max_length=4096,
            min_length=1,
        ),
    ],
)


SizeBytes = TypeAliasType(
    "SizeBytes",
    Annotated[
        int,
        Field(
            ...,
            description="Bytes of the file (of a folder: of its data files); null when it is missing or unreadable now.",
            ge=0,
            title="Size Bytes",
        ),
    ],
)


Records = TypeAliasType(
    "Records",
    Annotated[
        int,
        Field(
            ...,
            description="Evidence records it holds, when known (its current bytes were read before); null otherwise.",
            ge=0,
            title="Records",
        ),
    ],
)


class ExperimentSource(BaseModel):
    """
    One of an experiment's data sources, as stored, with what is known of its content.
    """

    name: str = Field(
        ...,
        description="The stored source, relative to the data directory, as in the experiment's data_sources; the name to delete it by.",
        title="Name",
    )
    kind: Literal["path", "inline", "upload"] = Field(
        ...,
        description="'path': a file or folder of the data directory, named at creation; 'inline': stored from an inline source; 'upload': stored from an upload.",
        title="Kind",
    )
    size_bytes: SizeBytes | None = Field(
        None,
        description="Bytes of the file (of a folder: of its data files); null when it is missing or unreadable now.",
        title="Size Bytes",
    )
    records: Records | None = Field(
        None,
        description="Evidence records it holds, when known (its current bytes were read before); null otherwise.",
        title="Records",
    )


class ExperimentSourceList(BaseModel):
    """
    An experiment's data sources, in the order of its data_sources.
    """

    items: list[ExperimentSource] = Field(..., title="Items")


class FieldError(BaseModel):
    loc: list[str | int] = Field(..., title="Loc")
    msg: str = Field(..., title="Msg")
    type: str = Field(..., title="Type")


Model = TypeAliasType(
    "Model",
    Annotated[
        str,
        Field(
            ...,
            description="Model name; null means the provider's default model.",
            max_length=200,
            min_length=1,
            title="Model",
        ),
    ],
)


Temperature = TypeAliasType(
    "Temperature", Annotated[float, Field(..., ge=0.0, le=2.0, title="Temperature")]
)


Seed = TypeAliasType(
    "Seed", Annotated[int, Field(..., ge=0, le=9007199254740991, title="Seed")]
)


MaxCostUsd2 = TypeAliasType(
    "MaxCostUsd2",
    Annotated[
        float,
        Field(
            ...,
            description="The experiment's budget: what all its runs together may cost, in USD. A run whose estimate may exceed what is left is refused (409 budget_exceeded), and a run stops before the request that would pass it; null: no budget.",
            gt=0.0,
            le=1000000.0,
            title="Max Cost Usd",
        ),
    ],
)


Model1 = TypeAliasType(
    "Model1", Annotated[str, Field(..., max_length=200, min_length=1, title="Model")]
)


PersonaCount = TypeAliasType(
    "PersonaCount", Annotated[int, Field(..., ge=1, le=20, title="Persona Count")]
)


class GenerationOverrides(BaseModel):
    """
    Per-run overrides of an experiment's config; every field is optional.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    provider: Literal["local", "anthropic", "openai", "gemini", "ollama"] | None = (
        Field(None, title="Provider")
    )
    model: Model1 | None = Field(None, title="Model")
    persona_count: PersonaCount | None = Field(None, title="Persona Count")
    temperature: Temperature | None = Field(None, title="Temperature")
    seed: Seed | None = Field(None, title="Seed")


class Grounding(BaseModel):
    quotes_verified: int = Field(
        0, description="Found word for word.", ge=0, title="Quotes Verified"
    )
    quotes_corrected: int = Field(
        0,
        description="Verified in other evidence than the model cited.",
        ge=0,
        title="Quotes Corrected",
    )
    quotes_approximate: int = Field(
        0, description="Close to a record's words.", ge=0, title="Quotes Approximate"
    )
    quotes_unverified: int = Field(
        0, description="Found nowhere.", ge=0, title="Quotes Unverified"
    )
    insights_supported: int = Field(
        0,
        description="Summary sentences, goals, pain points and behaviours citing existing evidence.",
        ge=0,
        title="Insights Supported",
    )
    insights_unsupported: int = Field(
        0,
        description="Summary sentences, goals, pain points and behaviours citing none.",
        ge=0,
        title="Insights Unsupported",
    )
    score: float = Field(
        1.0,
        description="Verified quotes / quotes; 1.0 when there are none.",
        ge=0.0,
        le=1.0,
        title="Score",
    )


class Health(BaseModel):
    """
    ``database``: ``ok``; ``busy`` when it answers but this process's connections do not
    get through in time (every one waits on a lock, say); ``unreachable`` when it does not
    answer. ``status`` follows it: ``ok``, ``degraded`` (HTTP 200), ``unavailable`` (503).
    """

    status: Literal["ok", "degraded", "unavailable"] = Field(..., title="Status")
    version: str = Field(..., title="Version")
    database: Literal["ok", "busy", "unreachable"] = Field(..., title="Database")


class InlineSource(BaseModel):
    """
    Inline text stored by the server as a file in the experiment's own folder.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    name: str = Field(
        ...,
        description="File name, e.g. 'notes.md'.",
        max_length=255,
        min_length=1,
        title="Name",
    )
    content: str = Field(..., max_length=1000000, min_length=1, title="Content")


class Insight(BaseModel):
    """
    A goal, pain point or behaviour, with the evidence it came from.
    """

    text: str = Field(..., title="Text")
    evidence_ids: list[str] = Field([], title="Evidence Ids")
    supported: bool = Field(
        True,
        description="False when it cites no evidence record of the run (none, or only ids that do not exist).",
        title="Supported",
    )


class NoEventData(BaseModel):
    """
    The event carries nothing beyond its type (run.queued, run.cancelled).
    """


Name = TypeAliasType("Name", Annotated[str, Field(..., max_length=200, min_length=2)])


NamesFile = TypeAliasType(
    "NamesFile",
    Annotated[
        str,
        Field(
            ...,
            description="A file in the data directory listing more names, one a line.",
            max_length=500,
            min_length=1,
            title="Names File",
        ),
    ],
)


KeepItem = TypeAliasType(
    "KeepItem", Annotated[str, Field(..., max_length=200, min_length=1)]
)


class PrivacyConfig(BaseModel):
    """
    What leaves the machine: personal data in the evidence is replaced by stable
    pseudonyms before a provider not on this machine sees it, and put back before storing.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    pseudonymize: bool | None = Field(
        None,
        description="null: on for anthropic, gemini and openai (unless its base URL is loopback), off for local, ollama and a loopback OpenAI-compatible server. false for a cloud provider is recorded on every run.",
        title="Pseudonymize",
    )
    names: list[Name] = Field(
        [],
        description="Names of people and organisations to replace wherever they appear.",
        max_length=10000,
        title="Names",
    )
    names_file: NamesFile | None = Field(
        None,
        description="A file in the data directory listing more names, one a line.",
        title="Names File",
    )
    keep: list[KeepItem] = Field(
        [],
        description="Values never replaced (a product's or the team's own name), any case.",
        max_length=10000,
        title="Keep",
    )
    phone_region: str = Field(
        "US",
        description="The region whose local phone formats are recognised (ISO 3166 code).",
        pattern="^[A-Z]{2}$",
        title="Phone Region",
    )
    ner: bool = Field(
        False,
        description="Also replace the names a named-entity recogniser finds (persona[pii] with a spaCy model the user installed).",
        title="Ner",
    )


class PrivacyKindCount(BaseModel):
    kind: Literal["participant", "name", "email", "phone", "url", "ip", "card", "iban"] = (
        Field(..., title="Kind")
    )
    replaced: int = Field(
        ..., description="Occurrences replaced.", ge=0, title="Replaced"
    )
    records: int = Field(
        ..., description="Records with at least one.", ge=0, title="Records"
    )
    values: int = Field(
        ..., description="Distinct values replaced.", ge=0, title="Values"
    )


class PrivacyPreviewRecord(BaseModel):
    id: str = Field(..., title="Id")
    source: str = Field(..., title="Source")
    locator: str = Field(..., title="Locator")
    sent: str = Field(
        ...,
        description="The record exactly as a request to the provider carries it: one JSON line, its id replaced by the request's alias (E1, E2, ... in order).",
        title="Sent",
    )


EvidenceId = TypeAliasType(
    "EvidenceId",
    Annotated[
        str,
        Field(
            ...,
            description="The record to show (an evidence id, 'ev-' and 16 hex digits); null: the first records of the experiment's sources.",
            max_length=200,
            min_length=1,
            title="Evidence Id",
        ),
    ],
)


class PrivacyPreviewRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    evidence_id: EvidenceId | None = Field(
        None,
        description="The record to show (an evidence id, 'ev-' and 16 hex digits); null: the first records of the experiment's sources.",
        title="Evidence Id",
    )
    limit: int = Field(3, description="Records to show.", ge=1, le=20, title="Limit")
    provider: Literal["local", "anthropic", "openai", "gemini", "ollama"] | None = (
        Field(
            None,
            description="The provider to preview for; null: the experiment's.",
            title="Provider",
        )
    )


class PrivacyReport(BaseModel):
    """
    What a run's privacy step replaced before the provider saw the evidence.
    """

    pseudonymized: bool = Field(..., title="Pseudonymized")
    reason: str = Field(
        ..., description="Why it was on or off for this run.", title="Reason"
    )
    records: int = Field(0, description="Records checked.", ge=0, title="Records")
    records_affected: int = Field(
        0, description="Records with a replacement.", ge=0, title="Records Affected"
    )
    kinds: list[PrivacyKindCount] = Field([], title="Kinds", validate_default=True)


class Problem(BaseModel):
    """
    RFC 9457 problem details: the one shape of every error response.
    """

    type: str = Field("about:blank", title="Type")
    title: str = Field(..., title="Title")
    status: int = Field(..., title="Status")
    detail: str | None = Field(None, title="Detail")
    code: str | None = Field(
        None, description="Machine-readable error code.", title="Code"
    )
    request_id: str | None = Field(None, title="Request Id")
    errors: list[FieldError] | None = Field(None, title="Errors")


class ProviderInfo(BaseModel):
    name: Literal["local", "anthropic", "openai", "gemini", "ollama"] = Field(
        ..., title="Name"
    )
    configured: bool = Field(..., title="Configured")
    default_model: str | None = Field(None, title="Default Model")
    env_var: str | None = Field(
        None, description="Environment variable that configures it.", title="Env Var"
    )


class Quote(BaseModel):
    text: str = Field(..., title="Text")
    evidence_ids: list[str] = Field(
        [],
        description="The record(s) the quote is in; corrected when it was miscited.",
        title="Evidence Ids",
    )
    verified: bool = Field(
        ...,
        description="True when the quote appears word for word (up to case, white space and quote marks) in the evidence it now cites.",
        title="Verified",
    )
    citation: Literal["given", "corrected"] = Field(
        "given",
        description="'corrected' when the quote was found in other evidence than the model cited (or it cited none) and its evidence_ids now point there.",
        title="Citation",
    )
    match: Literal["exact", "approximate", "none"] = Field(
        "exact",
        description="'exact': found word for word; 'approximate': a record holds words close to it (see source_text); 'none': found nowhere in the run's evidence.",
        title="Match",
    )
    source_text: str | None = Field(
        None,
        description="For an approximate match: the exact words of the evidence it most likely meant.",
        title="Source Text",
    )


class ResolvedConfig(BaseModel):
    """
    A stored config: the provider is resolved, and fields a newer server adds are ignored.
    """

    provider: Literal["local", "anthropic", "openai", "gemini", "ollama"] = (
        Field(..., description="LLM provider the runs use.", title="Provider")
    )
    model: str | None = Field(
        None, description="Model name; null: the provider's default.", title="Model"
    )
    persona_count: int = Field(
        3,
        description="How many personas to generate.",
        ge=1,
        le=20,
        title="Persona Count",
    )
    temperature: Temperature | None = Field(None, title="Temperature")
    seed: Seed | None = Field(None, title="Seed")
    columns: ColumnRoles | None = Field(
        None, description="Column roles in tabular sources; null: recognised by name."
    )
    max_cost_usd: MaxCostUsd2 | None = Field(
        None,
        description="The experiment's budget: what all its runs together may cost, in USD. A run whose estimate may exceed what is left is refused (409 budget_exceeded), and a run stops before the request that would pass it; null: no budget.",
        title="Max Cost Usd",
    )
    privacy: PrivacyConfig | None = Field(
        None, description="Pseudonymising personal data before it reaches a provider."
    )


class RunCancelledEvent(BaseModel):
    """
    The run was cancelled. Terminal.
    """

    id: int = Field(
        ...,
        description="The event's number in its run: 1, 2, 3, ... in the order the run's events happened. Resume a stream after it; order webhook deliveries of a run by it (they may arrive out of order).",
        title="Id",
    )
    run_id: str = Field(..., title="Run Id")
    experiment_id: str = Field(..., title="Experiment Id")
    timestamp: AwareDatetime = Field(
        ..., description="When the event happened.", title="Timestamp"
    )
    created_at: AwareDatetime = Field(
        ...,
        deprecated=True,
        description="Deprecated: the same as `timestamp`, kept until the next minor version.",
        title="Created At",
    )
    type: Literal["run.cancelled"] = Field(..., title="Type")
    data: NoEventData


class RunError(BaseModel):
    code: str = Field(
        ...,
        description="Machine-readable: invalid_output, provider_auth, provider_quota, provider_refused, provider_rejected, provider_unavailable, context_exceeded, budget_exceeded, interrupted, ...",
        title="Code",
    )
    message: str = Field(..., title="Message")


class RunEstimate(BaseModel):
    """
    What a run of the experiment would send and what it may cost, planned with the prompts
    it would send, without sending any.
    """

    provider: Literal["local", "anthropic", "openai", "gemini", "ollama"] = (
        Field(..., title="Provider")
    )
    model: str | None = Field(
        ..., description="The model priced; null for the local provider.", title="Model"
    )
    strategy: Literal["offline", "direct", "map_reduce"] = Field(
        ...,
        description="'offline': the local provider, no requests; 'direct': the evidence fits one request; 'map_reduce': a notes request per chunk of evidence, then one writing the personas from the notes.",
        title="Strategy",
    )
    requests: int = Field(
        ..., description="Provider requests planned.", ge=0, title="Requests"
    )
    prompt_tokens: int = Field(
        ...,
        description="Tokens of the planned prompts (instructions, data and reply schema); for map_reduce, the final request counted without the notes it will carry.",
        ge=0,
        title="Prompt Tokens",
    )
    prompt_tokens_max: int = Field(
        ...,
        description="With the final map_reduce request as full as its context allows.",
        ge=0,
        title="Prompt Tokens Max",
    )
    completion_tokens_max: int = Field(
        ...,
        description="The most the planned requests may write: each one's max_tokens, or the model's output limit where the provider's requests set none (openai, gemini).",
        ge=0,
        title="Completion Tokens Max",
    )
    cost_usd_min: float | None = Field(
        ...,
        description="The prompt tokens at the model's input price; null when it has no price.",
        title="Cost Usd Min",
    )
    cost_usd_max: float | None = Field(
        ...,
        description="prompt_tokens_max and completion_tokens_max at the model's prices; null when it has no price. A run is refused when this exceeds what is left of a budget.",
        title="Cost Usd Max",
    )
    counted_with: Literal["tokenizer", "characters", "none"] = Field(
        ...,
        description="'tokenizer': counted with the o200k_base encoding (OpenAI's; close for other providers); 'characters': estimated from characters (the tokenizer is not installed); 'none': nothing is sent.",
        title="Counted With",
    )
    budgets: list[BudgetState] = Field(
        [],
        description="The budgets a run would be checked against.",
        title="Budgets",
        validate_default=True,
    )
    notes: list[str] = Field(
        [], description="What the estimate leaves out, in words.", title="Notes"
    )


class RunFailedData(BaseModel):
    code: str = Field(
        ...,
        description="Machine-readable: invalid_output, provider_auth, provider_quota, provider_refused, ...",
        title="Code",
    )
    message: str = Field(..., title="Message")


class RunFailedEvent(BaseModel):
    """
    The run failed. Terminal.
    """

    id: int = Field(
        ...,
        description="The event's number in its run: 1, 2, 3, ... in the order the run's events happened. Resume a stream after it; order webhook deliveries of a run by it (they may arrive out of order).",
        title="Id",
    )
    run_id: str = Field(..., title="Run Id")
    experiment_id: str = Field(..., title="Experiment Id")
    timestamp: AwareDatetime = Field(
        ..., description="When the event happened.", title="Timestamp"
    )
    created_at: AwareDatetime = Field(
        ...,
        deprecated=True,
        description="Deprecated: the same as `timestamp`, kept until the next minor version.",
        title="Created At",
    )
    type: Literal["run.failed"] = Field(..., title="Type")
    data: RunFailedData


class RunProgressData(BaseModel):
    stage: str = Field(..., title="Stage")
    progress: float = Field(..., ge=0.0, le=1.0, title="Progress")


class RunProgressEvent(BaseModel):
    """
    The run reached a stage or a new share of its work (a few per second at most).
    """

    id: int = Field(
        ...,
        description="The event's number in its run: 1, 2, 3, ... in the order the run's events happened. Resume a stream after it; order webhook deliveries of a run by it (they may arrive out of order).",
        title="Id",
    )
    run_id: str = Field(..., title="Run Id")
    experiment_id: str = Field(..., title="Experiment Id")
    timestamp: AwareDatetime = Field(
        ..., description="When the event happened.", title="Timestamp"
    )
    created_at: AwareDatetime = Field(
        ...,
        deprecated=True,
        description="Deprecated: the same as `timestamp`, kept until the next minor version.",
        title="Created At",
    )
    type: Literal["run.progress"] = Field(..., title="Type")
    data: RunProgressData


class RunQueuedEvent(BaseModel):
    """
    The run is waiting for a slot (on creation, and again after a take-over).
    """

    id: int = Field(
        ...,
        description="The event's number in its run: 1, 2, 3, ... in the order the run's events happened. Resume a stream after it; order webhook deliveries of a run by it (they may arrive out of order).",
        title="Id",
    )
    run_id: str = Field(..., title="Run Id")
    experiment_id: str = Field(..., title="Experiment Id")
    timestamp: AwareDatetime = Field(
        ..., description="When the event happened.", title="Timestamp"
    )
    created_at: AwareDatetime = Field(
        ...,
        deprecated=True,
        description="Deprecated: the same as `timestamp`, kept until the next minor version.",
        title="Created At",
    )
    type: Literal["run.queued"] = Field(..., title="Type")
    data: NoEventData


class RunStartedData(BaseModel):
    attempt: int = Field(
        ...,
        description="1 for the first execution; more after a take-over.",
        title="Attempt",
    )


class RunStartedEvent(BaseModel):
    """
    An attempt of the run started executing.
    """

    id: int = Field(
        ...,
        description="The event's number in its run: 1, 2, 3, ... in the order the run's events happened. Resume a stream after it; order webhook deliveries of a run by it (they may arrive out of order).",
        title="Id",
    )
    run_id: str = Field(..., title="Run Id")
    experiment_id: str = Field(..., title="Experiment Id")
    timestamp: AwareDatetime = Field(
        ..., description="When the event happened.", title="Timestamp"
    )
    created_at: AwareDatetime = Field(
        ...,
        deprecated=True,
        description="Deprecated: the same as `timestamp`, kept until the next minor version.",
        title="Created At",
    )
    type: Literal["run.started"] = Field(..., title="Type")
    data: RunStartedData


class SourceUpload(BaseModel):
    """
    A multipart upload of data files.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    files: list[bytes] = Field(
        ...,
        description="Data files, stored in the experiment's own folder.",
        min_length=1,
        title="Files",
    )


class StreamTicket(BaseModel):
    """
    A credential for one event stream, for a browser's EventSource (which cannot send
    an Authorization header).
    """

    ticket: str = Field(
        ..., description="Pass as `?ticket=`; opens this stream only.", title="Ticket"
    )
    url: str = Field(
        ...,
        description="The stream's path with the ticket: `new EventSource(base + url)`.",
        title="Url",
    )
    expires_at: AwareDatetime = Field(
        ...,
        description="Until when the stream may be opened (or reopened by a reconnect) with it; a stream already open keeps going.",
        title="Expires At",
    )


class TextSpan(BaseModel):
    """
    Characters ``start`` (inclusive) to ``end`` (exclusive) of an evidence record's text.
    """

    start: int = Field(..., ge=0, title="Start")
    end: int = Field(..., ge=0, title="End")


class Usage(BaseModel):
    input_tokens: int = Field(0, title="Input Tokens")
    output_tokens: int = Field(0, title="Output Tokens")
    cost_usd: float | None = Field(None, title="Cost Usd")


class Webhook(BaseModel):
    id: str = Field(..., title="Id")
    url: str = Field(..., title="Url")
    events: list[Literal["run.queued", "run.started", "run.progress", "run.succeeded", "run.failed", "run.cancelled", "*"]] = (
        Field(..., title="Events")
    )
    description: str | None = Field(None, title="Description")
    enabled: bool = Field(
        ..., description="False once the receiver answered 410 Gone.", title="Enabled"
    )
    disabled_reason: str | None = Field(None, title="Disabled Reason")
    created_at: AwareDatetime = Field(..., title="Created At")


Description1 = TypeAliasType(
    "Description1", Annotated[str, Field(..., max_length=500, title="Description")]
)


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    url: str = Field(
        ...,
        description="An http(s) URL. Addresses on loopback, private, link-local or metadata networks are refused unless the server sets PERSONA_WEBHOOK_ALLOW_PRIVATE=true.",
        examples=["https://example.com/hooks/persona"],
        max_length=2000,
        min_length=1,
        title="Url",
    )
    events: list[Literal["run.queued", "run.started", "run.progress", "run.succeeded", "run.failed", "run.cancelled", "*"]] = (
        Field(
            ...,
            description="The event types to receive; `*` for all of them.",
            examples=[["run.succeeded", "run.failed"]],
            max_length=7,
            min_length=1,
            title="Events",
        )
    )
    description: Description1 | None = Field(None, title="Description")


class WebhookDelivery(BaseModel):
    id: str = Field(
        ...,
        description="The event's key `{run_id}:{event id}`; the webhook-id header.",
        title="Id",
    )
    webhook_id: str = Field(..., title="Webhook Id")
    event_type: str = Field(..., title="Event Type")
    run_id: str = Field(..., title="Run Id")
    event_id: int = Field(..., title="Event Id")
    status: Literal["pending", "succeeded", "failed"] = Field(..., title="Status")
    attempts: int = Field(..., title="Attempts")
    next_attempt_at: AwareDatetime | None = Field(
        None,
        description="When it is tried next; null once it succeeded or failed.",
        title="Next Attempt At",
    )
    response_status: int | None = Field(
        None,
        description="The HTTP status of the last attempt's answer.",
        title="Response Status",
    )
    error: str | None = Field(
        None, description="Why the last attempt failed.", title="Error"
    )
    duration_ms: int | None = Field(None, title="Duration Ms")
    created_at: AwareDatetime = Field(..., title="Created At")
    updated_at: AwareDatetime = Field(..., title="Updated At")


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDelivery] = Field(..., title="Items")
    next_cursor: str | None = Field(None, title="Next Cursor")


class WebhookList(BaseModel):
    items: list[Webhook] = Field(..., title="Items")


class WebhookWithSecret(BaseModel):
    id: str = Field(..., title="Id")
    url: str = Field(..., title="Url")
    events: list[Literal["run.queued", "run.started", "run.progress", "run.succeeded", "run.failed", "run.cancelled", "*"]] = (
        Field(..., title="Events")
    )
    description: str | None = Field(None, title="Description")
    enabled: bool = Field(
        ..., description="False once the receiver answered 410 Gone.", title="Enabled"
    )
    disabled_reason: str | None = Field(None, title="Disabled Reason")
    created_at: AwareDatetime = Field(..., title="Created At")
    secret: str = Field(
        ...,
        description="The signing secret (`whsec_…`), shown only when created or rotated: verify each delivery with it (Standard Webhooks).",
        title="Secret",
    )


class ApiKey(BaseModel):
    id: str = Field(..., title="Id")
    name: str = Field(..., title="Name")
    scope: Literal["read", "write", "admin"] = Field(
        ...,
        description="What a key may do. Each scope includes the ones before it.",
        title="Scope",
    )
    prefix: str = Field(
        ...,
        description="The secret's first characters, to tell keys apart.",
        title="Prefix",
    )
    created_at: AwareDatetime = Field(..., title="Created At")
    last_used_at: AwareDatetime | None = Field(
        None,
        description="Last authenticated request, to the minute.",
        title="Last Used At",
    )
    expires_at: AwareDatetime | None = Field(None, title="Expires At")
    revoked_at: AwareDatetime | None = Field(None, title="Revoked At")
    max_cost_usd: float | None = Field(None, title="Max Cost Usd")
    spent_usd: float = Field(
        0.0,
        description="What the runs this key started have cost so far.",
        title="Spent Usd",
    )


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    name: str = Field(
        ...,
        max_length=100,
        min_length=1,
        pattern="^[^\\x00-\\x1f\\x7f]+$",
        title="Name",
    )
    scope: Literal["read", "write", "admin"] = Field(
        ...,
        description="`read`, `write` (includes read) or `admin` (includes all).",
        title="Scope",
    )
    expires_at: AwareDatetime | None = Field(
        None,
        description="When the key stops working; null for never.",
        title="Expires At",
    )
    max_cost_usd: MaxCostUsd | None = Field(
        None,
        description="Most the key's runs may spend in all, in US dollars; null for no cap.",
        title="Max Cost Usd",
    )


class ApiKeyList(BaseModel):
    items: list[ApiKey] = Field(..., title="Items")


class ApiKeyWithSecret(BaseModel):
    id: str = Field(..., title="Id")
    name: str = Field(..., title="Name")
    scope: Literal["read", "write", "admin"] = Field(
        ...,
        description="What a key may do. Each scope includes the ones before it.",
        title="Scope",
    )
    prefix: str = Field(
        ...,
        description="The secret's first characters, to tell keys apart.",
        title="Prefix",
    )
    created_at: AwareDatetime = Field(..., title="Created At")
    last_used_at: AwareDatetime | None = Field(
        None,
        description="Last authenticated request, to the minute.",
        title="Last Used At",
    )
    expires_at: AwareDatetime | None = Field(None, title="Expires At")
    revoked_at: AwareDatetime | None = Field(None, title="Revoked At")
    max_cost_usd: float | None = Field(None, title="Max Cost Usd")
    spent_usd: float = Field(
        0.0,
        description="What the runs this key started have cost so far.",
        title="Spent Usd",
    )
    secret: str = Field(
        ...,
        description="The key (`psk_…`), shown only now: send it as `Authorization: Bearer`.",
        title="Secret",
    )


class EvidenceCitation(BaseModel):
    """
    One statement of a persona that cites an evidence record.
    """

    section: Literal["summary", "goals", "pain_points", "behaviours", "quotes"] = (
        Field(..., title="Section")
    )
    index: int = Field(
        ...,
        description="Position of the statement in its section, from 0.",
        ge=0,
        title="Index",
    )
    text: str = Field(
        ...,
        description="The statement (goal, pain point, behaviour or quote).",
        title="Text",
    )
    spans: list[TextSpan] = Field(
        [],
        description="For a quote: where its words (or, for an approximate match, the source text it most likely meant) stand in the record's text.",
        title="Spans",
        validate_default=True,
    )


class Experiment(BaseModel):
    id: str = Field(
        ..., description="'exp-' followed by a random URL-safe id.", title="Id"
    )
    name: str = Field(..., title="Name")
    description: str | None = Field(None, title="Description")
    status: Literal["created", "running", "succeeded", "failed"] = Field(
        ...,
        description="'running' while a run is queued or running; else the outcome of its latest run that succeeded or failed ('created' before any).",
        title="Status",
    )
    data_sources: list[str] = Field(
        ...,
        description="Stored source paths, relative to the data directory.",
        title="Data Sources",
    )
    config: ResolvedConfig
    created_at: AwareDatetime = Field(..., title="Created At")
    updated_at: AwareDatetime = Field(..., title="Updated At")
    run_count: int = Field(0, title="Run Count")
    personas_stored: int = Field(
        0,
        description="Personas stored by all its runs (each run's own count is config).",
        title="Personas Stored",
    )
    spent_usd: float = Field(
        0.0,
        description="What its runs have cost so far, in USD, from the usage they recorded (runs of a model without a known price count nothing).",
        ge=0.0,
        title="Spent Usd",
    )


class ExperimentPage(BaseModel):
    items: list[Experiment] = Field(..., title="Items")
    next_cursor: str | None = Field(None, title="Next Cursor")


class GenerationConfig(BaseModel):
    """
    How personas are generated. ``provider: null`` means the server's default provider.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    provider: Literal["local", "anthropic", "openai", "gemini", "ollama"] | None = (
        Field(
            None,
            description="LLM provider; null means the configured default ('local').",
            title="Provider",
        )
    )
    model: Model | None = Field(
        None,
        description="Model name; null means the provider's default model.",
        title="Model",
    )
    persona_count: int = Field(
        3,
        description="How many personas to generate.",
        ge=1,
        le=20,
        title="Persona Count",
    )
    temperature: Temperature | None = Field(None, title="Temperature")
    seed: Seed | None = Field(None, title="Seed")
    columns: ColumnRoles | None = Field(
        None, description="Column roles in tabular sources; null: recognised by name."
    )
    max_cost_usd: MaxCostUsd2 | None = Field(
        None,
        description="The experiment's budget: what all its runs together may cost, in USD. A run whose estimate may exceed what is left is refused (409 budget_exceeded), and a run stops before the request that would pass it; null: no budget.",
        title="Max Cost Usd",
    )
    privacy: PrivacyConfig | None = Field(
        None, description="Pseudonymising personal data before it reaches a provider."
    )


class Persona(BaseModel):
    name: str = Field(
        ...,
        description="Invented for the persona, never a participant's: every persona's name is.",
        title="Name",
    )
    title: str = Field(
        ...,
        description="Who they are: a role or a phrase naming what they do.",
        title="Title",
    )
    summary: list[Insight] = Field(
        [],
        description="Two or three sentences a reader takes in at a glance: who they are, what they want, what stands in their way. Each cites its evidence and is checked like a goal.",
        title="Summary",
        validate_default=True,
    )
    demographics: dict[str, str] = Field({}, title="Demographics")
    goals: list[Insight] = Field([], title="Goals", validate_default=True)
    pain_points: list[Insight] = Field([], title="Pain Points", validate_default=True)
    behaviours: list[Insight] = Field([], title="Behaviours", validate_default=True)
    quotes: list[Quote] = Field([], title="Quotes", validate_default=True)
    evidence_ids: list[str] = Field([], title="Evidence Ids")
    participants: list[str] = Field(
        [],
        description="Ids of the participants whose evidence the persona is built from, sorted.",
        title="Participants",
    )
    grounding: Grounding = Field(
        {"quotes_verified": 0, "quotes_corrected": 0, "quotes_approximate": 0, "quotes_unverified": 0, "insights_supported": 0, "insights_unsupported": 0, "score": 1.0},
        description="How well its statements are backed by the evidence.",
        validate_default=True,
    )
    dropped_evidence_ids: int = Field(
        0,
        description="Cited evidence ids that did not exist and were removed.",
        ge=0,
        title="Dropped Evidence Ids",
    )
    id: str = Field(
        ..., description="'persona-' followed by a random URL-safe id.", title="Id"
    )
    experiment_id: str = Field(..., title="Experiment Id")
    run_id: str = Field(..., title="Run Id")
    created_at: AwareDatetime = Field(..., title="Created At")


class PersonaPage(BaseModel):
    items: list[Persona] = Field(..., title="Items")
    next_cursor: str | None = Field(None, title="Next Cursor")


class PrivacyPreview(BaseModel):
    provider: Literal["local", "anthropic", "openai", "gemini", "ollama"] = (
        Field(..., title="Provider")
    )
    report: PrivacyReport = Field(
        ...,
        description="What a run would replace now, over all of the experiment's evidence.",
    )
    records: list[PrivacyPreviewRecord] = Field(..., title="Records")


class Run(BaseModel):
    id: str = Field(
        ..., description="'run-' followed by a random URL-safe id.", title="Id"
    )
    experiment_id: str = Field(..., title="Experiment Id")
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] = (
        Field(..., title="Status")
    )
    config: ResolvedConfig = Field(
        ..., description="The effective config: experiment config + overrides."
    )
    progress: float = Field(..., ge=0.0, le=1.0, title="Progress")
    stage: str | None = Field(None, title="Stage")
    attempts: int = Field(0, title="Attempts")
    created_at: AwareDatetime = Field(..., title="Created At")
    started_at: AwareDatetime | None = Field(None, title="Started At")
    finished_at: AwareDatetime | None = Field(None, title="Finished At")
    usage: Usage = Field({"input_tokens": 0, "output_tokens": 0}, validate_default=True)
    error: RunError | None = None
    persona_ids: list[str] = Field([], title="Persona Ids")
    grounding: Grounding | None = Field(
        None, description="Totals over the run's personas, once it has succeeded."
    )
    spend_cap_usd: float | None = Field(
        None,
        description="The most the run may spend, in USD: the least that was left of its budgets when it started. Once its usage reaches it, no further provider request is sent and the run fails with budget_exceeded. Null: no budget applies.",
        title="Spend Cap Usd",
    )
    privacy: PrivacyReport | None = Field(
        None,
        description="What the privacy step replaced before the provider saw the evidence; null until the run has read its evidence.",
    )
    warnings: list[str] = Field(
        [],
        description="What the run noticed about its input, once it has read it: a source with no participant column, whose records each count as a participant of their own.",
        title="Warnings",
    )


class RunDetail(BaseModel):
    """
    A run with its personas embedded (empty until it has succeeded).
    """

    id: str = Field(
        ..., description="'run-' followed by a random URL-safe id.", title="Id"
    )
    experiment_id: str = Field(..., title="Experiment Id")
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] = (
        Field(..., title="Status")
    )
    config: ResolvedConfig = Field(
        ..., description="The effective config: experiment config + overrides."
    )
    progress: float = Field(..., ge=0.0, le=1.0, title="Progress")
    stage: str | None = Field(None, title="Stage")
    attempts: int = Field(0, title="Attempts")
    created_at: AwareDatetime = Field(..., title="Created At")
    started_at: AwareDatetime | None = Field(None, title="Started At")
    finished_at: AwareDatetime | None = Field(None, title="Finished At")
    usage: Usage = Field({"input_tokens": 0, "output_tokens": 0}, validate_default=True)
    error: RunError | None = None
    persona_ids: list[str] = Field([], title="Persona Ids")
    grounding: Grounding | None = Field(
        None, description="Totals over the run's personas, once it has succeeded."
    )
    spend_cap_usd: float | None = Field(
        None,
        description="The most the run may spend, in USD: the least that was left of its budgets when it started. Once its usage reaches it, no further provider request is sent and the run fails with budget_exceeded. Null: no budget applies.",
        title="Spend Cap Usd",
    )
    privacy: PrivacyReport | None = Field(
        None,
        description="What the privacy step replaced before the provider saw the evidence; null until the run has read its evidence.",
    )
    warnings: list[str] = Field(
        [],
        description="What the run noticed about its input, once it has read it: a source with no participant column, whose records each count as a participant of their own.",
        title="Warnings",
    )
    personas: list[Persona] = Field([], title="Personas", validate_default=True)


class RunPage(BaseModel):
    items: list[Run] = Field(..., title="Items")
    next_cursor: str | None = Field(None, title="Next Cursor")


class RunSucceededData(BaseModel):
    persona_ids: list[str] = Field(
        ..., description="The personas the run stored, in order.", title="Persona Ids"
    )
    usage: Usage


class RunSucceededEvent(BaseModel):
    """
    The run stored its personas. Terminal.
    """

    id: int = Field(
        ...,
        description="The event's number in its run: 1, 2, 3, ... in the order the run's events happened. Resume a stream after it; order webhook deliveries of a run by it (they may arrive out of order).",
        title="Id",
    )
    run_id: str = Field(..., title="Run Id")
    experiment_id: str = Field(..., title="Experiment Id")
    timestamp: AwareDatetime = Field(
        ..., description="When the event happened.", title="Timestamp"
    )
    created_at: AwareDatetime = Field(
        ...,
        deprecated=True,
        description="Deprecated: the same as `timestamp`, kept until the next minor version.",
        title="Created At",
    )
    type: Literal["run.succeeded"] = Field(..., title="Type")
    data: RunSucceededData


class CitedEvidence(BaseModel):
    """
    An evidence record a persona cites, with the statements that cite it.
    """

    id: str = Field(
        ..., description="Stable id derived from source and locator.", title="Id"
    )
    source: str = Field(
        ..., description="Source name relative to the data directory.", title="Source"
    )
    locator: str = Field(
        ..., description="Where in the source: 'row 12', 'line 4-9'.", title="Locator"
    )
    participant: str | None = Field(None, title="Participant")
    text: str = Field(..., title="Text")
    attributes: dict[str, str] = Field(
        {},
        description="The record's other columns; a transcript turn's interviewer question is under 'question'.",
        title="Attributes",
    )
    cited_by: list[EvidenceCitation] = Field(
        [], title="Cited By", validate_default=True
    )


class CitedEvidencePage(BaseModel):
    items: list[CitedEvidence] = Field(..., title="Items")
    next_cursor: str | None = Field(None, title="Next Cursor")


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    name: str = Field(..., max_length=100, min_length=1, title="Name")
    description: Description | None = Field(None, title="Description")
    data_sources: list[DataSources | InlineSource] = Field(
        ..., max_length=100, min_length=1, title="Data Sources"
    )
    config: GenerationConfig = Field(
        {"persona_count": 3, "privacy": {"keep": [], "names": [], "ner": False, "phone_region": "US"}},
        validate_default=True,
    )


class ExperimentEventPage(BaseModel):
    items: list[Annotated[RunQueuedEvent | RunStartedEvent | RunProgressEvent | RunSucceededEvent | RunFailedEvent | RunCancelledEvent, Field(discriminator="type")]] = (
        Field(..., title="Items")
    )
    next_after: str | None = Field(
        None,
        description="Pass as `after` for the next page; null on the last page. Also the `id` of each event of the experiment's stream: `{run_id}:{event id}`.",
        title="Next After",
    )


class RunEventPage(BaseModel):
    items: list[Annotated[RunQueuedEvent | RunStartedEvent | RunProgressEvent | RunSucceededEvent | RunFailedEvent | RunCancelledEvent, Field(discriminator="type")]] = (
        Field(..., title="Items")
    )
    next_after: int | None = Field(
        None,
        description="Pass as `after` for the next page; null on the last page.",
        title="Next After",
    )
