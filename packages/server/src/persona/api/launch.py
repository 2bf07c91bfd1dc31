"""``persona serve``: run the API under uvicorn, with a banner and a refusal to run unsafely."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
from pathlib import Path

import uvicorn
from sqlalchemy.engine import make_url
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from persona.__about__ import __version__
from persona.api.serve_lock import DatabaseInUse, claim_database
from persona.connections import check_server_database
from persona.errors import PersonaError
from persona.runtime import ENGINE_POOL_SIZE
from persona.settings import Settings
from persona.storage.keys import database_has_keys

APP_FACTORY = "persona.api.main:server_app"
HTTP_PROTOCOL = "persona.api.protocol:PersonaHttpProtocol"
"""uvicorn's httptools protocol with header size and timeout limits (persona.api.protocol)."""
KEEP_ALIVE_SECONDS = 75
"""How long an idle connection stays open. Longer than clients keep idle connections
(httpx: 5 s), so that a client never reuses a connection the server is just closing."""
EVENT_LOOP = "asyncio"
"""The standard loop, not uvloop: under many keep-alive connections uvloop let some
connections wait far longer than the rest while it kept serving others, for no more
throughput (benchmarks/api_throughput.py)."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def _fail(message: str) -> SystemExit:
    print(f"persona serve: {message}", file=sys.stderr)
    return SystemExit(1)


def server_environment(
    *,
    auth_token: str | None,
    no_auth: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> dict[str, str]:
    """The PERSONA_* variables that carry the options to the app (and to every worker)."""
    env: dict[str, str] = {}
    if data_dir is not None:
        env["PERSONA_DATA_DIR"] = str(data_dir.expanduser().resolve())
    if database_url is not None:
        env["PERSONA_DATABASE_URL"] = database_url
    if auth_token is not None:
        env["PERSONA_API_TOKEN"] = auth_token
    elif no_auth:
        env["PERSONA_API_TOKEN"] = ""
    return env


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None  # a host name


def browsable_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server: an unspecified address (0.0.0.0,
    ::) is one to listen on, not one to open, so it becomes the loopback address."""
    address = _address(host)
    if address is None:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{port}"


def banner(settings: Settings, *, host: str, port: int, keys: bool = False) -> str:
    url = browsable_url(host, port)
    address = _address(host)
    everywhere = address is not None and address.is_unspecified
    listening = [f"  Listening on:     {host} (every interface), port {port}"] if everywhere else []
    tokens = len(settings.api_tokens)
    auth = f"on ({tokens} token{'s' if tokens != 1 else ''})" if tokens else "OFF (no token)"
    if keys:
        bootstrap = f", {tokens} bootstrap token{'s' if tokens != 1 else ''}" if tokens else ""
        auth = f"on (API keys{bootstrap})"
    database = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return "\n".join(
        [
            f"Persona API {__version__}",
            f"  URL:              {url}",
            *listening,
            f"  Docs:             {url}/docs",
            f"  Auth:             {auth}",
            f"  Data directory:   {settings.data_dir}",
            f"  Database:         {database}",
            f"  Runs:             {_runs_executed(settings)}",
            f"  Default provider: {settings.default_provider}",
        ]
    )


def _runs_executed(settings: Settings) -> str:
    if settings.run_dispatch == "local":
        return "executed by this server"
    if settings.execute_runs:
        return "queued; executed by this server and any `persona worker`"
    return "queued; executed by `persona worker` processes"


def check_data_dir(data_dir: Path, *, create: bool) -> None:
    """The data directory exists (or is created when asked): a mistyped path must not become
    an empty new directory that silently holds a fresh database."""
    if data_dir.is_dir():
        return
    if data_dir.exists():
        raise _fail(f"the data directory {data_dir} is not a directory (--data-dir).")
    if not create:
        raise _fail(
            f"the data directory {data_dir} does not exist (--data-dir): create it, "
            "or pass --create-data-dir to have it created."
        )
    try:
        data_dir.mkdir(parents=True)
    except OSError as err:
        raise _fail(f"cannot create the data directory {data_dir}: {err.strerror}.") from None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the banner so that a port in use is one clear error
    and not a banner followed by a log line; uvicorn then serves on it (no race in between)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn does: a restart can reuse the port while old connections are in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise _fail(
                f"port {port} on {host} is already in use (is another server running?): "
                "stop it, or choose another port with --port."
            ) from None
        reason = err.strerror or str(err)
        raise _fail(
            f"cannot listen on {host}:{port}: {reason} (check --host and --port)."
        ) from None
    sock.set_inheritable(True)  # the worker processes serve on it too
    return sock


def run_uvicorn(config: uvicorn.Config, sock: socket.socket) -> None:
    """Serve on ``sock`` until interrupted; exit non-zero when the server never started.
    uvicorn.run() would return normally when a worker of several fails to start."""
    try:
        if config.workers > 1:
            supervisor = Multiprocess(config, sockets=[sock])
            supervisor.run()
            failed = any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
        else:
            server = uvicorn.Server(config)
            server.run(sockets=[sock])
            failed = not server.started
    except SystemExit as exit_:  # uvicorn's own exit when the app's start-up fails
        failed = exit_.code not in (0, None)
    except KeyboardInterrupt:  # a Ctrl-C during start-up: nothing to report
        failed = False
    finally:
        sock.close()
    if failed:
        raise _fail("the server failed to start (the log above says why).")


def serve(
    *,
    host: str,
    port: int,
    auth_token: str | None,
    no_auth: bool,
    data_dir: Path | None,
    database_url: str | None,
    workers: int,
    log_level: str,
    create_data_dir: bool = False,
    with_worker: bool = False,
) -> None:
    """Run the server until interrupted. Exits 1 when it would expose data without a token,
    when the data directory is missing, when it cannot listen, or when it fails to start."""
    if auth_token is not None and not any(t.strip() for t in auth_token.split(",")):
        raise _fail("--auth-token is empty.")
    if auth_token is not None and no_auth:
        raise _fail("--auth-token and --no-auth contradict each other; pass one.")
    os.environ.update(
        server_environment(
            auth_token=auth_token, no_auth=no_auth, data_dir=data_dir, database_url=database_url
        )
        | {"PERSONA_HOST": host}
    )
    settings = Settings()
    if settings.effective_database_url.startswith("postgresql"):
        # Runs are queued; `persona worker` executes them, or this server with --with-worker.
        os.environ.setdefault("PERSONA_RUN_DISPATCH", "queue")
        os.environ["PERSONA_EXECUTE_RUNS"] = "true" if with_worker else "false"
        settings = Settings()
    keys = database_has_keys(settings.effective_database_url)
    if not settings.api_tokens and not keys and not no_auth and not is_loopback(host):
        raise _fail(
            f"refusing to listen on {host} without a token: anyone who can reach it could read "
            "and delete your research data. Set --auth-token (or PERSONA_API_TOKEN), create "
            "a key (persona keys create), or pass --no-auth to accept that."
        )
    check_data_dir(settings.data_dir, create=create_data_dir)
    try:
        check_server_database(settings, ENGINE_POOL_SIZE)
    except PersonaError as err:
        raise _fail(f"{err.message}.") from None
    try:
        lock = claim_database(settings, browsable_url(host, port))
    except DatabaseInUse as err:
        raise _fail(str(err)) from None
    sock = bind(host, port)
    print(banner(settings, host=host, port=port, keys=keys), flush=True)
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=EVENT_LOOP,
        http=HTTP_PROTOCOL,
        log_level=log_level.lower(),
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        server_header=False,
    )
    try:
        run_uvicorn(config, sock)
    finally:
        if lock is not None:
            lock.release()
