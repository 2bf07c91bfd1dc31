"""The no-I/O layer: configuration, headers, the operations sent, and run-waiting decisions."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import persona_client as pc
import pytest
from persona_client import _operations as ops
from persona_client._base import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    PollSchedule,
    default_headers,
    finished_run,
    resolve_base_url,
    resolve_timeout,
    resolve_token,
)
from persona_client.models import GenerationConfig, InlineSource, RunDetail


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONA_BASE_URL", raising=False)
    monkeypatch.delenv("PERSONA_API_TOKEN", raising=False)


# --------------------------------------------------------------------------- configuration


def test_base_url_argument_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_BASE_URL", "http://env.example:9000")
    assert resolve_base_url("http://arg.example:8000/") == "http://arg.example:8000"


def test_base_url_from_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_base_url(None) == DEFAULT_BASE_URL == "http://127.0.0.1:8000"
    monkeypatch.setenv("PERSONA_BASE_URL", "https://persona.example/api/")
    assert resolve_base_url(None) == "https://persona.example/api"


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8000", "ftp://example.com", "http://", "not a url", "http://[::1"]
)
def test_base_url_must_be_http_with_a_host(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        resolve_base_url(url)


def test_token_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_token(None) is None
    monkeypatch.setenv("PERSONA_API_TOKEN", "from-env")
    assert resolve_token(None) == "from-env"
    assert resolve_token("from-arg") == "from-arg"
    monkeypatch.setenv("PERSONA_API_TOKEN", "")
    assert resolve_token(None) is None


def test_headers_carry_the_token_only_when_there_is_one() -> None:
    assert default_headers("s3cret")["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in default_headers(None)
    assert default_headers(None)["User-Agent"] == f"persona-client/{pc.__version__}"


def test_timeout_argument_then_injected_client_then_default() -> None:
    injected = httpx.Client(timeout=3.0)
    assert resolve_timeout(None, None) == DEFAULT_TIMEOUT
    assert resolve_timeout(None, injected) == httpx.Timeout(3.0)
    assert resolve_timeout(7.5, injected) == httpx.Timeout(7.5)
    injected.close()


def test_client_takes_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_BASE_URL", "http://10.0.0.5:8123")
    monkeypatch.setenv("PERSONA_API_TOKEN", "tok-env")
    with pc.PersonaClient() as client:
        assert client.base_url == "http://10.0.0.5:8123"
        assert client._headers["Authorization"] == "Bearer tok-env"


def test_repr_never_shows_the_token() -> None:
    with pc.PersonaClient(token="very-secret-token") as client:
        assert "very-secret-token" not in repr(client)
        assert "http://127.0.0.1:8000" in repr(client)


def test_constructor_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        pc.PersonaClient("http://127.0.0.1:8000")  # type: ignore[misc]


def test_wrong_kind_of_http_client_is_refused() -> None:
    async_client = httpx.AsyncClient()
    sync_client = httpx.Client()
    with pytest.raises(TypeError, match="AsyncPersonaClient"):
        pc.PersonaClient(http_client=async_client)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"PersonaClient with an httpx\.Client"):
        pc.AsyncPersonaClient(http_client=sync_client)  # type: ignore[arg-type]
    sync_client.close()


def test_negative_max_retries_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        pc.PersonaClient(max_retries=-1)


# --------------------------------------------------------------------------- operations


def test_ids_are_quoted_so_they_cannot_reach_another_route() -> None:
    assert ops.get_experiment("../personas/x").path == "/experiments/..%2Fpersonas%2Fx"
    assert ops.get_run("exp 1", "run?x=1").path == "/experiments/exp%201/runs/run%3Fx%3D1"


@pytest.mark.parametrize("bad", ["", None, 3])
def test_missing_ids_are_refused_before_sending(bad: Any) -> None:
    with pytest.raises(ValueError, match="experiment_id must be a non-empty string"):
        ops.get_experiment(bad)


def test_only_reads_and_starting_a_run_are_replayable() -> None:
    replayable = {
        "get_experiment": ops.get_experiment("e").replayable,
        "list_experiments": ops.list_experiments(limit=None, cursor=None).replayable,
        "get_run": ops.get_run("e", "r").replayable,
        "start_run": ops.start_run("e", {}, idempotency_key=None).replayable,
        "create": ops.create_experiment(
            name="n", data_sources=["a.csv"], config=None, description=None
        ).replayable,
        "delete": ops.delete_experiment("e").replayable,
        "cancel": ops.cancel_run("e", "r").replayable,
        "upload": ops.upload_sources("e", "a.csv").replayable,
        "list_sources": ops.list_sources("e").replayable,
        "delete_source": ops.delete_source("e", "a.csv").replayable,
    }
    assert replayable == {
        "get_experiment": True,
        "list_experiments": True,
        "get_run": True,
        "start_run": True,
        "create": False,
        "delete": False,
        "cancel": False,
        "upload": False,
        "list_sources": True,
        "delete_source": False,
    }


def test_generate_sends_a_fresh_idempotency_key_per_call() -> None:
    first = ops.start_run("e", {}, idempotency_key=None)
    second = ops.start_run("e", {}, idempotency_key=None)
    assert first.headers is not None and second.headers is not None
    key = first.headers["Idempotency-Key"]
    assert uuid.UUID(key).version == 4
    assert key != second.headers["Idempotency-Key"]


def test_generate_uses_the_caller_key_and_drops_unset_overrides() -> None:
    operation = ops.start_run(
        "e", {"provider": "local", "seed": 0, "model": None}, idempotency_key="my-key"
    )
    assert operation.headers == {"Idempotency-Key": "my-key"}
    assert operation.json == {"provider": "local", "seed": 0}
    assert operation.path == "/experiments/e/generate"


def test_create_body_is_the_seed_example() -> None:
    operation = ops.create_experiment(
        name="Checkout research Q3",
        data_sources=["./interviews.csv"],
        config={"provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "persona_count": 3},
        description=None,
    )
    assert operation.method == "POST"
    assert operation.path == "/experiments"
    assert operation.json == {
        "name": "Checkout research Q3",
        "data_sources": ["./interviews.csv"],
        "config": {
            "provider": "anthropic",
            "model": "claude-sonnet-4-5-20250929",
            "persona_count": 3,
        },
    }


def test_create_accepts_models_and_sends_only_what_was_set() -> None:
    operation = ops.create_experiment(
        name="n",
        data_sources=["a.csv", InlineSource(name="notes.md", content="hello")],
        config=GenerationConfig(provider="local"),
        description="d",
    )
    assert json.loads(json.dumps(operation.json)) == {
        "name": "n",
        "description": "d",
        "data_sources": ["a.csv", {"name": "notes.md", "content": "hello"}],
        "config": {"provider": "local"},
    }


def test_list_sends_only_given_parameters() -> None:
    assert ops.list_experiments(limit=None, cursor=None).params is None
    assert ops.list_experiments(limit=2, cursor="c").params == {"limit": 2, "cursor": "c"}
    named = ops.list_experiments(limit=None, cursor=None, name="Q3")
    assert named.params == {"name": "Q3"}
    assert ops.list_runs("e", status="failed", limit=None, cursor=None).params == {
        "status": "failed"
    }


def test_upload_takes_one_path_or_many() -> None:
    assert ops.upload_sources("e", "a.csv").files == (Path("a.csv"),)
    assert ops.upload_sources("e", [Path("a.csv"), "b.md"]).files == (Path("a.csv"), Path("b.md"))
    with pytest.raises(ValueError, match="at least one file"):
        ops.upload_sources("e", [])


def test_markdown_is_its_own_operation_and_asked_for_by_accept_header() -> None:
    operation = ops.get_persona_markdown("p")

    assert operation.path == "/personas/p/markdown"
    assert operation.headers == {"Accept": "text/markdown"}


def test_a_source_name_keeps_its_slashes_and_quotes_the_rest() -> None:
    operation = ops.delete_source("e 1", ".persona/experiments/e 1/uploads/a b#?.csv")
    assert operation.method == "DELETE"
    assert operation.path == (
        "/experiments/e%201/sources/.persona/experiments/e%201/uploads/a%20b%23%3F.csv"
    )
    assert ops.list_sources("e").path == "/experiments/e/sources"


@pytest.mark.parametrize("bad", ["", "a/../b.csv", "../b.csv", "a/./b.csv"])
def test_a_source_name_that_would_be_normalised_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="name"):
        ops.delete_source("e", bad)


# --------------------------------------------------------------------------- waiting


def detail(run_payload: Any, status: str, **changes: Any) -> RunDetail:
    return RunDetail.model_validate(run_payload(status, **changes))


def test_a_succeeded_run_is_finished(run_payload: Any) -> None:
    run = detail(run_payload, "succeeded", progress=1.0)
    assert finished_run(run) is run


@pytest.mark.parametrize("status", ["queued", "running"])
def test_active_runs_are_not_finished(run_payload: Any, status: str) -> None:
    assert finished_run(detail(run_payload, status)) is None


def test_a_failed_run_raises_with_its_error(run_payload: Any) -> None:
    run = detail(
        run_payload, "failed", error={"code": "invalid_output", "message": "not JSON at line 3"}
    )
    with pytest.raises(pc.RunFailedError) as raised:
        finished_run(run)
    assert type(raised.value) is pc.RunFailedError
    assert raised.value.run is run
    assert raised.value.error is not None and raised.value.error.code == "invalid_output"
    assert str(raised.value) == "run run-abc failed: invalid_output: not JSON at line 3"


def test_a_cancelled_run_raises_run_cancelled(run_payload: Any) -> None:
    with pytest.raises(pc.RunCancelledError, match="run run-abc was cancelled"):
        finished_run(detail(run_payload, "cancelled"))


def test_poll_schedule_without_timeout_always_waits_the_interval(run_payload: Any) -> None:
    schedule = PollSchedule.start(None, 0.25)
    assert schedule.next_delay(detail(run_payload, "running")) == 0.25


def test_poll_schedule_never_sleeps_past_the_deadline(run_payload: Any) -> None:
    schedule = PollSchedule.start(30.0, 60.0)
    assert 0 < schedule.next_delay(detail(run_payload, "running")) <= 30.0


def test_poll_schedule_raises_once_the_deadline_passed(run_payload: Any) -> None:
    schedule = PollSchedule.start(0.0, 1.0)
    run = detail(run_payload, "running")
    with pytest.raises(pc.WaitTimeoutError) as raised:
        schedule.next_delay(run)
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.run is run
    assert "still running after 0 seconds" in str(raised.value)


@pytest.mark.parametrize(("timeout", "interval"), [(1.0, 0.0), (1.0, -1.0), (-1.0, 1.0)])
def test_poll_schedule_refuses_nonsense(timeout: float, interval: float) -> None:
    with pytest.raises(ValueError):
        PollSchedule.start(timeout, interval)
