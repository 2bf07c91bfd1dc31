"""Grounding: quotes checked against the evidence they cite, unknown ids dropped and counted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from persona.generation.grounding import ground, normalize, quote_in_text
from persona.schemas import Evidence, Insight, PersonaContent, Quote

TEXTS = {
    "ev-1": "I always plan my week on Sunday evening with a \u201cpaper\u201d notebook.",
    "ev-2": "It\u2019s frustrating when the shared calendar\n   does not sync \u2014 every time.",
    "ev-3": "I check the school portal every morning before the first class.",
}


def records() -> dict[str, Evidence]:
    return {
        evidence_id: Evidence(id=evidence_id, source="notes.md", locator=f"line {n}", text=text)
        for n, (evidence_id, text) in enumerate(TEXTS.items(), start=1)
    }


def persona(**fields: object) -> PersonaContent:
    return PersonaContent(name="Ana P.", title="Weekly planner", **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Several   spaces\tand\nlines  ", "several spaces and lines"),
        ("\u201cCurly\u201d and \u2018single\u2019", "\"curly\" and 'single'"),
        ("en\u2013dash em\u2014dash", "en-dash em-dash"),
        ("Wait\u2026", "wait..."),
        ("STRASSE Stra\u00dfe", "strasse strasse"),
        ("\uff26\uff55\uff4c\uff4c width", "full width"),  # NFKC folds full-width letters
    ],
)
def test_normalize_folds_space_quotes_dashes_case_and_forms(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


# --------------------------------------------------------------------------- quote_in_text


@pytest.mark.parametrize(
    "quote",
    [
        "I always plan my week on Sunday evening",
        "i ALWAYS plan my week   on sunday evening",
        'with a "paper" notebook.',
        "It's frustrating when the shared calendar does not sync - every time",
        "\u201cthe shared calendar does not sync\u201d",  # quote marks around it are ignored
        "...plan my week on Sunday evening...",
    ],
)
def test_quotes_match_up_to_normalisation(quote: str) -> None:
    assert quote_in_text(quote, TEXTS["ev-1"] + " " + TEXTS["ev-2"])


@pytest.mark.parametrize(
    "quote",
    [
        "I always plan my month on Sunday evening",
        "plan my week on Monday",
        "Sunday evening plan my week",  # the words, but not in this order
        "",
        ' ..."" ',  # nothing left once edge punctuation is ignored
    ],
)
def test_quotes_that_are_not_in_the_text_do_not_match(quote: str) -> None:
    assert not quote_in_text(quote, TEXTS["ev-1"])


# Characters that normalisation changes, among plain ones. (Combining marks are left out: a
# slice may cut one from the letter it composes with, and then it is not the same text.)
ALPHABET = (
    "abcXYZ019 \t\n.,;:!?-()'\"\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00e9\u00df\uff26\u00a0"
)


@given(st.text(ALPHABET, min_size=1, max_size=200), st.integers(0, 200), st.integers(1, 200))
def test_every_slice_with_words_of_a_text_is_found_in_it(text: str, start: int, size: int) -> None:
    piece = text[start : start + size]
    if normalize(piece).strip(" \"'.,;:!?-()[]"):
        assert quote_in_text(piece.strip(), text)


# --------------------------------------------------------------------------- ground


def test_quotes_are_verified_against_their_cited_evidence_only() -> None:
    checked = ground(
        persona(
            quotes=[
                Quote(text="plan my week on Sunday evening", evidence_ids=["ev-1"], verified=False),
                Quote(text="plan my week on Sunday evening", evidence_ids=["ev-3"], verified=True),
                Quote(text="calendar does not sync", evidence_ids=["ev-3", "ev-2"], verified=False),
                Quote(text="I love my calendar", evidence_ids=["ev-2"], verified=True),
            ]
        ),
        records(),
    )
    assert [quote.verified for quote in checked.quotes] == [True, False, True, False]
    assert checked.grounding == 0.5


def test_unknown_ids_are_dropped_everywhere_and_counted() -> None:
    checked = ground(
        persona(
            goals=[Insight(text="Plan ahead", evidence_ids=["ev-1", "ev-404"])],
            pain_points=[Insight(text="Sync", evidence_ids=["nope"])],
            behaviours=[Insight(text="Portal", evidence_ids=["ev-3"])],
            quotes=[Quote(text="every morning", evidence_ids=["ev-9", "ev-3"], verified=False)],
            evidence_ids=["ev-1", "ev-2", "ev-missing"],
        ),
        records(),
    )
    assert checked.goals[0].evidence_ids == ["ev-1"]
    assert checked.pain_points[0].evidence_ids == []
    assert checked.behaviours[0].evidence_ids == ["ev-3"]
    assert checked.quotes[0].evidence_ids == ["ev-3"]
    assert checked.quotes[0].verified
    assert checked.dropped_evidence_ids == 4


def test_a_quote_citing_only_unknown_ids_is_not_verified() -> None:
    checked = ground(
        persona(quotes=[Quote(text="plan my week", evidence_ids=["ev-0"], verified=True)]),
        records(),
    )
    assert checked.quotes[0].evidence_ids == []
    assert not checked.quotes[0].verified
    assert checked.grounding == 0.0
    assert checked.dropped_evidence_ids == 1


def test_evidence_ids_are_deduplicated_and_include_every_cited_record() -> None:
    checked = ground(
        persona(
            goals=[Insight(text="Plan ahead", evidence_ids=["ev-3", "ev-3"])],
            quotes=[Quote(text="shared calendar", evidence_ids=["ev-2", "ev-2"], verified=False)],
            evidence_ids=["ev-1", "ev-1"],
        ),
        records(),
    )
    assert checked.evidence_ids == ["ev-1", "ev-2", "ev-3"]  # listed first, then as cited
    assert checked.goals[0].evidence_ids == ["ev-3"]
    assert checked.quotes[0].evidence_ids == ["ev-2"]
    assert checked.dropped_evidence_ids == 0


def test_a_persona_without_quotes_is_fully_grounded() -> None:
    checked = ground(persona(evidence_ids=["ev-1"]), records())
    assert checked.grounding == 1.0
    assert checked.dropped_evidence_ids == 0


def test_grounding_leaves_the_other_fields_alone() -> None:
    original = persona(
        demographics={"role": "teacher"},
        quotes=[Quote(text="first class", evidence_ids=["ev-3"], verified=False)],
        evidence_ids=["ev-3"],
    )
    checked = ground(original, records())
    assert (checked.name, checked.title, checked.demographics) == (
        "Ana P.",
        "Weekly planner",
        {"role": "teacher"},
    )
    assert checked.quotes[0].text == "first class"
    assert not original.quotes[0].verified  # a new persona; the input is not changed


def test_large_citation_lists_keep_their_order_without_duplicates() -> None:
    evidence = {
        f"ev-{n:05d}": Evidence(id=f"ev-{n:05d}", source="s.csv", locator=f"row {n}", text="x")
        for n in range(20_000)
    }
    ids = list(reversed(evidence)) * 2 + ["ghost"]
    checked = ground(persona(evidence_ids=ids), evidence)
    assert checked.evidence_ids == list(reversed(evidence))
    assert checked.dropped_evidence_ids == 1
