"""Fixtures for every test: a clean environment, where the shipped example data lives, and
the database a test runs on.

A test that takes ``database_url`` (or a fixture built on it) runs on the databases
PERSONA_TEST_DATABASES names: ``sqlite`` (the default, what the README's test command runs),
``postgresql``, or ``sqlite,postgresql`` (see ``tests/databases.py``). A test marked
``sqlite_only`` runs on SQLite alone, one marked ``postgresql_only`` (what only PostgreSQL
has: the run queue, workers) on PostgreSQL whatever the variable says. CI runs the README's
command, then every test on both databases (``.ci/run``). Every PostgreSQL run is marked
``postgresql`` (``-m postgresql`` selects them). Without PostgreSQL its runs are skipped,
saying how to enable it; where PERSONA_REQUIRE_POSTGRES is set (CI sets it), they fail.

Tests marked ``stress`` (crashes, scale-out, load) run only with PERSONA_TEST_STRESS=1, as
in CI's longer matrix (``.ci/run``).

respx stands in for the LLM providers' APIs at the transport their clients send through
(aiohttp's pool under httpx), so ``respx.mock`` catches provider requests as it would at
httpcore's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx.mocks

from tests.databases import REQUIRE_VARIABLE, PostgresCluster
from tests.paths import EXAMPLES_DIR, TEST_INTERVIEWS


class AiohttpTransportMocker(respx.mocks.AbstractRequestMocker):
    """respx patching ``httpx_aiohttp.AiohttpTransport``, which takes and gives httpx's own
    request and response."""

    name = "httpx-aiohttp"
    targets = ["httpx_aiohttp.transport.AiohttpTransport"]
    target_methods = ["handle_async_request"]

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        request: httpx.Request = kwargs["request"]
        return request

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> httpx.Response:
        return httpx_response


respx.mocks.DEFAULT_MOCKER = AiohttpTransportMocker.name


# Keys that would make tests depend on the machine they run on.
_PROVIDER_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PERSONA_* setting or provider key leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("PERSONA_") or name in _PROVIDER_KEYS:
            monkeypatch.delenv(name)


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES_DIR


DATABASE_BACKENDS = ("sqlite", "postgresql")
DATABASES_VARIABLE = "PERSONA_TEST_DATABASES"


def chosen_databases() -> list[str]:
    """The databases PERSONA_TEST_DATABASES names (comma-separated), SQLite by default."""
    value = os.environ.get(DATABASES_VARIABLE, "sqlite")
    chosen = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(DATABASE_BACKENDS))
    if unknown or not chosen:
        raise pytest.UsageError(
            f"{DATABASES_VARIABLE}={value!r}: name sqlite, postgresql or both, comma-separated"
        )
    return [name for name in DATABASE_BACKENDS if name in chosen]


STRESS_VARIABLE = "PERSONA_TEST_STRESS"
"""Set to 1 (CI sets it) to run the tests marked ``stress``: several servers and workers,
killed mid-run, or hundreds of requests at once. The README's test command leaves them out."""


def pytest_configure(config: pytest.Config) -> None:
    chosen_databases()  # a misspelt PERSONA_TEST_DATABASES stops the run before it starts


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(STRESS_VARIABLE) == "1":
        return
    left_out = pytest.mark.skip(reason=f"a stress test: {STRESS_VARIABLE}=1 runs it (CI does)")
    for item in items:
        if item.get_closest_marker("stress"):
            item.add_marker(left_out)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_backend" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker
        backends = chosen_databases()
        if marked("sqlite_only"):
            backends = ["sqlite"]
        elif marked("postgresql_only"):
            backends = ["postgresql"]
        params = [
            pytest.param(name, marks=[pytest.mark.postgresql] if name == "postgresql" else [])
            for name in backends
        ]
        # Module scope: a module's long-lived fixtures (a server) run once per database.
        metafunc.parametrize("database_backend", params, scope="module")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """The session's PostgreSQL server (see tests/databases.py)."""
    with contextlib.ExitStack() as stack:
        try:
            cluster = stack.enter_context(PostgresCluster.started())
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            if os.environ.get(REQUIRE_VARIABLE):
                pytest.fail(f"PostgreSQL is required ({REQUIRE_VARIABLE} is set): {detail}")
            pytest.skip(f"PostgreSQL tests skipped: {detail}")
        yield cluster


@pytest.fixture
def database_url(database_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database at the newest schema (a SQLite file migrated on first open)."""
    if database_backend == "sqlite":
        folder = tmp_path / "db"
        folder.mkdir(exist_ok=True)
        return f"sqlite:///{folder / 'persona.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.migrated_database()


@pytest.fixture(scope="module")
def server_database(database_backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that points a server of a module's tests at its database: nothing for
    SQLite (a file in the server's data directory), a PostgreSQL URL otherwise."""
    if database_backend == "sqlite":
        return {}
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return {"PERSONA_DATABASE_URL": cluster.migrated_database()}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory holding the tests' interviews as ``interviews.csv``."""
    root = tmp_path / "data"
    root.mkdir()
    shutil.copy(TEST_INTERVIEWS, root / "interviews.csv")
    return root
