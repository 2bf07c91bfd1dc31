"""Keys, scopes, the audit log and rate limits against real `persona serve` processes.

On PostgreSQL two replicas share the database: a key revoked on one is refused by the other
at once. On SQLite one server owns its file, so the other process is `persona keys revoke`
on the same database; the server refuses the key at once all the same."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import persona_client as pc
import pytest

from tests.servers import RUN_TIMEOUT, clean_env, make_data_dir, running_server

pytestmark = pytest.mark.e2e

BOOTSTRAP = "e2e-bootstrap-token-0123456789"
LOCAL = {"provider": "local", "persona_count": 2, "seed": 3}
REQUESTS_PER_MINUTE = 40


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, server_database: dict[str, str]
) -> Iterator[tuple[str, str, Path, dict[str, str]]]:
    """The base URLs of two replicas (one server twice on SQLite), the data directory and
    the servers' environment."""
    data_dir = make_data_dir(tmp_path_factory.mktemp("keys-e2e"))
    env = clean_env(
        PERSONA_RATE_LIMIT_REQUESTS=str(REQUESTS_PER_MINUTE),
        PERSONA_API_TOKEN=BOOTSTRAP,
        **server_database,
    )
    with running_server(data_dir, env) as first:
        if not server_database:
            yield first.base_url, first.base_url, data_dir, env
            return
        with running_server(data_dir, env) as second:
            yield first.base_url, second.base_url, data_dir, env


def client(base_url: str, token: str, **options: object) -> pc.PersonaClient:
    return pc.PersonaClient(base_url=base_url, token=token, timeout=30, **options)  # type: ignore[arg-type]


def revoke_elsewhere(
    key_id: str, first: str, second: str, data_dir: Path, env: dict[str, str]
) -> None:
    """Revoke on the first replica, or (one server) through the CLI's own process."""
    if first != second:
        with client(first, BOOTSTRAP) as admin:
            admin.keys.revoke(key_id)
        return
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "persona.cli",
            "keys",
            "revoke",
            key_id,
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_keys_scopes_audit_and_limits_end_to_end(
    replicas: tuple[str, str, Path, dict[str, str]],
) -> None:
    first, second, data_dir, env = replicas
    with client(first, BOOTSTRAP) as admin:
        read_key = admin.keys.create(name="designer", scope="read")
        write_key = admin.keys.create(name="ci", scope="write", max_cost_usd=10)

    # A read key sees everything and changes nothing.
    with client(first, read_key.secret) as reader, client(first, write_key.secret) as writer:
        experiment = writer.experiments.create(
            name="Keys study", data_sources=["interviews.csv"], config=LOCAL
        )
        assert reader.experiments.get(experiment.id).id == experiment.id
        with pytest.raises(pc.PermissionDeniedError) as refused:
            reader.runs.start(experiment.id)
        assert "needs scope 'write'" in str(refused.value)

        run = writer.runs.wait(writer.runs.start(experiment.id), timeout=RUN_TIMEOUT)
        assert run.status == "succeeded"

    # Revoked on one process, refused by the other at once.
    revoke_elsewhere(read_key.id, first, second, data_dir, env)
    with client(second, read_key.secret, max_retries=0) as reader:
        with pytest.raises(pc.AuthenticationError) as revoked:
            reader.experiments.list()
        assert "revoked" in str(revoked.value)

    # The audit log shows each step, with who and how it ended.
    with client(second, BOOTSTRAP) as admin:
        deadline = time.monotonic() + 10
        while True:
            log = [(e.operation_id, e.key_name, e.status) for e in admin.audit.iter()]
            if ("revokeKey", "bootstrap token", 204) in log or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        keys = {key.id: key for key in admin.keys.list().items}
    expected = [
        ("createKey", "bootstrap token", 201),
        ("createKey", "bootstrap token", 201),
        ("createExperiment", "ci", 201),
        ("startRun", "designer", 403),
        ("startRun", "ci", 202),
    ]
    if first != second:
        expected.append(("revokeKey", "bootstrap token", 204))
    assert list(reversed(log)) == expected
    assert keys[read_key.id].revoked_at is not None
    assert keys[write_key.id].last_used_at is not None
    assert keys[write_key.id].spent_usd == 0.0  # the local provider costs nothing

    # The request rate trips, with Retry-After and the RateLimit headers.
    headers = {"Authorization": f"Bearer {write_key.secret}"}
    with httpx.Client(base_url=second, headers=headers, timeout=30) as raw:
        answers = [raw.get("/experiments") for _ in range(REQUESTS_PER_MINUTE + 1)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert {a.status_code for a in answers} == {200, 429}
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].headers["ratelimit-policy"] == f'"requests";q={REQUESTS_PER_MINUTE};w=60'
    assert limited[0].json()["code"] == "rate_limited"

    # Budgets: a key's max_cost_usd refusing an over-estimate run (409 budget_exceeded) and
    # stopping a run at its cap belong here, once runs check their budgets.


@pytest.fixture(scope="module")
def short_window(
    tmp_path_factory: pytest.TempPathFactory, server_database: dict[str, str]
) -> Iterator[str]:
    """A server whose keys may make 3 requests per 2-second window."""
    data_dir = make_data_dir(tmp_path_factory.mktemp("keys-window"))
    env = clean_env(
        PERSONA_RATE_LIMIT_REQUESTS="3",
        PERSONA_RATE_LIMIT_WINDOW_SECONDS="2",
        PERSONA_API_TOKEN=BOOTSTRAP,
        **server_database,
    )
    with running_server(data_dir, env) as server:
        yield server.base_url


def test_the_client_waits_out_retry_after_and_then_succeeds(short_window: str) -> None:
    with client(short_window, BOOTSTRAP) as admin:
        key = admin.keys.create(name="looper", scope="read")

    with (
        client(short_window, key.secret, max_retries=0) as impatient,
        pytest.raises(pc.RateLimitError) as limited,
    ):
        for _ in range(10):  # 3 per window: one of the first 7 is refused
            impatient.experiments.list()
    retry_after = int(limited.value.response.headers["retry-after"])

    with client(short_window, key.secret, max_retries=2) as patient:
        started = time.monotonic()
        for _ in range(7):  # three windows' worth: it must wait a whole window at least
            patient.experiments.list()
        waited = time.monotonic() - started

    assert 1 <= retry_after <= 2
    assert waited >= 1.9
