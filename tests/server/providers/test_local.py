"""The offline ``local`` provider: segments, grounding, determinism, errors and progress."""

from __future__ import annotations

import asyncio
import csv
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from persona.generation.grounding import quote_in_text
from persona.generation.local import phrases, picking
from persona.providers import Provider, build_provider
from persona.providers.local import LocalProvider
from persona.schemas import Evidence, GenerationConfig
from persona.settings import Settings
from persona.sources import load_evidence

from tests.server.providers._local_cases import generate, interviews, role_of, title_terms

# --------------------------------------------------------------------------- protocol


async def test_is_the_registered_local_provider_and_spends_nothing(tmp_path) -> None:
    provider = build_provider("local", Settings(data_dir=tmp_path))
    assert isinstance(provider, LocalProvider)
    assert isinstance(provider, Provider)
    assert provider.name == "local"
    result = await provider.generate(interviews(), GenerationConfig(persona_count=2))
    assert len(result.personas) == 2
    assert result.usage.input_tokens == 0
    assert result.usage.output_tokens == 0
    assert result.usage.cost_usd == 0.0
    await provider.aclose()


def test_importing_the_provider_loads_no_numerical_library() -> None:
    code = (
        "import sys, persona.providers.local; "
        "print(sorted(m for m in ('numpy', 'scipy', 'sklearn') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert output.strip() == "[]"


async def test_the_event_loop_keeps_running_during_generation() -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await generate(interviews() * 1, persona_count=3)
    done.set()
    await task
    assert ticks > 1


# --------------------------------------------------------------------------- segments


async def test_each_persona_is_one_role_titled_after_it() -> None:
    personas = await generate(interviews(), persona_count=3)
    assert sorted(persona.title for persona in personas) == ["Accountant", "Driver", "Nurse"]
    for persona in personas:
        assert {role_of(i) for i in persona.evidence_ids} == {persona.title.lower()}


@pytest.mark.parametrize("count", [1, 2, 3, 5, 12])
async def test_persona_count_distinct_personas_covering_all_evidence(count: int) -> None:
    evidence = interviews()
    personas = await generate(evidence, persona_count=count)
    assert len(personas) == count
    assert len({persona.name for persona in personas}) == count
    assert len({persona.name.split()[0] for persona in personas}) == count
    cited = [i for persona in personas for i in persona.evidence_ids]
    assert sorted(cited) == sorted(record.id for record in evidence)  # each record, once


async def test_a_participant_never_spans_two_personas() -> None:
    personas = await generate(interviews(), persona_count=5)
    owners: dict[str, set[int]] = {}
    for index, persona in enumerate(personas):
        for evidence_id in persona.evidence_ids:
            owners.setdefault(evidence_id.split("-")[0], set()).add(index)
    assert all(len(holders) == 1 for holders in owners.values())


async def test_identical_participants_still_give_the_count_asked_for() -> None:
    evidence = [
        Evidence(id=f"e{i}", source="s.txt", locator=f"line {i}", participant=f"p{i}",
                 text="I want the export to be faster. It is slow and frustrating.")
        for i in range(4)
    ]  # fmt: skip
    personas = await generate(evidence, persona_count=3)
    assert len(personas) == 3
    assert all(persona.evidence_ids for persona in personas)
    assert len({persona.name for persona in personas}) == 3


def example_segments(examples_dir: Path) -> tuple[list[Evidence], dict[str, str]]:
    """The shipped interviews and, for each evidence id, the segment its CSV record gives."""
    evidence = load_evidence(["interviews.csv"], data_dir=examples_dir)
    with (examples_dir / "interviews.csv").open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    segments: dict[str, str] = {}
    for record in evidence:
        row = rows[int(record.locator.removeprefix("row ")) - 2]  # row 1 is the header
        assert row["response"].strip() == record.text.strip()  # the join is the right one
        segments[record.id] = row["segment"]
    return evidence, segments


async def test_the_example_interviews_give_their_three_segments(examples_dir: Path) -> None:
    evidence, segment_of = example_segments(examples_dir)
    personas = await generate(evidence, persona_count=3)
    dominant: list[str] = []
    for persona in personas:
        shares = Counter(segment_of[i] for i in persona.evidence_ids)
        segment, count = shares.most_common(1)[0]
        assert count >= 0.8 * len(persona.evidence_ids), (persona.title, shares)
        dominant.append(segment)
    assert sorted(dominant) == sorted(set(segment_of.values()))


def themed_notes(extra: Callable[[int, int], dict[str, str]] | None = None) -> list[Evidence]:
    """Fifteen participants without attributes (unless ``extra`` gives some), five per theme,
    whose answers mix theme words with sentences everyone says."""
    rng = random.Random(5)
    records: list[Evidence] = []
    for theme_index, theme in enumerate(THEMES):
        for member in range(5):
            participant = f"{theme}-{member}"
            for turn in range(3):
                words = rng.sample(THEMES[theme], 3)
                text = (
                    f"{rng.choice(SHARED)} I keep thinking about {words[0]} and {words[1]}, "
                    f"and {words[2]} matters to me. {rng.choice(SHARED)}"
                )
                records.append(
                    Evidence(
                        id=f"{participant}-{turn}", source="notes.md", locator=f"line {turn}",
                        participant=participant, text=text,
                        attributes=extra(theme_index, member) if extra else {},
                    )
                )  # fmt: skip
    return records


THEMES = {
    "billing": ["invoices", "refunds", "card payments", "receipts", "tax codes", "billing"],
    "mobile": ["the phone app", "offline mode", "battery", "push alerts", "small screens", "sync"],
    "reporting": ["dashboards", "charts", "exports", "weekly reports", "filters", "pivot tables"],
}
SHARED = [
    "I use the tool at work every day.",
    "Our team is small and busy.",
    "Honestly, it is fine most of the time.",
    "We started using it last year.",
]


def theme_of(evidence_id: str) -> str:
    return evidence_id.split("-")[0]


async def test_without_attributes_participants_cluster_by_theme() -> None:
    personas = await generate(themed_notes(), persona_count=3)
    themes = [{theme_of(i) for i in persona.evidence_ids} for persona in personas]
    assert sorted(len(found) for found in themes) == [1, 1, 1]
    assert set().union(*themes) == set(THEMES)


async def test_a_column_unrelated_to_what_is_said_does_not_override_the_text() -> None:
    # Each city holds participants of every theme: a clear grouping, but not a segment.
    evidence = themed_notes(lambda theme, member: {"city": ["Lyon", "Nice", "Oslo"][member % 3]})
    personas = await generate(evidence, persona_count=3)
    assert sorted(len({theme_of(i) for i in p.evidence_ids}) for p in personas) == [1, 1, 1]


async def test_a_segment_column_decides_where_the_text_does_not() -> None:
    # The same themed answers, but a researcher-given segment that cuts across the themes.
    evidence = themed_notes(lambda theme, member: {"segment": ["Gold", "Silver", "Bronze"][
        (theme + member) % 3]})  # fmt: skip
    personas = await generate(evidence, persona_count=3)
    for persona in personas:
        segments = {record.attributes["segment"] for record in evidence
                    if record.id in set(persona.evidence_ids)}  # fmt: skip
        assert segments == {persona.title}


async def test_titles_from_text_name_shared_terms_without_filler_or_repeats() -> None:
    personas = await generate(themed_notes(), persona_count=3)
    for persona in personas:
        terms = title_terms(persona.title)
        theme = theme_of(persona.evidence_ids[0])
        assert all(any(term in phrase for phrase in THEMES[theme]) for term in terms), terms
        words = [word for term in terms for word in term.split()]
        assert len(words) == len(set(words))  # a phrase is never listed with its own words
        assert not set(words) & phrases.FILLER_WORDS


# --------------------------------------------------------------------------- grounding


async def test_quotes_are_verbatim_verified_and_cite_their_records() -> None:
    evidence = interviews()
    texts = {record.id: record.text for record in evidence}
    for persona in await generate(evidence, persona_count=3):
        assert 2 <= len(persona.quotes) <= 5
        assert persona.grounding.score == 1.0
        assert persona.grounding.quotes_verified == len(persona.quotes)
        assert persona.grounding.quotes_corrected == 0  # each quote cites its own record
        assert persona.dropped_evidence_ids == 0
        for quote in persona.quotes:
            assert quote.verified
            assert quote.evidence_ids
            assert all(quote.text in texts[i] for i in quote.evidence_ids)


async def test_quotes_come_from_different_participants() -> None:
    for persona in await generate(interviews(), persona_count=3):
        speakers = [quote.evidence_ids[0].split("-")[0] for quote in persona.quotes]
        assert len(set(speakers)) == len(speakers)


async def test_every_cited_id_exists_and_belongs_to_the_persona() -> None:
    evidence = interviews()
    known = {record.id for record in evidence}
    for persona in await generate(evidence, persona_count=3):
        assert set(persona.evidence_ids) <= known
        items = [*persona.goals, *persona.pain_points, *persona.behaviours, *persona.quotes]
        for item in items:
            assert item.evidence_ids
            assert set(item.evidence_ids) <= set(persona.evidence_ids)
            assert any(quote_in_text(item.text, record.text) for record in evidence
                       if record.id in item.evidence_ids)  # fmt: skip


async def test_a_sentence_said_by_very_many_cites_the_first_ten() -> None:
    shared = "It is frustrating when the export hangs at ninety percent."
    evidence = [
        Evidence(id=f"e{i:02d}", source="s.csv", locator=f"row {i}", participant=f"p{i}",
                 text=shared)
        for i in range(15)
    ]  # fmt: skip
    (persona,) = await generate(evidence, persona_count=1)
    assert persona.pain_points[0].evidence_ids == [f"e{i:02d}" for i in range(10)]
    assert len(persona.evidence_ids) == 15


async def test_short_answers_are_quoted_but_punctuation_alone_never() -> None:
    texts = ["...", "?!", "Yes.", "No way!", "Sure."]
    evidence = [
        Evidence(id=f"e{i}", source="s.csv", locator=f"row {i}", participant=f"p{i}", text=text)
        for i, text in enumerate(texts)
    ]
    (persona,) = await generate(evidence, persona_count=1)
    assert len(persona.quotes) == 2
    assert {quote.text for quote in persona.quotes} <= {"Yes.", "No way!", "Sure."}
    (persona,) = await generate(evidence[:3], persona_count=1)
    assert [quote.text for quote in persona.quotes] == ["Yes."]  # nothing else to quote


async def test_only_the_most_central_sentences_are_candidates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evidence = [
        Evidence(id=f"e{i}", source="s.csv", locator=f"row {i}", participant=f"p{i}",
                 text=f"The checkout page on mobile shows card {i} twice.")
        for i in range(6)
    ]  # fmt: skip
    evidence.append(
        Evidence(id="goal", source="s.csv", locator="row 9", participant="p9",
                 text="I want a pony for the office party next spring.")
    )  # fmt: skip
    (persona,) = await generate(evidence, persona_count=1)
    assert [item.text for item in persona.goals] == [evidence[-1].text]
    monkeypatch.setattr(picking, "MAX_CANDIDATES", 6)
    (persona,) = await generate(evidence, persona_count=1)
    assert persona.goals == []  # the one goal is the least central sentence


async def test_twenty_personas_get_twenty_first_names() -> None:
    evidence = [
        Evidence(id=f"n{i:02d}", source="notes.txt", locator=f"line {i}",
                 text=f"I want report {i} to load faster; topic {chr(97 + i) * 3} matters.")
        for i in range(20)
    ]  # fmt: skip
    personas = await generate(evidence, persona_count=20)
    assert len({persona.name.split()[0] for persona in personas}) == 20


async def test_a_sentence_said_by_many_cites_each_of_them() -> None:
    shared = "It is frustrating when the export hangs at ninety percent."
    evidence = [
        Evidence(id=f"e{i}", source="s.csv", locator=f"row {i}", participant=f"p{i}",
                 text=f"{shared} I use the desktop app for exports.")
        for i in range(4)
    ]  # fmt: skip
    (persona,) = await generate(evidence, persona_count=1)
    (pain,) = [item for item in persona.pain_points if item.text == shared]
    assert pain.evidence_ids == ["e0", "e1", "e2", "e3"]
