"""The databases tests run on: a SQLite file, or a database of a throw-away PostgreSQL cluster.

The cluster is Debian's PostgreSQL (``apt-get install postgresql``), started once per test
session in a temporary folder with ``initdb`` and ``pg_ctl`` (as the ``postgres`` user when
the tests run as root, since PostgreSQL refuses to run as root), listening on a free loopback
port, and removed at the end. ``PERSONA_TEST_POSTGRES_URL`` (an administrator's URL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) points the tests at a server of
your own instead.

A test gets the session's migrated database emptied of rows, or a new empty database for
migration tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.ports import free_port

ADMIN_URL_VARIABLE = "PERSONA_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "PERSONA_REQUIRE_POSTGRES"
"""Set (CI sets it) to make a missing PostgreSQL a failure instead of a skip."""
HOW_TO_ENABLE = (
    "install Debian's postgresql package (apt-get install -y postgresql) so that initdb and "
    f"pg_ctl are found, or set {ADMIN_URL_VARIABLE} to an administrator's URL of a running "
    "server (postgresql+psycopg://user:password@host:port/postgres)"
)
START_TIMEOUT = 60.0
START_ATTEMPTS = 3
MIGRATED = f"persona_tests_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
"""The migrated database of this test process (one per pytest-xdist worker, should several
share a server named by PERSONA_TEST_POSTGRES_URL)."""


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run it as the postgres user the package created."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class PostgresCluster:
    """A PostgreSQL server the tests may create and drop databases on."""

    admin_url: str
    _folder: Path | None = None
    _bin: Path | None = None
    _migrated: bool = field(default=False, init=False)
    _options: str = field(default="", init=False)

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[PostgresCluster]:
        """The server named by PERSONA_TEST_POSTGRES_URL, else a new cluster; raises
        RuntimeError (saying how to enable it) when neither can be had."""
        given = os.environ.get(ADMIN_URL_VARIABLE)
        if given:
            yield cls(given)
            return
        with cls.own() as cluster:
            yield cluster

    @classmethod
    @contextlib.contextmanager
    def own(cls) -> Iterator[PostgresCluster]:
        """A new cluster of this process's own, which a test may stop, restart and break;
        raises RuntimeError (saying how to enable it) when PostgreSQL is not installed."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError(f"PostgreSQL was not found: {HOW_TO_ENABLE}")
        folder = Path(tempfile.mkdtemp(prefix="persona-pg-"))
        os.chmod(folder, 0o777)  # the postgres user writes its cluster and socket here
        cluster = cls("", folder, bin_dir)
        try:
            cluster._initdb()
            cluster.admin_url = cluster._start()
            yield cluster
        finally:
            cluster._stop()
            shutil.rmtree(folder, ignore_errors=True)

    def _initdb(self) -> None:
        assert self._folder is not None and self._bin is not None
        data = self._folder / "data"
        subprocess.run(
            _as_postgres(
                [str(self._bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
            ),
            check=True,
            capture_output=True,
        )

    def _start(self) -> str:
        """Start the cluster on a free port; its administrator's URL. Another test session
        may take the port between the check and the start: then again on another."""
        for attempt in range(START_ATTEMPTS):
            port = free_port()
            try:
                self._start_on(port)
            except subprocess.CalledProcessError:
                if attempt == START_ATTEMPTS - 1:
                    raise
                continue
            return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        raise AssertionError("unreachable")

    def _start_on(self, port: int) -> None:
        assert self._folder is not None and self._bin is not None
        data = self._folder / "data"
        options = self._options = (
            f"-p {port} -k {self._folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            _as_postgres(
                [
                    str(self._bin / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(self._folder / "server.log"),
                    "-w",
                    "-t",
                    str(int(START_TIMEOUT)),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def _pg_ctl(self, *args: str) -> None:
        assert self._folder is not None and self._bin is not None, "not a cluster of our own"
        data = str(self._folder / "data")
        command = [str(self._bin / "pg_ctl"), "-D", data, "-w", "-t", str(int(START_TIMEOUT))]
        subprocess.run(_as_postgres([*command, *args]), check=True, capture_output=True)

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is closed, the server back at once."""
        assert self._folder is not None
        # With its log file: a server writing to pg_ctl's own output would hold it open.
        self._pg_ctl("-m", "fast", "-l", str(self._folder / "server.log"), "restart")

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: the server is down until ``start``."""
        self._pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        """Start the server again after ``stop``, with the options it was first started with
        (kept by PostgreSQL in postmaster.opts and reused by ``restart``)."""
        assert self._folder is not None
        self._pg_ctl("-o", self._options, "-l", str(self._folder / "server.log"), "start")

    def _stop(self) -> None:
        if self._folder is None or self._bin is None:
            return
        subprocess.run(
            _as_postgres(
                [
                    str(self._bin / "pg_ctl"),
                    "-D",
                    str(self._folder / "data"),
                    "-m",
                    "immediate",
                    "stop",
                ]
            ),
            check=False,
            capture_output=True,
        )

    def _execute(self, statement: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    with engine.connect() as connection:
                        connection.execute(sa.text(statement))
                    return
                except sa.exc.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        finally:
            engine.dispose()

    def url_of(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def empty_database(self) -> str:
        """The URL of a new database without tables."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url_of(name)

    def migrated_database(self) -> str:
        """The URL of a database at the newest schema and without rows: one database,
        migrated once per session and emptied for each test (TRUNCATE takes milliseconds,
        where creating a database takes about a second)."""
        url = self.url_of(MIGRATED)
        if not self._migrated:
            from persona.storage import Database

            self._execute(f'DROP DATABASE IF EXISTS "{MIGRATED}" WITH (FORCE)')
            self._execute(f'CREATE DATABASE "{MIGRATED}" TEMPLATE template0')
            database = Database(url)
            database.migrate()
            database.dispose()
            self._migrated = True
            return url
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                tables = sa.inspect(connection).get_table_names()
                emptied = ", ".join(f'"{t}"' for t in tables if t != "alembic_version")
                connection.execute(sa.text(f"TRUNCATE {emptied} RESTART IDENTITY CASCADE"))
        finally:
            engine.dispose()
        return url
