"""A persona's pages: its card in the interface, and the printable card."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from persona.api.deps import ServiceDep
from persona.web.card import card_html, persona_card
from persona.web.pages.rendering import CARD_HEADERS, render
from persona.web.pages.route import WebRoute

router = APIRouter(prefix="/ui/personas", route_class=WebRoute, include_in_schema=False)


@router.get("/{persona_id}")
async def persona_page(request: Request, persona_id: str, service: ServiceDep) -> Response:
    persona, sources = await service.get_cited_persona(persona_id)
    experiment = await service.get_experiment(persona.experiment_id)
    card = persona_card(persona, sources)
    return render(request, "persona.html", card=card, experiment=experiment)


@router.get("/{persona_id}/card")
async def printable_card(persona_id: str, service: ServiceDep) -> Response:
    """The self-contained card, as ``GET /personas/{id}`` gives it for ``Accept: text/html``."""
    html = card_html(*await service.get_cited_persona(persona_id))
    return HTMLResponse(html, headers=CARD_HEADERS)
