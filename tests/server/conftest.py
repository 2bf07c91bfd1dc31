"""Fixtures for the SDK tests: a data directory on disk, settings, a started service, and a
scripted provider for driving the runner through every outcome."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from persona import providers
from persona.providers import GenerationResult, ProgressCallback, ProviderSpec
from persona.schemas import Evidence, GenerationConfig, Insight, PersonaContent, Quote, Usage
from persona.service import PersonaService
from persona.settings import Settings

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

NOTES = """\
**Interviewer:** How do you plan your week?
**Ana:** I always plan my week on Sunday evening with a paper notebook.
**Interviewer:** What gets in the way?
**Ana:** It is frustrating when the shared calendar does not sync with my phone.
"""


@pytest.fixture
def research_dir(tmp_path: Path) -> Path:
    """A data directory holding the shipped example data and a small transcript."""
    root = tmp_path / "research"
    shutil.copytree(EXAMPLES_DIR, root)
    (root / "notes.md").write_text(NOTES, encoding="utf-8")
    return root


@pytest.fixture
def make_settings(research_dir: Path, database_url: str) -> Callable[..., Settings]:
    """On PostgreSQL runs go through the procrastinate queue (and a worker in the service),
    so the same tests hold both dispatchers to the same behaviour."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": research_dir, "database_url": database_url}
        values.update(overrides)
        if str(values["database_url"]).startswith("postgresql"):
            values.setdefault("run_dispatch", "queue")
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[PersonaService]:
    async with PersonaService(settings) as started:
        yield started


@dataclass
class ScriptedProvider:
    """A provider whose behaviour a test sets: block until released, fail, or succeed
    with one persona per requested count quoting the evidence verbatim."""

    name: str = "local"
    error: BaseException | None = None
    hold: asyncio.Event | None = None
    progress_steps: Sequence[tuple[float, str]] = ((0.5, "thinking"),)
    calls: int = 0
    closed: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    seen_configs: list[GenerationConfig] = field(default_factory=list)
    seen_evidence: list[Sequence[Evidence]] = field(default_factory=list)

    async def generate(
        self,
        evidence: Sequence[Evidence],
        config: GenerationConfig,
        *,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        self.calls += 1
        self.seen_configs.append(config)
        self.seen_evidence.append(evidence)
        try:
            for fraction, stage in self.progress_steps:
                if progress is not None:
                    await progress(fraction, stage)
            # Set once the progress above is reported (its write is queued, maybe not committed).
            self.started.set()
            if self.hold is not None:
                await self.hold.wait()
            if self.error is not None:
                raise self.error
            return GenerationResult(
                personas=[_persona(evidence, i) for i in range(config.persona_count)],
                usage=Usage(input_tokens=120, output_tokens=45, cost_usd=0.01),
            )
        finally:
            self.finished.set()

    async def aclose(self) -> None:
        self.closed += 1


def _persona(evidence: Sequence[Evidence], index: int) -> PersonaContent:
    record = evidence[index % len(evidence)]
    return PersonaContent(
        name=f"Persona {index + 1}",
        title="Scripted",
        goals=[Insight(text="a goal", evidence_ids=[record.id])],
        quotes=[
            Quote(text=record.text[:40], evidence_ids=[record.id], verified=False),
            Quote(text="words nobody said", evidence_ids=[record.id, "ev-unknown"], verified=True),
        ],
        evidence_ids=[record.id],
    )


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedProvider:
    """Route the 'local' provider to a ScriptedProvider for this test."""
    provider = ScriptedProvider()
    spec = ProviderSpec("local", "scripted", (), lambda _settings: provider)
    monkeypatch.setitem(providers._SPECS, "local", spec)
    return provider


WaitUntil = Callable[..., Awaitable[None]]


async def _wait_until(condition: Callable[[], Any], *, within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not await _evaluate(condition):  # noqa: ASYNC110 - the state lives in the database
            await asyncio.sleep(0.01)


@pytest.fixture
def wait_until() -> WaitUntil:
    """Let the event loop run until ``condition()`` (sync or async) is true; fail after a
    generous timeout. Used only to reach a state, never to assert a duration."""
    return _wait_until


async def _evaluate(condition: Callable[[], Any]) -> bool:
    result = condition()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)
