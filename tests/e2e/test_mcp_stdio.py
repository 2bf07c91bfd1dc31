"""Done when: the SDK's client walks the whole path through `persona mcp` started as a
subprocess on stdio, over the database and data directory it is configured with, and a
later session finds what an earlier one stored; bad arguments leave the session working."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.mcp_walk import (
    assistant_configurations,
    examples_data_dir,
    problem,
    structured,
    walk,
)
from tests.servers import clean_env

pytestmark = pytest.mark.e2e

PLACEHOLDER_DATA_DIR = re.compile(r"^(/home/you|\$\{workspaceFolder\})/research$")
"""The data directories the README's configurations name."""


def _persona_mcp(env: dict[str, str], *args: str, cwd: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "persona.cli", "mcp", *args], env=env, cwd=cwd
    )


async def test_the_full_path_over_stdio(tmp_path: Path, database_url: str) -> None:
    data_dir = examples_data_dir(tmp_path)
    env = clean_env()
    command = _persona_mcp(
        env, "--data-dir", str(data_dir), "--database-url", database_url, cwd=tmp_path
    )
    async with Client(command) as client:
        walked = await walk(client)
        wrong = problem(await client.call_tool("wait_for_run", {"run_id": walked.run_id}))
        assert wrong["code"] == "validation_error" and "experiment_id" in wrong["message"]
        listed = structured(await client.call_tool("list_experiments", {}))
        assert [item["id"] for item in listed["items"]] == [walked.experiment_id]

    # A later session, configured by the environment as `persona serve` is, finds it all.
    env = clean_env(PERSONA_DATA_DIR=str(data_dir), PERSONA_DATABASE_URL=database_url)
    async with Client(_persona_mcp(env, cwd=tmp_path)) as client:
        again = structured(
            await client.call_tool(
                "get_run", {"experiment_id": walked.experiment_id, "run_id": walked.run_id}
            )
        )
        assert again["status"] == "succeeded" and again["persona_ids"] == walked.persona_ids


def test_a_missing_data_directory_is_one_line_and_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = subprocess.run(
        [sys.executable, "-m", "persona.cli", "mcp", "--data-dir", str(missing)],
        input=b"",
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == b""
    message = done.stderr.decode()
    assert message.startswith(f"error: the data directory {missing} does not exist")
    assert message.count("\n") == 1


async def test_the_readme_s_stdio_configurations_start_the_server(tmp_path: Path) -> None:
    """Claude Desktop's and VS Code's stdio entries, as the README shows them, with this
    environment's `persona` and a data directory of this test's."""
    data_dir = examples_data_dir(tmp_path)
    persona = Path(sys.executable).parent / "persona"
    claude, vscode = assistant_configurations()
    entries = [claude["mcpServers"]["persona"], vscode["servers"]["persona"]]
    assert vscode["servers"]["persona"]["type"] == "stdio"
    for entry in entries:
        assert Path(entry["command"]).name == "persona"
        args = [PLACEHOLDER_DATA_DIR.sub(str(data_dir), arg) for arg in entry["args"]]
        assert args == ["mcp", "--data-dir", str(data_dir)]
        command = StdioServerParameters(command=str(persona), args=args, env=clean_env())
        async with Client(command) as client:
            created = structured(
                await client.call_tool(
                    "create_experiment", {"name": "Configured", "data_sources": ["survey.csv"]}
                )
            )
            assert created["data_sources"] == ["survey.csv"]
