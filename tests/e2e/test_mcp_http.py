"""Done when: the SDK's client walks the whole path through /mcp of a real `persona serve`
over Streamable HTTP with the server's bearer token; without it, or with another, /mcp
answers the API's 401 problem; Host and Origin headers the server was not configured for
are refused (DNS-rebinding protection), the ones it was are accepted; bad arguments are
tool errors and the session goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.mcp_walk import (
    assistant_configurations,
    examples_data_dir,
    problem,
    structured,
    walk,
)
from tests.servers import ServerProcess, clean_env, running_server

pytestmark = pytest.mark.e2e

TOKEN = "mcp-http-token-0123456789"
APP_ORIGIN = "https://research.example"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, server_database: dict[str, str]
) -> Iterator[ServerProcess]:
    data_dir = examples_data_dir(tmp_path_factory.mktemp("mcp-http"))
    env = clean_env(PERSONA_CORS_ORIGINS=APP_ORIGIN, **server_database)
    with running_server(data_dir, env, "--auth-token", TOKEN) as running:
        yield running


@asynccontextmanager
async def mcp_client(server: ServerProcess, token: str | None = TOKEN) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(f"{server.base_url}/mcp", http_client=http)
        async with Client(transport) as client:
            yield client


async def test_the_full_path_over_streamable_http(server: ServerProcess) -> None:
    async with mcp_client(server) as client:
        walked = await walk(client, key="http-walk")
        wrong = problem(await client.call_tool("get_persona", {"persona_id": ["not", "a", "str"]}))
        assert wrong["code"] == "validation_error"
        again = structured(
            await client.call_tool(
                "get_run", {"experiment_id": walked.experiment_id, "run_id": walked.run_id}
            )
        )
        assert again["persona_ids"] == walked.persona_ids
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{server.base_url}/experiments/{walked.experiment_id}/personas?latest=true"
    async with httpx.AsyncClient(headers=headers, timeout=30) as api:
        personas = (await api.get(url)).json()["items"]
    assert [persona["id"] for persona in personas] == walked.persona_ids


@pytest.mark.parametrize(
    ("token", "challenge", "detail"),
    [
        (None, "Bearer", "Missing bearer token."),
        (
            "wrong-token",
            'Bearer error="invalid_token"',
            "Invalid bearer token: API keys start with 'psk_'.",
        ),
    ],
)
def test_mcp_refuses_a_request_without_the_server_s_token(
    server: ServerProcess, token: str | None, challenge: str, detail: str
) -> None:
    headers = MCP_HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
    refused = httpx.post(f"{server.base_url}/mcp", json=INITIALIZE, headers=headers, timeout=30)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == challenge
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "unauthorized" and refused.json()["detail"] == detail


async def test_the_sdk_client_without_a_token_cannot_connect(server: ServerProcess) -> None:
    with pytest.raises(ExceptionGroup) as refused:
        async with mcp_client(server, token=None) as client:
            await client.list_tools()
    assert refused.group_contains(MCPError, depth=2)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "attacker.example"}, 421),
        ({"Origin": "http://attacker.example"}, 403),
        ({"Origin": APP_ORIGIN}, 200),
        ({"Host": "localhost:1234", "Origin": "http://localhost:1234"}, 200),
    ],
)
def test_mcp_checks_host_and_origin_against_the_server_s_settings(
    server: ServerProcess, headers: dict[str, str], status: int
) -> None:
    sent = MCP_HEADERS | {"Authorization": f"Bearer {TOKEN}"} | headers
    answer = httpx.post(f"{server.base_url}/mcp", json=INITIALIZE, headers=sent, timeout=30)
    assert answer.status_code == status, answer.text


def test_mcp_is_not_an_operation_of_the_openapi_document_but_its_description_names_it(
    server: ServerProcess,
) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=30).json()
    assert "/mcp" not in spec["paths"]
    assert "`/mcp`" in spec["info"]["description"]


def test_a_request_needs_no_session_so_any_worker_or_replica_answers_it(
    server: ServerProcess,
) -> None:
    """No session is kept in a process: a tool call with no session id, sent without an
    initialize before it, is answered: any worker process or replica can take any request."""
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "list_experiments", "arguments": {"limit": 1}},
    }
    headers = MCP_HEADERS | {
        "Authorization": f"Bearer {TOKEN}",
        "MCP-Protocol-Version": "2025-06-18",
    }
    answer = httpx.post(f"{server.base_url}/mcp", json=call, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert "mcp-session-id" not in answer.headers
    assert '"structuredContent"' in answer.text and '"isError":false' in answer.text


def test_an_oversized_request_is_refused_before_it_is_read(server: ServerProcess) -> None:
    huge = {**INITIALIZE, "params": {**INITIALIZE["params"], "padding": "x" * (3 * 1024 * 1024)}}
    headers = MCP_HEADERS | {"Authorization": f"Bearer {TOKEN}"}
    refused = httpx.post(f"{server.base_url}/mcp", json=huge, headers=headers, timeout=30)
    assert refused.status_code == 413


async def test_the_readme_s_http_configurations_reach_mcp(server: ServerProcess) -> None:
    """VS Code's HTTP entry, and the URL and header Claude Desktop's bridge is given, as the
    README shows them, with this server's port and token."""
    claude, vscode = assistant_configurations()
    entry = vscode["servers"]["persona-server"]
    assert entry["type"] == "http"
    url = entry["url"].replace("http://127.0.0.1:8000", server.base_url)
    token_input = next(i for i in vscode["inputs"] if i["id"] == "persona-token")
    assert token_input["password"] is True
    headers = {
        name: value.replace("${input:persona-token}", TOKEN)
        for name, value in entry["headers"].items()
    }
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        assert len((await client.list_tools()).tools) == 10
    bridge = claude["mcpServers"]["persona-server"]["args"]
    assert bridge[1] == entry["url"]
    assert bridge[2:] == ["--header", "Authorization: Bearer ${PERSONA_TOKEN}"]


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_only_post_is_served_and_other_methods_get_a_405_problem(
    server: ServerProcess, method: str
) -> None:
    headers = MCP_HEADERS | {"Authorization": f"Bearer {TOKEN}"}
    answer = httpx.request(method, f"{server.base_url}/mcp", headers=headers, timeout=10)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.json()["code"] == "method_not_allowed"


async def test_a_read_key_reads_through_mcp_and_is_refused_each_writing_tool(
    server: ServerProcess,
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        created = await api.post("/keys", json={"name": "mcp-reader", "scope": "read"})
        assert created.status_code == 201, created.text
        experiments_before = (await api.get("/experiments")).json()["items"]

    async with mcp_client(server, token=created.json()["secret"]) as client:
        listed = structured(await client.call_tool("list_experiments", {}))
        refused = problem(
            await client.call_tool(
                "create_experiment", {"name": "x", "data_sources": ["interviews.csv"]}
            )
        )
        deleting = problem(
            await client.call_tool("delete_experiment", {"experiment_id": "exp-anything"})
        )

    assert [item["id"] for item in listed["items"]] == [e["id"] for e in experiments_before]
    for answer in (refused, deleting):
        assert answer["code"] == "insufficient_scope" and answer["status"] == 403
        assert "scope 'read'" in answer["message"] and "needs scope 'write'" in answer["message"]
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as api:
        assert (await api.get("/experiments")).json()["items"] == experiments_before
