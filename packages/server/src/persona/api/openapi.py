"""The OpenAPI document: problem responses, the request-id header, tags, and the shapes that
code generators (openapi-python-client, openapi-generator, @hey-api/openapi-ts) need."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi

from persona.api.deps import BEARER_SCHEME_NAME, bearer_scheme
from persona.api.errors import PROBLEM_MEDIA_TYPE, REQUEST_ID_HEADER
from persona.schemas import Problem

PROBLEM_REF = "#/components/schemas/Problem"
LICENSE: dict[str, str] = {"name": "MIT", "identifier": "MIT"}
# Relative: the API is wherever the document is served from (what OpenAPI assumes without
# `servers`, stated so that linters and generators need not guess).
SERVERS: list[dict[str, str]] = [
    {"url": "/", "description": "The server this document was fetched from."}
]

PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request body: JSON that does not parse (`malformed_json`), text that is not "
    "UTF-8, or a broken multipart message.",
    401: "Missing, invalid, revoked or expired key.",
    403: "The key lacks the scope this operation needs (`insufficient_scope`).",
    404: "No such resource.",
    409: "The resource's current state does not allow this.",
    413: "Request body over the size limit.",
    415: "The body is not sent as application/json (`unsupported_media_type`).",
    422: "Invalid input; `errors` names each offending field.",
    429: "Over a rate limit (`rate_limited`): try again after `Retry-After`.",
    500: "Internal error; the body and the X-Request-ID header carry the request id.",
}

TAGS: list[dict[str, str]] = [
    {"name": "health", "description": "Liveness and database reachability."},
    {"name": "experiments", "description": "Experiments: a name, data sources and a config."},
    {"name": "runs", "description": "Generation runs of an experiment."},
    {"name": "events", "description": "Run events: pages, and Server-Sent Event streams."},
    {"name": "personas", "description": "Generated personas, with their evidence."},
    {"name": "providers", "description": "LLM providers and whether they are configured."},
    {"name": "webhooks", "description": "Endpoints that receive run events, signed."},
    {"name": "keys", "description": "API keys, their scopes and spend (admin)."},
    {"name": "audit", "description": "Who changed what, and how it ended (admin)."},
]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these error statuses (500 is always added)."""
    return {
        status: {"model": Problem, "description": PROBLEM_DESCRIPTIONS[status]}
        for status in sorted({*statuses, 500})
    }


def _body_problems(operation: dict[str, Any]) -> None:
    """Document the answers to a bad body on every operation that takes one, so no route can
    forget them: 400 for a body that does not parse, 413 for one over the size limit (every
    body passes the limit middleware), and 415 for a JSON operation sent another media type
    (``check_json_body``). A route's own description of these statuses is kept."""
    body = operation.get("requestBody")
    if body is None:
        return
    statuses = [400, 413]
    if "application/json" in body.get("content", {}):
        statuses.append(415)
    responses = operation["responses"]
    for status in statuses:
        responses.setdefault(
            str(status),
            {
                "description": PROBLEM_DESCRIPTIONS[status],
                "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
            },
        )
    operation["responses"] = dict(sorted(responses.items()))


def _problem_content(response: dict[str, Any]) -> None:
    # FastAPI gives a Problem the route's media type: JSON, or text/markdown on the Markdown one.
    content = response.get("content", {})
    for media_type, media in list(content.items()):
        if media.get("schema", {}).get("$ref") == PROBLEM_REF:
            content[PROBLEM_MEDIA_TYPE] = content.pop(media_type)


def _binary_strings(schema: Any) -> None:
    """Add ``format: binary`` to the file strings (``contentMediaType``) of ``schema``.

    OpenAPI 3.1 marks a file with ``contentMediaType``; openapi-python-client and
    openapi-generator only recognise the 3.0 ``format: binary`` and would send a file as text.
    """
    if isinstance(schema, dict):
        if schema.get("type") == "string" and "contentMediaType" in schema:
            schema.setdefault("format", "binary")
        for value in schema.values():
            _binary_strings(value)
    elif isinstance(schema, list):
        for value in schema:
            _binary_strings(value)


def _optional_body(operation: dict[str, Any]) -> None:
    """An optional JSON body documented as its schema alone, without the ``null`` alternative.

    ``required: false`` already says the body may be left out; with ``anyOf: [..., null]``
    openapi-python-client sends its "unset" placeholder as the JSON body when none is given.
    """
    body = operation.get("requestBody")
    if body is None or body.get("required"):
        return
    media = body.get("content", {}).get("application/json", {})
    schema = media.get("schema", {})
    alternatives = schema.get("anyOf", [])
    if len(alternatives) == 2 and {"type": "null"} in alternatives:
        (only,) = (alt for alt in alternatives if alt != {"type": "null"})
        if "description" in schema:
            body.setdefault("description", schema["description"])
        media["schema"] = only


RUN_EVENT_PAGES = ("RunEventPage", "ExperimentEventPage")


def _named_run_event(schemas: dict[str, Any]) -> None:
    """Name the union of the run event schemas ``RunEvent`` and refer to it from the pages.

    Pydantic writes the union inline wherever it is used; a named schema gives generated
    clients one ``RunEvent`` type to decode a stream's events and webhook bodies into."""
    for page in RUN_EVENT_PAGES:
        items = schemas[page]["properties"]["items"]
        union = items["items"]
        schemas.setdefault(
            "RunEvent",
            {**union, "description": "One state change of a run; `type` says which schema."},
        )
        items["items"] = {"$ref": "#/components/schemas/RunEvent"}


def _receivers_answer_no_problems(spec: dict[str, Any]) -> None:
    """Drop FastAPI's 422 from the documented webhook deliveries (a receiver's errors are its
    own), and the validation-error schemas only that 422 used. A delivery carries no bearer
    token: its signature headers are its proof (``security: []``)."""
    for path_item in spec.get("webhooks", {}).values():
        for operation in path_item.values():
            operation["responses"].pop("422", None)
            operation["security"] = []
    for name in ("HTTPValidationError", "ValidationError"):
        spec["components"]["schemas"].pop(name, None)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with problem+json error bodies and X-Request-ID on every response."""
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
        tags=app.openapi_tags,
        servers=SERVERS,
        license_info=LICENSE,
        separate_input_output_schemas=app.separate_input_output_schemas,
    )
    _binary_strings(spec["components"]["schemas"])
    _named_run_event(spec["components"]["schemas"])
    _receivers_answer_no_problems(spec)
    # Declared by the protected routes themselves (TokenFirstRoute), not by a dependency.
    spec["components"]["securitySchemes"] = {
        BEARER_SCHEME_NAME: jsonable_encoder(bearer_scheme.model, by_alias=True, exclude_none=True)
    }
    spec["components"]["headers"] = {
        "RequestId": {
            "description": "The request's id: echoed from the request or generated.",
            "schema": {"type": "string"},
        }
    }
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            _optional_body(operation)
            _body_problems(operation)
            for response in operation["responses"].values():
                _problem_content(response)
                headers = response.setdefault("headers", {})
                headers[REQUEST_ID_HEADER] = {"$ref": "#/components/headers/RequestId"}
    return spec


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
