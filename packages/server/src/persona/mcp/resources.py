"""The MCP resources: a persona as Markdown, an experiment and an evidence record as JSON."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from persona.mcp.errors import or_mcp_error
from persona.mcp.tools import ServiceSource

PERSONA_URI = "persona://personas/{persona_id}"
EXPERIMENT_URI = "persona://experiments/{experiment_id}"
EVIDENCE_URI = "persona://runs/{run_id}/evidence/{evidence_id}"


def add_resources(server: MCPServer, service: ServiceSource) -> None:
    @server.resource(
        PERSONA_URI,
        name="persona",
        title="Persona",
        description="A persona as Markdown: each statement with its grounding and the ids of "
        "the evidence it cites, then the cited records.",
        mime_type="text/markdown",
    )
    async def persona(persona_id: str) -> str:
        uri = PERSONA_URI.format(persona_id=persona_id)
        return await or_mcp_error(lambda: service().get_persona_markdown(persona_id), uri)

    @server.resource(
        EXPERIMENT_URI,
        name="experiment",
        title="Experiment",
        description="An experiment as JSON: its sources, generation config and run counts.",
        mime_type="application/json",
    )
    async def experiment(experiment_id: str) -> str:
        async def get() -> str:
            return (await service().get_experiment(experiment_id)).model_dump_json()

        return await or_mcp_error(get, EXPERIMENT_URI.format(experiment_id=experiment_id))

    @server.resource(
        EVIDENCE_URI,
        name="evidence",
        title="Evidence record",
        description="One record a run read, as JSON: its text, participant, source and place "
        "(row, lines). Personas cite records by these ids.",
        mime_type="application/json",
    )
    async def evidence(run_id: str, evidence_id: str) -> str:
        async def get() -> str:
            return (await service().get_run_evidence(run_id, evidence_id)).model_dump_json()

        return await or_mcp_error(get, EVIDENCE_URI.format(run_id=run_id, evidence_id=evidence_id))
