"""A server killed with SIGKILL mid-run loses nothing and duplicates nothing on restart.

`persona serve` runs in a subprocess; its `openai` provider is a slow loopback fake. Runs are
started, the server is killed while some are running and others queued, then restarted on the
same database: the runs are re-queued once their lease lapses and finish, each with exactly
its personas.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import persona_client as pc
import pytest

from tests.fakes import FakeOpenAIServer
from tests.servers import (
    clean_env,
    make_data_dir,
    running_server,
    start_server,
    worker_pids,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stress]

PROVIDER_LATENCY = 4.0
"""Seconds the fake provider takes per request: long enough to kill the server mid-run."""
WAIT_TIMEOUT = 90.0
POLL = 0.05
SLOW_RUNS = 4
CONCURRENT_RUNS = 2
"""Fewer slots than runs, so that the kill finds some runs running and others queued."""
SLOW_PERSONAS = 2
DONE_PERSONAS = 3
RUN_LEASE_SECONDS = 9.0
"""A killed process's runs are taken over once their lease lapses: at least two thirds of
this after the kill (leases are renewed every third), later than a killed request's answer
was due, so a run's next execution never overlaps the previous one."""


@pytest.fixture
def provider() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency=PROVIDER_LATENCY) as server:
        yield server


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(POLL)


def all_personas(client: pc.PersonaClient, experiment_ids: list[str]) -> list[pc.models.Persona]:
    return [p for e in experiment_ids for p in client.personas.iter(e, page_size=100)]


def test_sigkill_mid_run_then_restart_loses_and_duplicates_nothing(
    tmp_path: Path, provider: FakeOpenAIServer
) -> None:
    data_dir = make_data_dir(tmp_path)
    env = clean_env(
        OPENAI_BASE_URL=provider.base_url,
        PERSONA_MAX_CONCURRENT_RUNS=str(CONCURRENT_RUNS),
        PERSONA_RUN_LEASE_SECONDS=str(RUN_LEASE_SECONDS),
    )

    first = start_server(data_dir, env)
    try:
        with pc.PersonaClient(base_url=first.base_url, max_retries=0, timeout=30) as client:
            done_experiment = client.experiments.create(
                name="finished before the crash",
                data_sources=["interviews.csv"],
                config={"provider": "openai", "persona_count": DONE_PERSONAS},
            )
            done_run = client.runs.wait(client.runs.start(done_experiment.id), timeout=WAIT_TIMEOUT)
            assert done_run.status == "succeeded", done_run.error
            slow_experiments = [
                client.experiments.create(
                    name=f"slow study {n}",
                    data_sources=["interviews.csv"],
                    config={"provider": "openai", "persona_count": SLOW_PERSONAS},
                )
                for n in range(SLOW_RUNS // 2)
            ]
            slow_runs = [
                client.runs.start(experiment.id)
                for experiment in slow_experiments
                for _ in range(2)
            ]
            wait_until(
                lambda: len(provider.chat_requests) >= CONCURRENT_RUNS,
                "the running runs reach the provider",
            )
            before = {run.id: client.runs.get(run.experiment_id, run.id) for run in slow_runs}
            experiments_before = {e.id: e for e in client.experiments.iter(page_size=100)}
            first.kill()
    finally:
        first.kill()

    statuses = Counter(run.status for run in before.values())
    assert statuses == {"running": CONCURRENT_RUNS, "queued": SLOW_RUNS - CONCURRENT_RUNS}
    requests_before_restart = len(provider.chat_requests)

    with (
        running_server(data_dir, env) as second,
        pc.PersonaClient(base_url=second.base_url, max_retries=0, timeout=30) as client,
    ):
        after: dict[str, pc.models.RunDetail] = {}

        def all_finished() -> bool:
            for run in slow_runs:
                after[run.id] = client.runs.get(run.experiment_id, run.id)
            return all(r.status in ("succeeded", "failed", "cancelled") for r in after.values())

        wait_until(all_finished, "the re-queued runs finish")
        experiments_after = {e.id: e for e in client.experiments.iter(page_size=100)}
        done_after = client.runs.get(done_experiment.id, done_run.id)
        experiment_ids = [done_experiment.id, *(e.id for e in slow_experiments)]
        personas = all_personas(client, experiment_ids)
        server_log = second.output()

    assert set(experiments_after) == set(experiments_before)
    for run_id, run in after.items():
        assert run.status == "succeeded", (run_id, run.error)
        # A run that was running had one attempt killed; a queued one had not started.
        expected_attempts = before[run_id].attempts + 1
        assert run.attempts == expected_attempts, (run_id, before[run_id].status)
        assert len(run.personas) == SLOW_PERSONAS
        assert sorted(run.persona_ids) == sorted(p.id for p in run.personas)
    assert sorted(r.attempts for r in after.values()) == [1, 1, 2, 2]
    assert len(provider.chat_requests) - requests_before_restart >= SLOW_RUNS

    assert done_after == done_run, "a run finished before the crash changed"
    persona_ids = [p.id for p in personas]
    assert len(persona_ids) == len(set(persona_ids)), "a persona is listed twice"
    per_run = Counter(p.run_id for p in personas)
    assert per_run == {done_run.id: DONE_PERSONAS} | {run_id: SLOW_PERSONAS for run_id in after}
    assert {p.id for p in done_run.personas} <= set(persona_ids)
    assert "Traceback" not in server_log


QUICK_LATENCY = 0.3
QUICK_EXPERIMENTS = 3
QUICK_RUNS_EACH = 4


@pytest.fixture
def quick_provider() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency=QUICK_LATENCY) as server:
        yield server


def test_sigkill_while_runs_finish_keeps_each_run_whole(
    tmp_path: Path, quick_provider: FakeOpenAIServer
) -> None:
    """Killed while runs finish one after another: each run ends with exactly its personas."""
    data_dir = make_data_dir(tmp_path)
    env = clean_env(
        OPENAI_BASE_URL=quick_provider.base_url,
        PERSONA_RUN_LEASE_SECONDS=str(RUN_LEASE_SECONDS),
    )

    first = start_server(data_dir, env)
    try:
        with pc.PersonaClient(base_url=first.base_url, max_retries=0, timeout=30) as client:
            experiments = [
                client.experiments.create(
                    name=f"quick study {n}",
                    data_sources=["small.csv"],
                    config={"provider": "openai", "persona_count": SLOW_PERSONAS},
                )
                for n in range(QUICK_EXPERIMENTS)
            ]
            runs = [client.runs.start(e.id) for e in experiments for _ in range(QUICK_RUNS_EACH)]
            before: dict[str, pc.models.RunDetail] = {}

            def some_succeeded() -> bool:
                for run in runs:
                    before[run.id] = client.runs.get(run.experiment_id, run.id)
                return any(r.status == "succeeded" for r in before.values())

            wait_until(some_succeeded, "a first run succeeds")
            first.kill()
    finally:
        first.kill()

    unfinished = [r for r in before.values() if r.status in ("queued", "running")]
    assert unfinished, "every run finished before the kill; nothing was interrupted"
    succeeded_before = {i: r for i, r in before.items() if r.status == "succeeded"}

    with (
        running_server(data_dir, env) as second,
        pc.PersonaClient(base_url=second.base_url, max_retries=0, timeout=30) as client,
    ):
        after = {
            run.id: client.runs.wait(run, timeout=WAIT_TIMEOUT, poll_interval=0.2) for run in runs
        }
        personas = all_personas(client, [e.id for e in experiments])

    assert Counter(r.status for r in after.values()) == {"succeeded": len(runs)}
    for run_id, run in succeeded_before.items():
        assert after[run_id] == run, "a run finished before the crash changed"
    # Started at most twice: once before the kill (unless still queued), once after it.
    assert {r.attempts for r in after.values()} <= {1, 2}
    persona_ids = [p.id for p in personas]
    assert len(persona_ids) == len(set(persona_ids)), "a persona is listed twice"
    assert Counter(p.run_id for p in personas) == {run_id: SLOW_PERSONAS for run_id in after}
    assert all(sorted(r.persona_ids) == sorted(p.id for p in r.personas) for r in after.values())


WORKER_RUNS = 6


def test_sigkill_of_one_worker_of_two_loses_and_duplicates_nothing(
    tmp_path: Path, provider: FakeOpenAIServer
) -> None:
    """uvicorn starts a new worker in place of the killed one. Neither that worker nor the
    surviving one executes a run the other is executing: only the killed worker's runs are
    executed again, once their lease lapsed, and each run ends with exactly its personas."""
    env = clean_env(
        OPENAI_BASE_URL=provider.base_url,
        PERSONA_RUN_LEASE_SECONDS=str(RUN_LEASE_SECONDS),
    )
    with (
        running_server(make_data_dir(tmp_path), env, "--workers", "2") as server,
        # Retries on: a request the killed worker was answering fails with it.
        pc.PersonaClient(base_url=server.base_url, max_retries=3, timeout=30) as client,
    ):
        experiment = client.experiments.create(
            name="two workers",
            data_sources=["small.csv"],
            config={"provider": "openai", "persona_count": SLOW_PERSONAS},
        )
        # The seed reaches the provider's request body: it tells whose run a request is.
        runs = [client.runs.start(experiment.id, seed=n) for n in range(WORKER_RUNS)]
        wait_until(lambda: len(provider.chat_requests) >= 2, "runs reach the provider")
        workers = worker_pids(server)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        wait_until(lambda: len(set(worker_pids(server)) - set(workers)) == 1, "a new worker starts")
        after = [client.runs.wait(run, timeout=WAIT_TIMEOUT, poll_interval=0.2) for run in runs]
        personas = list(client.personas.iter(experiment.id, page_size=100))

    assert [run.status for run in after] == ["succeeded"] * WORKER_RUNS
    assert all(len(run.personas) == SLOW_PERSONAS for run in after)
    assert len({p.id for p in personas}) == len(personas)
    assert Counter(p.run_id for p in personas) == {run.id: SLOW_PERSONAS for run in after}

    requests_by_seed: dict[int, list[float]] = defaultdict(list)
    for request in provider.chat_requests:
        requests_by_seed[request.body["seed"]].append(request.received_at)
    assert set(requests_by_seed) == set(range(WORKER_RUNS)), "a run never reached the provider"
    for seed, run in enumerate(after):
        received = sorted(requests_by_seed[seed])
        # One request per execution, and no execution without an attempt of its own.
        assert len(received) <= run.attempts <= 2, (run.id, run.attempts, len(received))
        # A run executed again (its first worker was killed) was so only after the killed
        # request's answer was due: never two executions of one run at the same time.
        for earlier, later in itertools.pairwise(received):
            assert later - earlier >= PROVIDER_LATENCY, (run.id, received)
