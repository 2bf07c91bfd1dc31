"""The server's log: Persona's own lines (runs, errors, requests) next to uvicorn's.

uvicorn configures only its own loggers; without a handler of their own, the ``persona.*``
loggers would fall through to Python's last-resort handler, which drops everything below
WARNING, so a run's lifecycle would never show. A server process gives them uvicorn's
format and level. Request lines come from ``persona.access`` (with the request id and the
query string's secrets hidden) instead of ``uvicorn.access``, so a request is logged once.
"""

from __future__ import annotations

import logging
import sys
from urllib.parse import parse_qsl, urlencode

from persona.runs.queue_logs import NOISY_LOGGERS, quiet_job_queue_logs

PERSONA_LOGGER = "persona"
ACCESS_LOGGER = "persona.access"
SECRET_QUERY_PARAMETERS = frozenset(
    {"token", "access_token", "api_key", "key", "password", "ticket"}
)
"""Query parameters whose values never reach the log (a token sent the wrong way, a stream
ticket)."""

access_logger = logging.getLogger(ACCESS_LOGGER)


def configure_server_logging() -> None:
    """Show ``persona.*`` lines at uvicorn's level, in its format, and take over its
    request lines. Leaves alone a ``persona`` logger or a root logger configured already
    (``--log-config``, an embedding application)."""
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_access = logging.getLogger("uvicorn.access")
    persona = logging.getLogger(PERSONA_LOGGER)
    if not persona.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_formatter(uvicorn_error))
        quiet_job_queue_logs(handler)
        level = uvicorn_error.getEffectiveLevel()
        persona.addHandler(handler)
        persona.setLevel(level)
        persona.propagate = False
        # The job queue's and the driver's warnings too, in the same format (an outage's
        # once): without a handler of their own they would reach Python's last resort.
        for name in NOISY_LOGGERS:
            library = logging.getLogger(name)
            library.addHandler(handler)
            library.setLevel(max(level, logging.WARNING))
            library.propagate = False
    access = logging.getLogger(ACCESS_LOGGER)
    if not uvicorn_access.hasHandlers():  # --no-access-log / access_log=False
        access.disabled = True
        return
    access.setLevel(uvicorn_access.getEffectiveLevel())
    # The same requests, logged by the app with their request id: uvicorn's lines would
    # repeat each one without it.
    uvicorn_access.disabled = True


def _formatter(uvicorn_logger: logging.Logger) -> logging.Formatter:
    for handler in uvicorn_logger.handlers:
        formatter = handler.formatter
        if formatter is not None:
            style = getattr(formatter, "_style", None)
            fmt = getattr(style, "_fmt", None) or "%(levelname)s: %(message)s"
            use_colors = getattr(formatter, "use_colors", None)
            try:
                from uvicorn.logging import DefaultFormatter

                return DefaultFormatter(fmt, use_colors=use_colors)
            except ImportError:  # pragma: no cover - uvicorn is there in a server
                return logging.Formatter(fmt)
    return logging.Formatter("%(levelname)s: %(message)s")


def loggable_target(path: str, query_string: bytes) -> str:
    """The path and query, with secret-looking query values replaced by ``***``."""
    if not query_string:
        return path
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    shown = [
        (name, "***" if name.lower() in SECRET_QUERY_PARAMETERS else value) for name, value in pairs
    ]
    return f"{path}?{urlencode(shown)}"


def log_request(
    *,
    client: tuple[str, int] | None,
    method: str,
    target: str,
    http_version: str,
    status: int,
    seconds: float,
    request_id: str,
) -> None:
    address = f"{client[0]}:{client[1]}" if client else "-"
    access_logger.info(
        '%s - "%s %s HTTP/%s" %d %.1fms request_id=%s',
        address,
        method,
        target,
        http_version,
        status,
        seconds * 1000,
        request_id,
    )
