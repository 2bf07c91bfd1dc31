from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from persona.api.deps import ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.privacy.schemas import PrivacyPreview, PrivacyPreviewRequest

router = APIRouter(
    prefix="/experiments/{experiment_id}",
    tags=["experiments"],
    route_class=TokenFirstRoute,
)

PreviewRequest = Annotated[
    PrivacyPreviewRequest,
    Body(
        description="Which records to show and for which provider; `{}`: the first three, "
        "for the experiment's provider.",
        openapi_examples={
            "first": {"summary": "The first three records", "value": {}},
            "one": {
                "summary": "One record, as Anthropic would receive it",
                "value": {"evidence_id": "ev-0123456789abcdef", "provider": "anthropic"},
            },
        },
    ),
]


@router.post(
    "/privacy-preview",
    operation_id="previewPrivacy",
    response_model=PrivacyPreview,
    responses=problems(400, 401, 404, 409, 413, 422),
)
async def preview_privacy(
    experiment_id: str, service: ServiceDep, request: PreviewRequest
) -> PrivacyPreview:
    """Exactly what a provider would receive for a few of the experiment's records (or the one
    named), after the privacy step its config and provider call for, and what a run would
    replace over all of its evidence. Pseudonyms met for the first time are stored with the
    experiment, so the next run sends the same; the originals are never returned here."""
    return await service.preview_privacy(experiment_id, request)
