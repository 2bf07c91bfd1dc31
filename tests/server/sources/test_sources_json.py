"""JSON and JSONL sources."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.sources import iter_evidence, load_evidence
from persona.sources.records import flatten


def load(name: str, data_dir: Path, **kwargs):
    return load_evidence([name], data_dir=data_dir, **kwargs)


def error_of(name: str, data_dir: Path, **kwargs) -> str:
    with pytest.raises(SourceError) as caught:
        load(name, data_dir, **kwargs)
    assert caught.value.location == ["data_sources", 0]
    return str(caught.value)


# --------------------------------------------------------------------------- JSON


def test_object_holding_an_array_with_nested_attributes(fixtures_dir: Path) -> None:
    first, second = load("wrapped.json", fixtures_dir)
    assert (first.source, first.locator, first.participant) == ("wrapped.json", "item 1", "R1")
    assert first.text == "Pricing per seat makes no sense for a team of one."
    assert first.attributes == {
        "role": "Designer",
        "segment": "freelance",
        "nps": "6",
        "tags": "price; export",
    }
    assert "tags" not in second.attributes  # an empty list is an empty value
    assert second.locator == "item 2"


def test_top_level_array(fixtures_dir: Path) -> None:
    evidence = load("array.json", fixtures_dir)
    assert [(e.participant, e.text) for e in evidence] == [
        ("u1", "Onboarding took three calls with support."),
        ("u2", "The mobile app logs me out every day."),
    ]
    assert evidence[0].attributes == {"active": "true"}
    assert evidence[1].attributes == {"active": "false"}  # null values are dropped


def test_json_with_bom(data_dir: Path, make_file) -> None:
    make_file("bom.json", b'\xef\xbb\xbf[{"note": "A note with a BOM in front."}]')
    assert load("bom.json", data_dir)[0].text == "A note with a BOM in front."


def test_text_column_override_may_name_a_nested_key(data_dir: Path, make_file) -> None:
    items = [{"id": "a", "answer": {"text": "short", "detail": "much longer text here"}}]
    make_file("nested.json", json.dumps(items))
    (evidence,) = load("nested.json", data_dir, text_column="text")
    assert evidence.text == "short"
    assert evidence.attributes == {"detail": "much longer text here"}


def test_flatten_names_and_values() -> None:
    flat = flatten(
        {
            "role": "lead",
            "profile": {"role": "admin", "team": {"size": 12}},
            "scores": [1, 2.5, None, False],
            "history": [{"year": 2023}],
            "matrix": [[1, 2]],
            "missing": None,
        }
    )
    assert flat == {
        "role": "lead",
        "profile.role": "admin",
        "size": "12",
        "scores": "1; 2.5; false",
        "history": '[{"year": 2023}]',
        "matrix": "[[1, 2]]",
    }


def test_deep_nesting_is_kept_as_json_text() -> None:
    deep: dict = {"leaf": "bottom"}
    for level in range(20):
        deep = {f"k{level}": deep}
    (value,) = flatten(deep).values()
    assert json.loads(value) is not None
    assert "bottom" in value


def test_malformed_json_names_line_and_column(fixtures_dir: Path) -> None:
    assert error_of("malformed.json", fixtures_dir) == (
        # line 3 opens an object where a ',' between the two objects was due
        "malformed.json: line 3, column 3: malformed JSON: Expecting ',' delimiter"
    )


def test_truncated_json(data_dir: Path, make_file) -> None:
    make_file("cut.json", '[\n  {"a": "b"},\n  {"a": "c"')
    assert error_of("cut.json", data_dir) == (
        "cut.json: line 3, column 12: malformed JSON: Expecting ',' delimiter"
    )


def test_object_without_an_array(fixtures_dir: Path) -> None:
    assert error_of("no_array.json", fixtures_dir) == (
        "no_array.json: no array of objects: found an object; expected a list of objects or an "
        'object holding one, e.g. {"responses": [...]}'
    )


@pytest.mark.parametrize(
    ("content", "found"), [('"just text"', "a string"), ("42", "a number"), ("null", "null")]
)
def test_scalar_document(data_dir: Path, make_file, content: str, found: str) -> None:
    make_file("scalar.json", content)
    assert f"no array of objects: found {found};" in error_of("scalar.json", data_dir)


def test_several_arrays_of_objects(data_dir: Path, make_file) -> None:
    make_file("two.json", json.dumps({"a": [{"x": "1"}], "b": [{"x": "2"}], "tags": ["t"]}))
    assert error_of("two.json", data_dir) == (
        "two.json: the JSON object holds several arrays of objects (a, b); "
        "keep the one with the responses"
    )


@pytest.mark.parametrize("content", ["[]", '{"responses": []}'])
def test_empty_array(data_dir: Path, make_file, content: str) -> None:
    make_file("none.json", content)
    assert error_of("none.json", data_dir) == "none.json: the JSON array is empty"


def test_item_that_is_not_an_object(data_dir: Path, make_file) -> None:
    make_file("mixed.json", '[{"text": "fine answer"}, "stray string"]')
    assert error_of("mixed.json", data_dir) == (
        "mixed.json: item 2: expected an object, found a string"
    )


def test_whitespace_only_json(data_dir: Path, make_file) -> None:
    make_file("blank.json", "  \n\n")
    assert error_of("blank.json", data_dir) == "blank.json: the file is empty"


def test_json_without_a_text_field(data_dir: Path, make_file) -> None:
    make_file("nums.json", '[{"id": 1, "score": 3}, {"id": 2, "score": 4}]')
    assert error_of("nums.json", data_dir).startswith(
        "nums.json: no text column: every column is empty or numeric (columns: id, score)"
    )


def test_integer_too_long_to_convert(data_dir: Path, make_file) -> None:
    make_file("huge.json", '[{"n": ' + "9" * 5000 + "}]")
    assert error_of("huge.json", data_dir).startswith(
        "huge.json: malformed JSON: Exceeds the limit"
    )


def test_nesting_deeper_than_the_parser_allows(data_dir: Path, make_file) -> None:
    make_file("deep.json", "[" * 100_000 + "]" * 100_000)
    assert error_of("deep.json", data_dir) == "deep.json: malformed JSON: nested too deeply"


# --------------------------------------------------------------------------- JSONL


def test_jsonl_lines_and_blank_lines(fixtures_dir: Path) -> None:
    evidence = load("records.jsonl", fixtures_dir)
    assert [(e.participant, e.locator, e.text) for e in evidence] == [
        ("P1", "line 1", "I export to a spreadsheet every Friday."),
        ("P2", "line 3", "The alerts are too noisy to be useful."),
    ]
    assert evidence[0].attributes == {"segment": "ops"}


def test_ndjson_extension(data_dir: Path, make_file) -> None:
    make_file("events.ndjson", '{"user": "u1", "message": "Search is slow on big projects."}\n')
    assert load("events.ndjson", data_dir)[0].participant == "u1"


def test_jsonl_bad_line_is_named(fixtures_dir: Path) -> None:
    assert error_of("bad.jsonl", fixtures_dir) == (
        "bad.jsonl: line 2: malformed JSON: Expecting value (column 32)"  # where 'oops' starts
    )


@pytest.mark.parametrize(("line", "found"), [("[1, 2]", "a list"), ('"text"', "a string")])
def test_jsonl_line_that_is_not_an_object(data_dir: Path, make_file, line: str, found: str):
    make_file("x.jsonl", '{"text": "fine"}\n' + line + "\n")
    assert (
        error_of("x.jsonl", data_dir) == f"x.jsonl: line 2: expected a JSON object, found {found}"
    )


def test_jsonl_integer_too_long(data_dir: Path, make_file) -> None:
    make_file("n.jsonl", '{"text": "ok"}\n{"n": ' + "1" * 5000 + "}\n")
    assert error_of("n.jsonl", data_dir).startswith("n.jsonl: line 2: malformed JSON: Exceeds")


def test_jsonl_nesting_too_deep(data_dir: Path, make_file) -> None:
    make_file("d.jsonl", "[" * 100_000 + "]" * 100_000 + "\n")
    assert error_of("d.jsonl", data_dir) == "d.jsonl: line 1: malformed JSON: nested too deeply"


def test_jsonl_blank_lines_only(data_dir: Path, make_file) -> None:
    make_file("blank.jsonl", "\n \n")
    assert error_of("blank.jsonl", data_dir) == "blank.jsonl: the file is empty"


def test_jsonl_streams(data_dir: Path, make_file) -> None:
    lines = "".join(
        json.dumps({"id": i, "text": f"answer {i} in words"}) + "\n" for i in range(3000)
    )
    make_file("big.jsonl", lines + "{broken\n")
    stream = iter_evidence(["big.jsonl"], data_dir=data_dir)
    assert inspect.isgenerator(stream)
    first = next(stream)
    assert (first.participant, first.text) == ("0", "answer 0 in words")
    with pytest.raises(SourceError, match=r"big\.jsonl: line 3001: malformed JSON"):
        for _ in stream:
            pass
