"""From research files on disk to stored, grounded personas, with the real local provider."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from persona.schemas import ExperimentCreate, GenerationConfig, InlineSource
from persona.service import PersonaService, UploadedFile
from persona.settings import Settings
from persona.sources import load_evidence

TRANSCRIPT = """\
**Interviewer:** Tell me about month end.
**Jo:** Every month I reconcile supplier invoices by hand, line by line, in two windows.
**Interviewer:** What would help?
**Jo:** I want the totals to match automatically so I can close the books a day earlier.
"""


async def test_files_on_disk_become_stored_grounded_personas(settings: Settings) -> None:
    async with PersonaService(settings) as service:
        experiment = await service.create_experiment(
            ExperimentCreate(
                name="Mixed sources",
                description="CSV, JSON, a transcript folder, inline notes and an upload",
                data_sources=[
                    "interviews.csv",
                    "survey.json",
                    "transcripts",
                    InlineSource(name="jo.md", content=TRANSCRIPT),
                ],
                config=GenerationConfig(provider="local", persona_count=3, seed=42),
            )
        )
        experiment = await service.upload_sources(
            experiment.id,
            [UploadedFile("notes.md", io.BytesIO(b"**Kim:** I usually export the report weekly."))],
        )
        started = await service.start_run(experiment.id)
        run = await service.wait_for_run(experiment.id, started.run.id, timeout=180)
        stored = await service.get_experiment(experiment.id)
        listed = await service.list_personas(experiment.id)

    assert run.status == "succeeded", run.error
    assert len(run.personas) == 3
    assert len({p.name for p in run.personas}) == 3
    assert (stored.status, stored.run_count, stored.personas_stored) == ("succeeded", 1, 3)
    assert {p.id for p in listed.items} == set(run.persona_ids)

    evidence = {
        item.id: item for item in load_evidence(stored.data_sources, data_dir=settings.data_dir)
    }
    sources = {item.source for item in evidence.values()}
    assert {"interviews.csv", "survey.json"} <= sources
    assert any(s.startswith("transcripts/") for s in sources)
    assert f".persona/experiments/{experiment.id}/inline/jo.md" in sources
    assert f".persona/experiments/{experiment.id}/uploads/notes.md" in sources
    for persona in run.personas:
        assert persona.evidence_ids and set(persona.evidence_ids) <= set(evidence)
        assert 2 <= len(persona.quotes) <= 5
        for quote in persona.quotes:
            assert quote.verified
            assert any(quote.text in evidence[i].text for i in quote.evidence_ids)
        for item in persona.goals + persona.pain_points + persona.behaviours:
            assert set(item.evidence_ids) <= set(evidence)
        assert persona.grounding.score == 1.0


async def test_the_same_input_gives_the_same_personas_in_a_fresh_database(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    contents = []
    for name in ("first", "second"):
        settings = make_settings(database_url=f"sqlite:///{tmp_path / name / 'persona.db'}")
        async with PersonaService(settings) as service:
            experiment = await service.create_experiment(
                ExperimentCreate(
                    name=name,
                    data_sources=["interviews.csv"],
                    config=GenerationConfig(provider="local", persona_count=3),
                )
            )
            started = await service.start_run(experiment.id)
            run = await service.wait_for_run(experiment.id, started.run.id, timeout=180)
        contents.append(
            [
                p.model_dump(exclude={"id", "experiment_id", "run_id", "created_at"})
                for p in run.personas
            ]
        )

    assert contents[0] == contents[1]
