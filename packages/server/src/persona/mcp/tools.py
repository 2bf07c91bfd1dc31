"""The MCP tools: each one service call, with the names the SDK and the REST API use.

A tool returns its result as structured content (the schema it declares) and as text; a
failure is a tool error carrying the code, message and status of the API's problem
(persona.mcp.errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from persona.generation.render import persona_markdown
from persona.mcp.errors import answer
from persona.mcp.models import (
    DeletedExperiment,
    PersonaMarkdown,
    PersonaSummary,
    PersonaSummaryPage,
)
from persona.mcp.scopes import TOOL_SCOPES
from persona.runs.idempotency import MAX_IDEMPOTENCY_KEY
from persona.schemas import (
    DataSource,
    EvidencePage,
    Experiment,
    ExperimentCreate,
    ExperimentPage,
    GenerationConfig,
    GenerationOverrides,
    ProviderName,
    Run,
)
from persona.service import PersonaService
from persona.storage.evidence import EvidenceFilter

ServiceSource = Callable[[], PersonaService]
"""Gives the started service a call works with (the server's, or the stdio command's)."""

ExperimentId = Annotated[
    str, Field(min_length=1, max_length=100, description="The experiment's id, 'exp-…'.")
]
RunId = Annotated[str, Field(min_length=1, max_length=100, description="The run's id, 'run-…'.")]
PersonaId = Annotated[
    str, Field(min_length=1, max_length=100, description="The persona's id, 'persona-…'.")
]
Limit = Annotated[int, Field(ge=1, le=200, description="Page size.")]
Cursor = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=512,
        description="`next_cursor` of the previous page; leave out for the first page.",
    ),
]
Filter = Annotated[str | None, Field(min_length=1, max_length=500)]

DEFAULT_WAIT_SECONDS = 300.0
MAX_WAIT_SECONDS = 3600.0

READS = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class PersonaTools:
    """The tools, over the service ``service`` gives."""

    def __init__(self, service: ServiceSource) -> None:
        self.service = service

    async def create_experiment(
        self,
        name: Annotated[
            str, Field(description="A name people will recognise, e.g. 'Q3 checkout'.")
        ],
        data_sources: Annotated[
            list[DataSource],
            Field(
                description=(
                    "What to generate from. Each item is either a path of a file or folder "
                    "inside the server's data directory (relative to it, e.g. "
                    "'interviews/' or 'survey.csv'; .csv, .tsv, .json, .jsonl, .md, .txt), "
                    "or pasted text as {name, content}, e.g. {'name': 'notes.md', "
                    "'content': '...'}."
                )
            ),
        ],
        description: Annotated[str | None, Field(description="What the research is about.")] = None,
        config: Annotated[
            GenerationConfig | None,
            Field(description="How to generate: provider, model, persona_count (default 3)."),
        ] = None,
    ) -> Annotated[CallToolResult, Experiment]:
        """Create an experiment from research data: interview transcripts, survey exports,
        notes. The sources are read and checked now; a source that cannot be used is an
        error naming it and the place. Then call start_run to generate personas."""

        async def create() -> Experiment:
            body = ExperimentCreate(
                name=name,
                description=description,
                data_sources=data_sources,
                config=config or GenerationConfig(),
            )
            return await self.service().create_experiment(body)

        return await answer(create)

    async def start_run(
        self,
        experiment_id: ExperimentId,
        idempotency_key: Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_IDEMPOTENCY_KEY,
                description=(
                    "Any string unique to this request. Calling again with the same key "
                    "returns the run the first call started instead of starting another."
                ),
            ),
        ],
        provider: Annotated[
            ProviderName | None, Field(description="Override the experiment's provider.")
        ] = None,
        model: Annotated[str | None, Field(description="Override the model.")] = None,
        persona_count: Annotated[
            int | None, Field(description="Override how many personas to generate (1-20).")
        ] = None,
    ) -> Annotated[CallToolResult, Run]:
        """Start generating personas for an experiment. Returns the queued run at once;
        call wait_for_run to follow it to the end."""

        async def start() -> Run:
            overrides = GenerationOverrides(
                provider=provider, model=model, persona_count=persona_count
            )
            started = await self.service().start_run(
                experiment_id, overrides, idempotency_key=idempotency_key
            )
            return started.run

        return await answer(start)

    async def get_run(
        self, experiment_id: ExperimentId, run_id: RunId
    ) -> Annotated[CallToolResult, Run]:
        """A run's status (queued, running, succeeded, failed, cancelled, interrupted),
        progress, error, warnings and the ids of the personas it made."""

        return await answer(lambda: _run(self.service(), experiment_id, run_id))

    async def wait_for_run(
        self,
        experiment_id: ExperimentId,
        run_id: RunId,
        ctx: Context,
        timeout_seconds: Annotated[
            float,
            Field(gt=0, le=MAX_WAIT_SECONDS, description="Longest wait, in seconds."),
        ] = DEFAULT_WAIT_SECONDS,
    ) -> Annotated[CallToolResult, Run]:
        """Wait for a run to end, reporting its progress meanwhile, and return it. If it is
        still queued or running after timeout_seconds, the run is returned as it is then:
        call again to keep waiting."""

        async def wait() -> Run:
            service = self.service()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_seconds):
                    await _follow(service, experiment_id, run_id, ctx)
            return await _run(service, experiment_id, run_id)

        return await answer(wait)

    async def cancel_run(
        self, experiment_id: ExperimentId, run_id: RunId
    ) -> Annotated[CallToolResult, Run]:
        """Cancel a queued or running run; its work so far is discarded. A run that has
        already ended cannot be cancelled (a conflict error)."""
        return await answer(lambda: self.service().cancel_run(experiment_id, run_id))

    async def list_personas(
        self,
        experiment_id: ExperimentId,
        run_id: Annotated[
            str | None, Field(description="Only this run's personas; leave out for the latest.")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Annotated[CallToolResult, PersonaSummaryPage]:
        """The personas of an experiment's newest succeeded run, or of the run given: id,
        name, title, summary and grounding of each. get_persona shows one in full."""

        async def listing() -> PersonaSummaryPage:
            page = await self.service().list_personas(
                experiment_id, run_id=run_id, latest=run_id is None, limit=limit, cursor=cursor
            )
            items = [PersonaSummary.of(persona) for persona in page.items]
            return PersonaSummaryPage(items=items, next_cursor=page.next_cursor)

        return await answer(listing)

    async def get_persona(
        self, persona_id: PersonaId
    ) -> Annotated[CallToolResult, PersonaMarkdown]:
        """A persona in full, as Markdown: summary, goals, pain points, behaviours and
        quotes, each with the ids of the evidence records it rests on and whether it is
        grounded in them, then the cited records themselves. The name is invented."""

        async def get() -> PersonaMarkdown:
            persona, cited = await self.service().get_cited_persona(persona_id)
            return PersonaMarkdown(
                id=persona.id,
                experiment_id=persona.experiment_id,
                run_id=persona.run_id,
                name=persona.name,
                markdown=persona_markdown(persona, cited),
            )

        return await answer(get, text=lambda found: found.markdown)

    async def search_evidence(
        self,
        experiment_id: ExperimentId,
        run_id: RunId,
        participant: Annotated[
            Filter, Field(description="Only this participant's records.")
        ] = None,
        source: Annotated[
            str | None,
            Field(
                min_length=1,
                max_length=4096,
                description="Only records of this source, e.g. 'interviews.csv'.",
            ),
        ] = None,
        text: Annotated[
            Filter, Field(description="Only records whose text holds this (any case).")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Annotated[CallToolResult, EvidencePage]:
        """Search the evidence records a run read (what participants said, with source and
        place), by participant, source and text. Evidence ids match the ones personas cite."""
        where = EvidenceFilter(participant=participant, source=source, text=text)
        return await answer(
            lambda: self.service().list_run_evidence(
                experiment_id, run_id, where, limit=limit, cursor=cursor
            )
        )

    async def list_experiments(
        self,
        name: Annotated[
            Filter, Field(description="Only experiments whose name holds this.")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Annotated[CallToolResult, ExperimentPage]:
        """The experiments, newest first, with their sources, config and run counts."""
        return await answer(
            lambda: self.service().list_experiments(name=name, limit=limit, cursor=cursor)
        )

    async def delete_experiment(
        self, experiment_id: ExperimentId
    ) -> Annotated[CallToolResult, DeletedExperiment]:
        """Delete an experiment for good: its runs are stopped, and its runs, personas and
        stored files are removed. Cannot be undone; confirm with the user first."""

        async def delete() -> DeletedExperiment:
            await self.service().delete_experiment(experiment_id)
            return DeletedExperiment(id=experiment_id)

        return await answer(delete)


async def _run(service: PersonaService, experiment_id: str, run_id: str) -> Run:
    """The run without its personas (list_personas and get_persona show them)."""
    detail = await service.get_run(experiment_id, run_id)
    return Run.model_validate(detail.model_dump(exclude={"personas"}))


async def _follow(service: PersonaService, experiment_id: str, run_id: str, ctx: Context) -> None:
    """Report the run's progress events as progress notifications until its last event."""
    events = await service.stream_run_events(experiment_id, run_id)
    try:
        async for event in events:
            if event.type == "run.progress":
                await ctx.report_progress(event.data.progress, 1.0, event.data.stage)
    finally:
        await events.aclose()


WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
ANNOTATIONS: dict[str, ToolAnnotations] = {
    "create_experiment": WRITES.model_copy(update={"idempotent_hint": False}),
    "start_run": WRITES.model_copy(update={"idempotent_hint": True}),
    "get_run": READS,
    "wait_for_run": READS,
    "cancel_run": WRITES.model_copy(update={"destructive_hint": True, "idempotent_hint": True}),
    "list_personas": READS,
    "get_persona": READS,
    "search_evidence": READS,
    "list_experiments": READS,
    "delete_experiment": WRITES.model_copy(
        update={"destructive_hint": True, "idempotent_hint": True}
    ),
}
"""Hints for clients: whether a tool changes anything, destroys anything, and whether calling
it again with the same arguments changes nothing more."""


def add_tools(server: MCPServer, service: ServiceSource) -> None:
    """Each tool of TOOL_SCOPES, described by its docstring (without its indentation)."""
    tools = PersonaTools(service)
    for name in TOOL_SCOPES:
        tool = getattr(tools, name)
        title = name.replace("_", " ").capitalize()
        annotations = ANNOTATIONS[name].model_copy(update={"title": title})
        description = inspect.cleandoc(tool.__doc__).replace("\n", " ")
        server.add_tool(
            tool, name=name, title=title, description=description, annotations=annotations
        )
