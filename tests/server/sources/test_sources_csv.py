"""CSV and TSV sources: delimiters, encodings, inference, errors, streaming."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.sources import iter_evidence, load_evidence
from persona.sources.tabular import sniff_delimiter


def load(name: str, data_dir: Path, **kwargs):
    return load_evidence([name], data_dir=data_dir, **kwargs)


def error_of(name: str, data_dir: Path, **kwargs) -> str:
    with pytest.raises(SourceError) as caught:
        load(name, data_dir, **kwargs)
    assert caught.value.location == ["data_sources", 0]
    return str(caught.value)


# --------------------------------------------------------------------------- formats


def test_bom_and_crlf(fixtures_dir: Path) -> None:
    first, second = load("bom.csv", fixtures_dir)
    assert first.participant == "P1"
    assert first.text == "The export button is hidden behind two menus."
    assert first.attributes == {"Role": "Designer"}
    assert (first.source, first.locator) == ("bom.csv", "row 2")
    assert second.text == "I want an API so I can script the weekly report."


def test_semicolon_is_sniffed(fixtures_dir: Path) -> None:
    evidence = load("semicolon.csv", fixtures_dir)
    assert [e.participant for e in evidence] == ["R1", "R2"]
    assert evidence[0].text == "Too expensive, honestly, for two projects a month."
    assert evidence[1].attributes == {"segment": "enterprise"}


def test_tab_in_a_csv_file_is_sniffed(fixtures_dir: Path) -> None:
    evidence = load("tab.csv", fixtures_dir)
    assert [e.participant for e in evidence] == ["U-7", "U-9"]
    assert evidence[0].text == "I keep hitting the upload limit, which is annoying."
    assert evidence[0].attributes == {"plan": "free"}


def test_tsv(fixtures_dir: Path) -> None:
    evidence = load("responses.tsv", fixtures_dir)
    assert [(e.participant, e.attributes["team"]) for e in evidence] == [
        ("Ada", "ops"),
        ("Lin", "finance"),
    ]


def test_quoted_multiline_cells_and_row_numbers(fixtures_dir: Path) -> None:
    evidence = load("multiline.csv", fixtures_dir)
    assert [(e.participant, e.locator) for e in evidence] == [
        ("P1", "row 2"),
        ("P2", "row 3"),
        ("P4", "row 6"),  # row 4 is blank, row 5 has no response
    ]
    assert evidence[0].text == "First line of the answer.\nSecond line, still the same cell."
    assert evidence[1].text == 'She said "it just works" and moved on.'
    assert evidence[2].text == "Another answer\nover\nthree lines."
    assert evidence[2].attributes == {"age": "52"}


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (["a,b,c\n", "1,2,3\n"], ","),
        (["a;b;c\n", "1;2,5;3\n"], ";"),
        (["a\tb\n", "x, y\tz\n"], "\t"),
        (["only one column\n", "a value; with, both\n"], ","),
        (['a,"b\n'], ","),
    ],
)
def test_sniff_delimiter(sample: list[str], expected: str) -> None:
    assert sniff_delimiter(sample, truncated=False) == expected


def test_sniffing_survives_a_sample_that_ends_inside_a_quoted_cell(data_dir, make_file) -> None:
    long_cell = '"' + "word; " * 20_000 + '"'
    rows = [f"P{i};ops;{long_cell if i == 1 else 'short answer, with a comma'}" for i in range(5)]
    make_file("long.csv", "participant;segment;answer\n" + "\n".join(rows) + "\n")
    evidence = load("long.csv", data_dir)
    assert [e.participant for e in evidence] == ["P0", "P1", "P2", "P3", "P4"]
    assert evidence[0].text == "short answer, with a comma"


def test_single_column(data_dir: Path, make_file) -> None:
    make_file("quotes.csv", "quote\nIt is too slow.\nI love the search.\n")
    evidence = load("quotes.csv", data_dir)
    assert [(e.participant, e.text) for e in evidence] == [
        (None, "It is too slow."),
        (None, "I love the search."),
    ]


def test_short_rows_and_trailing_empty_cells_are_accepted(data_dir: Path, make_file) -> None:
    make_file("ragged.csv", "participant,role,response\nP1,ops,Fine answer,,\nP2,Short\n")
    evidence = load("ragged.csv", data_dir, text_column="response")
    assert [(e.participant, e.text) for e in evidence] == [("P1", "Fine answer")]


def test_blank_and_duplicate_headers_get_unique_names(data_dir: Path, make_file) -> None:
    make_file("headers.csv", "note,,note,note\nlong text here,x,second,third\n")
    (evidence,) = load("headers.csv", data_dir)
    assert evidence.text == "long text here"
    assert evidence.attributes == {"column 2": "x", "note (2)": "second", "note (3)": "third"}


# --------------------------------------------------------------------------- inference


def test_text_column_is_the_longest_free_text(data_dir: Path, make_file) -> None:
    make_file(
        "survey.csv",
        "id,segment,score,comment,title,unused\n"
        "1,ops,1234567890123,The dashboard hides the one number I need.,Mr,\n"
        "2,freelance,98765432109876,Invoices go out late every month.,Ms, \n",
    )
    evidence = load("survey.csv", data_dir)
    assert evidence[0].text == "The dashboard hides the one number I need."
    assert evidence[0].participant == "1"
    assert evidence[0].attributes == {"segment": "ops", "score": "1234567890123", "title": "Mr"}


@pytest.mark.parametrize(
    ("header", "participant"),
    [
        ("Participant ID,name,answer", "a"),
        ("name,Respondent,answer", "b"),
        ("id,USER_ID,answer", "b"),
        ("speaker,id,answer", "a"),
        ("id,name,answer", "a"),
        ("Name,team,answer", "a"),
    ],
)
def test_participant_column_preference(
    data_dir: Path, make_file, header: str, participant: str
) -> None:
    make_file("p.csv", f"{header}\na,b,A long free text answer\n")
    (evidence,) = load("p.csv", data_dir)
    assert evidence.participant == participant
    assert evidence.text == "A long free text answer"


def test_text_column_override_is_case_insensitive(fixtures_dir: Path) -> None:
    evidence = load("bom.csv", fixtures_dir, text_column="role")
    assert [e.text for e in evidence] == ["Designer", "Developer"]
    assert evidence[0].attributes == {"Feedback": "The export button is hidden behind two menus."}


def test_overriding_with_the_participant_column_keeps_no_participant(fixtures_dir: Path) -> None:
    evidence = load("bom.csv", fixtures_dir, text_column="Participant")
    assert [(e.text, e.participant) for e in evidence] == [("P1", None), ("P2", None)]


def test_unknown_text_column_lists_the_columns(fixtures_dir: Path) -> None:
    message = error_of("bom.csv", fixtures_dir, text_column="answer")
    assert (
        message == "bom.csv: no text column 'answer'; the columns are: Participant, Role, Feedback"
    )


def test_csv_without_a_text_column(fixtures_dir: Path) -> None:
    message = error_of("numbers_only.csv", fixtures_dir)
    assert message == (
        "numbers_only.csv: no text column: every column is empty or numeric "
        "(columns: id, age, score); name the text column with text_column"
    )


def test_inference_uses_a_sample_but_reads_every_row(data_dir: Path, make_file) -> None:
    rows = [f"P{i},ops,Answer number {i} is long enough to be the text." for i in range(450)]
    make_file("many.csv", "participant,segment,answer\n" + "\n".join(rows) + "\n")
    evidence = load("many.csv", data_dir)
    assert len(evidence) == 450
    assert evidence[-1].locator == "row 451"
    assert evidence[-1].text == "Answer number 449 is long enough to be the text."


# --------------------------------------------------------------------------- errors


def test_zero_byte_file(fixtures_dir: Path) -> None:
    assert error_of("empty.csv", fixtures_dir) == "empty.csv: the file is empty"


def test_blank_lines_only(data_dir: Path, make_file) -> None:
    make_file("blank.csv", "\n\n  \n")
    assert error_of("blank.csv", data_dir) == "blank.csv: the file is empty"


def test_header_without_rows(fixtures_dir: Path) -> None:
    assert error_of("header_only.csv", fixtures_dir) == (
        "header_only.csv: row 1: the file has a header but no data rows"
    )


def test_undecodable_bytes_name_line_and_byte(fixtures_dir: Path) -> None:
    offset = (fixtures_dir / "undecodable.csv").read_bytes().index(b"\xff")
    assert error_of("undecodable.csv", fixtures_dir) == (
        f"undecodable.csv: line 3, byte {offset}: bytes are not valid UTF-8 "
        "(invalid start byte); save the file as UTF-8"
    )


def test_utf16_gets_a_hint(fixtures_dir: Path) -> None:
    assert error_of("utf16.csv", fixtures_dir) == (
        "utf16.csv: line 1, byte 0: the file looks like UTF-16; save it as UTF-8"
    )


def test_byte_offset_counts_the_bom(data_dir: Path, make_file) -> None:
    make_file("bom-bad.csv", b"\xef\xbb\xbfparticipant,response\nP1,ok\xc3\n")
    message = error_of("bom-bad.csv", data_dir)
    assert message.startswith("bom-bad.csv: line 2, byte 29: bytes are not valid UTF-8")


def test_too_many_cells_names_row_and_line(data_dir: Path, make_file) -> None:
    make_file(
        "shifted.csv",
        'participant,response\nP1,"two\nlines"\nP2,Unquoted, comma splits the cell\n',
    )
    assert error_of("shifted.csv", data_dir) == (
        "shifted.csv: row 3, line 4: 3 cells but the header has 2 columns "
        "(an unquoted delimiter in a cell?)"
    )


def test_unclosed_quote_is_reported_with_its_line(data_dir: Path, make_file) -> None:
    body = "x" * 140_000
    make_file("unclosed.csv", f'participant,response\nP1,fine\nP2,"never closed {body}\n')
    message = error_of("unclosed.csv", data_dir)
    assert message.startswith("unclosed.csv: line 3: malformed CSV: field larger than field limit")


# --------------------------------------------------------------------------- streaming


def test_rows_stream_before_the_end_of_the_file_is_read(data_dir: Path, make_file) -> None:
    rows = "".join(f"P{i},A reasonably long answer number {i}.\n" for i in range(2000))
    make_file("stream.csv", ("participant,response\n" + rows).encode() + b"P9,bad \xff byte\n")
    stream = iter_evidence(["stream.csv"], data_dir=data_dir)
    assert inspect.isgenerator(stream)
    assert next(stream).text == "A reasonably long answer number 0."
    with pytest.raises(SourceError, match=r"stream.csv: line 2002, byte \d+: bytes are not valid"):
        for _ in stream:
            pass


def test_file_growing_past_the_budget_while_read(data_dir: Path, make_file) -> None:
    make_file("first.csv", "participant,response\nP1,first answer\n")
    later = make_file("later.csv", "participant,response\nP2,second answer\n")
    stream = iter_evidence(["first.csv", "later.csv"], data_dir=data_dir, max_total_bytes=100)
    assert next(stream).text == "first answer"  # both files were checked: 72 bytes in all
    later.write_text("participant,response\n" + "P2,an answer that keeps going\n" * 10)
    with pytest.raises(SourceError) as caught:
        list(stream)
    assert str(caught.value).startswith("later.csv: while reading: the data sources total")
    assert "above the limit of 100 bytes (setting PERSONA_MAX_SOURCE_BYTES)" in str(caught.value)
    assert caught.value.location == ["data_sources", 1]


def test_rows_with_the_same_attributes_share_one_dict(data_dir: Path, make_file) -> None:
    # A participant's role and plan repeat on each of their rows: held once, not per row.
    make_file(
        "shared.csv",
        "participant,role,plan,answer\n"
        "P1,Nurse,team,I chart at the end of every shift.\n"
        "P1,Nurse,team,The tablet logs me out mid-note.\n"
        "P2,Pharmacist,free,I check every repeat prescription twice.\n",
    )
    first, second, third = load("shared.csv", data_dir)

    assert first.attributes == second.attributes == {"role": "Nurse", "plan": "team"}
    assert first.attributes is second.attributes
    assert third.attributes == {"role": "Pharmacist", "plan": "free"}
    assert third.attributes is not first.attributes
