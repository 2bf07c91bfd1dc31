"""Done when: every tool declares typed input and output schemas and its hints; every tool,
resource and the prompt works over the real service; a failure is a tool error carrying
the code, message and status of the REST API's problem for the same request; bad arguments
are tool errors and the session goes on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import EmbeddedResource, TextContent, TextResourceContents
from persona.mcp.scopes import TOOL_SCOPES

from tests.fakes.stalled import stalled_anthropic
from tests.mcp_walk import problem, structured, text_of, walk
from tests.server.mcp.conftest import Faces

LOCAL = {"provider": "local", "persona_count": 3, "seed": 7}


async def _create(faces: Faces, name: str = "Examples", **config: Any) -> str:
    result = await faces.mcp.call_tool(
        "create_experiment",
        {"name": name, "data_sources": ["interviews.csv"], "config": {**LOCAL, **config}},
    )
    experiment_id: str = structured(result)["id"]
    return experiment_id


def _as_api_problem(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    return {"code": body["code"], "message": body["detail"], "status": response.status_code}


async def test_every_tool_declares_its_schemas_hints_and_scope(faces: Faces) -> None:
    tools = {tool.name: tool for tool in (await faces.mcp.list_tools()).tools}
    assert set(tools) == set(TOOL_SCOPES)
    for name, tool in tools.items():
        assert tool.description and len(tool.description) > 40, name
        assert "  " not in tool.description and "\n" not in tool.description, name
        assert tool.input_schema["type"] == "object", name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", name
        hints = tool.annotations
        assert hints is not None, name
        assert None not in (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint)
        assert hints.read_only_hint == (TOOL_SCOPES[name] == "read"), name
    destructive = {name for name, tool in tools.items() if tool.annotations.destructive_hint}  # type: ignore[union-attr]
    assert destructive == {"delete_experiment", "cancel_run"}
    assert tools["start_run"].input_schema["required"] == ["experiment_id", "idempotency_key"]


async def test_the_full_path_over_the_service(faces: Faces) -> None:
    walked = await walk(faces.mcp)
    run = (await faces.api.get(f"/experiments/{walked.experiment_id}/runs/{walked.run_id}")).json()
    assert run["persona_ids"] == walked.persona_ids


async def test_pasted_text_becomes_a_source_and_the_experiment_resource_shows_it(
    faces: Faces,
) -> None:
    notes = "P1: I re-enter every order by hand.\n\nP2: Alerts arrive too late to act on.\n"
    created = structured(
        await faces.mcp.call_tool(
            "create_experiment",
            {"name": "Pasted", "data_sources": [{"name": "notes.md", "content": notes}]},
        )
    )
    stored = (await faces.api.get(f"/experiments/{created['id']}")).json()
    assert created == stored
    resource = await faces.mcp.read_resource(f"persona://experiments/{created['id']}")
    assert json.loads(text_of(resource.contents)) == stored
    sources = (await faces.api.get(f"/experiments/{created['id']}/sources")).json()["items"]
    assert [source["kind"] for source in sources] == ["inline"]


async def test_start_run_is_idempotent_per_key(faces: Faces) -> None:
    experiment_id = await _create(faces)
    start = {"experiment_id": experiment_id, "idempotency_key": "retry-me"}
    first = structured(await faces.mcp.call_tool("start_run", start))
    again = structured(await faces.mcp.call_tool("start_run", start))
    assert again["id"] == first["id"]
    runs = (await faces.api.get(f"/experiments/{experiment_id}/runs")).json()["items"]
    assert [run["id"] for run in runs] == [first["id"]]

    other = problem(await faces.mcp.call_tool("start_run", {**start, "persona_count": 2}))
    api = await faces.api.post(
        f"/experiments/{experiment_id}/generate",
        json={"persona_count": 2},
        headers={"Idempotency-Key": "retry-me"},
    )
    assert other == _as_api_problem(api)
    assert other["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("tool", "arguments", "method", "path", "body"),
    [
        ("get_run", {"experiment_id": "exp-none", "run_id": "run-none"}, "GET",
         "/experiments/exp-none/runs/run-none", None),
        ("delete_experiment", {"experiment_id": "exp-none"}, "DELETE",
         "/experiments/exp-none", None),
        ("get_persona", {"persona_id": "persona-none"}, "GET", "/personas/persona-none", None),
        ("create_experiment", {"name": "Outside", "data_sources": ["../secrets.csv"]}, "POST",
         "/experiments", {"name": "Outside", "data_sources": ["../secrets.csv"]}),
        ("create_experiment", {"name": "Missing", "data_sources": ["nowhere.csv"]}, "POST",
         "/experiments", {"name": "Missing", "data_sources": ["nowhere.csv"]}),
        ("list_experiments", {"cursor": "not-a-cursor"}, "GET",
         "/experiments?cursor=not-a-cursor", None),
    ],
)  # fmt: skip
async def test_a_failure_is_the_api_s_problem(
    faces: Faces, tool: str, arguments: dict[str, Any], method: str, path: str, body: Any
) -> None:
    failed = problem(await faces.mcp.call_tool(tool, arguments))
    api = await faces.api.request(method, path, json=body)
    assert failed == _as_api_problem(api)
    assert failed["status"] >= 400


async def test_bad_arguments_are_tool_errors_and_the_session_goes_on(faces: Faces) -> None:
    wrong = problem(await faces.mcp.call_tool("get_run", {"experiment_id": 5}))
    assert wrong["code"] == "validation_error" and wrong["status"] == 422
    assert "experiment_id" in wrong["message"] and "run_id: Field required" in wrong["message"]
    for tool, arguments in [
        ("start_run", {"experiment_id": "exp-x", "idempotency_key": ""}),
        ("list_experiments", {"limit": 1000}),
        ("create_experiment", {"name": "No sources", "data_sources": []}),
    ]:
        assert problem(await faces.mcp.call_tool(tool, arguments))["code"] == "validation_error"
    unknown = await faces.mcp.call_tool("no_such_tool", {})
    assert unknown.is_error
    listed = structured(await faces.mcp.call_tool("list_experiments", {}))
    assert listed["items"] == []


async def test_list_and_delete_experiments(faces: Faces) -> None:
    kept = await _create(faces, "Checkout interviews")
    gone = await _create(faces, "Onboarding survey")
    named = structured(await faces.mcp.call_tool("list_experiments", {"name": "checkout"}))
    assert [item["id"] for item in named["items"]] == [kept]

    deleted = structured(await faces.mcp.call_tool("delete_experiment", {"experiment_id": gone}))
    assert deleted == {"id": gone}
    assert (await faces.api.get(f"/experiments/{gone}")).status_code == 404
    left = structured(await faces.mcp.call_tool("list_experiments", {}))
    assert [item["id"] for item in left["items"]] == [kept]
    with pytest.raises(MCPError) as refused:
        await faces.mcp.read_resource(f"persona://experiments/{gone}")
    assert refused.value.error.data["code"] == "not_found"
    assert refused.value.error.data["status"] == 404


@pytest.fixture
def stalled(monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.Event]:
    """Anthropic configured and never answering: its runs stay running."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with stalled_anthropic() as called:
        yield called


async def test_wait_returns_an_unfinished_run_after_its_timeout_and_cancel_ends_it(
    faces: Faces, stalled: asyncio.Event
) -> None:
    experiment_id = await _create(faces, provider="anthropic")
    run = structured(
        await faces.mcp.call_tool(
            "start_run", {"experiment_id": experiment_id, "idempotency_key": "stalled"}
        )
    )
    ids = {"experiment_id": experiment_id, "run_id": run["id"]}
    await asyncio.wait_for(stalled.wait(), 30)
    waited = structured(await faces.mcp.call_tool("wait_for_run", {**ids, "timeout_seconds": 0.3}))
    assert waited["status"] == "running"

    cancelled = structured(await faces.mcp.call_tool("cancel_run", ids))
    assert cancelled["status"] == "cancelled"
    ended = structured(await faces.mcp.call_tool("wait_for_run", {**ids, "timeout_seconds": 5}))
    assert ended["status"] == "cancelled"
    again = problem(await faces.mcp.call_tool("cancel_run", ids))
    api = await faces.api.post(f"/experiments/{experiment_id}/runs/{run['id']}/cancel")
    assert again == _as_api_problem(api)
    assert again["code"] == "conflict"


async def test_get_run_and_search_evidence_filters(faces: Faces) -> None:
    walked = await walk(faces.mcp)
    ids = {"experiment_id": walked.experiment_id, "run_id": walked.run_id}
    run = structured(await faces.mcp.call_tool("get_run", ids))
    assert run["status"] == "succeeded" and run["persona_ids"] == walked.persona_ids
    assert "personas" not in run

    by_source = structured(
        await faces.mcp.call_tool(
            "search_evidence", {**ids, "source": "interviews.csv", "limit": 200}
        )
    )
    assert by_source["items"] and {i["source"] for i in by_source["items"]} == {"interviews.csv"}
    by_text = structured(
        await faces.mcp.call_tool("search_evidence", {**ids, "text": "SPREADSHEET"})
    )
    assert by_text["items"]
    assert all("spreadsheet" in item["text"].lower() for item in by_text["items"])
    page = structured(await faces.mcp.call_tool("search_evidence", {**ids, "limit": 2}))
    following = structured(
        await faces.mcp.call_tool(
            "search_evidence", {**ids, "limit": 2, "cursor": page["next_cursor"]}
        )
    )
    assert {i["id"] for i in page["items"]}.isdisjoint(i["id"] for i in following["items"])


async def test_resources_for_unknown_ids_are_errors_with_the_api_s_code(faces: Faces) -> None:
    for uri in (
        "persona://personas/persona-none",
        "persona://experiments/exp-none",
        "persona://runs/run-none/evidence/ev-0000000000000000",
    ):
        with pytest.raises(MCPError) as refused:
            await faces.mcp.read_resource(uri)
        assert refused.value.error.data == {
            "code": "not_found",
            "message": refused.value.error.message,
            "status": 404,
            "uri": uri,
        }


async def test_the_prompt_embeds_the_personas_and_asks_for_evidence(faces: Faces) -> None:
    walked = await walk(faces.mcp)
    prompt = await faces.mcp.get_prompt(
        "summarise_personas",
        {"experiment_id": walked.experiment_id, "audience": "the head of operations"},
    )
    first, *personas = [message.content for message in prompt.messages]
    assert isinstance(first, TextContent)
    assert "the head of operations" in first.text and walked.run_id in first.text
    assert "evidence" in first.text
    embedded = [p.resource for p in personas if isinstance(p, EmbeddedResource)]
    assert [str(r.uri) for r in embedded] == [f"persona://personas/{i}" for i in walked.persona_ids]
    markdown = await faces.mcp.call_tool("get_persona", {"persona_id": walked.persona_ids[0]})
    assert isinstance(embedded[0], TextResourceContents)
    assert embedded[0].text == structured(markdown)["markdown"]

    empty = await _create(faces, "Not run yet")
    with pytest.raises(MCPError) as refused:
        await faces.mcp.get_prompt("summarise_personas", {"experiment_id": empty})
    assert refused.value.error.data["code"] == "conflict"
