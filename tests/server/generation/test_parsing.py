"""Reading replies: JSON found wherever a model puts it, validated, errors that say where."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from persona.generation.parsing import OutputError, extract_json, parse_notes, parse_personas

from tests.server.generation.conftest import NOTE, PERSONA

DOC = {"personas": [PERSONA]}
TEXT = json.dumps(DOC)


@pytest.mark.parametrize(
    "reply",
    [
        TEXT,
        f"  \n{TEXT}\n",
        f"```json\n{TEXT}\n```",
        f"```\n{TEXT}\n```",
        f"Here they are:\n\n```JSON\n{json.dumps(DOC, indent=2)}\n```\n\nHope this helps!",
        f"<output>{TEXT}</output>",
        f"<thinking>The {{segments}} are clear.</thinking>\n<OUTPUT>\n{TEXT}\n</OUTPUT>",
        f"Based on the evidence, the personas are {TEXT} and that is all.",
        f"Note: ignore {{this}} and [that].\n{TEXT}",
        f"```python\nprint('hi')\n```\nThe answer:\n```json\n{TEXT}\n```",
        f"<output>\n{TEXT}",  # a closing tag the model forgot
    ],
    ids=[
        "plain",
        "padded",
        "fence-json",
        "fence-bare",
        "fence-prose",
        "output-tag",
        "thinking-then-output",
        "inline-prose",
        "stray-brackets",
        "code-fence-first",
        "unclosed-tag",
    ],
)
def test_json_is_found_wherever_the_model_put_it(reply: str) -> None:
    assert extract_json(reply) == DOC


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "the reply is empty"),
        ("   ", "the reply is empty"),
        ("I could not find any personas.", "no JSON found in the reply: it contains no JSON"),
        (TEXT[:60], "the JSON is cut off"),
        ('```json\n{"personas": [{"name": "A"\n```', "the JSON is cut off"),
    ],
)
def test_no_usable_json_is_an_error_that_says_why(reply: str, message: str) -> None:
    with pytest.raises(OutputError, match=message):
        extract_json(reply)


def test_a_cut_off_reply_is_not_mistaken_for_the_object_nested_in_it() -> None:
    cut = json.dumps({"personas": [PERSONA, PERSONA]})[:-40]
    with pytest.raises(OutputError, match="cut off"):
        parse_personas(cut, 1)


safe_prose = st.text(
    alphabet=st.characters(blacklist_characters="{}[]`<>", blacklist_categories=("Cs",)),
    max_size=200,
)


@given(before=safe_prose, after=safe_prose)
def test_prose_around_the_json_never_changes_what_is_parsed(before: str, after: str) -> None:
    assert extract_json(f"{before}{TEXT}{after}") == DOC


def test_personas_are_parsed_into_unverified_persona_content() -> None:
    (persona,) = parse_personas(TEXT, 1)
    assert persona.name == "Ana P."
    assert persona.goals[0].evidence_ids == ["ev-1"]
    assert [q.verified for q in persona.quotes] == [False]  # until grounding checks them
    assert persona.evidence_ids == ["ev-1", "ev-2"]


def test_small_liberties_that_lose_nothing_are_accepted() -> None:
    loose = {
        **PERSONA,
        "demographics": {"age": 41, "parent": True, "languages": ["en", "pt"], "note": None},
        "goals": ["Plan the week ahead"],
        "quotes": [{"text": "I always plan my week", "evidence_ids": "ev-1"}],
        "evidence_ids": "ev-1",
        "mood": "cheerful",
    }
    (persona,) = parse_personas(json.dumps(loose), 1)
    assert persona.demographics == {"age": "41", "parent": "yes", "languages": "en, pt"}
    assert persona.goals[0].text == "Plan the week ahead" and persona.goals[0].evidence_ids == []
    assert persona.quotes[0].evidence_ids == ["ev-1"]
    assert persona.evidence_ids == ["ev-1"]


def test_a_bare_list_or_a_single_persona_is_accepted() -> None:
    assert len(parse_personas(json.dumps([PERSONA, PERSONA]), 2)) == 2
    assert parse_personas(json.dumps(PERSONA), 1)[0].title == "Weekly planner"


def test_extra_personas_are_dropped_and_missing_ones_are_an_error() -> None:
    three = json.dumps({"personas": [PERSONA, {**PERSONA, "name": "B"}, {**PERSONA, "name": "C"}]})
    assert [p.name for p in parse_personas(three, 2)] == ["Ana P.", "B"]
    with pytest.raises(OutputError, match=r"\$\.personas: expected 4 personas, got 3"):
        parse_personas(three, 4)


def test_validation_errors_name_the_place() -> None:
    broken = {"personas": [PERSONA, {**PERSONA, "name": "", "quotes": [{"evidence_ids": []}]}]}
    with pytest.raises(OutputError) as caught:
        parse_personas(json.dumps(broken), 2)
    message = str(caught.value)
    assert "$.personas.1.name: String should have at least 1 character" in message
    assert "$.personas.1.quotes.0.text: Field required" in message


def test_json_that_is_not_an_object_of_personas_is_an_error() -> None:
    with pytest.raises(OutputError, match="it contains no JSON object"):
        parse_personas('"just a string"', 1)
    with pytest.raises(OutputError, match=r"\$\.personas\.0: Input should be a valid dictionary"):
        parse_personas("[1, 2]", 1)
    with pytest.raises(OutputError, match=r"\$\.personas: Field required"):
        parse_personas('{"people": []}', 1)


def test_many_errors_are_summarised() -> None:
    broken = {"personas": [{"goals": 5}] * 4}
    with pytest.raises(OutputError, match=r"and \d+ more$"):
        parse_personas(json.dumps(broken), 4)


def test_notes_are_parsed_from_an_object_or_a_list() -> None:
    (note,) = parse_notes(json.dumps({"notes": [NOTE]}))
    assert note.evidence_ids == ["ev-1"] and note.quotes[0].text.startswith("I always")
    assert parse_notes(json.dumps([NOTE]))[0].theme == "Planning ritual"
    assert parse_notes('{"notes": []}') == []
    loose = parse_notes(json.dumps({"notes": [{**NOTE, "quotes": ["a quote"], "participants": 7}]}))
    assert loose[0].quotes[0].text == "a quote" and loose[0].participants == ["7"]
    with pytest.raises(OutputError, match=r"\$\.notes\.0\.summary: Field required"):
        parse_notes(json.dumps({"notes": [{"theme": "t"}]}))
    with pytest.raises(OutputError, match=r"\$\.notes\.0: Input should be a valid dictionary"):
        parse_notes("42 notes: [1]")
