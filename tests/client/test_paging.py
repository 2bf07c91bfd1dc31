"""One paging pattern: every list operation of the spec has ``list…`` (one page) and
``iter…`` (every item) on its client resource, sync and async, and ``iter…`` follows the
pages the server hands out."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import persona_client as pc
import pytest

from .conftest import AppFactory
from .test_against_app import POLL, RUN_TIMEOUT, SEED, async_client, sync_client

SPEC = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"

# operationId of each list operation → (client resource, method suffix): ``list`` and
# ``iter`` plus the suffix name the two methods.
LIST_METHODS = {
    "listExperiments": ("experiments", ""),
    "listExperimentEvents": ("experiments", "_events"),
    "listSources": ("sources", ""),
    "listRuns": ("runs", ""),
    "listRunEvents": ("runs", "_events"),
    "listRunEvidence": ("runs", "_evidence"),
    "listPersonas": ("personas", ""),
    "listPersonaEvidence": ("personas", "_evidence"),
    "listProviders": ("providers", ""),
    "listWebhooks": ("webhooks", ""),
    "listWebhookDeliveries": ("webhooks", "_deliveries"),
    "listKeys": ("keys", ""),
    "listAuditEntries": ("audit", ""),
}


def list_operations() -> dict[str, str | None]:
    """Each GET operation whose answer is a list (``items``, or a JSON array), with the
    field that says where the next page starts (None: the answer is one page)."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    found: dict[str, str | None] = {}
    for item in spec["paths"].values():
        operation = item.get("get")
        if operation is None:
            continue
        answer = operation["responses"].get("200", {}).get("content", {})
        schema = answer.get("application/json", {}).get("schema", {})
        properties = schemas.get(schema.get("$ref", "").rpartition("/")[2], {}).get(
            "properties", {}
        )
        if "items" in properties or schema.get("type") == "array":
            follow = [name for name in ("next_cursor", "next_after") if name in properties]
            found[operation["operationId"]] = follow[0] if follow else None
    return found


def resource(client_class: type, name: str) -> type:
    """The resource class a client sets as attribute ``name``."""
    source = inspect.getsource(client_class.__init__)
    for line in source.splitlines():
        if line.strip().startswith(f"self.{name} = "):
            class_name = line.split("=", 1)[1].strip().partition("(")[0]
            found = getattr(pc._resources, class_name)
            assert isinstance(found, type)
            return found
    raise AssertionError(f"{client_class.__name__} has no resource {name!r}")


def test_the_table_names_every_list_operation_of_the_spec() -> None:
    assert set(LIST_METHODS) == set(list_operations())


@pytest.mark.parametrize("operation_id", sorted(LIST_METHODS))
def test_each_list_operation_has_a_page_and_an_every_item_method(operation_id: str) -> None:
    name, suffix = LIST_METHODS[operation_id]
    follow = list_operations()[operation_id]
    sync, asynchronous = resource(pc.PersonaClient, name), resource(pc.AsyncPersonaClient, name)
    for cls in (sync, asynchronous):
        page_method = getattr(cls, "list" + suffix)
        every_method = getattr(cls, "iter" + suffix)
        page_params = inspect.signature(page_method).parameters
        every_params = inspect.signature(every_method).parameters
        if follow is not None:
            resume = "cursor" if follow == "next_cursor" else "after"
            assert {resume, "limit"} <= set(page_params), (cls, page_method)
            assert "page_size" in every_params and "cursor" not in every_params
        # The positional parameters (the path's ids) are the same on both.
        positional = [p for p in page_params.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert [p.name for p in positional] == [
            p.name for p in every_params.values() if p.kind is p.POSITIONAL_OR_KEYWORD
        ]
    assert not inspect.iscoroutinefunction(getattr(sync, "list" + suffix))
    assert inspect.iscoroutinefunction(getattr(asynchronous, "list" + suffix))


def ids(items: Any) -> list[Any]:
    return [item.id for item in items]


def test_sync_iter_methods_follow_every_page(make_app: AppFactory) -> None:
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(**SEED)
        run = client.runs.wait(
            client.runs.start(experiment.id), timeout=RUN_TIMEOUT, poll_interval=POLL
        )
        persona = run.personas[0]

        run_events = client.runs.list_events(experiment.id, run.id, limit=200)
        assert run_events.next_after is None
        assert ids(client.runs.iter_events(experiment.id, run.id, page_size=1)) == ids(
            run_events.items
        )
        assert ids(client.runs.iter_events(experiment.id, run.id, after=2, page_size=2)) == ids(
            run_events.items[2:]
        )

        first = client.experiments.list_events(experiment.id, limit=2)
        assert first.next_after == f"{run.id}:2"
        rest = client.experiments.list_events(experiment.id, after=first.next_after)
        every = list(client.experiments.iter_events(experiment.id, page_size=2))
        assert ids(every) == ids(run_events.items) == ids(first.items + rest.items)
        assert ids(client.experiments.iter_events(experiment.id, after=first.next_after)) == ids(
            rest.items
        )

        cited_page = client.personas.list_evidence(persona.id, limit=1)
        assert ids(cited_page.items) == persona.evidence_ids[:1]
        assert cited_page.next_cursor is not None
        assert ids(client.personas.iter_evidence(persona.id, page_size=1)) == persona.evidence_ids

        assert list(client.sources.iter(experiment.id)) == client.sources.list(experiment.id).items
        assert list(client.providers.iter()) == client.providers.list()


async def test_async_iter_methods_follow_every_page(make_app: AppFactory) -> None:
    async with async_client(make_app()) as client:
        experiment = await client.experiments.create(**SEED)
        started = await client.runs.start(experiment.id)
        run = await client.runs.wait(started, timeout=RUN_TIMEOUT, poll_interval=POLL)
        persona = run.personas[0]

        stored = (await client.runs.list_events(experiment.id, run.id)).items
        assert ids(
            [e async for e in client.runs.iter_events(experiment.id, run.id, page_size=1)]
        ) == ids(stored)
        first = await client.experiments.list_events(experiment.id, limit=1)
        assert ids(first.items) == ids(stored[:1])
        every = [e async for e in client.experiments.iter_events(experiment.id, page_size=2)]
        assert ids(every) == ids(stored)

        page = await client.personas.list_evidence(persona.id, limit=1)
        assert ids(page.items) == persona.evidence_ids[:1]
        cited = [r async for r in client.personas.iter_evidence(persona.id, page_size=1)]
        assert ids(cited) == persona.evidence_ids

        sources = [s async for s in client.sources.iter(experiment.id)]
        assert sources == (await client.sources.list(experiment.id)).items
        assert [p async for p in client.providers.iter()] == await client.providers.list()
