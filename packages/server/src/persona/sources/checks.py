"""Checks of a source's content before it is accepted, so that a run does not find the problem.

A file the server stores (an inline source or an upload) is read whole, through the loader
itself: what it refuses here is what a run would refuse, and its Evidence lands in the cache
for the first run. A file of the data directory (a path source) is only checked where that is
cheap: its first ``PREFIX_BYTES`` for binary content and undecodable bytes, and the whole file
through the loader when it is no larger than that.
"""

from __future__ import annotations

from pathlib import Path

from persona.errors import SourceError
from persona.sources import iter_evidence
from persona.sources.decoding import UTF16_BOMS, check_decodable
from persona.sources.paths import data_root, open_inside

PREFIX_BYTES = 8 * 1024
"""Bytes of a path source read at creation; a smaller file is parsed whole."""
SCAN_CHUNK = 64 * 1024


def _refuse_nul(data: bytes, name: str, offset: int) -> None:
    # UTF-8 text never holds a NUL byte; images, archives and office files do, early on.
    position = data.find(b"\x00")
    if position >= 0:
        raise SourceError(
            name,
            "binary content, not text (a NUL byte); save the data as UTF-8 text",
            place=f"byte {offset + position}",
        )


def _check_bytes(data: bytes, name: str, *, offset: int, final: bool) -> None:
    if offset == 0 and data.startswith(UTF16_BOMS):
        check_decodable(data, name, final=final)  # names UTF-16 rather than a NUL byte
    _refuse_nul(data, name, offset)
    if offset == 0:
        check_decodable(data, name, final=final)


def _records(source: str, data_dir: Path, text_column: str | None, max_bytes: int) -> int:
    """How many Evidence records the loader reads from ``source``; refused when none."""
    count = 0
    for _ in iter_evidence(
        [source],
        data_dir=data_dir,
        text_column=text_column,
        max_total_bytes=max_bytes,
        max_folder_files=1,
    ):
        count += 1
    if count == 0:
        raise SourceError(source, "no record holds any text to read")
    return count


def _renamed(err: SourceError, name: str, location: list[str | int]) -> SourceError:
    """``err`` naming the file as its sender knows it, at ``location``."""
    return SourceError(name, err.problem, place=err.place, location=location)


def check_stored_file(
    source: str,
    *,
    data_dir: Path,
    name: str,
    location: list[str | int],
    text_column: str | None,
    max_bytes: int,
) -> int:
    """Refuse the stored file ``source`` (relative to ``data_dir``) when a run could not read
    it; return its record count. Errors name the file ``name`` and carry ``location``."""
    root = data_root(data_dir)
    try:
        with open_inside(root, root / source, name) as stream:
            # Scanned first and in chunks: the loader would take a NUL byte for text.
            offset = 0
            while chunk := stream.read(SCAN_CHUNK):
                _check_bytes(chunk, name, offset=offset, final=False)
                offset += len(chunk)
        return _records(source, data_dir, text_column, max_bytes)
    except SourceError as err:
        raise _renamed(err, name, location) from None


def check_path_file(
    source: str,
    *,
    data_dir: Path,
    location: list[str | int],
    text_column: str | None,
    max_bytes: int,
) -> None:
    """Refuse the data-directory file ``source`` when its start is binary or undecodable, or,
    when it is small, when the loader refuses it."""
    root = data_root(data_dir)
    try:
        with open_inside(root, root / source, source) as stream:
            head = stream.read(PREFIX_BYTES + 1)
        whole = len(head) <= PREFIX_BYTES
        _check_bytes(head, source, offset=0, final=whole)
        if whole:
            _records(source, data_dir, text_column, max_bytes)
    except SourceError as err:
        err.location = location
        raise


__all__ = ["PREFIX_BYTES", "check_path_file", "check_stored_file"]
