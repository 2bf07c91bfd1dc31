"""Done when: the SDK's client walks the whole path through `persona mcp` started as a
subprocess on stdio, over the database and data directory it is configured with, and a
later session finds what an earlier one stored; bad arguments leave the session working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.mcp_walk import examples_data_dir, problem, structured, walk
from tests.servers import clean_env

pytestmark = pytest.mark.e2e


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
