"""What a reader takes in at a glance from a local persona: its summary, its title, its
sections and its quotes."""

from __future__ import annotations

import pytest
from persona.generation.local.phrases import noun_phrases
from persona.generation.local.sections import BEHAVIOURS, GOALS, PAIN_POINTS, section_of
from persona.schemas import Evidence

from tests.server.providers._local_cases import generate, interviews


@pytest.mark.parametrize(
    ("sentence", "section"),
    [
        ("I'd pay for something that did my tax return from my bank feed.", GOALS),
        ("It would help if invoices matched the licence counts we agreed.", GOALS),
        ("Give me a way to flag a patient that the night team cannot miss.", GOALS),
        ("I still do not know which notifications I can turn off.", PAIN_POINTS),
        ("I'm never sure whether the fee was fair or a mistake.", PAIN_POINTS),
        ("The booking system has too many appointment types.", PAIN_POINTS),
        ("Nobody answers the phone.", PAIN_POINTS),
        ("I plan the week's lessons on Sunday afternoon.", BEHAVIOURS),
        ("I keep every letter from the council in a plastic folder.", BEHAVIOURS),
        ("I plan to move the team to one calendar.", GOALS),
    ],
)
def test_sections_follow_wishes_obstacles_questions_and_habits(sentence: str, section: int) -> None:
    assert section_of(sentence) == section


def test_noun_phrases_follow_determiners_and_prepositions() -> None:
    assert noun_phrases("I keep a paper list in my pocket.") == ["paper list", "pocket"]
    assert noun_phrases("Paper list in my pocket.") == ["paper list", "pocket"]
    # A possessive starts the phrase again; a verb or a function word ends it.
    assert noun_phrases("I check every patient's drug chart before the round.") == [
        "drug chart",
        "round",
    ]
    assert noun_phrases("I want the quotes from my phone while I wait.") == ["quotes", "phone"]
    # A verb before its object is not part of the phrase; a clause with no end is none.
    assert noun_phrases("The mobile app logs me out.") == ["mobile app"]
    assert noun_phrases("Our designers attach large files.") == []


async def test_the_summary_says_who_they_are_what_they_want_and_what_is_in_the_way() -> None:
    evidence = interviews()
    known = {record.id for record in evidence}
    for persona in await generate(evidence, persona_count=3):
        who, want, obstacle = persona.summary
        first_name = persona.name.split()[0]
        assert who.text.startswith(f"{first_name} stands for 4 participants grouped as ")
        assert want.text.endswith(f"\u201c{persona.goals[0].text}\u201d")
        assert obstacle.text.endswith(f"\u201c{persona.pain_points[0].text}\u201d")
        assert want.evidence_ids == persona.goals[0].evidence_ids
        for sentence in persona.summary:
            assert sentence.supported and set(sentence.evidence_ids) <= known
        assert persona.grounding.insights_unsupported == 0


async def test_two_records_of_short_answers_give_two_quotes() -> None:
    # Short answers, two per participant: too short to quote on their own merits.
    answers = {
        "a": ["One login for everything.", "Too many alerts."],
        "b": ["Cleaner handover sheets.", "Typing obs twice."],
    }
    evidence = [
        Evidence(id=f"{who}{n}", source="s.csv", locator=f"row {n}", participant=who, text=text)
        for who, texts in answers.items()
        for n, text in enumerate(texts)
    ]
    (persona,) = await generate(evidence, persona_count=1)
    assert len(persona.quotes) >= 2
    assert all(quote.verified for quote in persona.quotes)


async def test_a_quote_does_not_open_by_pointing_back_when_another_can_be_shown() -> None:
    texts = [
        "We lose a day a month chasing invoices. If they hesitate, we stop there.",
        "Chasing late invoices eats a whole day of every single month for us.",
        "I usually send the invoices on the last working day of the month.",
    ]
    evidence = [
        Evidence(id=f"e{n}", source="s.csv", locator=f"row {n}", participant=f"p{n}", text=text)
        for n, text in enumerate(texts)
    ]
    (persona,) = await generate(evidence, persona_count=1)
    assert persona.quotes
    assert not any(quote.text.startswith("If they") for quote in persona.quotes)
