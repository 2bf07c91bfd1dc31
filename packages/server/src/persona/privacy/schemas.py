"""The privacy preview as the API shows it: what a provider would receive for some records."""

from __future__ import annotations

from pydantic import Field, field_validator

from persona.schemas import (
    InputModel,
    OutputModel,
    PrivacyReport,
    ProviderName,
    _integral_float_as_int,
)

MAX_PREVIEW_RECORDS = 20


class PrivacyPreviewRequest(InputModel):
    evidence_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The record to show (an evidence id, 'ev-' and 16 hex digits); null: the "
        "first records of the experiment's sources.",
    )
    limit: int = Field(
        default=3, ge=1, le=MAX_PREVIEW_RECORDS, strict=True, description="Records to show."
    )
    provider: ProviderName | None = Field(
        default=None, description="The provider to preview for; null: the experiment's."
    )

    _integral_limit = field_validator("limit", mode="before")(_integral_float_as_int)


class PrivacyPreviewRecord(OutputModel):
    id: str
    source: str
    locator: str
    sent: str = Field(
        description="The record exactly as a request to the provider carries it: one JSON "
        "line, its id replaced by the request's alias (E1, E2, ... in order)."
    )


class PrivacyPreview(OutputModel):
    provider: ProviderName
    report: PrivacyReport = Field(
        description="What a run would replace now, over all of the experiment's evidence."
    )
    records: list[PrivacyPreviewRecord]
