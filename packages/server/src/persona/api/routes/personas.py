from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import HTMLResponse

from persona.api.deps import Cursor, Limit, ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.schemas import CitedEvidencePage, Persona, PersonaPage
from persona.web.pages.rendering import CARD_HEADERS

router = APIRouter(tags=["personas"], route_class=TokenFirstRoute)

MARKDOWN = "text/markdown"
JSON = "application/json"
HTML = "text/html"
FORMAT_BY_MEDIA_TYPE: dict[str, Literal["json", "markdown", "html"]] = {
    JSON: "json",
    MARKDOWN: "markdown",
    HTML: "html",
}


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media_type, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media_type.lower(), quality))
    return ranges


def preferred_format(accept: str | None) -> Literal["json", "markdown", "html"]:
    """The representation the Accept header ranks highest (JSON wins ties, then Markdown)."""
    if not accept:
        return "json"
    best = {JSON: 0.0, MARKDOWN: 0.0, HTML: 0.0}
    for media_type, quality in _media_ranges(accept):
        for candidate in best:
            if media_type in {candidate, f"{candidate.split('/')[0]}/*", "*/*"}:
                best[candidate] = max(best[candidate], quality)
    winner = max(best, key=lambda candidate: best[candidate])  # the first of equals: JSON
    return FORMAT_BY_MEDIA_TYPE[winner] if best[winner] > 0 else "json"


def prefers_markdown(accept: str | None) -> bool:
    """True when the Accept header ranks text/markdown above JSON and HTML."""
    return preferred_format(accept) == "markdown"


class MarkdownResponse(Response):
    media_type = MARKDOWN
    charset = "utf-8"


def card_response(html: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The printable card, with a policy that lets no script run in it."""
    return HTMLResponse(html, headers={**CARD_HEADERS, **(headers or {})})


@router.get(
    "/personas/{persona_id}",
    operation_id="getPersona",
    response_model=Persona,
    responses={
        200: {
            "description": "The persona as JSON (for Markdown, see getPersonaMarkdown).",
        },
        **problems(401, 404, 422),
    },
)
async def get_persona(
    persona_id: str,
    service: ServiceDep,
    response: Response,
    # Left out of the document, like Accept: one media type per response is what generated
    # clients can parse; getPersonaMarkdown is the documented way to Markdown.
    format: Annotated[
        Literal["json", "markdown", "html"] | None, Query(include_in_schema=False)
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Persona | Response:
    """One persona with its evidence links.

    `Accept: text/markdown` (or `?format=markdown`) returns the persona's Markdown instead,
    as `GET /personas/{persona_id}/markdown` does; `Accept: text/html` (or `?format=html`)
    its printable card, as `GET /personas/{persona_id}/html` does."""
    wanted = format or preferred_format(accept)
    if wanted == "markdown":
        markdown = await service.get_persona_markdown(persona_id)
        return MarkdownResponse(markdown, headers={"Vary": "Accept"})
    if wanted == "html":
        return card_response(await service.get_persona_html(persona_id), {"Vary": "Accept"})
    response.headers["Vary"] = "Accept"
    return await service.get_persona(persona_id)


@router.get(
    "/personas/{persona_id}/markdown",
    operation_id="getPersonaMarkdown",
    response_class=MarkdownResponse,
    responses={
        200: {
            "description": "The persona as Markdown.",
            "content": {MARKDOWN: {"schema": {"type": "string"}}},
        },
        **problems(401, 404, 422),
    },
)
async def get_persona_markdown(persona_id: str, service: ServiceDep) -> MarkdownResponse:
    """One persona as Markdown: its goals, pain points, behaviours and quotes, each quote marked
    verified, corrected, approximate or not found, ending with the sources of the records it
    cites."""
    return MarkdownResponse(await service.get_persona_markdown(persona_id))


@router.get(
    "/personas/{persona_id}/html",
    operation_id="getPersonaHtml",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The persona's printable card: one HTML document, its CSS inline, "
            "no script.",
            "content": {HTML: {"schema": {"type": "string"}}},
        },
        **problems(401, 404, 422),
    },
)
async def get_persona_html(persona_id: str, service: ServiceDep) -> HTMLResponse:
    """One persona as a self-contained HTML card with a print stylesheet: name, title, who
    they are, goals, pain points, behaviours and quotes, each line with its grounding badge
    and participants, followed by the cited records with the quoted words marked. Readable
    saved to a file; "Print, Save as PDF" gives the card then its sources."""
    return card_response(await service.get_persona_html(persona_id))


@router.get(
    "/personas/{persona_id}/evidence",
    operation_id="listPersonaEvidence",
    response_model=CitedEvidencePage,
    responses=problems(401, 404, 422),
)
async def list_persona_evidence(
    persona_id: str, service: ServiceDep, limit: Limit = 50, cursor: Cursor = None
) -> CitedEvidencePage:
    """The evidence records the persona cites, in the order of its `evidence_ids`, each with
    the statements citing it and, for quotes, where the quote stands in the record's text."""
    return await service.list_persona_evidence(persona_id, limit=limit, cursor=cursor)


@router.get(
    "/experiments/{experiment_id}/personas",
    operation_id="listPersonas",
    response_model=PersonaPage,
    responses=problems(401, 404, 422),
)
async def list_experiment_personas(
    experiment_id: str,
    service: ServiceDep,
    run_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this run's personas.")
    ] = None,
    latest: Annotated[
        bool, Query(description="Only the personas of the newest succeeded run.")
    ] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PersonaPage:
    """The experiment's personas, newest first; those of one run (`run_id`, `latest`) in the
    run's order."""
    return await service.list_personas(
        experiment_id, run_id=run_id, latest=latest, limit=limit, cursor=cursor
    )
