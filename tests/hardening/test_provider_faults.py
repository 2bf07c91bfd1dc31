"""Provider faults in a mix: every run ends succeeded or failed with the precise error code.

`persona serve` runs in a subprocess; its `openai` provider is a loopback fake. Each run reads
its own notes, which name a fault plan; the fake answers that run's requests with the plan's
faults (429 with Retry-After, 5xx, truncated bodies, stalls past the timeout, non-JSON bodies,
hang-ups, unusable model output, auth refusals), then normally. /health is polled throughout.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import persona_client as pc
import pytest

from tests.fakes import (
    Content,
    FakeOpenAIServer,
    Hangup,
    InvalidJson,
    RecordedRequest,
    Reply,
    Stall,
    Status,
    Truncated,
    write_reply,
)
from tests.servers import ServerProcess, clean_env, poll_health, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TIMEOUT = 2.0
"""PERSONA_PROVIDER_TIMEOUT: a Stall of STALL seconds is past it; a normal answer, even on a
busy machine, is well within it."""
STALL = 4.0
MAX_RETRIES = 2
ATTEMPTS = MAX_RETRIES + 1
MAX_RETRY_DELAY = 0.5
LONG_RETRY_AFTER = "60"
"""Longer than PERSONA_PROVIDER_RETRY_MAX_DELAY: the request fails without waiting."""
RUN_TIMEOUT = 120.0
UNUSABLE = "I am sorry, I cannot answer in JSON today."
EMPTY_PERSONAS = '{"personas": []}'


@dataclass(frozen=True)
class Plan:
    """What the fake answers to one run's requests, and how the run must end."""

    name: str
    faults: tuple[Reply, ...]
    code: str | None
    """The run's error code; None when it succeeds."""
    requests: int
    """Chat requests the run sends in all, repairs and retries included."""
    message: str = ""
    """A part of the run's error message."""


def _recover(name: str, *faults: Reply) -> Plan:
    """Transient faults the retries (or the repair request) get past."""
    return Plan(name, faults, None, len(faults) + 1)


TOO_MANY = Status(429, retry_after="0")
PLANS: tuple[Plan, ...] = (
    Plan("no fault", (), None, 1),
    _recover("one 429", TOO_MANY),
    _recover("two 429s", TOO_MANY, TOO_MANY),
    Plan("429 until retries run out", (TOO_MANY,) * ATTEMPTS, "provider_unavailable",
          ATTEMPTS, "HTTP 429"),
    Plan("429 asking for too long a wait", (Status(429, retry_after=LONG_RETRY_AFTER),),
          "provider_unavailable", 1, f"retry after {LONG_RETRY_AFTER} s"),
    _recover("one 500", Status(500)),
    _recover("503 then 502", Status(503), Status(502)),
    Plan("500 until retries run out", (Status(500),) * ATTEMPTS, "provider_unavailable",
          ATTEMPTS, "HTTP 500"),
    _recover("one truncated body", Truncated()),
    Plan("truncated bodies only", (Truncated(),) * ATTEMPTS, "provider_unavailable",
          ATTEMPTS, "connection failed"),
    _recover("one stall past the timeout", Stall(STALL)),
    Plan("stalls only", (Stall(STALL),) * ATTEMPTS, "provider_unavailable",
          ATTEMPTS, f"no response within {TIMEOUT:g} s"),
    _recover("one non-JSON body", InvalidJson()),
    Plan("non-JSON bodies only", (InvalidJson(),) * ATTEMPTS, "provider_unavailable",
          ATTEMPTS, "not JSON"),
    _recover("one hang-up", Hangup()),
    Plan("hang-ups only", (Hangup(),) * ATTEMPTS, "provider_unavailable",
          ATTEMPTS, "connection failed"),
    _recover("a mix of transient faults", TOO_MANY, Truncated()),
    Plan("a mix until retries run out", (Status(500), Stall(STALL), InvalidJson()),
          "provider_unavailable", ATTEMPTS, "not JSON"),
    _recover("unusable output once, repaired", Content(UNUSABLE)),
    Plan("unusable output twice", (Content(UNUSABLE), Content(UNUSABLE)), "invalid_output",
          2, "unusable"),
    Plan("no personas twice", (Content(EMPTY_PERSONAS), Content(EMPTY_PERSONAS)),
          "invalid_output", 2, "unusable"),
    Plan("401", (Status(401, message="bad key"),), "provider_auth", 1, "HTTP 401"),
    Plan("403", (Status(403, message="no access"),), "provider_auth", 1, "HTTP 403"),
    Plan("400", (Status(400, message="unknown model"),), "provider_rejected", 1,
          "unknown model"),
    Plan("429 then 401", (TOO_MANY, Status(401)), "provider_auth", 2, "HTTP 401"),
)  # fmt: skip
MARKER = re.compile(r"\bfaultplan(\d+)\b")
RAW_OUTPUT = re.compile(r"raw output is saved in (\S+?)\)")


class PlannedFaults:
    """The fake's default reply: the faults of the plan the request's notes name, in order.

    The fake records each request (in ``recorded``, which it shares) before it asks for the
    reply, so the number of recorded requests naming a plan is the position in its faults.
    After a Stall the fake asks again, for the late answer nobody waits for any more.
    """

    def __init__(self) -> None:
        self.recorded: list[RecordedRequest] = []

    def requests(self) -> Counter[int]:
        """Chat requests received per plan."""
        return Counter(plan for r in self.recorded if (plan := plan_of(r.body or {})) is not None)

    def __call__(self, body: dict[str, Any]) -> Reply:
        index = plan_of(body)
        if index is None:
            return Status(400, message="request names no fault plan")
        position = self.requests()[index] - 1
        faults = PLANS[index].faults
        return faults[position] if position < len(faults) else Content(write_reply(body))


def plan_of(body: dict[str, Any]) -> int | None:
    """The fault plan the notes in a chat request name."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    match = MARKER.search(prompt)
    return None if match is None else int(match.group(1))


def notes(index: int) -> str:
    """Research notes that name fault plan ``index`` in every paragraph."""
    lines = [
        "Checkout takes too many steps on mobile and I give up before paying.",
        "I want to save my card once and never type it again on this shop.",
        "Delivery dates are vague, so I order elsewhere when a gift is due.",
        "Support answered after three days, which is too late for a refund.",
        "I compare prices in three tabs before I trust a discount is real.",
        "The app logs me out every week and I forget which email I used.",
    ]
    return "\n\n".join(f"{line} (faultplan{index})" for line in lines) + "\n"


@pytest.fixture(scope="module")
def planned() -> PlannedFaults:
    return PlannedFaults()


@pytest.fixture(scope="module")
def provider(planned: PlannedFaults) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default=planned, requests=planned.recorded) as server:
        yield server


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider: FakeOpenAIServer
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("faults") / "data"
    data_dir.mkdir()
    env = clean_env(
        OPENAI_BASE_URL=provider.base_url,
        PERSONA_PROVIDER_TIMEOUT=str(TIMEOUT),
        PERSONA_PROVIDER_MAX_RETRIES=str(MAX_RETRIES),
        PERSONA_PROVIDER_RETRY_BASE_DELAY="0.05",
        PERSONA_PROVIDER_RETRY_MAX_DELAY=str(MAX_RETRY_DELAY),
        PERSONA_MAX_CONCURRENT_RUNS="8",
    )
    with running_server(data_dir, env) as running:
        yield running


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[pc.AsyncPersonaClient]:
    async with pc.AsyncPersonaClient(base_url=server.base_url, max_retries=0, timeout=30) as api:
        yield api


async def run_plan(client: pc.AsyncPersonaClient, index: int) -> pc.models.RunDetail:
    experiment = await client.experiments.create(
        name=f"fault plan {index}",
        data_sources=[{"name": f"plan-{index}.md", "content": notes(index)}],
        config={"provider": "openai", "persona_count": 2},
    )
    run = await client.runs.start(experiment.id)
    try:
        return await client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=0.2)
    except pc.RunFailedError:
        return await client.runs.get(run.experiment_id, run.id)


def assert_raw_output_kept(server: ServerProcess, run: pc.models.RunDetail, plan: Plan) -> None:
    """An unusable reply is kept where the run's error message says."""
    assert run.error is not None
    saved = RAW_OUTPUT.search(run.error.message)
    assert saved is not None, run.error.message
    raw = (server.data_dir / saved.group(1)).read_text(encoding="utf-8")
    assert all(isinstance(f, Content) and f.text in raw for f in plan.faults), raw


async def test_every_run_ends_with_the_precise_outcome_and_health_stays_ok(
    client: pc.AsyncPersonaClient, server: ServerProcess, planned: PlannedFaults
) -> None:
    stop = asyncio.Event()
    health = asyncio.create_task(poll_health(server.base_url, stop))
    try:
        runs = await asyncio.gather(*(run_plan(client, i) for i in range(len(PLANS))))
    finally:
        stop.set()
        answers = await health

    outcomes = {
        plan.name: (run.status, run.error.code if run.error else None)
        for plan, run in zip(PLANS, runs, strict=True)
    }
    expected = {plan.name: ("failed" if plan.code else "succeeded", plan.code) for plan in PLANS}
    assert outcomes == expected
    for plan, run in zip(PLANS, runs, strict=True):
        if plan.code is None:
            assert len(run.personas) == 2, plan.name
        else:
            assert run.error is not None and plan.message in run.error.message, (
                plan.name,
                run.error,
            )
            assert run.personas == [], plan.name
        if plan.code == "invalid_output":
            assert_raw_output_kept(server, run, plan)
    assert {PLANS[i].name: n for i, n in planned.requests().items()} == {
        plan.name: plan.requests for plan in PLANS
    }
    assert len(answers) >= 10, "/health was hardly polled"
    assert set(answers) == {200}, Counter(answers)
    assert "Traceback" not in server.output()
