"""SyncPersonaService: the blocking SDK has every public method of PersonaService."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from persona.errors import NotFoundError
from persona.service import PersonaService
from persona.settings import Settings
from persona.sync_service import SyncPersonaService
from persona.webhooks.schemas import WebhookCreate

from tests.server._service_cases import experiment_body

# The async service's lifecycle has a blocking counterpart of another shape: the sync
# service starts on construction and stops with close().
LIFECYCLE = {"start": "__init__", "aclose": "close"}


def public_members(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


def text(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def blocking_return(async_method: Callable[..., Any]) -> str:
    """What the blocking twin returns: the same, but an async iterator becomes a
    ``BlockingStream`` of the same items."""
    returns = text(inspect.signature(async_method).return_annotation)
    for stream in ("AsyncIterator[", "ClosingStream["):
        if returns.startswith(stream):
            return "BlockingStream[" + returns.removeprefix(stream)
    return returns


def test_every_public_method_of_the_async_service_has_a_blocking_twin() -> None:
    async_members = public_members(PersonaService)
    sync_members = public_members(SyncPersonaService)

    # ``settings`` is an attribute of each PersonaService, a property of the sync one.
    expected = {LIFECYCLE.get(name, name) for name in async_members} - {"__init__"}
    assert set(sync_members) == expected | {"settings"}


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, member in public_members(PersonaService).items()
        if not isinstance(member, property) and name not in LIFECYCLE
    ),
)
def test_the_blocking_twin_takes_the_same_parameters_and_returns_the_same(name: str) -> None:
    async_method = getattr(PersonaService, name)
    sync_method = getattr(SyncPersonaService, name)
    async_signature = inspect.signature(async_method)
    sync_signature = inspect.signature(sync_method)

    def described(signature: inspect.Signature) -> list[tuple[str, Any, Any, str]]:
        return [
            (p.name, p.kind, p.default, text(p.annotation))
            for p in list(signature.parameters.values())[1:]  # past self
        ]

    assert described(sync_signature) == described(async_signature)
    assert text(sync_signature.return_annotation) == blocking_return(async_method)
    assert not inspect.iscoroutinefunction(sync_method)
    assert sync_method.__doc__ == async_method.__doc__


def test_the_properties_read_the_same(settings: Settings) -> None:
    with SyncPersonaService(settings) as service:
        assert service.settings is settings
        assert service.streams_stopped is False
        assert service.keys_known_to_exist is False
        assert service.rate_policies == service._service.rate_policies


def test_events_stream_and_page_through_the_blocking_service(settings: Settings) -> None:
    with SyncPersonaService(settings) as service:
        experiment = service.create_experiment(experiment_body(persona_count=1, seed=3))
        run = service.start_run(experiment.id).run
        with service.stream_run_events(experiment.id, run.id) as stream:
            streamed = [event.type for event in stream]
        service.wait_for_run(experiment.id, run.id, timeout=120)

        assert streamed[0] == "run.queued"
        assert streamed[-1] == "run.succeeded"
        page = service.list_run_events(experiment.id, run.id)
        assert [event.type for event in page.items] == streamed
        experiment_page = service.list_experiment_events(experiment.id, limit=2)
        assert [event.type for event in experiment_page.items] == streamed[:2]
        assert experiment_page.next_after is not None

        ended = service.stream_run_events(experiment.id, run.id, after=page.items[-1].id)
        assert ended.nothing_follows is True
        assert list(ended) == []

        live = service.stream_experiment_events(experiment.id)
        assert next(live).type == "run.queued"
        live.close()
        assert list(live) == []
        with pytest.raises(NotFoundError):
            service.stream_run_events(experiment.id, "run-nope")


def test_webhooks_are_managed_through_the_blocking_service(
    make_settings: Callable[..., Settings],
) -> None:
    with SyncPersonaService(make_settings(webhook_allow_private=True)) as service:
        created = service.create_webhook(
            WebhookCreate(url="http://127.0.0.1:9/hook", events=["run.succeeded"])
        )
        assert created.secret
        assert [hook.id for hook in service.list_webhooks().items] == [created.id]
        assert service.get_webhook(created.id).url == "http://127.0.0.1:9/hook"
        rotated = service.rotate_webhook_secret(created.id)
        assert rotated.secret != created.secret
        assert service.list_webhook_deliveries(created.id).items == []
        service.delete_webhook(created.id)
        with pytest.raises(NotFoundError):
            service.get_webhook(created.id)
