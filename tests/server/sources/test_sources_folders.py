"""Folders, limits and the cheap validation done when an experiment is created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.sources import SUPPORTED_EXTENSIONS, check_sources, load_evidence
from persona.sources.decoding import format_bytes

CSV = "participant,response\nP1,The weekly report takes an hour to build.\n"
GiB = 1024**3


def names(paths: list[Path], data_dir: Path) -> list[str]:
    return [p.relative_to(data_dir.resolve()).as_posix() for p in paths]


def test_folder_is_walked_recursively_in_name_order(data_dir: Path, make_file) -> None:
    for name in ["b/2.txt", "a.md", "b/1.csv", "b/c/0.json", "c.txt", "B.txt", "b/10.jsonl"]:
        make_file(name, '[{"text": "x y"}]' if name.endswith("json") else "some words")
    files = check_sources(["."], data_dir=data_dir)
    assert names(files, data_dir) == [
        "B.txt",
        "a.md",
        "b/1.csv",
        "b/10.jsonl",
        "b/2.txt",
        "b/c/0.json",
        "c.txt",
    ]


def test_hidden_entries_and_other_file_types_are_skipped(data_dir: Path, make_file) -> None:
    make_file("notes/a.txt", "kept")
    make_file("notes/.draft.txt", "hidden file")
    make_file("notes/.git/config.txt", "hidden folder")
    make_file("notes/photo.jpg", b"\xff\xd8\xff")
    make_file("notes/report.PDF", b"%PDF")
    make_file("notes/README", "no extension")
    make_file("notes/UPPER.TXT", "extension case does not matter")
    os.mkfifo(data_dir / "notes" / "pipe.txt")  # skipped, never opened
    files = check_sources(["notes"], data_dir=data_dir)
    assert names(files, data_dir) == ["notes/UPPER.TXT", "notes/a.txt"]
    evidence = load_evidence(["notes"], data_dir=data_dir)
    assert [e.text for e in evidence] == ["extension case does not matter", "kept"]


def test_folder_without_data_files_is_an_error(data_dir: Path, make_file) -> None:
    make_file("scans/page1.png", b"\x89PNG")
    with pytest.raises(SourceError) as caught:
        check_sources(["scans"], data_dir=data_dir)
    assert str(caught.value).startswith("scans: the folder holds no data files (.csv, ")


def test_symlink_out_of_a_folder_is_rejected(data_dir: Path, make_file) -> None:
    secret = data_dir.parent / "outside" / "secret.csv"
    secret.write_text(CSV)
    make_file("notes/a.txt", "fine")
    (data_dir / "notes" / "sneaky.csv").symlink_to(secret)
    with pytest.raises(SourceError) as caught:
        check_sources(["notes"], data_dir=data_dir)
    assert str(caught.value) == (
        "notes/sneaky.csv: is a symbolic link to a place outside the data directory"
    )
    assert caught.value.location == ["data_sources", 0]


def test_symlinked_folder_out_of_a_folder_is_rejected(data_dir: Path, make_file) -> None:
    make_file("notes/a.txt", "fine")
    (data_dir / "notes" / "elsewhere").symlink_to(data_dir.parent / "outside")
    with pytest.raises(SourceError, match="notes/elsewhere: is a symbolic link"):
        check_sources(["notes"], data_dir=data_dir)


def test_symlinks_inside_are_followed_once_and_cycles_end(data_dir: Path, make_file) -> None:
    make_file("raw/a.txt", "alpha")
    make_file("notes/b.txt", "beta")
    (data_dir / "notes" / "also-a.txt").symlink_to(data_dir / "raw" / "a.txt")
    (data_dir / "notes" / "raw-link").symlink_to(data_dir / "raw")
    (data_dir / "notes" / "loop").symlink_to(data_dir / "notes")
    (data_dir / "notes" / "dangling.txt").symlink_to(data_dir / "gone.txt")
    (data_dir / "notes" / "picture.png").symlink_to(data_dir / "raw" / "a.txt")
    files = check_sources(["notes", "raw"], data_dir=data_dir)
    # raw/a.txt is reached three ways and read once, under its real name.
    assert names(files, data_dir) == ["raw/a.txt", "notes/b.txt"]


def test_same_file_named_twice_is_read_once(data_dir: Path, make_file) -> None:
    make_file("interviews.csv", CSV)
    evidence = load_evidence(["interviews.csv", "./interviews.csv", "."], data_dir=data_dir)
    assert len(evidence) == 1


def test_folder_over_the_file_limit_is_rejected(data_dir: Path, make_file) -> None:
    folder = data_dir / "many"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"{i:05}.txt").write_text("x")
    with pytest.raises(SourceError) as caught:
        check_sources(["many"], data_dir=data_dir, max_folder_files=5_000)
    assert str(caught.value) == (
        "many: the folder holds more than 5000 data files (setting PERSONA_MAX_FOLDER_FILES); "
        "choose a smaller folder"
    )
    assert caught.value.location == ["data_sources", 0]
    assert len(check_sources(["many"], data_dir=data_dir, max_folder_files=10_000)) == 10_000


def test_limit_counts_data_files_in_nested_folders(data_dir: Path, make_file) -> None:
    for i in range(3):
        make_file(f"deep/{i}/x.txt", "x")
        make_file(f"deep/{i}/ignored.bin", b"\x00")
    assert len(check_sources(["deep"], data_dir=data_dir, max_folder_files=3)) == 3
    with pytest.raises(SourceError, match="more than 2 data files"):
        check_sources(["deep"], data_dir=data_dir, max_folder_files=2)


def test_sparse_gigabyte_file_is_rejected_by_size(data_dir: Path) -> None:
    big = data_dir / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(GiB)  # sparse: takes no disk space
    with pytest.raises(SourceError) as caught:
        load_evidence(["big.txt"], data_dir=data_dir)
    assert str(caught.value) == (
        "big.txt: the data sources total 1.0 GiB, above the limit of 50.0 MiB "
        "(setting PERSONA_MAX_SOURCE_BYTES)"
    )
    assert caught.value.location == ["data_sources", 0]


def test_size_limit_is_over_all_sources_together(data_dir: Path, make_file) -> None:
    make_file("a.txt", "a" * 600)
    make_file("b.txt", "b" * 600)
    assert len(check_sources(["a.txt"], data_dir=data_dir, max_total_bytes=1000)) == 1
    with pytest.raises(SourceError) as caught:
        check_sources(["a.txt", "b.txt"], data_dir=data_dir, max_total_bytes=1000)
    assert str(caught.value).startswith("b.txt: the data sources total 1.2 KiB, above the limit")
    assert caught.value.location == ["data_sources", 1]


def test_empty_file_is_rejected_by_name(data_dir: Path, make_file) -> None:
    make_file("notes/ok.txt", "fine")
    make_file("notes/zero.md", "")
    with pytest.raises(SourceError) as caught:
        check_sources(["notes"], data_dir=data_dir)
    assert str(caught.value) == "notes/zero.md: the file is empty"


@pytest.mark.parametrize(
    ("name", "shown"), [("report.pdf", ".pdf"), ("README", "(none)"), ("data.xlsx", ".xlsx")]
)
def test_unsupported_extension_is_rejected(data_dir: Path, make_file, name, shown) -> None:
    make_file(name, "content")
    with pytest.raises(SourceError) as caught:
        check_sources([name], data_dir=data_dir)
    message = str(caught.value)
    assert message.startswith(f"{name}: unsupported file extension {shown}; supported: ")
    for extension in SUPPORTED_EXTENSIONS:
        assert extension in message


def test_errors_name_the_index_of_the_source(data_dir: Path, make_file) -> None:
    make_file("a.txt", "fine")
    with pytest.raises(SourceError) as caught:
        check_sources(["a.txt", "a.txt", "../x.csv"], data_dir=data_dir)
    assert caught.value.location == ["data_sources", 2]


def test_check_sources_does_not_parse(data_dir: Path, make_file) -> None:
    make_file("broken.json", "{not json")
    assert names(check_sources(["broken.json"], data_dir=data_dir), data_dir) == ["broken.json"]
    with pytest.raises(SourceError, match="malformed JSON"):
        load_evidence(["broken.json"], data_dir=data_dir)


def test_a_lone_string_is_one_source(data_dir: Path, make_file) -> None:
    make_file("a.txt", "fine")
    assert len(check_sources("a.txt", data_dir=data_dir)) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1536, "1.5 KiB"),
        (50 * 1024**2, "50.0 MiB"),
        (3 * GiB, "3.0 GiB"),
        (5 * 1024**5, "5120.0 TiB"),
    ],
)
def test_sizes_are_shown_in_binary_units(size: int, shown: str) -> None:
    assert format_bytes(size) == shown
