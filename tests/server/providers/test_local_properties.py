"""What the offline synthesizer must never lose, on small fixtures read from real files:
participants kept together across sources, demographics over a persona's own participants,
no line shown twice, every line verbatim, and no line without its referent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from persona.generation.grounding import quote_in_text
from persona.providers.local import LocalProvider
from persona.schemas import Evidence, GenerationConfig, PersonaContent
from persona.sources import load_evidence
from rapidfuzz.distance import Indel

LABELLED = Path(__file__).resolve().parents[2] / "data" / "labelled"

STOCK = [
    "I want the pick lists on the scanners before the shift starts.",
    "The handheld scanners freeze when the wifi drops near the freezers.",
    "Every morning I walk the aisles before the pickers arrive.",
]
STUDIO = [
    "I want to send a client one link with the invoice and the final files.",
    "Chasing late invoices eats a whole day of my month.",
    "Every Monday I plan the week's design projects in a notebook.",
]


def _sources(folder: Path) -> None:
    """Four participants across a CSV, a JSON export and a transcript, plus site notes."""
    rows = ["participant,segment,age,text"]
    rows += [f"W1,Warehouse,31,{STOCK[0]}", f"W2,Warehouse,45,{STOCK[1]}"]
    rows += [f"D1,Design,28,{STUDIO[0]}", f"D2,Design,36,{STUDIO[1]}"]
    (folder / "interviews.csv").write_text("\n".join(rows) + "\n")
    answers = [
        {"respondent": "W1", "answer": STOCK[2]},
        {"respondent": "D2", "answer": STUDIO[2]},
        {"respondent": "D1", "answer": "Some clients pay in a week and some take three months."},
    ]
    (folder / "answers.json").write_text(json.dumps(answers))
    (folder / "interview-w2.md").write_text(
        "**Interviewer:** What happens then?\n\n"
        "**W2:** The label printer jams twice a shift and nobody knows how to clear it. "
        "That means the pickers stand around waiting for labels.\n\n"
        "**Interviewer:** Anything else?\n\n"
        "**W2:** It covers maybe a fifth of the bins.\n"
    )
    (folder / "notes.csv").write_text(
        "site,note\n"
        "North depot,The scanners on the dock freeze whenever a truck blocks the wifi.\n"
        "North depot,Pickers wait at the label printer for the first hour of the shift.\n"
    )


@pytest.fixture
def evidence(tmp_path: Path) -> list[Evidence]:
    _sources(tmp_path)
    return load_evidence(["."], data_dir=tmp_path)


async def generate(evidence: list[Evidence], count: int = 2) -> list[PersonaContent]:
    config = GenerationConfig(persona_count=count)
    return (await LocalProvider().generate(evidence, config)).personas


async def test_a_participant_is_kept_together_across_sources(evidence: list[Evidence]) -> None:
    personas = await generate(evidence)

    by_id = {record.id: record for record in evidence}
    for persona in personas:
        assert persona.participants == sorted(
            {p for i in persona.evidence_ids if (p := by_id[i].participant)}
        )
    holders = {p: [n for n, persona in enumerate(personas) if p in persona.participants]
               for p in ("W1", "W2", "D1", "D2")}  # fmt: skip
    assert all(len(held) == 1 for held in holders.values()), holders
    assert holders["W1"] == holders["W2"] != holders["D1"] == holders["D2"]
    # The site notes name no participant: both rows go with one persona, the warehouse one.
    note_ids = {record.id for record in evidence if record.source == "notes.csv"}
    assert len(note_ids) == 2
    notes = {n for n, persona in enumerate(personas) for i in persona.evidence_ids if i in note_ids}
    assert notes == set(holders["W1"])


async def test_demographics_count_only_the_personas_own_participants(
    evidence: list[Evidence],
) -> None:
    for persona in await generate(evidence):
        segment = "Warehouse" if "W1" in persona.participants else "Design"
        assert persona.demographics["segment"] == f"{segment} (100%)"
        ages = {"W1": 31, "W2": 45, "D1": 28, "D2": 36}
        own = sorted(ages[p] for p in persona.participants)
        assert persona.demographics["age"].startswith(f"{own[0]}\u2013{own[-1]}")


async def test_every_line_is_verbatim_from_a_record_it_cites(evidence: list[Evidence]) -> None:
    by_id = {record.id: record for record in evidence}
    for persona in await generate(evidence):
        lines = [*persona.goals, *persona.pain_points, *persona.behaviours, *persona.quotes]
        assert lines
        for line in lines:
            assert quote_in_text(line.text, by_id[line.evidence_ids[0]].text), line.text


async def test_a_line_opening_with_a_pronoun_keeps_its_referent(
    evidence: list[Evidence],
) -> None:
    lines = [
        line.text
        for persona in await generate(evidence)
        for line in [*persona.goals, *persona.pain_points, *persona.behaviours, *persona.quotes]
    ]
    assert not [line for line in lines if re.match(r"(?:That|It covers)\b", line)]
    assert not [line for line in lines if "It covers" in line]  # nothing before it to lean on
    waiting = [line for line in lines if "That means the pickers" in line]
    assert all(line.startswith("The label printer jams") for line in waiting)


async def test_near_duplicates_appear_once_in_a_persona() -> None:
    said = "I want the dock schedule to update itself when a truck is running late."
    nearly = "I want the dock schedule to update itself when a truck is running late again."
    evidence = [
        Evidence(id=f"e{n}", source="s.csv", locator=f"row {n + 2}", participant=f"p{n}",
                 text=said if n % 2 else nearly)
        for n in range(6)
    ] + [
        Evidence(id="x", source="s.csv", locator="row 9", participant="p9",
                 text="Every morning I check the dock board before the trucks arrive.")
    ]  # fmt: skip
    (persona,) = await generate(evidence, count=1)
    # A quote may repeat an insight (two quotes are wanted of seven participants), but
    # neither list says the same thing twice.
    for shown in ([*persona.goals, *persona.pain_points, *persona.behaviours], persona.quotes):
        lines = [re.findall(r"\w+", line.text.casefold()) for line in shown]
        for n, words in enumerate(lines):
            assert all(Indel.normalized_similarity(words, other) < 0.9 for other in lines[:n])
        assert sum(line.text in (said, nearly) for line in shown) <= 1
    assert len(persona.quotes) >= 2


async def test_the_labelled_mixed_set_gives_each_participant_one_persona() -> None:
    folder = LABELLED / "mixed"
    sources = sorted(p.name for p in folder.iterdir() if p.name != "key.json")
    evidence = load_evidence(sources, data_dir=folder)
    key = json.loads((folder / "key.json").read_text())["segments"]
    personas = await generate(evidence, count=3)
    listed = [p for persona in personas for p in persona.participants]
    assert sorted(listed) == sorted(p for p in key if p != "observations.csv")
    first = await generate(evidence, count=3)
    assert [p.model_dump_json() for p in first] == [p.model_dump_json() for p in personas]


async def test_people_from_a_source_without_the_segment_column_join_by_their_words() -> None:
    folder = LABELLED / "partly_segmented"
    evidence = load_evidence(["interviews.csv", "survey.csv"], data_dir=folder)
    key = json.loads((folder / "key.json").read_text())["segments"]
    for persona in await generate(evidence, count=3):
        respondents = [p for p in persona.participants if p.startswith("R")]
        interviewed = [p for p in persona.participants if p.startswith("I")]
        assert interviewed  # the survey alone is no segment
        assert {key[p] for p in respondents} <= {key[p] for p in interviewed}
