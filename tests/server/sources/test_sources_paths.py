"""Resolving data-source strings inside the data directory, and nowhere else."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.sources import check_sources, iter_evidence, load_evidence, resolve_source

CSV = "participant,response\nP1,The weekly report takes an hour to build.\n"


def rejected(source: str, data_dir: Path) -> SourceError:
    with pytest.raises(SourceError) as caught:
        resolve_source(source, data_dir, location=["data_sources", 3])
    assert caught.value.location == ["data_sources", 3]
    return caught.value


# --------------------------------------------------------------------------- accepted


def test_relative_path_resolves_inside(data_dir: Path, make_file) -> None:
    path = make_file("research/interviews.csv", CSV)
    assert resolve_source("research/interviews.csv", data_dir) == path.resolve()
    assert resolve_source("./research/interviews.csv", data_dir) == path.resolve()


def test_dotdot_that_stays_inside_is_accepted(data_dir: Path, make_file) -> None:
    path = make_file("a/interviews.csv", CSV)
    (data_dir / "b").mkdir()
    assert resolve_source("b/../a/interviews.csv", data_dir) == path.resolve()


def test_absolute_path_inside_is_accepted(data_dir: Path, make_file) -> None:
    path = make_file("interviews.csv", CSV)
    assert resolve_source(str(path), data_dir) == path.resolve()


def test_folder_and_data_dir_itself_are_accepted(data_dir: Path, make_file) -> None:
    make_file("notes/a.txt", "text")
    assert resolve_source("notes", data_dir) == (data_dir / "notes").resolve()
    assert resolve_source(".", data_dir) == data_dir.resolve()


def test_symlink_that_stays_inside_resolves_to_its_target(data_dir: Path, make_file) -> None:
    target = make_file("raw/2024/interviews.csv", CSV)
    (data_dir / "latest.csv").symlink_to(target)
    assert resolve_source("latest.csv", data_dir) == target.resolve()


def test_data_dir_reached_through_a_symlink(tmp_path: Path, data_dir: Path, make_file) -> None:
    path = make_file("interviews.csv", CSV)
    alias = tmp_path / "alias"
    alias.symlink_to(data_dir)
    assert resolve_source("interviews.csv", alias) == path.resolve()
    assert resolve_source(str(alias / "interviews.csv"), alias) == path.resolve()


def test_percent_encoding_is_taken_literally(data_dir: Path, make_file) -> None:
    error = rejected("%2e%2e/%2e%2e/etc/passwd", data_dir)
    assert "does not exist" in str(error)
    literal = make_file("%2e%2e", "a file whose name merely looks encoded")
    assert resolve_source("%2e%2e", data_dir) == literal.resolve()


# --------------------------------------------------------------------------- rejected


@pytest.mark.parametrize(
    "source",
    [
        "../outside/secret.csv",
        "../../etc/passwd",
        "a/../../outside/secret.csv",
        "./../outside",
        "..",
        "a/b/c/../../../../outside/secret.csv",
        "missing/../../outside/secret.csv",
        "/etc/passwd",
        "/",
        "/tmp",
        "..//..//..//etc/passwd",
    ],
)
def test_paths_leading_outside_are_rejected(source: str, data_dir: Path) -> None:
    (data_dir.parent / "outside" / "secret.csv").write_text(CSV)
    error = rejected(source, data_dir)
    assert "outside the data directory" in str(error)
    assert str(error).startswith(source)


def test_absolute_path_of_a_sibling_with_the_same_prefix_is_rejected(
    tmp_path: Path, data_dir: Path
) -> None:
    sibling = tmp_path / "data-private"
    sibling.mkdir()
    (sibling / "x.csv").write_text(CSV)
    assert "outside the data directory" in str(rejected(str(sibling / "x.csv"), data_dir))


def test_symlinked_file_pointing_outside_is_rejected(data_dir: Path) -> None:
    secret = data_dir.parent / "outside" / "secret.csv"
    secret.write_text(CSV)
    (data_dir / "link.csv").symlink_to(secret)
    error = rejected("link.csv", data_dir)
    assert str(error) == "link.csv: is a symbolic link to a place outside the data directory"


def test_symlinked_folder_in_the_middle_of_the_path_is_rejected(data_dir: Path) -> None:
    (data_dir.parent / "outside" / "secret.csv").write_text(CSV)
    (data_dir / "shared").symlink_to(data_dir.parent / "outside")
    error = rejected("shared/secret.csv", data_dir)
    assert "symbolic link to a place outside" in str(error)


def test_symlink_to_a_device_is_rejected(data_dir: Path) -> None:
    (data_dir / "null.csv").symlink_to("/dev/null")
    assert "outside the data directory" in str(rejected("null.csv", data_dir))


def test_symlink_loop_is_rejected(data_dir: Path) -> None:
    (data_dir / "loop-a").symlink_to(data_dir / "loop-b")
    (data_dir / "loop-b").symlink_to(data_dir / "loop-a")
    assert "cannot be read" in str(rejected("loop-a", data_dir))


def test_nul_byte_is_rejected_and_shown_escaped(data_dir: Path, make_file) -> None:
    make_file("interviews.csv", CSV)
    error = rejected("interviews.csv\x00.txt", data_dir)
    assert str(error) == "interviews.csv\\x00.txt: contains a NUL byte"


@pytest.mark.parametrize(
    "source",
    [
        "http://example.com/interviews.csv",
        "https://example.com/a.json",
        "file:///etc/passwd",
        "file:/etc/passwd",
        "FILE:interviews.csv",
        "s3://bucket/key.csv",
        "ftp://host/x.txt",
        "data:text/plain,hello",
        "javascript://alert(1)",
    ],
)
def test_urls_are_rejected(source: str, data_dir: Path) -> None:
    error = rejected(source, data_dir)
    assert "is a URL" in str(error)


@pytest.mark.parametrize("source", ["", "   "])
def test_empty_source_is_rejected(source: str, data_dir: Path) -> None:
    assert "is empty" in str(rejected(source, data_dir))


def test_missing_file_is_rejected(data_dir: Path) -> None:
    error = rejected("interviews.csv", data_dir)
    assert str(error) == "interviews.csv: does not exist in the data directory"
    assert error.code == "invalid_source"


def test_path_through_a_file_is_missing(data_dir: Path, make_file) -> None:
    make_file("interviews.csv", CSV)
    assert "does not exist" in str(rejected("interviews.csv/inner.csv", data_dir))


def test_fifo_is_rejected(data_dir: Path) -> None:
    os.mkfifo(data_dir / "pipe.csv")
    error = rejected("pipe.csv", data_dir)
    assert "not a regular file or folder" in str(error)


def test_socket_is_rejected(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(data_dir)  # AF_UNIX paths are short: bind by relative name
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind("sock.csv")
        assert "not a regular file or folder" in str(rejected("sock.csv", data_dir))
    finally:
        server.close()


def test_long_source_is_shortened_in_the_message(data_dir: Path) -> None:
    error = rejected("a" * 5000 + ".csv", data_dir)
    assert len(str(error)) < 400


# ------------------------------------------------------------------ nothing outside is opened


@pytest.fixture
def opened_paths() -> Iterator[list[str]]:
    """Every path passed to open/os.open/os.scandir while the test runs (audit hooks)."""
    seen: list[str] = []
    active = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if active[0] and event in ("open", "os.scandir") and args:
            target = args[0]
            if isinstance(target, str | bytes | os.PathLike):
                seen.append(os.fsdecode(target))

    sys.addaudithook(hook)  # hooks cannot be removed: the flag turns this one off
    yield seen
    active[0] = False


HOSTILE = [
    "../outside/secret-target.csv",
    "../outside",
    "link-out.csv",
    "linked-folder/secret-target.csv",
    "linked-folder",
    "folder-with-link",
    "null.csv",
    "pipe.csv",
    "/etc/passwd",
    "file:///etc/passwd",
    "https://example.com/x.csv",
    "ok.csv\x00../../etc/passwd",
    "%2e%2e/outside/secret-target.csv",
    "ok.csv/../../outside/secret-target.csv",
    "..\\..\\outside\\secret-target.csv",
    "~/../outside/secret-target.csv",
    "\uff0e\uff0e/outside/secret-target.csv",
    "/proc/self/root/etc/passwd",
]


def test_hostile_sources_never_open_anything_outside(data_dir: Path, make_file, opened_paths):
    outside = data_dir.parent / "outside"
    (outside / "secret-target.csv").write_text(CSV)
    make_file("ok.csv", CSV)
    (data_dir / "link-out.csv").symlink_to(outside / "secret-target.csv")
    (data_dir / "linked-folder").symlink_to(outside)
    make_file("folder-with-link/a.csv", CSV)
    (data_dir / "folder-with-link" / "b.csv").symlink_to(outside / "secret-target.csv")
    (data_dir / "null.csv").symlink_to("/dev/null")
    os.mkfifo(data_dir / "pipe.csv")
    opened_paths.clear()  # forget the set-up's own writes

    for source in HOSTILE:
        with pytest.raises(SourceError):
            load_evidence([source], data_dir=data_dir)
        with pytest.raises(SourceError):
            check_sources([source], data_dir=data_dir)

    assert opened_paths, "the audit hook saw nothing: the test would prove nothing"
    for path in opened_paths:
        assert "secret-target" not in path
        assert "outside" not in Path(path).parts
        assert path != "/dev/null" and not path.startswith("/etc")
    # The legitimate file is still readable afterwards.
    assert load_evidence(["ok.csv"], data_dir=data_dir)[0].participant == "P1"


# ---------------------------------------------------------------------- swapped after the check


def test_file_replaced_by_a_link_after_the_check_is_not_followed(data_dir: Path, make_file):
    secret = data_dir.parent / "outside" / "secret.csv"
    secret.write_text("participant,response\nX,a secret that must not be read\n")
    make_file("a.csv", CSV)
    later = make_file("b.csv", CSV)
    stream = iter_evidence(["a.csv", "b.csv"], data_dir=data_dir)
    assert next(stream).participant == "P1"  # both files checked, a.csv read
    later.unlink()
    later.symlink_to(secret)
    with pytest.raises(SourceError) as caught:
        list(stream)
    assert str(caught.value).startswith("b.csv: cannot be opened (")
    assert caught.value.location == ["data_sources", 1]


def test_folder_replaced_by_a_link_after_the_check_is_not_followed(data_dir: Path, make_file):
    (data_dir.parent / "outside" / "b.csv").write_text(CSV)
    make_file("a.csv", CSV)
    make_file("sub/b.csv", CSV)
    stream = iter_evidence(["a.csv", "sub/b.csv"], data_dir=data_dir)
    next(stream)
    (data_dir / "sub" / "b.csv").unlink()
    (data_dir / "sub").rmdir()
    (data_dir / "sub").symlink_to(data_dir.parent / "outside")
    with pytest.raises(SourceError, match=r"^sub/b\.csv: cannot be opened"):
        list(stream)


def test_file_replaced_by_a_fifo_after_the_check_is_not_read(data_dir: Path, make_file):
    make_file("a.csv", CSV)
    later = make_file("b.csv", CSV)
    stream = iter_evidence(["a.csv", "b.csv"], data_dir=data_dir)
    next(stream)
    later.unlink()
    os.mkfifo(later)  # opening it must neither block nor read
    with pytest.raises(SourceError) as caught:
        list(stream)
    assert str(caught.value) == "b.csv: is not a regular file (a device, FIFO or socket)"
