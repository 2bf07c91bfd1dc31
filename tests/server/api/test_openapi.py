from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from persona.api.spec import export_openapi, openapi_json

REPO = Path(__file__).resolve().parents[3]
COMMITTED_SPEC = REPO / "schemas" / "openapi.json"

OPERATION_IDS = {
    "getHealth",
    "listExperiments",
    "createExperiment",
    "getExperiment",
    "deleteExperiment",
    "startRun",
    "estimateRun",
    "listRuns",
    "getRun",
    "cancelRun",
    "listRunEvidence",
    "getPersona",
    "getPersonaMarkdown",
    "getPersonaHtml",
    "listPersonas",
    "listPersonaEvidence",
    "uploadSources",
    "listSources",
    "deleteSource",
    "listProviders",
    "listRunEvents",
    "listExperimentEvents",
    "createRunStreamTicket",
    "createExperimentStreamTicket",
    "createWebhook",
    "listWebhooks",
    "getWebhook",
    "deleteWebhook",
    "rotateWebhookSecret",
    "listWebhookDeliveries",
    "redeliverWebhookDelivery",
    "previewPrivacy",
    "createKey",
    "listKeys",
    "updateKey",
    "revokeKey",
    "listAuditEntries",
}
WRITE_OPERATIONS = {
    "createExperiment",
    "deleteExperiment",
    "uploadSources",
    "deleteSource",
    "startRun",
    "cancelRun",
    "previewPrivacy",
}
ADMIN_OPERATIONS = {
    "createWebhook",
    "listWebhooks",
    "getWebhook",
    "deleteWebhook",
    "rotateWebhookSecret",
    "listWebhookDeliveries",
    "redeliverWebhookDelivery",
    "createKey",
    "listKeys",
    "updateKey",
    "revokeKey",
    "listAuditEntries",
}


def operations(spec: dict) -> list[dict]:
    return [op for item in spec["paths"].values() for op in item.values()]


def test_committed_spec_is_what_the_app_exports() -> None:
    assert COMMITTED_SPEC.read_text(encoding="utf-8") == openapi_json(), (
        "schemas/openapi.json is stale: run `persona openapi --output schemas/openapi.json` "
        "(hatch run export-schema) and regenerate the client"
    )


def test_export_writes_the_same_text_it_returns(tmp_path: Path) -> None:
    target = tmp_path / "out" / "openapi.json"

    text = export_openapi(target)

    assert target.read_text(encoding="utf-8") == text
    assert text.endswith("}\n")
    assert export_openapi(None) == text


def test_operation_ids_are_exactly_the_documented_ones() -> None:
    spec = json.loads(openapi_json())

    assert {op["operationId"] for op in operations(spec)} == OPERATION_IDS


def test_every_error_response_is_a_problem_and_every_response_has_request_id() -> None:
    spec = json.loads(openapi_json())

    for op in operations(spec):
        assert "500" in op["responses"], op["operationId"]
        for status, response in op["responses"].items():
            assert "X-Request-ID" in response["headers"]
            if int(status) >= 400 and status != "503":
                assert list(response["content"]) == ["application/problem+json"], (op, status)
                schema = response["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}


def test_secured_operations_declare_their_scope_and_access_problems() -> None:
    spec = json.loads(openapi_json())

    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for op in operations(spec):
        if op["operationId"] == "getHealth":
            assert op["security"] == []
            continue
        operation_id = op["operationId"]
        if operation_id in ADMIN_OPERATIONS:
            scope = "admin"
        elif operation_id in WRITE_OPERATIONS:
            scope = "write"
        else:
            scope = "read"
        assert op["security"] == [{"bearerAuth": [scope]}], operation_id
        assert {"401", "403", "429"} <= set(op["responses"]), operation_id
        assert "Retry-After" in op["responses"]["429"]["headers"], operation_id


def test_spec_documents_statuses_bodies_and_examples() -> None:
    spec = json.loads(openapi_json())
    paths = spec["paths"]
    create = paths["/experiments"]["post"]
    generate = paths["/experiments/{experiment_id}/generate"]["post"]
    persona = paths["/personas/{persona_id}"]["get"]

    assert set(create["responses"]) == {
        *("201", "400", "401", "403", "413", "415", "422", "429", "500")
    }
    seed = create["requestBody"]["content"]["application/json"]["examples"]["seed"]["value"]
    assert seed["data_sources"] == ["./interviews.csv"]
    assert (
        create["responses"]["201"]["content"]["application/json"]["example"]["status"] == "created"
    )
    assert "Location" in create["responses"]["201"]["headers"]
    assert {"200", "202", "409"} <= set(generate["responses"])
    assert generate["responses"]["202"]["links"]["GetRun"]["operationId"] == "getRun"
    assert create["responses"]["201"]["links"]["StartRun"]["parameters"] == {
        "experiment_id": "$response.body#/id"
    }
    assert [p["name"] for p in generate["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert list(persona["responses"]["200"]["content"]) == ["application/json"]
    names = set(spec["components"]["schemas"])
    assert {"Experiment", "ExperimentPage", "Run", "RunDetail", "RunPage", "Persona"} <= names
    assert {"PersonaPage", "ProviderInfo", "Health", "Problem", "SourceUpload"} <= names
    assert not any(name.startswith(("Body_", "HTTPValidationError")) for name in names)
    assert not any(name.endswith(("-Input", "-Output")) for name in names)
    assert [t["name"] for t in spec["tags"]] == [
        "health",
        "experiments",
        "runs",
        "events",
        "personas",
        "providers",
        "webhooks",
        "keys",
        "audit",
    ]
    assert set(spec["webhooks"]) == {
        "run.queued",
        "run.started",
        "run.progress",
        "run.succeeded",
        "run.failed",
        "run.cancelled",
    }
    delivered = spec["webhooks"]["run.failed"]["post"]
    body_schema = delivered["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/RunFailedEvent"}
    headers = [p["name"] for p in delivered["parameters"] if p["in"] == "header"]
    assert headers == ["webhook-id", "webhook-timestamp", "webhook-signature"]
    event_types = {"RunQueuedEvent", "RunStartedEvent", "RunProgressEvent", "RunSucceededEvent"}
    assert {"RunEvent", "RunFailedEvent", "RunCancelledEvent", *event_types} <= names
    mapping = spec["components"]["schemas"]["RunEvent"]["discriminator"]["mapping"]
    assert mapping["run.succeeded"] == "#/components/schemas/RunSucceededEvent"


def test_every_success_response_has_one_media_type() -> None:
    # Generated Python clients (openapi-python-client, openapi-generator) parse one media type
    # per response; Markdown is its own operation rather than a second type on getPersona.
    spec = json.loads(openapi_json())

    for op in operations(spec):
        for status, response in op["responses"].items():
            assert len(response.get("content", {})) <= 1, (op["operationId"], status)
    markdown = spec["paths"]["/personas/{persona_id}/markdown"]["get"]
    assert markdown["responses"]["200"]["content"] == {
        "text/markdown": {"schema": {"type": "string"}}
    }
    persona = spec["paths"]["/personas/{persona_id}"]["get"]
    assert [p["name"] for p in persona["parameters"]] == ["persona_id"]


def test_uploaded_files_are_binary_and_the_generate_body_is_optional() -> None:
    spec = json.loads(openapi_json())
    upload = spec["paths"]["/experiments/{experiment_id}/sources"]["post"]
    generate = spec["paths"]["/experiments/{experiment_id}/generate"]["post"]

    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema == {"$ref": "#/components/schemas/SourceUpload"}
    files = spec["components"]["schemas"]["SourceUpload"]["properties"]["files"]["items"]
    assert files == {
        "type": "string",
        "format": "binary",
        "contentMediaType": "application/octet-stream",
    }
    body = generate["requestBody"]
    assert body.get("required", False) is False
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GenerationOverrides"
    }


def test_info_names_license_and_a_relative_server() -> None:
    spec = json.loads(openapi_json())

    assert spec["info"]["license"] == {"name": "MIT", "identifier": "MIT"}
    assert [server["url"] for server in spec["servers"]] == ["/"]


async def test_docs_pages_reference_only_local_assets(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", page.text)
        referenced = [u for pair in urls for u in pair if u]
        assert referenced, path
        for url in referenced:
            assert url.startswith("/"), f"{path} references {url}"
        assert "http://" not in page.text and "https://" not in page.text, path
        for url in referenced:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url
            # What the scripts themselves would fetch: nothing from a CDN (ReDoc's logo was).
            assert re.findall(rb"https://cdn[.\w]*/[^\"' )]+", asset.content) == [], url


async def test_served_openapi_is_the_exported_one(client: httpx.AsyncClient) -> None:
    served = await client.get("/openapi.json")

    assert served.json() == json.loads(openapi_json())
