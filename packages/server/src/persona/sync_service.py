"""``SyncPersonaService``: the SDK facade for scripts, blocking.

Each public method of ``PersonaService`` appears here under the same name and parameters,
made by wrapping the coroutine (or iterator) of the async service, so the two cannot drift:
``tests/server/test_sync_service.py`` checks that they match one to one.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from persona.access.limits import RatePolicies
from persona.service import PersonaService
from persona.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")

Method = Callable[Concatenate[PersonaService, P], T]
Blocking = Callable[Concatenate["SyncPersonaService", P], T]


def _blocking(method: Method[P, Coroutine[Any, Any, T]]) -> Blocking[P, T]:
    """The async ``method``, blocking until its coroutine has finished on the service's loop."""

    @functools.wraps(method)
    def call(self: SyncPersonaService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(method(self._service, *args, **kwargs))

    return call


def _on_loop(method: Method[P, T]) -> Blocking[P, T]:
    """A plain method of the service, called on the service's loop thread: the state it
    reads and changes belongs to that loop."""

    @functools.wraps(method)
    def call(self: SyncPersonaService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async def now() -> T:
            return method(self._service, *args, **kwargs)

        return self._run(now())

    return call


def _blocking_stream(
    method: Method[P, Coroutine[Any, Any, AsyncIterator[T]]],
) -> Blocking[P, BlockingStream[T]]:
    """The async stream ``method``, as an iterator whose items are awaited on the loop."""

    @functools.wraps(method)
    def call(self: SyncPersonaService, /, *args: P.args, **kwargs: P.kwargs) -> BlockingStream[T]:
        return BlockingStream(self, self._run(method(self._service, *args, **kwargs)))

    returns = inspect.signature(method).return_annotation
    item = str(returns).partition("[")[2].rstrip("]")
    call.__signature__ = inspect.signature(method).replace(  # type: ignore[attr-defined]
        return_annotation=f"BlockingStream[{item}]"
    )
    return call


class BlockingStream(Iterator[T]):
    """An event stream of ``SyncPersonaService``: iterating blocks until the next item.
    Close it (``close()`` or a ``with`` block) to stop early and release what it holds;
    ``nothing_follows`` is as on the async stream."""

    def __init__(self, owner: SyncPersonaService, stream: AsyncIterator[T]) -> None:
        self._owner = owner
        self._stream = stream
        self._closed = False
        self.nothing_follows: bool = bool(getattr(stream, "nothing_follows", False))

    def __iter__(self) -> BlockingStream[T]:
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            return self._owner._run(self._next())
        except StopAsyncIteration:
            self._closed = True
            raise StopIteration from None

    async def _next(self) -> T:
        return await anext(self._stream)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            self._owner._run(aclose())

    def __enter__(self) -> BlockingStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SyncPersonaService:
    """``PersonaService`` for scripts: the same methods, blocking; its event streams are
    plain iterators (``BlockingStream``).

    The service lives on a private event loop in a background thread, so runs keep going
    between calls. Use it as a context manager, or call ``close()`` at the end (the
    counterpart of the async service's ``aclose``; starting happens on construction).

        with SyncPersonaService(Settings(data_dir="research")) as svc:
            exp = svc.create_experiment(ExperimentCreate(name="Q3", data_sources=["a.csv"]))
            run = svc.wait_for_run(exp.id, svc.start_run(exp.id).run.id)
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="persona-service", daemon=True
        )
        self._thread.start()
        self._service = PersonaService(settings)
        try:
            self._run(self._service.start())
        except BaseException:
            self._stop_loop()
            raise

    @property
    def settings(self) -> Settings:
        return self._service.settings

    @property
    def streams_stopped(self) -> bool:
        return self._service.streams_stopped

    @property
    def keys_known_to_exist(self) -> bool:
        return self._service.keys_known_to_exist

    @property
    def rate_policies(self) -> RatePolicies:
        return self._service.rate_policies

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("this SyncPersonaService was closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Stop the runner (active runs stay re-queueable) and the background loop."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._service.aclose())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        asyncio.run_coroutine_threadsafe(
            self._loop.shutdown_default_executor(), self._loop
        ).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncPersonaService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # experiments and sources
    create_experiment = _blocking(PersonaService.create_experiment)
    list_experiments = _blocking(PersonaService.list_experiments)
    get_experiment = _blocking(PersonaService.get_experiment)
    data_version = _on_loop(PersonaService.data_version)
    delete_experiment = _blocking(PersonaService.delete_experiment)
    upload_sources = _blocking(PersonaService.upload_sources)
    list_sources = _blocking(PersonaService.list_sources)
    delete_source = _blocking(PersonaService.delete_source)
    experiment_dir = _on_loop(PersonaService.experiment_dir)
    preview_privacy = _blocking(PersonaService.preview_privacy)

    # runs
    start_run = _blocking(PersonaService.start_run)
    estimate_run = _blocking(PersonaService.estimate_run)
    list_runs = _blocking(PersonaService.list_runs)
    get_run = _blocking(PersonaService.get_run)
    cancel_run = _blocking(PersonaService.cancel_run)
    wait_for_run = _blocking(PersonaService.wait_for_run)
    runs_alive = _on_loop(PersonaService.runs_alive)

    # personas and evidence
    get_persona = _blocking(PersonaService.get_persona)
    get_cited_persona = _blocking(PersonaService.get_cited_persona)
    get_persona_markdown = _blocking(PersonaService.get_persona_markdown)
    get_persona_html = _blocking(PersonaService.get_persona_html)
    list_personas = _blocking(PersonaService.list_personas)
    list_run_evidence = _blocking(PersonaService.list_run_evidence)
    get_run_evidence = _blocking(PersonaService.get_run_evidence)
    list_persona_evidence = _blocking(PersonaService.list_persona_evidence)

    # events
    list_run_events = _blocking(PersonaService.list_run_events)
    stream_run_events = _blocking_stream(PersonaService.stream_run_events)
    list_experiment_events = _blocking(PersonaService.list_experiment_events)
    stream_experiment_events = _blocking_stream(PersonaService.stream_experiment_events)
    stop_streams = _on_loop(PersonaService.stop_streams)

    # webhooks
    create_webhook = _blocking(PersonaService.create_webhook)
    list_webhooks = _blocking(PersonaService.list_webhooks)
    get_webhook = _blocking(PersonaService.get_webhook)
    delete_webhook = _blocking(PersonaService.delete_webhook)
    rotate_webhook_secret = _blocking(PersonaService.rotate_webhook_secret)
    list_webhook_deliveries = _blocking(PersonaService.list_webhook_deliveries)
    redeliver_webhook_delivery = _blocking(PersonaService.redeliver_webhook_delivery)

    # keys, audit and rates
    create_key = _blocking(PersonaService.create_key)
    list_keys = _blocking(PersonaService.list_keys)
    revoke_key = _blocking(PersonaService.revoke_key)
    update_key = _blocking(PersonaService.update_key)
    key_spend = _blocking(PersonaService.key_spend)
    key_budgets = _blocking(PersonaService.key_budgets)
    keys_exist = _blocking(PersonaService.keys_exist)
    usable_key = _blocking(PersonaService.usable_key)
    check_key = _blocking(PersonaService.check_key)
    record_audit = _on_loop(PersonaService.record_audit)
    list_audit_entries = _blocking(PersonaService.list_audit_entries)
    count_request = _blocking(PersonaService.count_request)
    count_failure = _blocking(PersonaService.count_failure)
    lockout = _on_loop(PersonaService.lockout)

    # providers and health
    list_providers = _on_loop(PersonaService.list_providers)
    get_health = _blocking(PersonaService.get_health)
