"""PersonaClient and AsyncPersonaClient against a real `persona serve` (uvicorn) on 127.0.0.1.

The server runs in a subprocess with a temporary data directory and a token. Its `openai`
provider points at a loopback stand-in that accepts requests and never answers, so runs on it
stay `running` until cancelled; everything else is the real server on its defaults.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import persona_client as pc
import pytest

from tests.servers import RUN_TIMEOUT, SEED_BODY, StalledProvider, free_port, make_data_dir
from tests.servers import clean_env as server_env

pytestmark = pytest.mark.e2e

TOKEN = "e2e-client-token-0123456789"
START_TIMEOUT = 60.0
POLL = 0.05
STALLED_BODY: dict[str, Any] = {
    "name": "Stalled study",
    "data_sources": ["interviews.csv"],
    "config": {"provider": "openai"},
}


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with pc.PersonaClient(base_url=server.base_url, max_retries=0, timeout=2) as probe:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"server exited early:\n{server.log.read_text(errors='replace')}")
            try:
                if probe.health().status == "ok":
                    return
            except pc.APIConnectionError:
                time.sleep(0.1)
    pytest.fail(f"server not healthy in {START_TIMEOUT}s:\n{server.log.read_text()}")


@contextmanager
def persona_serve(data_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    """`persona serve` with a token on a free loopback port; stopped on exit."""
    port = free_port()
    log = data_dir.parent / f"server-{port}.log"
    argv = [
        sys.executable,
        "-m",
        "persona.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--auth-token",
        TOKEN,
        "--log-level",
        "warning",
        # On PostgreSQL the server then executes the runs it queues; a no-op on SQLite.
        "--with-worker",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=data_dir
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, server_database: dict[str, str]
) -> Iterator[Server]:
    stalled = StalledProvider()
    env = server_env(OPENAI_BASE_URL=stalled.url, OPENAI_API_KEY="sk-test", **server_database)
    try:
        with persona_serve(make_data_dir(tmp_path_factory.mktemp("client-e2e")), env) as running:
            yield running
    finally:
        stalled.close()


@pytest.fixture
def client(server: Server) -> Iterator[pc.PersonaClient]:
    with pc.PersonaClient(base_url=server.base_url, token=TOKEN) as persona:
        yield persona


@pytest.fixture
async def aclient(server: Server) -> AsyncIterator[pc.AsyncPersonaClient]:
    async with pc.AsyncPersonaClient(base_url=server.base_url, token=TOKEN) as persona:
        yield persona


def wait_running(client: pc.PersonaClient, run: pc.models.Run) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while client.runs.get(run.experiment_id, run.id).status != "running":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(POLL)


# --------------------------------------------------------------------------- sync client


def test_seed_body_then_local_generation_to_personas(client: pc.PersonaClient) -> None:
    experiment = client.experiments.create(**SEED_BODY)
    assert experiment.id.startswith("exp-")
    assert (experiment.name, experiment.status) == ("Checkout research Q3", "created")
    with pytest.raises(pc.ConflictError, match="ANTHROPIC_API_KEY"):
        client.runs.start(experiment.id)

    run = client.runs.start(experiment.id, provider="local", seed=1)
    finished = client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)

    assert finished.status == "succeeded"
    assert len(finished.personas) == 3
    again = client.runs.get(experiment.id, run.id)
    assert again.persona_ids == finished.persona_ids
    persona = client.personas.get(finished.persona_ids[0])
    assert persona.run_id == run.id
    assert all(quote.verified for quote in persona.quotes)
    assert client.personas.markdown(persona.id).startswith(f"# {persona.name}")
    listed = client.personas.list(experiment.id)
    assert sorted(p.id for p in listed.items) == sorted(finished.persona_ids)
    assert client.experiments.get(experiment.id).personas_stored == 3


def test_pages_through_more_than_one_page(client: pc.PersonaClient) -> None:
    created = [client.experiments.create(**{**SEED_BODY, "name": f"Page {n}"}) for n in range(3)]
    first = client.experiments.list(limit=2)
    assert len(first.items) == 2 and first.next_cursor is not None
    everything = [e.id for e in client.experiments.iter(page_size=2)]
    assert len(everything) == len(set(everything)) >= 3
    assert everything[:3] == [e.id for e in reversed(created)]


def test_cancel_a_running_run_then_delete(client: pc.PersonaClient) -> None:
    experiment = client.experiments.create(**STALLED_BODY)
    run = client.runs.start(experiment.id)
    wait_running(client, run)
    with pytest.raises(TimeoutError):
        client.runs.wait(run, timeout=0.3, poll_interval=POLL)

    client.runs.cancel(experiment.id, run.id)

    with pytest.raises(pc.RunCancelledError) as cancelled:
        client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)
    assert cancelled.value.run.status == "cancelled"
    client.experiments.delete(experiment.id)
    with pytest.raises(pc.NotFoundError):
        client.experiments.get(experiment.id)


def test_errors(server: Server, client: pc.PersonaClient) -> None:
    with pc.PersonaClient(base_url=server.base_url, token="wrong-token") as intruder:
        assert intruder.health().status == "ok"
        with pytest.raises(pc.AuthenticationError) as unauthorized:
            intruder.experiments.list()
    assert unauthorized.value.response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "wrong-token" not in str(unauthorized.value)

    with pytest.raises(pc.NotFoundError) as missing:
        client.personas.get("persona-unknown")
    assert missing.value.request_id

    with pytest.raises(pc.UnprocessableEntityError) as invalid:
        client.experiments.create(
            name="Bad", data_sources=["../../etc/passwd"], config={"persona_count": 99}
        )
    assert ["body", "config", "persona_count"] in [e.loc for e in invalid.value.errors]


# --------------------------------------------------------------------------- async client


async def test_async_flow(aclient: pc.AsyncPersonaClient) -> None:
    experiment = await aclient.experiments.create(**SEED_BODY)
    run = await aclient.runs.start(experiment.id, provider="local", persona_count=2)
    finished = await aclient.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)
    assert finished.status == "succeeded"
    assert [p.id for p in finished.personas] == finished.persona_ids
    persona = await aclient.personas.get(finished.persona_ids[0])
    assert persona.name in await aclient.personas.markdown(persona.id)
    assert [r.id for r in (await aclient.runs.list(experiment.id)).items] == [run.id]
    assert len([p async for p in aclient.personas.iter(experiment.id, page_size=1)]) == 2

    for n in range(2):
        await aclient.experiments.create(**{**SEED_BODY, "name": f"Async page {n}"})
    first = await aclient.experiments.list(limit=1)
    assert first.next_cursor is not None
    ids = [e.id async for e in aclient.experiments.iter(page_size=1)]
    assert len(ids) == len(set(ids)) >= 3

    await aclient.experiments.delete(experiment.id)
    with pytest.raises(pc.NotFoundError):
        await aclient.runs.get(experiment.id, run.id)


async def test_async_cancel_and_errors(server: Server, aclient: pc.AsyncPersonaClient) -> None:
    experiment = await aclient.experiments.create(**STALLED_BODY)
    run = await aclient.runs.start(experiment.id)
    await aclient.runs.cancel(experiment.id, run.id)
    with pytest.raises(pc.RunFailedError) as cancelled:
        await aclient.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)
    assert isinstance(cancelled.value, pc.RunCancelledError)
    with pytest.raises(pc.ConflictError):
        await aclient.runs.cancel(experiment.id, run.id)

    async with pc.AsyncPersonaClient(base_url=server.base_url, token="nope") as intruder:
        with pytest.raises(pc.AuthenticationError):
            await intruder.experiments.get(experiment.id)
    with pytest.raises(pc.NotFoundError):
        await aclient.experiments.get("exp-unknown")
    with pytest.raises(pc.UnprocessableEntityError) as invalid:
        await aclient.experiments.create(name="", data_sources=["interviews.csv"])
    assert [e.loc for e in invalid.value.errors] == [["body", "name"]]


# --------------------------------------------------------------------------- a stopped server


async def test_a_stopped_server_raises_api_connection_error(tmp_path: Path) -> None:
    with persona_serve(make_data_dir(tmp_path), server_env()) as server:
        client = pc.PersonaClient(base_url=server.base_url, token=TOKEN, max_retries=1)
        aclient = pc.AsyncPersonaClient(base_url=server.base_url, token=TOKEN, max_retries=1)
        assert client.experiments.list().items == []
        assert (await aclient.experiments.list()).items == []
    assert server.process.returncode is not None

    with client, pytest.raises(pc.APIConnectionError):
        client.experiments.list()
    async with aclient:
        with pytest.raises(pc.APIConnectionError):
            await aclient.health()
