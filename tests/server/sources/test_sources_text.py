"""Markdown transcripts and plain-text notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.sources import load_evidence
from persona.sources.text import is_interviewer, speaker_label


def load(name: str, data_dir: Path):
    return load_evidence([name], data_dir=data_dir)


def turns(evidence) -> list[tuple[str | None, str, str]]:
    return [(e.participant, e.locator, e.text) for e in evidence]


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("**Dana:** I copy orders by hand.", ("Dana", "I copy orders by hand.")),
        ("**Dana**: I copy orders by hand.", ("Dana", "I copy orders by hand.")),
        ("__P1:__ text", ("P1", "text")),
        ("**P1**:", ("P1", "")),
        ("Dana: I copy orders by hand.", ("Dana", "I copy orders by hand.")),
        ("P1: yes", ("P1", "yes")),
        ("Speaker 2: hello there", ("Speaker 2", "hello there")),
        ("Dana (ops lead): hi", ("Dana (ops lead)", "hi")),
        ("Dr. Lee: hi", ("Dr. Lee", "hi")),
        ("Émile: bonjour", ("Émile", "bonjour")),
        ("[00:12:31] Interviewer: and then?", ("Interviewer", "and then?")),
        ("(01:02) P3: right", ("P3", "right")),
        ("- **Sam:** a list item turn", ("Sam", "a list item turn")),
        ("Q: Why?", ("Q", "Why?")),
    ],
)
def test_speaker_labels(line: str, expected: tuple[str, str]) -> None:
    assert speaker_label(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "https://example.com/page",
        "See https://example.com for details",
        "10:30 stand-up with the team",
        "Key takeaways: pricing matters",
        "so what I kept saying was: make it simpler",
        "The Very Long Label Of Many Words: text",
        "Dana:",  # a plain label needs words after it
        "Dana:no space",
        "**bold text** without a colon",
        "3 things: a, b, c",
    ],
)
def test_lines_that_are_not_labels(line: str) -> None:
    assert speaker_label(line) is None


@pytest.mark.parametrize(
    ("speaker", "expected"),
    [
        ("Interviewer", True),
        ("interviewer 2", True),
        ("Moderator", True),
        ("UX Researcher", True),
        ("Host", True),
        ("Ghost", False),
        ("Researcher (Kim)", True),
        ("Facilitator", True),
        ("Q", True),
        ("I", True),
        ("Dana", False),
        ("P1", False),
        ("Ingrid", False),
        ("Questioner", False),
    ],
)
def test_interviewer_detection(speaker: str, expected: bool) -> None:
    assert is_interviewer(speaker) is expected


# --------------------------------------------------------------------------- transcripts


def test_markdown_transcript(fixtures_dir: Path) -> None:
    evidence = load("transcript.md", fixtures_dir)
    assert turns(evidence) == [
        (
            "Dana",
            "line 12-13",
            "I copy orders from the inbox into the tracker.\nIt takes the first hour of my day.",
        ),
        ("Dana", "line 17", "Nobody set up the integration."),
    ]
    assert evidence[0].attributes == {
        "role": "Operations manager",
        "question": "What does a normal Monday look like?",
    }
    assert evidence[1].attributes["question"] == "Why by hand?"
    assert all(e.source == "transcript.md" for e in evidence)


def test_interviewer_words_are_never_evidence(data_dir: Path, make_file) -> None:
    make_file(
        "t.md",
        "Moderator: What slows you down?\n"
        "P1: Approvals.\n"
        "P2: Meetings, mostly.\n"
        "Moderator: And after that?\n"
        "Moderator: Take your time.\n"
        "P1: Reporting.\n",
    )
    evidence = load("t.md", data_dir)
    assert turns(evidence) == [
        ("P1", "line 2", "Approvals."),
        ("P2", "line 3", "Meetings, mostly."),
        ("P1", "line 6", "Reporting."),
    ]
    # Every participant turn carries the latest question; two in a row keep the last.
    assert [e.attributes["question"] for e in evidence] == [
        "What slows you down?",
        "What slows you down?",
        "Take your time.",
    ]


def test_turn_before_any_question_has_no_question(data_dir: Path, make_file) -> None:
    make_file("t.md", "Dana: I'll start.\nInterviewer: Go on.\nDana: So.\n")
    first, second = load("t.md", data_dir)
    assert first.attributes == {}
    assert second.attributes == {"question": "Go on."}


def test_generic_answer_labels_use_the_file_stem(data_dir: Path, make_file) -> None:
    make_file("interviews/p07.txt", "Q: What do you pay for?\nA: Only the invoicing tool.\n")
    (evidence,) = load("interviews/p07.txt", data_dir)
    assert (evidence.participant, evidence.text) == ("p07", "Only the invoicing tool.")
    assert evidence.attributes == {"question": "What do you pay for?"}


def test_generic_answer_labels_use_the_front_matter_participant(data_dir, make_file) -> None:
    make_file(
        "s.md",
        "---\nparticipant: Sam\nsegment: 'freelance'\nnotes:\n---\n"
        "**Interviewer:** Price?\n**Respondent:** Too high.\n",
    )
    (evidence,) = load("s.md", data_dir)
    assert evidence.participant == "Sam"
    assert evidence.attributes == {"segment": "freelance", "question": "Price?"}


def test_label_alone_on_its_line_starts_a_multiline_turn(data_dir: Path, make_file) -> None:
    make_file(
        "t.md",
        "**Interviewer:**\nWhat happens on Fridays?\n\n**Dana:**\n\nWe reconcile.\n\nBy hand.\n\n",
    )
    (evidence,) = load("t.md", data_dir)
    assert (evidence.locator, evidence.text) == ("line 4-8", "We reconcile.\n\nBy hand.")
    assert evidence.attributes == {"question": "What happens on Fridays?"}


def test_dialogue_without_an_interviewer_needs_recurring_speakers(data_dir, make_file) -> None:
    make_file("focus.md", "Ana: I plan on Mondays.\nBo: I don't plan.\nAna: Really?\nBo: Never.\n")
    assert [e.participant for e in load("focus.md", data_dir)] == ["Ana", "Bo", "Ana", "Bo"]


def test_note_headings_do_not_make_a_transcript(data_dir: Path, make_file) -> None:
    make_file(
        "notes.md",
        "Summary: pricing is the top concern.\n\nContext: five calls in March.\n",
    )
    evidence = load("notes.md", data_dir)
    assert turns(evidence) == [
        ("notes", "line 1", "Summary: pricing is the top concern."),
        ("notes", "line 3", "Context: five calls in March."),
    ]


def test_timestamped_transcript_in_a_txt_file(data_dir: Path, make_file) -> None:
    make_file(
        "call.txt",
        "[00:00:05] Interviewer: Tell me about invoicing.\r\n"
        "[00:00:09] Priya: It's a mess.\r\n"
        "We use three tools.\r\n",
    )
    (evidence,) = load("call.txt", data_dir)
    assert (evidence.participant, evidence.locator) == ("Priya", "line 2-3")
    assert evidence.text == "It's a mess.\nWe use three tools."


def test_transcript_with_only_interviewer_turns_gives_nothing(data_dir, make_file) -> None:
    make_file("t.md", "Interviewer: Hello?\nModerator: Anyone?\n")
    assert load("t.md", data_dir) == []


# --------------------------------------------------------------------------- plain text


def test_txt_paragraphs(fixtures_dir: Path) -> None:
    evidence = load("notes.txt", fixtures_dir)
    assert turns(evidence) == [
        (
            "notes",
            "line 1-2",
            "First observation: the team uses three trackers.\nNobody trusts any of them.",
        ),
        ("notes", "line 5", "Second observation: invoices are sent late."),
    ]
    assert evidence[0].attributes == {}


def test_markdown_without_labels_is_split_into_paragraphs(data_dir, make_file) -> None:
    make_file(
        "field-notes.md",
        "---\nsegment: ops\n---\n# Visit to the warehouse\nThey print every order.\n"
        "Twice.\n\n---\n\nThe scanner is unused.\n## Next\n",
    )
    evidence = load("field-notes.md", data_dir)
    assert turns(evidence) == [
        ("field-notes", "line 5-6", "They print every order.\nTwice."),
        ("field-notes", "line 10", "The scanner is unused."),
    ]
    assert evidence[0].attributes == {"segment": "ops"}


def test_unclosed_front_matter_is_ordinary_text(data_dir: Path, make_file) -> None:
    make_file("odd.md", "---\nnot: closed\n\nA paragraph.\n")
    evidence = load("odd.md", data_dir)
    assert [e.text for e in evidence] == ["not: closed", "A paragraph."]


def test_hash_lines_are_text_in_a_txt_file(data_dir: Path, make_file) -> None:
    make_file("n.txt", "# not a heading here\nsame paragraph\n")
    assert [e.text for e in load("n.txt", data_dir)] == ["# not a heading here\nsame paragraph"]


def test_whitespace_only_text_file(fixtures_dir: Path) -> None:
    with pytest.raises(SourceError) as caught:
        load("blank.txt", fixtures_dir)
    assert str(caught.value) == "blank.txt: the file is empty"


def test_undecodable_markdown_names_the_line(data_dir: Path, make_file) -> None:
    make_file("bad.md", b"# Notes\n\nok line\n\x80 bad\n")
    with pytest.raises(SourceError) as caught:
        load("bad.md", data_dir)
    assert str(caught.value).startswith("bad.md: line 4, byte 17: bytes are not valid UTF-8")
