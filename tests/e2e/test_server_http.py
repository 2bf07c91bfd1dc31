"""The REST server under a real uvicorn (`persona serve`) on 127.0.0.1, driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.paths import TEST_INTERVIEWS
from tests.servers import (
    RUN_TIMEOUT,
    SEED_BODY,
    ServerProcess,
    StalledProvider,
    clean_env,
    make_data_dir,
    running_server,
    wait_for,
)

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token-0123456789"

UPLOAD_LIMIT = 1_000_000
LOCAL_BODY: dict[str, Any] = {
    "name": "Offline checkout research",
    "data_sources": ["interviews.csv"],
    "config": {"provider": "local", "persona_count": 3, "seed": 1},
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("server"), TEST_INTERVIEWS)


@pytest.fixture(scope="module")
def server(
    data_dir: Path, stalled_provider: StalledProvider, server_database: dict[str, str]
) -> Iterator[ServerProcess]:
    """Token on; no Anthropic key; 'openai' points at the stalled loopback provider."""
    env = clean_env(
        OPENAI_BASE_URL=stalled_provider.url,
        PERSONA_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
        **server_database,
    )
    with running_server(data_dir, env, "--auth-token", TOKEN) as running:
        yield running


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield client


def start_stalled_run(
    api: httpx.Client, stalled_provider: StalledProvider
) -> tuple[dict[str, Any], str]:
    stalled_provider.called.clear()
    experiment = api.post("/experiments", json={**LOCAL_BODY, "config": {"provider": "openai"}})
    assert experiment.status_code == 201, experiment.text
    started = api.post(f"/experiments/{experiment.json()['id']}/generate")
    assert started.status_code == 202, started.text
    assert stalled_provider.called.wait(RUN_TIMEOUT), "the run never called its provider"
    location = started.headers["location"]
    assert api.get(location).json()["status"] == "running"
    return experiment.json(), location


def test_seed_request_creates_then_generation_is_refused_naming_the_key(api: httpx.Client) -> None:
    created = api.post("/experiments", json=SEED_BODY)

    assert created.status_code == 201, created.text
    experiment = created.json()
    assert experiment["id"].startswith("exp-")
    assert (experiment["name"], experiment["status"]) == (SEED_BODY["name"], "created")
    assert experiment["created_at"]
    assert created.headers["location"] == f"/experiments/{experiment['id']}"
    refused = api.post(f"/experiments/{experiment['id']}/generate")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "ANTHROPIC_API_KEY" in refused.json()["detail"]


def test_local_generation_succeeds_end_to_end(api: httpx.Client) -> None:
    experiment = api.post("/experiments", json=LOCAL_BODY).json()

    started = api.post(f"/experiments/{experiment['id']}/generate")
    run = wait_for(api, started.headers["location"], {"succeeded", "failed", "cancelled"})

    assert run["status"] == "succeeded", run["error"]
    assert len(run["personas"]) == 3
    persona_id = run["persona_ids"][0]
    persona = api.get(f"/personas/{persona_id}").json()
    assert persona["run_id"] == run["id"]
    assert all(q["verified"] for q in persona["quotes"])
    listed = api.get(f"/experiments/{experiment['id']}/personas").json()
    assert sorted(p["id"] for p in listed["items"]) == sorted(run["persona_ids"])
    runs = api.get(f"/experiments/{experiment['id']}/runs", params={"status": "succeeded"})
    assert [r["id"] for r in runs.json()["items"]] == [run["id"]]


def test_auth_is_required_except_for_health_and_docs(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
        for path in ("/health", "/docs", "/redoc", "/openapi.json"):
            assert anonymous.get(path).status_code == 200, path
        missing = anonymous.get("/experiments")
        wrong = anonymous.get("/experiments", headers={"Authorization": "Bearer nope"})

    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["request_id"] == response.headers["x-request-id"]
    assert TOKEN not in server.output()


@pytest.mark.parametrize(
    "source",
    [
        "../outside.csv",
        "./../outside.csv",
        "sub/../../outside.csv",
        "%2e%2e/outside.csv",
        "/etc/passwd",
        "link-out.csv",
        "file:///etc/passwd",
        "http://127.0.0.1:1/interviews.csv",
        "interviews.csv\u0000.md",
        "/dev/zero",
    ],
)
def test_traversal_attempts_are_rejected_naming_the_source(
    api: httpx.Client, data_dir: Path, source: str
) -> None:
    outside = data_dir.parent / "outside.csv"
    outside.write_text("participant,answer\nP1,secret words\n")
    link = data_dir / "link-out.csv"
    if not link.is_symlink():
        link.symlink_to(outside)

    response = api.post("/experiments", json={**LOCAL_BODY, "data_sources": [source]})

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["body", "data_sources", 0]
    assert "secret words" not in response.text


def test_traversal_in_the_url_path_finds_nothing(server: ServerProcess, api: httpx.Client) -> None:
    for path in ("/experiments/..%2F..%2Fetc%2Fpasswd", "/personas/..%2F.persona%2Fpersona.db"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")


def test_upload_stores_files_in_the_experiment_and_generation_uses_them(
    api: httpx.Client, data_dir: Path
) -> None:
    experiment = api.post("/experiments", json=LOCAL_BODY).json()
    extra = (
        b"participant,answer\n"
        b"P10,I want the delivery date before I pay and I hate hidden fees.\n"
        b"P11,I always check out on my phone and want Apple Pay on every shop.\n"
    )

    uploaded = api.post(
        f"/experiments/{experiment['id']}/sources",
        files=[("files", ("more interviews.csv", extra, "text/csv"))],
    )

    assert uploaded.status_code == 200, uploaded.text
    stored = uploaded.json()["data_sources"][-1]
    assert (data_dir / stored).read_bytes() == extra
    assert stored.startswith(f".persona/experiments/{experiment['id']}/")
    started = api.post(f"/experiments/{experiment['id']}/generate")
    run = wait_for(api, started.headers["location"], {"succeeded", "failed"})
    assert run["status"] == "succeeded", run["error"]


def test_oversized_upload_is_413(api: httpx.Client) -> None:
    experiment = api.post("/experiments", json=LOCAL_BODY).json()
    huge = b"participant,answer\n" + b"P1,words words words\n" * (2 * UPLOAD_LIMIT // 21)

    response = api.post(
        f"/experiments/{experiment['id']}/sources", files=[("files", ("huge.csv", huge))]
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert api.get(f"/experiments/{experiment['id']}").json()["data_sources"] == ["interviews.csv"]


def test_streamed_json_body_over_the_limit_is_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        """Chunked, so no Content-Length: the server must count as it reads."""
        yield b'{"name": "big", "description": "'
        for _ in range(512):  # 8 MiB, over the 2 MiB JSON limit
            yield b"x" * 16384

    try:
        response = api.post(
            "/experiments", content=chunks(), headers={"content-type": "application/json"}
        )
    except httpx.TransportError:
        pytest.fail("the server should answer 413, not drop the connection")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_idempotency_key_replays_and_conflicts(api: httpx.Client) -> None:
    experiment = api.post("/experiments", json=LOCAL_BODY).json()
    url = f"/experiments/{experiment['id']}/generate"
    key = {"Idempotency-Key": "e2e-key-1"}

    first = api.post(url, json={"persona_count": 2}, headers=key)
    replay = api.post(url, json={"persona_count": 2}, headers=key)
    conflict = api.post(url, json={"persona_count": 3}, headers=key)

    assert (first.status_code, replay.status_code, conflict.status_code) == (202, 200, 409)
    assert replay.json()["id"] == first.json()["id"]
    assert conflict.json()["code"] == "idempotency_conflict"
    runs = api.get(f"/experiments/{experiment['id']}/runs").json()["items"]
    assert [r["id"] for r in runs] == [first.json()["id"]]


def test_cancel_a_running_run(api: httpx.Client, stalled_provider: StalledProvider) -> None:
    _, location = start_stalled_run(api, stalled_provider)

    cancelled = api.post(f"{location}/cancel")

    assert cancelled.status_code == 202, cancelled.text
    assert api.get(location).json()["status"] == "cancelled"
    assert api.post(f"{location}/cancel").status_code == 409


def test_delete_during_a_run(api: httpx.Client, stalled_provider: StalledProvider) -> None:
    experiment, location = start_stalled_run(api, stalled_provider)

    deleted = api.delete(f"/experiments/{experiment['id']}")

    assert deleted.status_code == 204
    assert api.get(location).status_code == 404
    assert api.get(f"/experiments/{experiment['id']}").status_code == 404


def test_markdown_rendering_of_a_persona(api: httpx.Client) -> None:
    experiment = api.post("/experiments", json=LOCAL_BODY).json()
    started = api.post(f"/experiments/{experiment['id']}/generate")
    run = wait_for(api, started.headers["location"], {"succeeded", "failed"})
    persona = run["personas"][0]

    markdown = api.get(f"/personas/{persona['id']}", headers={"Accept": "text/markdown"})

    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert persona["name"] in markdown.text
