"""Data sources: files and folders inside the data directory, read into Evidence records.

Formats, chosen by extension (case-insensitive):

- ``.csv`` / ``.tsv``: delimiter sniffed among comma, semicolon and tab (``.tsv`` is always
  tab); a header row; quoted multi-line cells. Read streaming. Locator ``row N`` is the
  spreadsheet row: the header is row 1, the first record row 2.
- ``.json``: an array of objects, or an object holding exactly one such array
  (``{"responses": [...]}``). Nested objects become ``a.b`` columns. Read whole, so it is
  bounded by ``max_total_bytes``; use JSONL for large data. Locator ``item N`` (from 1).
- ``.jsonl`` / ``.ndjson``: one object per line, blank lines skipped. Read streaming.
  Locator ``line N``.
- ``.md`` / ``.markdown`` / ``.txt``: interview transcripts by participant turn, other text by
  paragraph; see :mod:`persona.sources.text`. Locator ``line N`` or ``line N-M``.
- Folders: every supported file below them, depth first in name order. Hidden files and
  folders (names starting with '.') are skipped, and so are files of other types (a folder
  may hold PDFs or images) and devices, FIFOs and sockets, which are never opened.

Records of tabular sources: the participant is the first of the columns named participant,
respondent, interviewee, user, person, customer, speaker, id or name, or else ending in ``_id``
(case- and separator-insensitive: "Respondent ID"; see ``PARTICIPANT_NAMES``); the text is the
``text_column`` when given, else the column with the longest non-numeric values on average
over the first 200 records that is no grouping column ("department", "Customer Type") and
does not repeat its values like one. Every other non-empty value
becomes an attribute. Records with empty text are skipped.

Every file is read once even when several sources name it. A file read before with the same
bytes (and the same text column), under any name, is not parsed again: its Evidence comes from
a bounded in-memory cache (:mod:`persona.sources.cache`). All errors are ``SourceError``
whose message names the file and, where it applies, the place (line, row, item, byte).
"""

from __future__ import annotations

import io
from collections.abc import Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from persona.errors import SourceError
from persona.schemas import Evidence
from persona.sources.cache import content_key, evidence_cache
from persona.sources.columns import PARTICIPANT_NAMES
from persona.sources.decoding import ByteBudget, read_lines
from persona.sources.paths import (
    SUPPORTED_EXTENSIONS,
    SourceFile,
    data_root,
    open_inside,
    plan_sources,
    resolve_source,
)
from persona.sources.records import evidence_id
from persona.sources.tabular import read_csv, read_json, read_jsonl
from persona.sources.text import read_text

__all__ = [
    "DEFAULT_MAX_FOLDER_FILES",
    "DEFAULT_MAX_TOTAL_BYTES",
    "PARTICIPANT_NAMES",
    "SUPPORTED_EXTENSIONS",
    "Evidence",
    "cached_evidence",
    "check_sources",
    "evidence_id",
    "iter_evidence",
    "load_evidence",
    "resolve_source",
]

DEFAULT_MAX_TOTAL_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_FOLDER_FILES = 5_000


def _as_list(sources: Sequence[str]) -> list[str]:
    # A lone string is one source, not a sequence of one-character sources.
    return [sources] if isinstance(sources, str) else list(sources)


def check_sources(
    sources: Sequence[str],
    *,
    data_dir: Path,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_folder_files: int = DEFAULT_MAX_FOLDER_FILES,
) -> list[Path]:
    """Validate sources without parsing them: every file resolved, counted, sized and typed.

    Returns the data files in reading order. Errors carry ``location=["data_sources", i]``.
    """
    planned = plan_sources(
        _as_list(sources),
        data_dir=data_dir,
        max_total_bytes=max_total_bytes,
        max_folder_files=max_folder_files,
    )
    return [file.path for file in planned]


def _read_file(
    lines: Iterator[str], file: SourceFile, text_column: str | None
) -> Iterable[Evidence]:
    suffix = file.path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else None
        return read_csv(lines, file.name, text_column=text_column, delimiter=delimiter)
    if suffix == ".json":
        return read_json(lines, file.name, text_column=text_column)
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(lines, file.name, text_column=text_column)
    return read_text(lines, file.name, markdown=suffix in (".md", ".markdown"))


def _cache_key(data: bytes, file: SourceFile, text_column: str | None) -> tuple[Hashable, ...]:
    # Not the name: the cache renames records read under another (CachedFile.evidence_as).
    return content_key(data, file.path.suffix.lower(), text_column)


def _read_cached(
    stream: BinaryIO, file: SourceFile, budget: ByteBudget, text_column: str | None
) -> Iterator[Evidence]:
    """The file's Evidence, from the cache when the same bytes were parsed before.

    Files too large for the cache are read streaming and not kept."""
    limit = evidence_cache.max_file_bytes
    data = stream.read(limit + 1)
    if len(data) > limit:
        stream.seek(0)  # sources are regular files, checked when opened
        yield from _read_file(read_lines(stream, file.name, budget), file, text_column)
        return
    key = _cache_key(data, file, text_column)
    cached = evidence_cache.get(key)
    if cached is not None:
        budget.take(cached.size, file.name)
        yield from cached.evidence_as(file.name)
        return
    parsed: list[Evidence] = []
    for item in _read_file(read_lines(io.BytesIO(data), file.name, budget), file, text_column):
        parsed.append(item)
        yield item
    evidence_cache.put(key, len(data), file.name, parsed)


def iter_evidence(
    sources: Sequence[str],
    *,
    data_dir: Path,
    text_column: str | None = None,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_folder_files: int = DEFAULT_MAX_FOLDER_FILES,
) -> Iterator[Evidence]:
    """Yield the Evidence of every source in order, one file open at a time."""
    planned = plan_sources(
        _as_list(sources),
        data_dir=data_dir,
        max_total_bytes=max_total_bytes,
        max_folder_files=max_folder_files,
    )
    root = data_root(data_dir)
    budget = ByteBudget(max_total_bytes)
    for file in planned:
        try:
            with open_inside(root, file.path, file.name) as stream:
                yield from _read_cached(stream, file, budget, text_column)
        except SourceError as err:
            err.location = err.location or ["data_sources", file.index]
            raise


def load_evidence(
    sources: Sequence[str],
    *,
    data_dir: Path,
    text_column: str | None = None,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_folder_files: int = DEFAULT_MAX_FOLDER_FILES,
) -> list[Evidence]:
    """All Evidence of the sources as a list (see :func:`iter_evidence`)."""
    return list(
        iter_evidence(
            sources,
            data_dir=data_dir,
            text_column=text_column,
            max_total_bytes=max_total_bytes,
            max_folder_files=max_folder_files,
        )
    )


def cached_evidence(
    sources: Sequence[str],
    *,
    data_dir: Path,
    text_column: str | None = None,
    max_read_bytes: int,
    max_files: int,
) -> list[Evidence] | None:
    """The Evidence of the sources when every file's bytes were parsed before, else None.

    Parses nothing and reads at most ``max_read_bytes`` from at most ``max_files`` files (to
    check their bytes against the cache), so an event loop may call it when the sources are
    small; on None, or to have any problem reported, call :func:`load_evidence`.
    """
    try:
        planned = plan_sources(
            _as_list(sources),
            data_dir=data_dir,
            max_total_bytes=max_read_bytes,
            max_folder_files=max_files,
        )
    except SourceError:
        return None
    if len(planned) > max_files:
        return None
    root = data_root(data_dir)
    budget = max_read_bytes
    evidence: list[Evidence] = []
    for file in planned:
        try:
            with open_inside(root, file.path, file.name) as stream:
                data = stream.read(budget + 1)
        except (SourceError, OSError):
            return None
        budget -= len(data)
        cached = evidence_cache.get(_cache_key(data, file, text_column)) if budget >= 0 else None
        if cached is None:
            return None
        evidence.extend(cached.evidence_as(file.name))
    return evidence
