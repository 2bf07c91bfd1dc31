"""One builder per API operation: method, path, body and how to read the answer. No I/O.

The sync and async clients send the same ``Operation`` objects, so paths, bodies and response
models are written once, here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from persona_client._exceptions import APIResponseValidationError
from persona_client.models import (
    ApiKey,
    ApiKeyList,
    ApiKeyWithSecret,
    AuditPage,
    CitedEvidencePage,
    EvidencePage,
    Experiment,
    ExperimentEventPage,
    ExperimentPage,
    ExperimentSourceList,
    GenerationConfig,
    Health,
    InlineSource,
    Persona,
    PersonaPage,
    PrivacyPreview,
    ProviderInfo,
    Run,
    RunDetail,
    RunEstimate,
    RunEventPage,
    RunPage,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookList,
    WebhookWithSecret,
)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MARKDOWN = "text/markdown"
HTML = "text/html"
UPLOAD_FIELD = "files"

DataSource = str | InlineSource | Mapping[str, str]
StrPath = str | os.PathLike[str]
Params = dict[str, str | int]


@dataclass(frozen=True, slots=True)
class Operation(Generic[T_co]):
    """A request to send and the parser of its success response.

    ``replayable``: sending it twice has the effect of sending it once, so it may be retried
    after the server may have seen it (see ``persona_client._retry``). ``answer_statuses``:
    error statuses whose body is the answer to parse rather than an error to raise.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T_co]
    replayable: bool
    params: Params | None = None
    json: object = None
    headers: Mapping[str, str] | None = None
    files: tuple[Path, ...] = ()
    answer_statuses: frozenset[int] = frozenset()

    def is_answer(self, response: httpx.Response) -> bool:
        return response.is_success or response.status_code in self.answer_statuses


def _json_parser(adapter: TypeAdapter[T], expected: str) -> Callable[[httpx.Response], T]:
    def parse(response: httpx.Response) -> T:
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise APIResponseValidationError(
                f"{response.request.method} {response.request.url.path} returned "
                f"{response.status_code} with a body that is not {expected}: {exc}",
                response=response,
            ) from exc

    return parse


def _no_content(response: httpx.Response) -> None:
    return None


def _text_of(media_type: str) -> Callable[[httpx.Response], str]:
    def parse(response: httpx.Response) -> str:
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith(media_type):
            raise APIResponseValidationError(
                f"expected {media_type} from {response.request.url.path}, "
                f"got {content_type or 'no content type'}",
                response=response,
            )
        return response.text

    return parse


_markdown = _text_of(MARKDOWN)
_html = _text_of(HTML)


_health = _json_parser(TypeAdapter(Health), "a Health")
_experiment = _json_parser(TypeAdapter(Experiment), "an Experiment")
_experiment_page = _json_parser(TypeAdapter(ExperimentPage), "an ExperimentPage")
_source_list = _json_parser(TypeAdapter(ExperimentSourceList), "an ExperimentSourceList")
_privacy_preview = _json_parser(TypeAdapter(PrivacyPreview), "a PrivacyPreview")
_run = _json_parser(TypeAdapter(Run), "a Run")
_run_estimate = _json_parser(TypeAdapter(RunEstimate), "a RunEstimate")
_run_detail = _json_parser(TypeAdapter(RunDetail), "a RunDetail")
_run_page = _json_parser(TypeAdapter(RunPage), "a RunPage")
_run_event_page = _json_parser(TypeAdapter(RunEventPage), "a RunEventPage")
_experiment_event_page = _json_parser(TypeAdapter(ExperimentEventPage), "an ExperimentEventPage")
_persona = _json_parser(TypeAdapter(Persona), "a Persona")
_persona_page = _json_parser(TypeAdapter(PersonaPage), "a PersonaPage")
_evidence_page = _json_parser(TypeAdapter(EvidencePage), "an EvidencePage")
_cited_evidence_page = _json_parser(TypeAdapter(CitedEvidencePage), "a CitedEvidencePage")
_providers = _json_parser(TypeAdapter(list[ProviderInfo]), "a list of ProviderInfo")


def _segment(value: str, what: str) -> str:
    """A path segment from an id; quoted, so an id can never reach another route."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _source_name(name: str) -> str:
    """A stored source name as the rest of the path: its slashes kept, everything else quoted;
    refused when it holds a '.' or '..' segment, which URL normalisation would remove."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if any(part in (".", "..") for part in name.split("/")):
        raise ValueError(f"name must not hold '.' or '..' segments, got {name!r}")
    return quote(name, safe="/")


def _page_params(limit: int | None, cursor: str | None, **filters: str | None) -> Params | None:
    params: Params = {key: value for key, value in filters.items() if value is not None}
    if limit is not None:
        params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    return params or None


def _dump(value: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    return dict(value)


# --------------------------------------------------------------------------- health & providers


def get_health() -> Operation[Health]:
    """503 comes with a Health body saying what is down: that is the answer, not an error."""
    return Operation("GET", "/health", _health, replayable=True, answer_statuses=frozenset({503}))


def list_providers() -> Operation[list[ProviderInfo]]:
    return Operation("GET", "/providers", _providers, replayable=True)


# --------------------------------------------------------------------------- experiments


def list_experiments(
    *, limit: int | None, cursor: str | None, name: str | None = None
) -> Operation[ExperimentPage]:
    params = _page_params(limit, cursor, name=name)
    return Operation("GET", "/experiments", _experiment_page, replayable=True, params=params)


def create_experiment(
    *,
    name: str,
    data_sources: Sequence[DataSource],
    config: GenerationConfig | Mapping[str, Any] | None,
    description: str | None,
) -> Operation[Experiment]:
    body: dict[str, Any] = {
        "name": name,
        "data_sources": [
            source if isinstance(source, str) else _dump(source) for source in data_sources
        ],
    }
    if description is not None:
        body["description"] = description
    if config is not None:
        body["config"] = _dump(config)
    return Operation("POST", "/experiments", _experiment, replayable=False, json=body)


def get_experiment(experiment_id: str) -> Operation[Experiment]:
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}"
    return Operation("GET", path, _experiment, replayable=True)


def delete_experiment(experiment_id: str) -> Operation[None]:
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}"
    return Operation("DELETE", path, _no_content, replayable=False)


def start_run(
    experiment_id: str, overrides: Mapping[str, object], *, idempotency_key: str | None
) -> Operation[Run]:
    """POST .../generate with a fresh Idempotency-Key unless one is given: safe to retry."""
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/generate"
    body = {key: value for key, value in overrides.items() if value is not None}
    headers = {IDEMPOTENCY_KEY_HEADER: idempotency_key or str(uuid.uuid4())}
    return Operation("POST", path, _run, replayable=True, json=body, headers=headers)


def estimate_run(experiment_id: str, overrides: Mapping[str, object]) -> Operation[RunEstimate]:
    """POST .../estimate: reads the sources and sends nothing to a provider, so safe to retry."""
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/estimate"
    body = {key: value for key, value in overrides.items() if value is not None}
    return Operation("POST", path, _run_estimate, replayable=True, json=body)


def upload_sources(experiment_id: str, paths: StrPath | Iterable[StrPath]) -> Operation[Experiment]:
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/sources"
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = tuple(Path(p) for p in paths)
    if not files:
        raise ValueError("sources.upload needs at least one file path")
    return Operation("POST", path, _experiment, replayable=False, files=files)


def list_sources(experiment_id: str) -> Operation[ExperimentSourceList]:
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/sources"
    return Operation("GET", path, _source_list, replayable=True)


def preview_privacy(
    experiment_id: str, *, evidence_id: str | None, limit: int | None, provider: str | None
) -> Operation[PrivacyPreview]:
    """POST .../privacy-preview: safe to repeat (it stores pseudonyms, the same each time)."""
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/privacy-preview"
    given = {"evidence_id": evidence_id, "limit": limit, "provider": provider}
    body = {key: value for key, value in given.items() if value is not None}
    return Operation("POST", path, _privacy_preview, replayable=True, json=body)


def delete_source(experiment_id: str, name: str) -> Operation[None]:
    experiment = _segment(experiment_id, "experiment_id")
    path = f"/experiments/{experiment}/sources/{_source_name(name)}"
    return Operation("DELETE", path, _no_content, replayable=False)


# --------------------------------------------------------------------------- runs


def _run_path(experiment_id: str, run_id: str) -> str:
    experiment = _segment(experiment_id, "experiment_id")
    return f"/experiments/{experiment}/runs/{_segment(run_id, 'run_id')}"


def list_runs(
    experiment_id: str, *, status: str | None, limit: int | None, cursor: str | None
) -> Operation[RunPage]:
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/runs"
    params = _page_params(limit, cursor, status=status)
    return Operation("GET", path, _run_page, replayable=True, params=params)


def get_run(experiment_id: str, run_id: str) -> Operation[RunDetail]:
    return Operation("GET", _run_path(experiment_id, run_id), _run_detail, replayable=True)


def _event_params(after: str | int | None, limit: int | None) -> Params | None:
    params: Params = {}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = limit
    return params or None


def list_run_events(
    experiment_id: str, run_id: str, *, after: int | None, limit: int | None
) -> Operation[RunEventPage]:
    path = _run_path(experiment_id, run_id) + "/events"
    params = _event_params(after, limit)
    return Operation("GET", path, _run_event_page, replayable=True, params=params)


def list_experiment_events(
    experiment_id: str, *, after: str | None, limit: int | None
) -> Operation[ExperimentEventPage]:
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/events"
    params = _event_params(after, limit)
    return Operation("GET", path, _experiment_event_page, replayable=True, params=params)


def stream_run_events(experiment_id: str, run_id: str) -> Operation[RunEventPage]:
    """The run's events as a stream (``PersonaClient.stream``); the page parser reads the
    answer of a server that does not stream."""
    path = _run_path(experiment_id, run_id) + "/events"
    return Operation("GET", path, _run_event_page, replayable=True)


def cancel_run(experiment_id: str, run_id: str) -> Operation[Run]:
    path = _run_path(experiment_id, run_id) + "/cancel"
    return Operation("POST", path, _run, replayable=False)


def list_run_evidence(
    experiment_id: str,
    run_id: str,
    *,
    ids: Sequence[str] | None,
    participant: str | None,
    source: str | None,
    q: str | None,
    limit: int | None,
    cursor: str | None,
) -> Operation[EvidencePage]:
    path = _run_path(experiment_id, run_id) + "/evidence"
    if isinstance(ids, str):  # one id, not a sequence of one-character ids
        ids = [ids]
    joined = ",".join(ids) if ids else None
    params = _page_params(limit, cursor, ids=joined, participant=participant, source=source, q=q)
    return Operation("GET", path, _evidence_page, replayable=True, params=params)


# --------------------------------------------------------------------------- personas


def get_persona(persona_id: str) -> Operation[Persona]:
    path = f"/personas/{_segment(persona_id, 'persona_id')}"
    return Operation("GET", path, _persona, replayable=True)


def get_persona_markdown(persona_id: str) -> Operation[str]:
    path = f"/personas/{_segment(persona_id, 'persona_id')}/markdown"
    headers = {"Accept": MARKDOWN}
    return Operation("GET", path, _markdown, replayable=True, headers=headers)


def get_persona_html(persona_id: str) -> Operation[str]:
    path = f"/personas/{_segment(persona_id, 'persona_id')}/html"
    headers = {"Accept": HTML}
    return Operation("GET", path, _html, replayable=True, headers=headers)


def list_personas(
    experiment_id: str,
    *,
    run_id: str | None = None,
    latest: bool = False,
    limit: int | None,
    cursor: str | None,
) -> Operation[PersonaPage]:
    path = f"/experiments/{_segment(experiment_id, 'experiment_id')}/personas"
    params = _page_params(limit, cursor, run_id=run_id, latest="true" if latest else None)
    return Operation("GET", path, _persona_page, replayable=True, params=params)


def list_persona_evidence(
    persona_id: str, *, limit: int | None, cursor: str | None
) -> Operation[CitedEvidencePage]:
    path = f"/personas/{_segment(persona_id, 'persona_id')}/evidence"
    params = _page_params(limit, cursor)
    return Operation("GET", path, _cited_evidence_page, replayable=True, params=params)


# --------------------------------------------------------------------------- webhooks


def _webhook_path(webhook_id: str) -> str:
    return f"/webhooks/{_segment(webhook_id, 'webhook_id')}"


def create_webhook(
    *, url: str, events: Sequence[str], description: str | None
) -> Operation[WebhookWithSecret]:
    body: dict[str, Any] = {"url": url, "events": list(events)}
    if description is not None:
        body["description"] = description
    return Operation("POST", "/webhooks", _webhook_with_secret, replayable=False, json=body)


def list_webhooks() -> Operation[WebhookList]:
    return Operation("GET", "/webhooks", _webhook_list, replayable=True)


def get_webhook(webhook_id: str) -> Operation[Webhook]:
    return Operation("GET", _webhook_path(webhook_id), _webhook, replayable=True)


def delete_webhook(webhook_id: str) -> Operation[None]:
    return Operation("DELETE", _webhook_path(webhook_id), _no_content, replayable=False)


def rotate_webhook_secret(webhook_id: str) -> Operation[WebhookWithSecret]:
    path = _webhook_path(webhook_id) + "/rotate-secret"
    return Operation("POST", path, _webhook_with_secret, replayable=False)


def list_webhook_deliveries(
    webhook_id: str, *, limit: int | None, cursor: str | None
) -> Operation[WebhookDeliveryPage]:
    path = _webhook_path(webhook_id) + "/deliveries"
    params = _page_params(limit, cursor)
    return Operation("GET", path, _delivery_page, replayable=True, params=params)


def redeliver_webhook_delivery(webhook_id: str, delivery_id: str) -> Operation[WebhookDelivery]:
    path = f"{_webhook_path(webhook_id)}/deliveries/{_segment(delivery_id, 'delivery_id')}"
    return Operation("POST", path + "/redeliver", _delivery, replayable=True)


_webhook = _json_parser(TypeAdapter(Webhook), "a Webhook")
_webhook_with_secret = _json_parser(TypeAdapter(WebhookWithSecret), "a WebhookWithSecret")
_webhook_list = _json_parser(TypeAdapter(WebhookList), "a WebhookList")
_delivery = _json_parser(TypeAdapter(WebhookDelivery), "a WebhookDelivery")
_delivery_page = _json_parser(TypeAdapter(WebhookDeliveryPage), "a WebhookDeliveryPage")


# --------------------------------------------------------------------------- keys and audit


def _key_path(key_id: str) -> str:
    return f"/keys/{_segment(key_id, 'key_id')}"


def create_key(
    *, name: str, scope: str, expires_at: datetime | None, max_cost_usd: float | None
) -> Operation[ApiKeyWithSecret]:
    body: dict[str, Any] = {"name": name, "scope": scope}
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat()
    if max_cost_usd is not None:
        body["max_cost_usd"] = max_cost_usd
    return Operation("POST", "/keys", _key_with_secret, replayable=False, json=body)


def list_keys() -> Operation[ApiKeyList]:
    return Operation("GET", "/keys", _key_list, replayable=True)


def update_key(key_id: str, *, max_cost_usd: float | None) -> Operation[ApiKey]:
    body = {"max_cost_usd": max_cost_usd}
    return Operation("PATCH", _key_path(key_id), _key, replayable=True, json=body)


def revoke_key(key_id: str) -> Operation[None]:
    return Operation("DELETE", _key_path(key_id), _no_content, replayable=True)


def list_audit_entries(
    *,
    key_id: str | None,
    operation_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    cursor: str | None,
) -> Operation[AuditPage]:
    params = _page_params(
        limit,
        cursor,
        key_id=key_id,
        operation_id=operation_id,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
    )
    return Operation("GET", "/audit", _audit_page, replayable=True, params=params)


_key = _json_parser(TypeAdapter(ApiKey), "an ApiKey")
_key_with_secret = _json_parser(TypeAdapter(ApiKeyWithSecret), "an ApiKeyWithSecret")
_key_list = _json_parser(TypeAdapter(ApiKeyList), "an ApiKeyList")
_audit_page = _json_parser(TypeAdapter(AuditPage), "an AuditPage")
