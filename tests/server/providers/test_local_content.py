"""The offline ``local`` provider: section content, determinism, errors and progress."""

from __future__ import annotations

import random

import pytest
from persona.errors import InsufficientEvidenceError
from persona.providers.local import LocalProvider
from persona.schemas import Evidence, GenerationConfig

from tests.server.providers._local_cases import (
    BEHAVIOURS,
    GOALS,
    NEUTRAL,
    PAINS,
    by_title,
    dumped,
    generate,
    interviews,
    role_of,
    title_terms,
)

# --------------------------------------------------------------------------- content


async def test_goals_pain_points_and_behaviours_are_chosen_by_cue_phrases() -> None:
    for persona in await generate(interviews(), persona_count=3):
        role = persona.title.lower()
        # With too little else to quote, an insight is quoted as well: it stays an insight.
        for items, expected in (
            (persona.goals, GOALS[role]),
            (persona.pain_points, PAINS[role]),
            (persona.behaviours, BEHAVIOURS[role]),
        ):
            assert {item.text for item in items} == set(expected)
        assert len(persona.quotes) >= 2


CARDS = ("debit", "credit", "gift", "store", "travel", "business", "prepaid", "loyalty")
SHOPS = ("grocery", "pharmacy", "bakery", "hardware", "florist", "bookshop", "garden", "toy")


async def test_at_most_five_insights_per_section_most_central_first() -> None:
    filler = "the checkout page on mobile"
    evidence = [
        Evidence(id=f"e{i:02d}", source="s.csv", locator=f"row {i}", participant=f"p{i}",
                 text=f"I want {filler} to remember the {card} card for {shop} orders.")
        for i, (card, shop) in enumerate(zip(CARDS, SHOPS, strict=True))
    ]  # fmt: skip
    evidence.append(
        Evidence(id="e99", source="s.csv", locator="row 99", participant="p99",
                 text="I want a pony for the office party next spring.")
    )  # fmt: skip
    (persona,) = await generate(evidence, persona_count=1)
    assert len(persona.goals) == 5
    assert all(filler in item.text for item in persona.goals)  # the outlier is least central


async def test_demographics_aggregate_attributes_and_leave_out_identifiers() -> None:
    nurse = by_title(await generate(interviews(), persona_count=3))["Nurse"]
    assert nurse.demographics == {
        "participants": "4",
        "age": "29\u201352 (median 37.5)",
        "role": "nurse (100%)",
    }  # email: one per participant; background: free text


async def test_demographics_report_the_most_common_values_and_their_shares() -> None:
    plans = ["team", "team", "team", "free", "pro", "trial", "team", "free"]
    evidence = [
        Evidence(id=f"e{i}", source="s.csv", locator=f"row {i}", participant=f"p{i}",
                 text="I usually pay by card on my phone.",
                 attributes={"plan": plan, "age": "40"})
        for i, plan in enumerate(plans)
    ]  # fmt: skip
    (persona,) = await generate(evidence, persona_count=1)
    assert persona.demographics == {
        "participants": "8",
        "age": "40",
        "plan": "team (50%), free (25%), pro (12%) and 1 more",
    }


async def test_attributes_of_the_answer_rather_than_the_person_are_left_out() -> None:
    evidence = [
        Evidence(id=f"p{p}-{turn}", source="s.md", locator=f"line {turn}", participant=f"p{p}",
                 text=f"I usually answer question {turn} on my phone.",
                 attributes={"topic": ["pricing", "support", "setup"][turn],
                             "question": "What do you do first?",
                             "city": "Paris" if turn == p == 0 else "Lyon"})
        for p in range(4)
        for turn in range(3)
    ]  # fmt: skip
    (persona,) = await generate(evidence, persona_count=1)
    # topic changes from answer to answer; question is the interviewer's; a participant who
    # once gave another city (one participant in four) counts with the one they gave most.
    assert persona.demographics == {"participants": "4", "city": "Lyon (100%)"}


async def test_without_role_attributes_the_title_names_the_distinctive_terms() -> None:
    evidence = [record.model_copy(update={"attributes": {}}) for record in interviews()]
    personas = await generate(evidence, persona_count=3)
    titles = {persona.title for persona in personas}
    assert len(titles) == 3
    for persona in personas:
        assert persona.title.startswith("Focused on ")
        role = role_of(persona.evidence_ids[0])
        role_words = " ".join(GOALS[role] + PAINS[role] + BEHAVIOURS[role] + [NEUTRAL[role]])
        terms = title_terms(persona.title)
        assert all(term in role_words.lower() for term in terms)


async def test_records_without_a_participant_each_count_as_one() -> None:
    evidence = [
        Evidence(id=f"note-{i}", source="notes.txt", locator=f"line {i}",
                 text=f"I want reports number {i} to load faster, it is slow.")
        for i in range(4)
    ]  # fmt: skip
    assert len(await generate(evidence, persona_count=4)) == 4
    with pytest.raises(InsufficientEvidenceError, match="found 4 participants"):
        await generate(evidence, persona_count=5)


# --------------------------------------------------------------------------- determinism


async def test_same_input_and_config_give_byte_identical_output() -> None:
    first = await generate(interviews(), persona_count=3, seed=11)
    second = await generate(interviews(), persona_count=3, seed=11)
    assert dumped(first) == dumped(second)


async def test_output_does_not_depend_on_the_order_of_the_evidence() -> None:
    evidence = interviews()
    shuffled = evidence[:]
    random.Random(3).shuffle(shuffled)
    assert dumped(await generate(evidence, persona_count=3)) == dumped(
        await generate(shuffled, persona_count=3)
    )


@pytest.mark.parametrize("seed", [None, 0, 1, 2**40])
async def test_any_seed_gives_valid_reproducible_personas(seed: int | None) -> None:
    first = await generate(interviews(), persona_count=4, seed=seed)
    assert len({persona.name for persona in first}) == 4
    assert all(quote.verified for persona in first for quote in persona.quotes)
    assert dumped(first) == dumped(await generate(interviews(), persona_count=4, seed=seed))


# --------------------------------------------------------------------------- errors, progress


async def test_too_few_participants_names_how_many_were_found() -> None:
    evidence = [record for record in interviews() if record.participant in {"N1", "D2"}]
    with pytest.raises(InsufficientEvidenceError) as caught:
        await generate(evidence, persona_count=3)
    message = str(caught.value)
    assert "found 2 participants in 6 evidence records" in message
    assert "3 personas were asked for" in message
    assert caught.value.code == "insufficient_evidence"


async def test_no_evidence_is_a_clear_error() -> None:
    with pytest.raises(InsufficientEvidenceError, match="no evidence"):
        await generate([], persona_count=1)


async def test_evidence_without_words_is_a_clear_error() -> None:
    evidence = [
        Evidence(id=f"e{i}", source="s.csv", locator=f"row {i}", participant=f"p{i}",
                 text=f"{i} 42 -- the and of")
        for i in range(3)
    ]  # fmt: skip
    with pytest.raises(InsufficientEvidenceError, match="3 evidence records hold no words"):
        await generate(evidence, persona_count=2)


async def test_progress_is_reported_stage_by_stage_up_to_done() -> None:
    reports: list[tuple[float, str]] = []

    async def progress(fraction: float, stage: str) -> None:
        reports.append((fraction, stage))

    await LocalProvider().generate(
        interviews(), GenerationConfig(persona_count=3), progress=progress
    )
    fractions = [fraction for fraction, _ in reports]
    assert len(reports) >= 4
    assert fractions == sorted(fractions)
    assert all(0 <= fraction <= 1 for fraction in fractions)
    assert len({stage for _, stage in reports}) == len(reports)
    assert reports[-1] == (1.0, "done")
