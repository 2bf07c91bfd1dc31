"""Loading several sources: the shipped examples, stable ids, laziness, error locations."""

from __future__ import annotations

import inspect
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.schemas import Evidence
from persona.sources import evidence_id, iter_evidence, load_evidence

EXAMPLE_SOURCES = ["interviews.csv", "survey.json", "transcripts"]


def test_examples_load_with_participants_and_segments(examples_dir: Path) -> None:
    evidence = load_evidence(EXAMPLE_SOURCES, data_dir=examples_dir)
    by_source = Counter(e.source for e in evidence)
    assert by_source["interviews.csv"] == 45
    assert by_source["survey.json"] == 12
    assert {s for s in by_source if s.startswith("transcripts/")} == {
        "transcripts/interview-dana-operations.md",
        "transcripts/interview-priya-enterprise.md",
        "transcripts/interview-sam-freelance.md",
    }

    interviews = [e for e in evidence if e.source == "interviews.csv"]
    segments: dict[str, set[str]] = defaultdict(set)
    for item in interviews:
        segments[item.attributes["segment"]].add(item.participant or "")
    assert {s: len(p) for s, p in segments.items()} == {
        "Operations": 5,
        "Freelancer": 5,
        "Enterprise IT": 5,
    }
    assert all({"role", "age", "company_size"} <= e.attributes.keys() for e in interviews)
    assert sum("\n" in e.text for e in interviews) >= 3  # quoted multi-line cells

    transcripts = [e for e in evidence if e.source.startswith("transcripts/")]
    assert {e.participant for e in transcripts} == {"Dana", "Priya", "Sam"}
    assert all("question" in e.attributes for e in transcripts)
    assert not any(e.text.startswith(("Can you", "Tell me", "How do")) for e in transcripts)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_every_text_appears_verbatim_in_its_source(examples_dir: Path) -> None:
    for item in load_evidence(EXAMPLE_SOURCES, data_dir=examples_dir):
        raw = (examples_dir / item.source).read_text(encoding="utf-8")
        if item.source.endswith(".json"):
            assert item.text in set(_strings(json.loads(raw)))
        elif item.source.endswith(".csv"):
            assert item.text.replace('"', '""') in raw
        else:
            assert item.text in raw


def test_ids_are_unique_and_stable_across_loads_and_places(
    examples_dir: Path, tmp_path: Path
) -> None:
    first = load_evidence(EXAMPLE_SOURCES, data_dir=examples_dir)
    second = load_evidence(EXAMPLE_SOURCES, data_dir=examples_dir)
    assert [e.id for e in first] == [e.id for e in second]
    assert first == second
    assert len({e.id for e in first}) == len(first)
    assert all(e.id.startswith("ev-") and len(e.id) == 19 for e in first)

    moved = tmp_path / "elsewhere"
    shutil.copytree(examples_dir, moved)
    assert [e.id for e in load_evidence(EXAMPLE_SOURCES, data_dir=moved)] == [e.id for e in first]


def test_id_depends_on_source_and_locator() -> None:
    assert evidence_id("a.csv", "row 2") == evidence_id("a.csv", "row 2")
    assert evidence_id("a.csv", "row 2") != evidence_id("a.csv", "row 3")
    assert evidence_id("a.csv", "row 2") != evidence_id("b.csv", "row 2")
    assert evidence_id("a", "b c") != evidence_id("a b", "c")


def test_iter_evidence_is_a_lazy_generator(data_dir: Path) -> None:
    stream = iter_evidence(["missing.csv"], data_dir=data_dir)
    assert inspect.isgenerator(stream)  # nothing is checked until it is iterated
    with pytest.raises(SourceError, match=r"missing\.csv: does not exist"):
        next(stream)


def test_closing_the_stream_early_closes_the_file(data_dir: Path, make_file) -> None:
    make_file("a.txt", "one\n\ntwo\n\nthree\n")
    stream = iter_evidence(["a.txt"], data_dir=data_dir)
    assert next(stream).text == "one"
    stream.close()
    assert list(stream) == []


def test_mixed_sources_in_order(data_dir: Path, make_file) -> None:
    make_file("b.jsonl", '{"name": "Bo", "text": "From JSONL."}\n')
    make_file("a.csv", "name,text\nAl,From CSV.\n")
    make_file("c/z.md", "Interviewer: Q?\nCy: From Markdown.\n")
    make_file("c/y.txt", "From text.")
    evidence = load_evidence(["b.jsonl", "a.csv", "c"], data_dir=data_dir)
    assert [(e.source, e.participant, e.text) for e in evidence] == [
        ("b.jsonl", "Bo", "From JSONL."),
        ("a.csv", "Al", "From CSV."),
        ("c/y.txt", "y", "From text."),
        ("c/z.md", "Cy", "From Markdown."),
    ]
    assert all(isinstance(e, Evidence) for e in evidence)


def test_parse_error_carries_the_index_of_its_source(data_dir: Path, make_file) -> None:
    make_file("good.csv", "name,text\nAl,Fine.\n")
    make_file("notes/ok.txt", "fine")
    make_file("notes/zz.json", "{oops")
    with pytest.raises(SourceError) as caught:
        load_evidence(["good.csv", "notes"], data_dir=data_dir)
    assert caught.value.location == ["data_sources", 1]
    assert str(caught.value).startswith("notes/zz.json: line 1, column 2: malformed JSON")
    assert caught.value.source == "notes/zz.json"


def test_text_column_applies_to_tabular_files_only(data_dir: Path, make_file) -> None:
    make_file("a.csv", "name,quote,long_notes\nAl,Short quote.,Much longer notes than the quote.\n")
    make_file("b.txt", "Paragraph text.")
    evidence = load_evidence(["a.csv", "b.txt"], data_dir=data_dir, text_column="quote")
    assert [e.text for e in evidence] == ["Short quote.", "Paragraph text."]


def test_read_records_are_the_same_as_validated_ones_and_copy_apart(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text(
        "participant,role,answer\nP1,Designer,I want faster exports.\n"
        "P1,Designer,Exports are slow.\nP2,Designer,I usually print them.\n"
    )
    first, second, third = load_evidence(["rows.csv"], data_dir=tmp_path)

    for item in (first, second, third):
        assert item == Evidence.model_validate(item.model_dump())
        assert item.model_dump(exclude_unset=True) == item.model_dump()
    changed = first.model_copy(update={"text": "Changed."})
    assert changed.text == "Changed." and first.text == "I want faster exports."
    assert second.model_dump(exclude_unset=True) == second.model_dump()
    # Values a file repeats are held once.
    assert first.participant is second.participant
    assert first.attributes["role"] is third.attributes["role"]
