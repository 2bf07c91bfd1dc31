"""The path an assistant walks through Persona's MCP server, with the SDK's own client, on
any transport: list the tools; create an experiment from the shipped examples; start a run;
wait for it with progress notifications; read a persona, its evidence and its resource."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, TextContent, TextResourceContents
from persona.mcp.scopes import TOOL_SCOPES

from tests.paths import EXAMPLES_DIR, REPO_ROOT

EXAMPLE_SOURCES = ["interviews.csv", "transcripts"]
"""The example interviews and the folder of Markdown transcripts, from examples/."""
EVIDENCE_ID = re.compile(r"ev-[0-9a-f]{16}")


def examples_data_dir(root: Path) -> Path:
    """A data directory holding a copy of examples/ (the server writes its state into it)."""
    data_dir = root / "examples"
    shutil.copytree(EXAMPLES_DIR, data_dir)
    return data_dir


def structured(result: CallToolResult) -> dict[str, Any]:
    """A successful tool result's structured content, checked against its text."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def problem(result: CallToolResult) -> dict[str, Any]:
    """A tool error's problem: code, message and status, also in its text."""
    assert result.is_error
    found = result.structured_content
    assert found is not None and set(found) == {"code", "message", "status"}
    text = result.content[0]
    assert isinstance(text, TextContent)
    assert text.text == f"{found['message']} ({found['code']})"
    return found


def text_of(contents: list[Any]) -> str:
    content = contents[0]
    assert isinstance(content, TextResourceContents | TextContent)
    return content.text


@dataclass
class Walked:
    experiment_id: str
    run_id: str
    persona_ids: list[str]
    progress: list[tuple[float, float | None, str | None]]


async def walk(client: Client, *, key: str = "walk-1") -> Walked:
    tools = await client.list_tools()
    assert {tool.name for tool in tools.tools} == set(TOOL_SCOPES)

    experiment = structured(
        await client.call_tool(
            "create_experiment",
            {
                "name": "Examples",
                "data_sources": EXAMPLE_SOURCES,
                "config": {"provider": "local", "persona_count": 3, "seed": 7},
            },
        )
    )
    assert experiment["data_sources"] == EXAMPLE_SOURCES
    experiment_id = experiment["id"]
    run = structured(
        await client.call_tool(
            "start_run", {"experiment_id": experiment_id, "idempotency_key": key}
        )
    )
    assert run["status"] in {"queued", "running"}

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    ids = {"experiment_id": experiment_id, "run_id": run["id"]}
    waited = structured(await client.call_tool("wait_for_run", ids, progress_callback=on_progress))
    assert waited["status"] == "succeeded", waited
    assert len(waited["persona_ids"]) == 3
    assert progress, "no progress notification arrived while waiting"
    values = [value for value, _, _ in progress]
    assert values == sorted(values) and all(0 <= value <= 1 for value in values)
    assert all(total == 1.0 and message for _, total, message in progress)

    listed = structured(await client.call_tool("list_personas", {"experiment_id": experiment_id}))
    assert [item["id"] for item in listed["items"]] == waited["persona_ids"]

    persona_id = waited["persona_ids"][0]
    persona = await client.call_tool("get_persona", {"persona_id": persona_id})
    markdown = structured(persona)["markdown"]
    assert text_of(persona.content) == markdown
    assert markdown.startswith(f"# {listed['items'][0]['name']}")
    assert "quotes verified" in markdown and "\u2713 verified" in markdown  # its grounding
    cited = EVIDENCE_ID.findall(markdown)
    assert cited, "the persona's Markdown cites no evidence"

    record = json.loads(
        text_of(
            (await client.read_resource(f"persona://runs/{run['id']}/evidence/{cited[0]}")).contents
        )
    )
    assert record["id"] == cited[0]
    found = structured(
        await client.call_tool(
            "search_evidence", {**ids, "participant": record["participant"], "limit": 200}
        )
    )
    assert cited[0] in [item["id"] for item in found["items"]]
    assert {item["participant"] for item in found["items"]} == {record["participant"]}

    resource = await client.read_resource(f"persona://personas/{persona_id}")
    assert text_of(resource.contents) == markdown
    return Walked(experiment_id, run["id"], waited["persona_ids"], progress)


ASSISTANT_SECTION = "## Use from an AI assistant"
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def assistant_configurations() -> list[dict[str, Any]]:
    """The configuration files the README's "Use from an AI assistant" shows (Claude
    Desktop's, then VS Code's), parsed."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(ASSISTANT_SECTION, 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in JSON_BLOCK.findall(section)]
