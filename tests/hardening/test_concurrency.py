"""Many clients at once against one real server: every request succeeds, counts are exact.

`persona serve` on a SQLite file, with one worker process and then with two; the async client
sends 500 experiment creations at once, then starts 100 generations (local provider, small
data) at once. Client retries are off, so any 5xx, including SQLite's "database is locked",
would reach the test.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import persona_client as pc
import pytest

from tests.servers import (
    ServerProcess,
    clean_env,
    make_data_dir,
    poll_health,
    running_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXPERIMENTS = 500
GENERATIONS = 100
PERSONAS_PER_RUN = 2
CONNECTIONS = 32
"""Client connection pool: enough to keep the server busy on two cores, not a flood."""
RUN_TIMEOUT = 120.0
POLL_INTERVAL = 0.5


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server process, or two worker processes sharing one SQLite file."""
    data_dir = make_data_dir(tmp_path_factory.mktemp("concurrency"))
    with running_server(data_dir, clean_env(), "--workers", str(request.param)) as running:
        yield running


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[pc.AsyncPersonaClient]:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    # The pool queues 500 requests on 32 connections: the wait for one is part of the timeout.
    http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120.0))
    async with (
        http,
        pc.AsyncPersonaClient(base_url=server.base_url, http_client=http, max_retries=0) as persona,
    ):
        yield persona


async def wait(client: pc.AsyncPersonaClient, run: pc.models.Run) -> pc.models.RunDetail:
    return await client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL_INTERVAL)


def assert_no_lock_errors(server: ServerProcess) -> None:
    log = server.output()
    assert "database is locked" not in log, log[-5000:]
    assert "Traceback" not in log, log[-5000:]


@pytest.mark.stress
async def test_500_concurrent_experiment_creations_all_stored_once(
    client: pc.AsyncPersonaClient, server: ServerProcess
) -> None:
    names = [f"concurrent study {n:03d}" for n in range(EXPERIMENTS)]
    before = {e.id async for e in client.experiments.iter(page_size=100)}

    stop = asyncio.Event()
    health = asyncio.create_task(poll_health(server.base_url, stop))
    try:
        created = await asyncio.gather(
            *(
                client.experiments.create(
                    name=name, data_sources=["small.csv"], config={"provider": "local"}
                )
                for name in names
            ),
            return_exceptions=True,
        )
    finally:
        stop.set()
        answers = await health

    errors = [result for result in created if isinstance(result, BaseException)]
    assert errors == [], f"{len(errors)} creations failed, e.g. {errors[:3]!r}"
    listed = [e async for e in client.experiments.iter(page_size=100) if e.id not in before]
    assert len(listed) == EXPERIMENTS
    assert {e.id for e in listed} == {e.id for e in created if not isinstance(e, BaseException)}
    assert sorted(e.name for e in listed) == names
    assert set(answers) == {200}, Counter(answers)
    assert_no_lock_errors(server)


@pytest.mark.stress
async def test_100_concurrent_generations_all_succeed_with_exact_counts(
    client: pc.AsyncPersonaClient, server: ServerProcess
) -> None:
    experiments = await asyncio.gather(
        *(
            client.experiments.create(
                name=f"generation study {n // 2}",
                data_sources=["small.csv"],
                config={"provider": "local", "persona_count": PERSONAS_PER_RUN, "seed": n},
            )
            for n in range(0, GENERATIONS, 2)
        )
    )
    targets = [experiment for experiment in experiments for _ in range(2)]

    stop = asyncio.Event()
    health = asyncio.create_task(poll_health(server.base_url, stop))
    try:
        started = await asyncio.gather(
            *(client.runs.start(e.id) for e in targets), return_exceptions=True
        )
        errors = [result for result in started if isinstance(result, BaseException)]
        assert errors == [], f"{len(errors)} starts failed, e.g. {errors[:3]!r}"
        runs = [run for run in started if not isinstance(run, BaseException)]
        finished = await asyncio.gather(
            *(wait(client, run) for run in runs), return_exceptions=True
        )
    finally:
        stop.set()
        answers = await health

    errors = [result for result in finished if isinstance(result, BaseException)]
    assert errors == [], f"{len(errors)} runs failed, e.g. {errors[:3]!r}"
    details = [run for run in finished if not isinstance(run, BaseException)]
    assert len({run.id for run in details}) == GENERATIONS
    assert Counter(run.status for run in details) == {"succeeded": GENERATIONS}
    assert all(len(run.personas) == PERSONAS_PER_RUN for run in details)
    personas = [
        persona for e in experiments async for persona in client.personas.iter(e.id, page_size=100)
    ]
    assert len(personas) == GENERATIONS * PERSONAS_PER_RUN
    assert len({p.id for p in personas}) == len(personas)
    assert Counter(p.run_id for p in personas) == {r.id: PERSONAS_PER_RUN for r in details}
    assert set(answers) == {200}, Counter(answers)
    assert_no_lock_errors(server)


SAME_KEY_REQUESTS = 30


async def test_concurrent_starts_with_one_idempotency_key_make_one_run(
    client: pc.AsyncPersonaClient, server: ServerProcess
) -> None:
    experiment = await client.experiments.create(
        name="one key, many tries", data_sources=["small.csv"], config={"provider": "local"}
    )

    started = await asyncio.gather(
        *(
            client.runs.start(experiment.id, idempotency_key="retry-storm-1")
            for _ in range(SAME_KEY_REQUESTS)
        ),
        return_exceptions=True,
    )

    errors = [result for result in started if isinstance(result, BaseException)]
    assert errors == [], f"{len(errors)} starts failed, e.g. {errors[:3]!r}"
    assert len({run.id for run in started if not isinstance(run, BaseException)}) == 1
    listed = [run async for run in client.runs.iter(experiment.id)]
    assert len(listed) == 1
    finished = await wait(client, listed[0])
    assert finished.status == "succeeded"
    assert_no_lock_errors(server)


HTTPX_KEEPALIVE_EXPIRY = 5.0
"""httpx's default: how long the client (persona_client included) reuses an idle connection."""


def test_idle_connection_outlives_the_clients_keepalive_expiry(server: ServerProcess) -> None:
    """A client may reuse a connection idle for just under its expiry; the server must not
    be closing it at that moment, or the request fails with a connection error."""
    host, port = server.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", "/health")
        assert connection.getresponse().read()
        time.sleep(HTTPX_KEEPALIVE_EXPIRY + 0.5)
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert response.status == 200
    finally:
        connection.close()
