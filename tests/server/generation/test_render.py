"""Markdown rendering of personas, checked by parsing the output with a CommonMark parser."""

from __future__ import annotations

from datetime import UTC, datetime

from markdown_it import MarkdownIt
from markdown_it.token import Token
from persona.generation.render import MAX_LISTED_EVIDENCE, MAX_SOURCE_CHARS, persona_markdown
from persona.schemas import (
    CitedEvidence,
    EvidenceCitation,
    Grounding,
    Insight,
    Persona,
    PersonaContent,
    Quote,
    TextSpan,
)

PARSER = MarkdownIt("commonmark").enable("table")


def content(**fields: object) -> PersonaContent:
    values: dict[str, object] = {
        "name": "Ana Petrova",
        "title": "Weekly planner",
        "demographics": {"participants": "4", "age": "29\u201352 (median 37.5)"},
        "goals": [Insight(text="I want my week planned by Sunday.", evidence_ids=["ev-1"])],
        "pain_points": [
            Insight(text="The calendar does not sync.", evidence_ids=["ev-2", "ev-3"]),
            Insight(text="Too many apps.", evidence_ids=[]),
        ],
        "behaviours": [Insight(text="I usually use a paper notebook.", evidence_ids=["ev-1"])],
        "quotes": [
            Quote(text="I always plan my week on Sunday.", evidence_ids=["ev-1"], verified=True),
            Quote(text="Nobody said this.", evidence_ids=["ev-2"], verified=False),
        ],
        "evidence_ids": ["ev-1", "ev-2", "ev-3"],
        "grounding": Grounding(quotes_verified=1, quotes_unverified=1, score=0.5),
    }
    values.update(fields)
    return PersonaContent(**values)  # type: ignore[arg-type]


def stored(persona: PersonaContent) -> Persona:
    return Persona(
        **persona.model_dump(),
        id="persona-abc",
        experiment_id="exp-xyz",
        run_id="run-123",
        created_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
    )


def tokens(markdown: str) -> list[Token]:
    return PARSER.parse(markdown)


def texts_after(markdown: str, opening: str) -> list[str]:
    """The inline text of each ``opening`` block (e.g. 'heading_open'), as a reader sees it."""
    found = tokens(markdown)
    return [found[i + 1].content for i, token in enumerate(found) if token.type == opening]


def plain(inline: Token) -> str:
    """What an inline token displays: its text children joined, escapes resolved."""
    return "".join(
        child.content if child.type in {"text", "code_inline"} else "\n"
        for child in inline.children or []
        if child.type in {"text", "code_inline", "softbreak"}
    )


def sections(markdown: str) -> dict[str, list[str]]:
    """Heading text -> the displayed text of each list item / paragraph below it."""
    result: dict[str, list[str]] = {}
    current = ""
    found = tokens(markdown)
    for i, token in enumerate(found):
        if token.type == "heading_open":
            current = found[i + 1].content
            result[current] = []
        elif token.type == "inline" and found[i - 1].type == "paragraph_open":
            result.setdefault(current, []).append(plain(token))
    return result


def test_name_is_the_only_top_heading_and_sections_follow() -> None:
    markdown = persona_markdown(content())
    found = tokens(markdown)
    headings = [
        (t.tag, found[i + 1].content) for i, t in enumerate(found) if t.type == "heading_open"
    ]
    assert headings == [
        ("h1", "Ana Petrova"),
        ("h2", "Demographics"),
        ("h2", "Goals"),
        ("h2", "Pain points"),
        ("h2", "Behaviours"),
        ("h2", "Quotes"),
        ("h2", "Evidence"),
    ]
    assert found[3].type == "paragraph_open"
    assert plain(found[4]) == "Weekly planner \u00b7 invented name"  # the name is made up
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")


def test_the_summary_is_one_paragraph_under_the_title() -> None:
    summary = [
        Insight(text="Ana plans the week *ahead* on paper.", evidence_ids=["ev-1"]),
        Insight(text="Calendars that do not sync get in her way.", evidence_ids=["ev-2"]),
    ]
    found = tokens(persona_markdown(content().model_copy(update={"summary": summary})))
    assert found[6].type == "paragraph_open"
    assert plain(found[7]) == (
        "Ana plans the week *ahead* on paper. Calendars that do not sync get in her way."
    )
    assert found[9].type == "heading_open" and found[10].content == "Demographics"


def test_demographics_are_a_two_column_table() -> None:
    found = tokens(persona_markdown(content()))
    cells = [found[i + 1].content for i, t in enumerate(found) if t.type in {"th_open", "td_open"}]
    assert cells == ["Attribute", "Value", "participants", "4", "age", "29\u201352 (median 37.5)"]


def test_insights_are_list_items_with_their_evidence() -> None:
    items = [plain(t) for t in tokens(persona_markdown(content())) if t.type == "inline"]
    assert "I want my week planned by Sunday. \u2014 evidence: ev-1" in items
    assert "The calendar does not sync. \u2014 evidence: ev-2, ev-3" in items
    assert "Too many apps. \u2014 no evidence cited" in items


def test_quotes_are_blockquotes_marked_verified_or_not() -> None:
    markdown = persona_markdown(content())
    found = tokens(markdown)
    assert sum(t.type == "blockquote_open" for t in found) == 2
    quoted = [
        plain(found[i + 1])
        for i, t in enumerate(found)
        if t.type == "paragraph_open" and t.level == 1  # paragraphs inside a blockquote
    ]
    assert quoted == [
        "I always plan my week on Sunday.",
        "\u2014 \u2713 verified \u00b7 evidence: ev-1",
        "Nobody said this.",
        "\u2014 \u2717 not found in the evidence \u00b7 evidence: ev-2",
    ]


def test_evidence_section_lists_ids_and_grounding() -> None:
    evidence = sections(persona_markdown(content(dropped_evidence_ids=2)))["Evidence"]
    assert evidence == [
        "Grounding: 1 of 2 quotes verified (50%). "
        "2 cited evidence ids did not exist and were removed.",
        "3 records: ev-1, ev-2, ev-3.",
    ]


def test_one_dropped_id_is_reported_in_the_singular() -> None:
    persona = content(dropped_evidence_ids=1, quotes=[], grounding=Grounding())
    evidence = sections(persona_markdown(persona))["Evidence"]
    assert evidence[0] == "1 cited evidence id did not exist and was removed."


def test_long_evidence_lists_are_cut_with_a_count() -> None:
    ids = [f"ev-{n}" for n in range(MAX_LISTED_EVIDENCE + 7)]
    persona = content(evidence_ids=ids, quotes=[], grounding=Grounding())
    (listing,) = sections(persona_markdown(persona))["Evidence"]
    assert listing.startswith(f"{len(ids)} records: ev-0, ev-1,")
    assert f"ev-{MAX_LISTED_EVIDENCE - 1}, and 7 more" in listing
    assert f"ev-{MAX_LISTED_EVIDENCE}," not in listing


def test_empty_sections_say_so() -> None:
    markdown = persona_markdown(
        content(
            demographics={},
            goals=[],
            pain_points=[],
            behaviours=[],
            quotes=[],
            evidence_ids=[],
            grounding=Grounding(),
        )
    )
    found = sections(markdown)
    assert found["Demographics"] == ["None recorded."]
    assert found["Goals"] == found["Quotes"] == ["None found in the evidence."]
    assert found["Evidence"] == ["No evidence records."]


def test_markdown_in_the_data_is_shown_as_written() -> None:
    tricky = "*not bold* _nor this_ [a](link) <b>html</b> | pipe `tick` \\ back"
    markdown = persona_markdown(
        content(
            name="# Ana *",
            title="_Lead_ | ops",
            demographics={"team|size": "1. first"},
            goals=[Insight(text=tricky, evidence_ids=["id`with`ticks"])],
            quotes=[
                Quote(text="- a dash\n1. a number\n# a hash", evidence_ids=["ev-1"], verified=True)
            ],
        )
    )
    found = tokens(markdown)
    inline_types = [child.type for t in found if t.type == "inline" for child in t.children or []]
    # The title's own emphasis and the invented-name mark, nothing from the data.
    assert inline_types.count("em_open") == 2
    assert not {"strong_open", "link_open", "html_inline"} & set(inline_types)
    assert "ordered_list_open" not in {t.type for t in found}
    assert plain(found[1]) == "# Ana *"
    assert len(texts_after(markdown, "heading_open")) == 7
    inline = [plain(t) for t in found if t.type == "inline"]
    assert "_Lead_ | ops \u00b7 invented name" in inline
    assert f"{tricky} \u2014 evidence: id`with`ticks" in inline
    assert "- a dash\n1. a number\n# a hash" in inline
    cells = [found[i + 1] for i, t in enumerate(found) if t.type == "td_open"]
    assert [plain(cell) for cell in cells] == ["team|size", "1. first"]


def test_stored_personas_end_with_their_ids_and_content_does_not() -> None:
    persona = content()
    assert "persona-abc" not in persona_markdown(persona)
    footer = [plain(t) for t in tokens(persona_markdown(stored(persona))) if t.type == "inline"][-1]
    assert footer == (
        "Persona persona-abc \u00b7 experiment exp-xyz \u00b7 run run-123 "
        "\u00b7 created 2026-03-04T05:06:07Z"
    )


def test_rendering_is_deterministic_and_shared_by_stored_and_unstored_forms() -> None:
    persona = content()
    assert persona_markdown(persona) == persona_markdown(content())
    assert persona_markdown(stored(persona)).startswith(persona_markdown(persona))


def test_corrected_and_approximate_quotes_say_so_and_the_note_counts_them() -> None:
    persona = content(
        quotes=[
            Quote(
                text="I plan on Sunday.", evidence_ids=["ev-3"], verified=True, citation="corrected"
            ),
            Quote(
                text="I plan my weeks on Sundays.",
                evidence_ids=["ev-1"],
                verified=False,
                match="approximate",
                source_text="I plan my week on Sunday.",
            ),
        ],
        goals=[Insight(text="Plan ahead.", evidence_ids=[], supported=False)],
        pain_points=[],
        behaviours=[],
        grounding=Grounding(
            quotes_verified=1,
            quotes_corrected=1,
            quotes_approximate=1,
            insights_unsupported=1,
            score=0.5,
        ),
    )

    markdown = persona_markdown(persona)

    found = sections(markdown)
    assert "\u2014 \u2713 verified (citation corrected) \u00b7 evidence: ev-3" in found["Quotes"]
    assert (
        "\u2014 \u2248 approximate: the source says \u201cI plan my week on Sunday.\u201d "
        "\u00b7 evidence: ev-1"
    ) in found["Quotes"]
    assert found["Evidence"][0] == (
        "Grounding: 1 of 2 quotes verified (50%); 1 with a corrected citation; 1 approximate. "
        "1 of 1 goals, pain points and behaviours cite no evidence."
    )


def _record(evidence_id: str, text: str, *cited_by: EvidenceCitation) -> CitedEvidence:
    return CitedEvidence(
        id=evidence_id,
        source="interviews.csv",
        locator=f"row {evidence_id[-1]}",
        participant="P1",
        text=text,
        cited_by=list(cited_by),
    )


def test_sources_list_each_record_a_statement_cites_with_where_it_is() -> None:
    quote = EvidenceCitation(
        section="quotes", index=0, text="plan", spans=[TextSpan(start=2, end=6)]
    )
    goal = EvidenceCitation(section="goals", index=1, text="a goal")
    records = [
        _record("ev-1", "I plan my week on Sunday.", quote, goal),
        _record("ev-2", "Background only."),
    ]

    found = sections(persona_markdown(content(), records))["Sources"]

    assert found[:2] == [
        "interviews.csv \u00b7 row 1 \u00b7 participant P1 (ev-1)\ncited by quote 1, goal 2",
        "I plan my week on Sunday.",
    ]
    assert found[-1] == "2 more of the records listed under Evidence back the persona as a whole."
    assert "Background only." not in persona_markdown(content(), records)


def test_a_long_source_text_is_shortened_around_its_quote() -> None:
    text = "a" * 1000 + " the words that matter " + "b" * 1000
    start = text.index("the words")
    quote = EvidenceCitation(
        section="quotes", index=0, text="the words", spans=[TextSpan(start=start, end=start + 9)]
    )

    found = sections(persona_markdown(content(), [_record("ev-1", text, quote)]))["Sources"]

    excerpt = found[1]
    assert "the words that matter" in excerpt
    assert excerpt.startswith("\u2026") and excerpt.endswith("\u2026")
    assert len(excerpt) <= MAX_SOURCE_CHARS + 2


def test_sources_say_so_when_the_run_stored_no_records() -> None:
    found = sections(persona_markdown(content(), []))["Sources"]

    assert found == ["No stored record is cited by a statement of this persona."]
