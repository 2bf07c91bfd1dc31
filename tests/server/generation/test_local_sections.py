"""The offline synthesizer's section scorer: cue phrases, tone and habit markers together."""

from __future__ import annotations

import pytest
from persona.generation.local.sections import BEHAVIOURS, GOALS, PAIN_POINTS, section_of


@pytest.mark.parametrize(
    ("sentence", "section"),
    [
        # A complaint without a fixed cue phrase: the sentiment lexicon finds its tone.
        ("The new rota is a disaster and everyone is upset about it.", PAIN_POINTS),
        ("Honestly the handheld scanners freeze when the wifi drops.", PAIN_POINTS),
        # A habit outweighs a word of trouble in the same sentence.
        (
            "I usually build a quick spreadsheet macro when something annoys me enough.",
            BEHAVIOURS,
        ),
        ("Every morning I walk the aisles before the pickers arrive.", BEHAVIOURS),
        ("On Fridays we count the fast movers together.", BEHAVIOURS),
        # 'Always' before a wish is not a routine.
        ("I always wish the tools could just export to our accounting system.", GOALS),
        ("What we'd love is for repeat prescriptions to be requested online.", GOALS),
        # A bare time marker does not make a complaint a habit.
        ("No-shows cost us about a dozen appointments every week.", PAIN_POINTS),
        ("The depot ships mostly grocery and household goods.", -1),
    ],
)
def test_a_sentence_lands_in_the_section_its_words_and_tone_say(
    sentence: str, section: int
) -> None:
    assert section_of(sentence) == section


def test_the_scorer_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert section_of("It is a terrible, awful tool and I dread opening it.") == PAIN_POINTS
