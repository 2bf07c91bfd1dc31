"""The cache of parsed source files: reused for the same bytes, never stale, bounded."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.generation.evidence_index import EvidenceIndex
from persona.generation.prompt import render_evidence
from persona.schemas import Evidence
from persona.sources import cache, cached_evidence, load_evidence
from persona.sources.cache import EvidenceCache, footprint

EXAMPLES = Path(__file__).parents[3] / "examples"

CSV = "participant,text\nP1,I export every report by hand\nP2,The dashboard is too slow\n"


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[EvidenceCache]:
    fresh = EvidenceCache(max_bytes=16 * 1024, max_file_bytes=512)
    monkeypatch.setattr(cache, "evidence_cache", fresh)
    monkeypatch.setattr("persona.sources.evidence_cache", fresh)
    yield fresh


def _texts(data_dir: Path, name: str = "notes.csv", **kwargs: object) -> list[str]:
    return [e.text for e in load_evidence([name], data_dir=data_dir, **kwargs)]  # type: ignore[arg-type]


def test_a_second_load_of_the_same_file_comes_from_the_cache(
    tmp_path: Path, fresh_cache: EvidenceCache
) -> None:
    (tmp_path / "notes.csv").write_text(CSV)

    first = load_evidence(["notes.csv"], data_dir=tmp_path)
    second = load_evidence(["notes.csv"], data_dir=tmp_path)

    assert second == first
    assert len(fresh_cache) == 1
    assert fresh_cache.total_bytes == footprint(first)


def test_the_same_bytes_under_other_names_share_one_entry_and_read_as_their_own(
    tmp_path: Path, fresh_cache: EvidenceCache
) -> None:
    names = [f"experiment-{number}/extract.csv" for number in range(20)]
    for name in names:
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_text(CSV)
    first = load_evidence([names[0]], data_dir=tmp_path)
    held = fresh_cache.total_bytes

    served = {name: load_evidence([name], data_dir=tmp_path) for name in names[1:]}

    assert len(fresh_cache) == 1 and fresh_cache.total_bytes == held
    fresh_cache.clear()
    for name, evidence in served.items():
        assert evidence == load_evidence([name], data_dir=tmp_path)  # as parsed under it
        assert {item.source for item in evidence} == {name}
        assert [item.text for item in evidence] == [item.text for item in first]
    assert load_evidence([names[0]], data_dir=tmp_path) == first


def test_the_name_first_read_gets_the_kept_objects_again(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.csv").write_text(CSV)
    first = load_evidence(["a.csv"], data_dir=tmp_path)
    load_evidence(["b.csv"], data_dir=tmp_path)

    again = load_evidence(["a.csv"], data_dir=tmp_path)

    assert all(x is y for x, y in zip(again, first, strict=True))


def test_a_file_rewritten_with_the_same_size_and_mtime_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(CSV)
    stat = path.stat()
    assert _texts(tmp_path)[0] == "I export every report by hand"

    path.write_text(CSV.replace("by hand", "manually"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime

    assert _texts(tmp_path)[0] == "I export every report manually"


def test_the_text_column_is_part_of_the_key(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("participant,text,role\nP1,I export reports,analyst\n")

    assert _texts(tmp_path) == ["I export reports"]
    assert _texts(tmp_path, text_column="role") == ["analyst"]


def test_a_cached_file_still_counts_against_the_byte_budget(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(CSV)
    (tmp_path / "b.csv").write_text(CSV)
    load_evidence(["a.csv", "b.csv"], data_dir=tmp_path)

    with pytest.raises(SourceError, match=r"b\.csv"):
        load_evidence(["a.csv", "b.csv"], data_dir=tmp_path, max_total_bytes=len(CSV) + 10)


def test_files_above_the_entry_limit_are_read_but_not_kept(
    tmp_path: Path, fresh_cache: EvidenceCache
) -> None:
    rows = "".join(f"P{i},answer number {i} about exports\n" for i in range(40))
    (tmp_path / "big.csv").write_text("participant,text\n" + rows)

    texts = _texts(tmp_path, "big.csv")

    assert len(texts) == 40 and texts[-1] == "answer number 39 about exports"
    assert len(fresh_cache) == 0


def evidence(count: int) -> list[Evidence]:
    return [
        Evidence(id=f"e{i}", source="a.csv", locator=f"row {i}", text="I export reports")
        for i in range(count)
    ]


def test_the_least_recently_used_files_leave_first_beyond_the_bound() -> None:
    one = footprint(evidence(1))
    bounded = EvidenceCache(max_bytes=5 * one, max_file_bytes=200)
    bounded.put(("a",), 150, "a.csv", evidence(2))
    bounded.put(("b",), 100, "a.csv", evidence(2))
    assert bounded.get(("a",)) is not None  # "b" is now the least recently used

    bounded.put(("c",), 100, "a.csv", evidence(2))

    assert bounded.get(("b",)) is None
    assert bounded.get(("a",)) is not None and bounded.get(("c",)) is not None
    assert bounded.total_bytes == footprint(evidence(2)) * 2


def test_evidence_larger_than_the_whole_bound_is_not_kept() -> None:
    bounded = EvidenceCache(max_bytes=footprint(evidence(3)), max_file_bytes=200)

    bounded.put(("many",), 100, "a.csv", evidence(4))

    assert len(bounded) == 0 and bounded.total_bytes == 0


@pytest.mark.parametrize(
    "source", ["interviews.csv", "survey.json", "transcripts"], ids=lambda name: name
)
def test_the_memory_estimate_is_close_to_what_used_evidence_really_holds(source: str) -> None:
    """Runs derive values from each record (memos) that live as long as it, so as long as
    the cache keeps it: they are part of what it holds."""
    for item in load_evidence([source], data_dir=EXAMPLES):  # warmed outside the trace
        _use(item)
    cache.evidence_cache.clear()
    tracemalloc.start()
    try:
        loaded = load_evidence([source], data_dir=EXAMPLES)
        for item in loaded:
            _use(item)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert 0.6 * held <= footprint(loaded) <= 1.6 * held


def _use(item: Evidence) -> None:
    """What a run derives from a record and keeps while it lives: grounding's normalised
    text and the prompt's rendering (a quote located, a prompt written)."""
    EvidenceIndex([item]).normalized(0)
    render_evidence(item, "E1")


def _cached(data_dir: Path, *sources: str, max_read_bytes: int = 4096) -> list[str] | None:
    found = cached_evidence(
        list(sources or ["notes.csv"]),
        data_dir=data_dir,
        max_read_bytes=max_read_bytes,
        max_files=4,
    )
    return None if found is None else [e.text for e in found]


def test_cached_evidence_is_there_only_for_bytes_parsed_before(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(CSV)
    assert _cached(tmp_path) is None  # never parsed: load_evidence reads it

    loaded = _texts(tmp_path)
    assert _cached(tmp_path) == loaded

    path.write_text(CSV.replace("by hand", "manually"))
    assert _cached(tmp_path) is None


def test_cached_evidence_leaves_large_or_faulty_sources_to_load_evidence(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text(CSV)
    _texts(tmp_path)

    assert _cached(tmp_path, max_read_bytes=len(CSV) - 1) is None
    assert _cached(tmp_path, "missing.csv") is None
    assert _cached(tmp_path, "notes.csv", "../outside.csv") is None
