"""The MCP prompt: summarise an experiment's personas for a stakeholder, citing evidence."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer, UserMessage
from mcp.types import EmbeddedResource, TextResourceContents
from pydantic import Field

from persona.errors import ConflictError
from persona.mcp.errors import or_mcp_error
from persona.mcp.resources import PERSONA_URI
from persona.mcp.tools import ServiceSource
from persona.schemas import Persona

MAX_PERSONAS = 20
"""Personas one prompt embeds: a run makes at most 20."""

INSTRUCTIONS = """\
Summarise the personas below for {audience}, in plain language, in one page.

For each persona: who they are (their name is invented; say so once), what they want, what
stands in their way, and what that means for the product. Back every claim with the evidence
it rests on: cite evidence ids in square brackets, e.g. [{example}], exactly as the persona
cites them, and quote participants only with quotes the persona marks as verified. Add no
claim the personas do not make. End with the two or three decisions the evidence most
clearly supports.

The personas come from experiment {experiment_id}, run {run_id}. The search_evidence tool
finds more of that run's records; persona://runs/{run_id}/evidence/{{evidence_id}} reads one.
"""


def add_prompts(server: MCPServer, service: ServiceSource) -> None:
    @server.prompt(
        name="summarise_personas",
        title="Summarise these personas for a stakeholder",
        description="A one-page summary of an experiment's latest personas (or a run's) for a "
        "stakeholder, every claim citing the evidence it rests on.",
    )
    async def summarise_personas(
        experiment_id: Annotated[str, Field(description="The experiment's id, 'exp-…'.")],
        run_id: Annotated[
            str | None, Field(description="A run's id; default: its newest succeeded run.")
        ] = None,
        audience: Annotated[
            str, Field(description="Who reads the summary, e.g. 'the product director'.")
        ] = "a product stakeholder",
    ) -> list[UserMessage]:
        async def personas() -> list[tuple[Persona, str]]:
            page = await service().list_personas(
                experiment_id, run_id=run_id, latest=run_id is None, limit=MAX_PERSONAS
            )
            if not page.items:
                raise ConflictError(
                    f"experiment {experiment_id!r} has no personas yet: start a run and wait "
                    "for it to succeed"
                )
            return [(p, await service().get_persona_markdown(p.id)) for p in page.items]

        found = await or_mcp_error(personas, f"prompt summarise_personas {experiment_id}")
        return summary_messages(experiment_id, audience, found)


def summary_messages(
    experiment_id: str, audience: str, personas: list[tuple[Persona, str]]
) -> list[UserMessage]:
    """The instructions, then each persona's Markdown as an embedded resource."""
    first = personas[0][0]
    example = first.evidence_ids[0] if first.evidence_ids else "evidence id"
    text = INSTRUCTIONS.format(
        audience=audience, example=example, experiment_id=experiment_id, run_id=first.run_id
    )
    messages = [UserMessage(text)]
    for persona, markdown in personas:
        contents = TextResourceContents(
            uri=PERSONA_URI.format(persona_id=persona.id), mime_type="text/markdown", text=markdown
        )
        messages.append(UserMessage(EmbeddedResource(type="resource", resource=contents)))
    return messages
