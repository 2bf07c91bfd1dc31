"""Done when: a client script waits for 50 runs by their event streams and receives every
terminal event exactly once, while the runs execute in other processes than the streams';
a webhook receiver on 127.0.0.1 that fails its first delivery gets the retry, verifies every
signature with the standardwebhooks library and accepts each run's terminal event once; and
a server killed with deliveries pending delivers them once it is started again.

On SQLite the server runs two uvicorn worker processes (``--workers 2``): a run executes in
the one that took its POST, and a stream may be served by the other, which learns of the
events through the database. On PostgreSQL the API only queues and a ``persona worker``
process executes; the API hears of events by NOTIFY. The provider is the loopback fake
OpenAI server, answering after half a second so every stream is open before its run ends.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import persona_client as pc
import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.receiver import WebhookReceiver
from tests.servers import (
    ServerProcess,
    clean_env,
    make_data_dir,
    spawn_server,
    spawn_worker,
    wait_healthy,
    wait_worker_ready,
)

pytestmark = pytest.mark.e2e

TOKEN = "e2e-stream-token-0123456789"
RUNS = 50
PROVIDER_LATENCY = 0.5
FINISH_TIMEOUT = 120.0
TERMINAL = {"run.succeeded", "run.failed", "run.cancelled"}


@pytest.fixture
def fake_provider() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency=PROVIDER_LATENCY) as server:
        yield server


def _api_only(data_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "persona.cli", "serve",
        "--host", "127.0.0.1", "--port", "{port}", "--data-dir", str(data_dir),
        "--log-level", "warning", "--auth-token", TOKEN,
    ]  # fmt: skip


def _start_deployment(
    stack: ExitStack, data_dir: Path, env: dict[str, str], database_backend: str
) -> ServerProcess:
    if database_backend == "sqlite":
        api = spawn_server(data_dir, env, command=[*_api_only(data_dir), "--workers", "2"])
    else:
        api = spawn_server(data_dir, env, command=_api_only(data_dir))
        worker = spawn_worker(data_dir, env, "--concurrency", str(RUNS))
        stack.callback(worker.stop)
        wait_worker_ready(worker)
    stack.callback(api.stop)
    wait_healthy(api)
    return api


async def _watch(client: pc.AsyncPersonaClient, run: pc.models.Run) -> list[pc.RunEvent]:
    return [event async for event in client.runs.stream(run)]


@pytest.mark.stress
def test_fifty_runs_waited_for_by_streams_each_end_exactly_once(
    tmp_path: Path,
    fake_provider: FakeOpenAIServer,
    server_database: dict[str, str],
    database_backend: str,
) -> None:
    data_dir = make_data_dir(tmp_path)
    env = clean_env(
        OPENAI_BASE_URL=fake_provider.base_url,
        OPENAI_API_KEY="sk-test",
        PERSONA_WEBHOOK_ALLOW_PRIVATE="true",
        PERSONA_WEBHOOK_RETRY_DELAYS="[0.5, 0.5]",
        **server_database,
    )
    receiver = WebhookReceiver(500)  # the first delivery fails
    with ExitStack() as stack:
        stack.callback(receiver.close)
        api = _start_deployment(stack, data_dir, env, database_backend)
        hook = _create_webhook(api, receiver.url)

        async def script() -> tuple[list[list[pc.RunEvent]], list[pc.models.RunDetail]]:
            async with pc.AsyncPersonaClient(base_url=api.base_url, token=TOKEN) as client:
                experiment = await client.experiments.create(
                    name="streams",
                    data_sources=["interviews.csv"],
                    config={"provider": "openai", "persona_count": 2},
                )
                runs = [await client.runs.start(experiment.id) for _ in range(RUNS)]
                async with asyncio.timeout(FINISH_TIMEOUT):
                    streams = await asyncio.gather(*(_watch(client, run) for run in runs))
                    waited = await asyncio.gather(*(client.runs.wait(run) for run in runs[:5]))
                return streams, waited

        streams, waited = asyncio.run(script())
        deliveries = receiver.wait_for(RUNS + 1, timeout=FINISH_TIMEOUT)

    for events in streams:
        assert [event.type in TERMINAL for event in events].count(True) == 1
        assert events[-1].type == "run.succeeded"
        assert [event.id for event in events] == list(range(1, len(events) + 1))
        assert len({event.run_id for event in events}) == 1
    assert len({events[0].run_id for events in streams}) == RUNS
    assert all(len(run.personas) == 2 for run in waited)
    events = [pc.verify_webhook(d.body, d.headers, hook.secret) for d in deliveries]
    assert [d.answered for d in deliveries].count(500) == 1
    accepted = [event for event, d in zip(events, deliveries, strict=True) if d.answered == 200]
    assert sorted(event.run_id for event in accepted) == sorted(e[0].run_id for e in streams)
    assert {event.type for event in accepted} == {"run.succeeded"}
    retried = deliveries[0].headers["webhook-id"]
    assert [d.headers["webhook-id"] for d in deliveries].count(retried) == 2


@pytest.mark.stress
def test_a_killed_server_delivers_its_pending_deliveries_after_a_restart(
    tmp_path: Path, fake_provider: FakeOpenAIServer
) -> None:
    data_dir = make_data_dir(tmp_path)
    down = WebhookReceiver()
    url, port = down.url, down.server.server_address[1]
    down.close()  # nobody listens until the server is killed
    env = clean_env(
        OPENAI_BASE_URL=fake_provider.base_url,
        OPENAI_API_KEY="sk-test",
        PERSONA_WEBHOOK_ALLOW_PRIVATE="true",
        PERSONA_WEBHOOK_RETRY_DELAYS="[0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]",
    )
    with ExitStack() as stack:
        first = spawn_server(data_dir, env, command=_api_only(data_dir))
        stack.callback(first.stop)
        wait_healthy(first)
        hook = _create_webhook(first, url, events=["run.queued"])
        with httpx.Client(base_url=first.base_url, headers=_auth(), timeout=30) as api:
            experiment = api.post("/experiments", json=_body()).json()
            runs = [
                api.post(f"/experiments/{experiment['id']}/generate").json()["id"] for _ in "ab"
            ]
            failing = api.get(f"/webhooks/{hook.id}/deliveries").json()["items"]
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)

        receiver = WebhookReceiver(port=port)
        stack.callback(receiver.close)
        second = spawn_server(data_dir, env, command=_api_only(data_dir))
        stack.callback(second.stop)
        wait_healthy(second)
        delivered = receiver.wait_for(2, timeout=FINISH_TIMEOUT)

    assert len(failing) == 2 and {d["status"] for d in failing} == {"pending"}
    events = [pc.verify_webhook(d.body, d.headers, hook.secret) for d in delivered]
    assert sorted(event.run_id for event in events) == sorted(runs)
    assert {event.type for event in events} == {"run.queued"}


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _body() -> dict[str, object]:
    return {
        "name": "hooks",
        "data_sources": ["interviews.csv"],
        "config": {"provider": "openai", "persona_count": 2},
    }


def _create_webhook(
    api: ServerProcess, url: str, events: list[str] | None = None
) -> pc.models.WebhookWithSecret:
    with pc.PersonaClient(base_url=api.base_url, token=TOKEN) as client:
        return client.webhooks.create(url=url, events=events or ["run.succeeded"])
