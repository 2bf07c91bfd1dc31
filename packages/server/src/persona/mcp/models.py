"""What some tools return beyond the API's own schemas: shorter shapes for a model to read."""

from __future__ import annotations

from pydantic import Field

from persona.schemas import Grounding, OutputModel, Persona


class PersonaSummary(OutputModel):
    """A persona in a listing: who it is, and how well its statements are grounded."""

    id: str
    experiment_id: str
    run_id: str
    name: str
    title: str
    summary: list[str] = Field(description="The persona's summary lines.")
    grounding: Grounding

    @classmethod
    def of(cls, persona: Persona) -> PersonaSummary:
        return cls(
            id=persona.id,
            experiment_id=persona.experiment_id,
            run_id=persona.run_id,
            name=persona.name,
            title=persona.title,
            summary=[line.text for line in persona.summary],
            grounding=persona.grounding,
        )


class PersonaSummaryPage(OutputModel):
    items: list[PersonaSummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


class PersonaMarkdown(OutputModel):
    """A persona as Markdown: each statement with its grounding, then the records it cites."""

    id: str
    experiment_id: str
    run_id: str
    name: str
    markdown: str


class DeletedExperiment(OutputModel):
    id: str = Field(description="The experiment deleted, with its runs, personas and files.")
