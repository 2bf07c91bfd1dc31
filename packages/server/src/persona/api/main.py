"""The application factory: ``create_app(settings)`` builds the FastAPI app around one service."""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from persona.__about__ import __version__
from persona.api.auth import announce_access
from persona.api.cache import ResponseCache
from persona.api.docs import install_docs
from persona.api.errors import install_error_handlers
from persona.api.logs import configure_server_logging
from persona.api.mcp import install_mcp, mcp_sessions
from persona.api.memtrace import start_from_environment
from persona.api.middleware import BodyLimitMiddleware, CorsMiddleware, RequestIdMiddleware
from persona.api.openapi import TAGS, install_openapi
from persona.api.routes import (
    audit,
    estimates,
    events,
    experiments,
    health,
    keys,
    personas,
    privacy,
    providers,
    runs,
    sources,
    stream_tickets,
    webhooks,
)
from persona.api.sse import STOP_STREAMS
from persona.providers import import_providers
from persona.service import PersonaService
from persona.settings import Settings
from persona.web.pages import install_web

DESCRIPTION = """\
Turn qualitative research data (interview CSVs, survey JSON, transcripts, notes) into
evidence-backed user personas.

Every error is an RFC 9457 problem (`application/problem+json`) carrying the request id
that the `X-Request-ID` header of every response also carries.

AI assistants use Persona through its MCP server at `/mcp` (Streamable HTTP, with the same
bearer token; not an operation of this document): tools to create experiments, start and
follow runs, and read personas with their evidence.
"""

# The API's uploads, and the interface's new-experiment form.
UPLOAD_PATH = re.compile(r"(/ui)?/experiments/[^/]+/sources|/ui/experiments")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Start the service with the app; on shutdown, active runs are left re-queueable.

    The state it yields hands the server's connections (persona.api.protocol) the way to
    end every event stream as soon as the server starts stopping."""
    service = PersonaService(app.state.settings)
    await service.start()
    app.state.service = service
    app.state.response_cache = ResponseCache(service.data_version)
    await announce_access(app)
    if app.state.long_running:
        import_providers()
        freeze_startup_heap()
        hand_the_lock_back_sooner()
        start_from_environment()
    try:
        async with mcp_sessions(app):
            yield {STOP_STREAMS: service.stop_streams}
    finally:
        await service.aclose()


def freeze_startup_heap() -> None:
    """Move every object alive now out of the garbage collector's reach, for good.

    Start-up leaves a large heap that never becomes garbage (modules, the app, the service).
    Every full collection would scan it again, pausing the event loop while it does; frozen,
    collections scan only what requests create, which keeps the tail latency of busy reads
    down (benchmarks/api_throughput.py).
    """
    gc.collect()
    gc.freeze()


REQUEST_SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the interpreter lock while another waits for it (Python's
default is 0.005)."""


def hand_the_lock_back_sooner() -> None:
    """Let the event loop's thread win the interpreter lock back sooner.

    A server process also executes runs in threads (a `local` synthesis of sources below
    ``local_subprocess_min_bytes``, snapshots, stored personas), which compute for long
    stretches. Every time a request's coroutine wakes up it may wait a whole interval for
    one of them to hand the lock over, and a page wakes up many times. A shorter interval
    keeps pages and API reads prompt while runs execute, for a
    share of those runs' speed (benchmarks/ui.py).
    """
    sys.setswitchinterval(REQUEST_SWITCH_INTERVAL)


def server_app() -> FastAPI:
    """The app of a server process: ``persona serve`` and ``uvicorn persona.api:app``."""
    configure_server_logging()
    return create_app(long_running=True)


def create_app(settings: Settings | None = None, *, long_running: bool = False) -> FastAPI:
    """Build the app. Cheap: the database and the runner start in the lifespan.

    ``long_running`` says the app owns its process for good (a server): its start-up heap
    is then frozen (``freeze_startup_heap``) and its threads hand the interpreter lock back
    sooner (``hand_the_lock_back_sooner``). Leave it off where apps come and go, as in
    tests: frozen objects are never collected, even once they become garbage."""
    settings = settings or Settings()
    app = FastAPI(
        title="Persona API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        separate_input_output_schemas=False,
    )
    app.state.settings = settings
    app.state.long_running = long_running
    app.state.api_tokens = tuple(token.encode() for token in settings.api_tokens)

    for router in (
        health.router,
        experiments.router,
        sources.router,
        runs.router,
        estimates.router,
        events.router,
        stream_tickets.router,
        personas.router,
        privacy.router,
        providers.router,
        webhooks.router,
        keys.router,
        audit.router,
    ):
        app.include_router(router)
    webhooks.document_deliveries(app.webhooks)
    install_error_handlers(app)
    install_docs(app)
    install_openapi(app)
    install_web(app)
    install_mcp(app, settings)

    # Added last = outermost: every response, even a 413, carries the request id.
    app.add_middleware(
        BodyLimitMiddleware,
        json_limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes,
        upload_path=UPLOAD_PATH,
    )
    if settings.cors_origins:
        app.add_middleware(CorsMiddleware, allow_origins=settings.cors_origins)
    app.add_middleware(RequestIdMiddleware)
    return app
