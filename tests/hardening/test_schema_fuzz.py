"""Schema fuzzing: schemathesis drives every operation of the app's own OpenAPI document.

Schemathesis' engine runs in-process against the ASGI app (it starts the app's lifespan, so
the service exists), authorized with the test token, through all its phases: the spec's
examples, coverage of boundary values, random fuzzing, and stateful sequences that follow the
spec's links (create an experiment, then read, generate, list, delete it). Every check is on:
no 5xx, status codes, content types, headers and bodies as documented, invalid data rejected,
valid data accepted (with the exception explained at ``DOMAIN_REJECTIONS``). The example budget
is fixed and derandomized, with no example database or cache, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from persona.api import create_app
from persona.settings import Settings
from schemathesis.checks import CheckContext
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.engine import Status, events
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.hardening.conftest import TOKEN


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> FastAPI:
    """The real app, without the lock-out of an address past its failed attempts: the fuzzer
    sends every operation without and with wrong credentials, from one address."""
    return create_app(make_settings(rate_limit_auth_failures=0))


MAX_EXAMPLES = 40
MAX_STATEFUL_STEPS = 20

# A request the schema calls valid may still name something that is not there: an experiment,
# run or persona id that does not exist (404), or one whose state forbids the call (409).
EXPECTED_FOR_VALID_DATA = ["2xx", "404", "409"]

# 422 codes for input that JSON Schema cannot describe, so a schema-valid request may carry it:
# a data source missing from the data directory or of an unsupported type (invalid_source), a
# file name with control characters, or a cursor the server never issued (invalid_input).
# A 422 from request-model validation (validation_error) is never excused: it would mean the
# spec promises more than the server accepts.
DOMAIN_REJECTIONS = frozenset({"invalid_source", "invalid_input"})

CONFIG: dict[str, Any] = {
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "cache": {"enabled": False},
    "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
    "checks": {
        # On by default; named so that it stays on: a status the spec does not list fails.
        "status_code_conformance": {"enabled": True},
        # Replaced by ``valid_data_accepted``, which calls it with these statuses.
        "positive_data_acceptance": {
            "enabled": False,
            "expected-statuses": EXPECTED_FOR_VALID_DATA,
        },
    },
    "phases": {"stateful": {"max-steps": MAX_STATEFUL_STEPS}},
}


def problem_code(response: Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


@schemathesis.check
def valid_data_accepted(ctx: CheckContext, response: Response, case: Any) -> None:
    """``positive_data_acceptance``, except for a 422 that names a domain-level rejection."""
    try:
        positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code == 422 and problem_code(response) in DOMAIN_REJECTIONS:
            return
        raise


@dataclass
class FuzzOutcome:
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fuzzed_operations: set[str] = field(default_factory=set)
    phases: dict[str, str] = field(default_factory=dict)


def describe_failures(event: events.ScenarioFinished) -> list[str]:
    """One line per failed check: phase, check, the request and what came back."""
    lines = []
    for case_id, checks in event.recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            case = event.recorder.cases[case_id].value
            interaction = event.recorder.interactions.get(case_id)
            response = interaction.response if interaction else None
            answer = (
                f"{response.status_code} {response.content[:300]!r}" if response else "no response"
            )
            lines.append(
                f"[{event.phase}] {check.name}: {case.method} {case.formatted_path} "
                f"query={case.query} body={str(case.body)[:200]} -> {answer}\n"
                f"    {check.failure_info.failure}"
            )
    return lines


def run_engine(app: FastAPI) -> FuzzOutcome:
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG)
    )
    outcome = FuzzOutcome()
    try:
        for event in schemathesis.engine.from_schema(schema).execute():
            record(event, outcome)
    finally:
        shutdown_lifespans()
    return outcome


def record(event: events.EngineEvent, outcome: FuzzOutcome) -> None:
    if isinstance(event, events.ScenarioFinished):
        if event.status == Status.FAILURE:
            outcome.failures.extend(describe_failures(event))
        elif event.status == Status.ERROR:
            outcome.errors.append(f"[{event.phase}] {event.recorder.label}: error")
        elif event.status == Status.SUCCESS and event.phase == "fuzzing":
            outcome.fuzzed_operations.add(event.recorder.label)
    elif isinstance(event, events.NonFatalError):
        outcome.errors.append(f"[{event.phase}] {event.label}: {event.value!r}")
    elif isinstance(event, events.FatalError):
        outcome.errors.append(f"fatal: {event.exception!r}")
    elif isinstance(event, events.PhaseFinished):
        outcome.phases[event.phase.name.value] = event.status.value


def spec_operations(app: FastAPI) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, path_item in app.openapi()["paths"].items()
        for method in path_item
    }


def test_every_operation_conforms_to_the_spec(app: FastAPI) -> None:
    outcome = run_engine(app)

    assert not outcome.errors, "\n".join(outcome.errors)
    assert not outcome.failures, "\n".join(outcome.failures)
    # Every operation was fuzzed, and the stateful phase ran (it found the spec's links).
    operations = spec_operations(app)
    assert len(operations) > 10
    assert outcome.fuzzed_operations == operations
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert outcome.phases.get(phase) == "success", outcome.phases
