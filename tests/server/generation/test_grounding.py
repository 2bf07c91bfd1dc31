"""Grounding: quotes found, re-attributed or matched approximately; unknown ids dropped."""

from __future__ import annotations

import gc
import re
import unicodedata
import weakref

import pytest
from hypothesis import given
from hypothesis import strategies as st
from persona.generation import evidence_index, textnorm
from persona.generation.grounding import (
    MAX_FOUND_IDS,
    EvidenceIndex,
    ground,
    normalize,
    quote_in_text,
    quote_spans,
)
from persona.generation.textnorm import EDGE_PUNCT
from persona.schemas import Evidence, Insight, PersonaContent, Quote

TEXTS = {
    "ev-1": "I always plan my week on Sunday evening with a \u201cpaper\u201d notebook.",
    "ev-2": "It\u2019s frustrating when the shared calendar\n   does not sync \u2014 every time.",
    "ev-3": "I check the school portal every morning before the first class.",
}


def records() -> EvidenceIndex:
    return EvidenceIndex(
        [
            Evidence(id=evidence_id, source="notes.md", locator=f"line {n}", text=text)
            for n, (evidence_id, text) in enumerate(TEXTS.items(), start=1)
        ]
    )


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


def test_normalize_is_the_regular_expression_form_it_replaced() -> None:
    @given(st.text(ALPHABET + "\u2028\x1c\u3000", max_size=80))
    def check(text: str) -> None:
        old = unicodedata.normalize("NFKC", text).translate(textnorm._QUOTE_MARKS)
        assert normalize(text) == re.sub(r"\s+", " ", old).strip().casefold()

    check()


# --------------------------------------------------------------------------- ground


def test_quotes_are_verified_where_they_are_and_miscited_ones_corrected() -> None:
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
    assert [(q.verified, q.citation, q.match) for q in checked.quotes] == [
        (True, "given", "exact"),
        (True, "corrected", "exact"),
        (True, "given", "exact"),
        (False, "given", "none"),
    ]
    assert [q.evidence_ids for q in checked.quotes] == [
        ["ev-1"],
        ["ev-1"],  # where it really is
        ["ev-3", "ev-2"],  # found in one of those it cites: left as cited
        ["ev-2"],
    ]
    assert checked.grounding.score == 0.75
    assert (checked.grounding.quotes_verified, checked.grounding.quotes_corrected) == (3, 1)
    assert checked.grounding.quotes_unverified == 1


def test_a_verbatim_quote_citing_nothing_is_attributed_to_its_record() -> None:
    checked = ground(
        persona(quotes=[Quote(text="The school portal", evidence_ids=[], verified=False)]),
        records(),
    )
    (quote,) = checked.quotes
    assert (quote.verified, quote.citation, quote.evidence_ids) == (True, "corrected", ["ev-3"])
    assert quote.source_text is None
    assert checked.evidence_ids == ["ev-3"]


def test_a_quote_citing_only_unknown_ids_is_found_where_it_is() -> None:
    checked = ground(
        persona(quotes=[Quote(text="plan my week", evidence_ids=["ev-0"], verified=False)]),
        records(),
    )
    assert checked.quotes[0].evidence_ids == ["ev-1"]
    assert checked.quotes[0].verified
    assert checked.quotes[0].citation == "corrected"
    assert checked.grounding.score == 1.0
    assert checked.dropped_evidence_ids == 1


def test_an_invented_quote_is_unverified_and_keeps_its_known_ids() -> None:
    checked = ground(
        persona(
            quotes=[Quote(text="Checkout is a delight", evidence_ids=["ev-2", "x"], verified=True)]
        ),
        records(),
    )
    (quote,) = checked.quotes
    assert (quote.verified, quote.match, quote.citation) == (False, "none", "given")
    assert quote.evidence_ids == ["ev-2"]
    assert quote.source_text is None
    assert checked.grounding.score == 0.0
    assert checked.grounding.quotes_unverified == 1


@pytest.mark.parametrize(
    ("text", "cited", "source_text", "citation"),
    [
        (  # a word changed
            "I always plan my month on Sunday evening with a paper notebook",
            ["ev-1"],
            "I always plan my week on Sunday evening with a \u201cpaper\u201d notebook",
            "given",
        ),
        (  # punctuation different, and cited nowhere
            "It's frustrating, when the shared calendar does not sync, every time!",
            [],
            "It\u2019s frustrating when the shared calendar\n   does not sync \u2014 every time",
            "corrected",
        ),
        (  # a word missing, citing another record
            "I check the school portal every morning before first class",
            ["ev-1"],
            "I check the school portal every morning before the first class",
            "corrected",
        ),
    ],
)
def test_a_near_verbatim_quote_is_approximate_with_the_exact_source_text(
    text: str, cited: list[str], source_text: str, citation: str
) -> None:
    checked = ground(
        persona(quotes=[Quote(text=text, evidence_ids=cited, verified=True)]), records()
    )
    (quote,) = checked.quotes
    assert (quote.verified, quote.match, quote.citation) == (False, "approximate", citation)
    assert quote.source_text == source_text
    assert quote.evidence_ids == [next(i for i, t in TEXTS.items() if source_text in t)]
    assert checked.grounding.quotes_approximate == 1
    assert checked.grounding.score == 0.0


def test_a_short_record_inside_a_long_invented_quote_is_no_match() -> None:
    index = EvidenceIndex([Evidence(id="ev-yes", source="s.csv", locator="row 2", text="Yes.")])
    quote = Quote(text="Yes, and the new app is much better than the old one", verified=False)
    checked = ground(persona(quotes=[quote]), index)
    assert checked.quotes[0].match == "none"


def test_insights_without_existing_evidence_are_unsupported() -> None:
    checked = ground(
        persona(
            goals=[Insight(text="Plan ahead", evidence_ids=["ev-1"])],
            pain_points=[
                Insight(text="Sync", evidence_ids=["nope"]),
                Insight(text="Noise", evidence_ids=[]),
            ],
            behaviours=[Insight(text="Portal", evidence_ids=["ev-404", "ev-3"])],
        ),
        records(),
    )
    assert [i.supported for i in checked.goals] == [True]
    assert [i.supported for i in checked.pain_points] == [False, False]
    assert [i.supported for i in checked.behaviours] == [True]
    grounding = checked.grounding
    assert (grounding.insights_supported, grounding.insights_unsupported) == (2, 2)
    assert grounding.score == 1.0  # no quotes
    assert checked.dropped_evidence_ids == 2


def test_counts_add_up_over_every_kind_of_quote() -> None:
    checked = ground(
        persona(
            quotes=[
                Quote(text="every morning", evidence_ids=["ev-3"], verified=False),
                Quote(text="the shared calendar", evidence_ids=["ev-1"], verified=False),
                Quote(text="before the first class", evidence_ids=[], verified=False),
                Quote(
                    text="I check the school portal every mornin before the first class",
                    verified=False,
                ),
                Quote(text="Nobody said this", evidence_ids=["ev-1"], verified=False),
            ],
            goals=[Insight(text="Plan ahead", evidence_ids=["ev-1"])],
        ),
        records(),
    )
    assert checked.grounding.model_dump() == {
        "quotes_verified": 3,
        "quotes_corrected": 2,
        "quotes_approximate": 1,
        "quotes_unverified": 1,
        "insights_supported": 1,
        "insights_unsupported": 0,
        "score": 0.6,
    }


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
    assert checked.quotes[0].citation == "given"
    assert checked.dropped_evidence_ids == 4


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
    assert checked.grounding.score == 1.0
    assert checked.grounding.quotes_verified == checked.grounding.quotes_unverified == 0
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
    evidence = [
        Evidence(id=f"ev-{n:05d}", source="s.csv", locator=f"row {n}", text="x")
        for n in range(20_000)
    ]
    ids = [e.id for e in reversed(evidence)] * 2 + ["ghost"]
    checked = ground(persona(evidence_ids=ids), EvidenceIndex(evidence))
    assert checked.evidence_ids == [e.id for e in reversed(evidence)]
    assert checked.dropped_evidence_ids == 1


def test_a_quote_in_many_records_is_attributed_to_the_first_few() -> None:
    evidence = [
        Evidence(id=f"ev-{n}", source="s.csv", locator=f"row {n}", text=f"{n}: I don't know.")
        for n in range(10)
    ]
    checked = ground(
        persona(quotes=[Quote(text="I don't know", verified=False)]), EvidenceIndex(evidence)
    )
    assert checked.quotes[0].evidence_ids == ["ev-0", "ev-1", "ev-2"][:MAX_FOUND_IDS]


def test_the_index_is_shared_by_lists_of_the_same_evidence_objects() -> None:
    evidence = [Evidence(id="ev-1", source="s.csv", locator="row 2", text=TEXTS["ev-1"])]
    index = EvidenceIndex.of(evidence)
    assert EvidenceIndex.of(list(evidence)) is index
    copies = [item.model_copy() for item in evidence]
    assert EvidenceIndex.of(copies) is not index
    assert index.by_id == {"ev-1": evidence[0]}


# --------------------------------------------------------------------------- quote_spans

SPANNED = (
    "She said: \u201cI  ALWAYS plan\u00a0my week\u201d \u2014 "
    "\ufb01nally \uff26\uff55\uff4c\uff4c  Stop."
)


def spans(quote: Quote, text: str) -> list[str]:
    return [text[span.start : span.end] for span in quote_spans(quote, text)]


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("i always plan my week", ["I  ALWAYS plan\u00a0my week"]),
        ("\u201cI always plan my week.\u201d", ["I  ALWAYS plan\u00a0my week"]),
        (
            'week" - finally full stop',
            ["week\u201d \u2014 \ufb01nally \uff26\uff55\uff4c\uff4c  Stop"],
        ),
        ("FINALLY", ["\ufb01nally"]),
        ("inally", []),  # half of what the ligature became is not the ligature
        ("Nobody said this", []),
    ],
)
def test_spans_are_offsets_into_the_original_text(quote: str, expected: list[str]) -> None:
    assert spans(Quote(text=quote, verified=True), SPANNED) == expected


def test_every_occurrence_is_a_span_and_case_folding_may_change_lengths() -> None:
    text = "Stra\u00dfe or STRASSE? strasse."
    found = quote_spans(Quote(text="strasse", verified=True), text)
    assert [(s.start, s.end) for s in found] == [(0, 6), (10, 17), (19, 26)]
    assert spans(Quote(text="yes", verified=True), "Yes. yes, YES") == ["Yes", "yes", "YES"]


def test_an_approximate_quote_spans_its_source_text() -> None:
    checked = ground(
        persona(
            quotes=[
                Quote(
                    text="It's frustrating, when the shared calendar does not sync", verified=False
                )
            ]
        ),
        records(),
    )
    (quote,) = checked.quotes
    assert quote.match == "approximate"
    assert spans(quote, TEXTS["ev-2"]) == [quote.source_text]


@given(
    st.lists(st.text(ALPHABET, min_size=1, max_size=120), min_size=1, max_size=6),
    st.data(),
)
def test_a_quote_cut_from_a_record_is_verified_and_spans_itself(
    texts: list[str], data: st.DataObject
) -> None:
    evidence = [
        Evidence(id=f"ev-{n}", source="s.csv", locator=f"row {n}", text=text)
        for n, text in enumerate(texts)
    ]
    source = data.draw(st.integers(0, len(texts) - 1))
    text = texts[source]
    start = data.draw(st.integers(0, len(text) - 1))
    piece = text[start : data.draw(st.integers(start + 1, len(text)))]
    wanted = normalize(piece).strip(EDGE_PUNCT)
    if not wanted:
        return
    checked = ground(persona(quotes=[Quote(text=piece, verified=False)]), EvidenceIndex(evidence))
    (quote,) = checked.quotes
    assert quote.verified and quote.match == "exact"
    assert all(wanted in normalize(evidence[int(i[3:])].text) for i in quote.evidence_ids)
    found = quote_spans(quote, text)
    assert found
    for span in found:
        assert normalize(text[span.start : span.end]) == wanted


def test_an_index_over_large_evidence_does_not_keep_it_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(evidence_index, "CACHED_RECORDS", 2)
    evidence = [
        Evidence(id=f"ev-{n}", source="s.csv", locator=f"row {n}", text=f"Answer {n}.")
        for n in range(3)
    ]
    index = EvidenceIndex.of(evidence)
    assert index.by_id["ev-1"] is evidence[1]
    held = weakref.ref(evidence[0])

    del evidence, index
    gc.collect()

    assert held() is None


def test_a_persona_lists_the_participants_of_the_records_it_ends_up_citing() -> None:
    index = EvidenceIndex(
        [
            Evidence(id="ev-1", source="a.csv", locator="row 2", participant="P2", text="one"),
            Evidence(id="ev-2", source="a.csv", locator="row 3", participant="P1", text="two"),
            Evidence(id="ev-3", source="a.csv", locator="row 4", text="a note with no speaker"),
            Evidence(id="ev-4", source="a.csv", locator="row 5", participant="P9", text="four"),
        ]
    )
    persona = PersonaContent(
        name="Ada",
        title="Ops lead",
        goals=[Insight(text="one", evidence_ids=["ev-1", "ev-gone"])],
        quotes=[Quote(text="a note with no speaker", evidence_ids=["ev-2"], verified=False)],
        evidence_ids=["ev-2"],
        participants=["P9"],  # what a model claims is replaced by what the evidence says
    )

    grounded = ground(persona, index)

    assert grounded.participants == ["P1", "P2"]
