"""An experiment's data sources as the service stores them: where inline and uploaded files
go, which kind each stored source is, what the list of sources shows, which may be deleted,
and the content checks they pass before they are accepted.

Inline sources are written to ``<data_dir>/.persona/experiments/<id>/inline/`` and uploads to
``.../uploads/``, so a stored name alone tells its kind. Earlier versions wrote both directly
into ``.../<id>/``; such files are listed as uploads, since the name cannot tell which they
were (both are the server's own files, deleted alike).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from persona.errors import ConflictError, InvalidInputError, NotFoundError, SourceError
from persona.schemas import Experiment, ExperimentSource, ExperimentSourceList, SourceKind
from persona.settings import Settings
from persona.sources import cached_evidence, resolve_source
from persona.sources.cache import evidence_cache
from persona.sources.checks import check_path_file, check_stored_file
from persona.sources.paths import plan_sources

INLINE_FOLDER = "inline"
UPLOAD_FOLDER = "uploads"
NAME_LOCATION: list[str | int] = ["path", "source"]


def experiment_dir(settings: Settings, experiment_id: str) -> Path:
    """The folder holding an experiment's inline and uploaded sources."""
    return settings.state_dir / "experiments" / experiment_id


def source_kind(settings: Settings, experiment_id: str, name: str) -> SourceKind:
    """How the stored source ``name`` came to the experiment."""
    folder = experiment_dir(settings, experiment_id).relative_to(settings.data_dir).as_posix()
    if not name.startswith(folder + "/"):
        return "path"  # anywhere else, even another experiment's folder, is a user's path
    first, _, rest = name[len(folder) + 1 :].partition("/")
    return "inline" if first == INLINE_FOLDER and rest else "upload"


# --------------------------------------------------------------------------- listing


def _size(settings: Settings, name: str) -> tuple[int | None, int]:
    """Bytes of the file, or of the data files of the folder (None when unusable now), and
    how many files that is."""
    try:
        path = resolve_source(name, settings.data_dir)
        if path.is_file():
            return path.stat().st_size, 1
        files = plan_sources(
            [name],
            data_dir=settings.data_dir,
            max_total_bytes=sys.maxsize,
            max_folder_files=settings.max_folder_files,
        )
        return sum(os.stat(file.path).st_size for file in files), len(files)
    except (SourceError, OSError):
        return None, 0


def _records(settings: Settings, name: str, text_column: str | None, budget: int) -> int | None:
    """Records of the source when the cache holds its current bytes; reads at most ``budget``."""
    if budget <= 0:
        return None
    evidence = cached_evidence(
        [name],
        data_dir=settings.data_dir,
        text_column=text_column,
        max_read_bytes=budget,
        max_files=settings.max_folder_files,
    )
    return None if evidence is None else len(evidence)


def describe_sources(
    settings: Settings, experiment: Experiment, text_column: str | None
) -> ExperimentSourceList:
    """Every source of the experiment with its kind, size and, when known, record count.

    Record counts come from the evidence cache only, and reading files to look them up
    stops after as many bytes as one run may read: the list never parses anything."""
    budget = settings.max_source_bytes
    items = []
    for name in experiment.data_sources:
        size, files = _size(settings, name)
        records = None
        # Larger files are never cached: reading them to look them up would be wasted.
        if size is not None and size <= min(budget, files * evidence_cache.max_file_bytes):
            records = _records(settings, name, text_column, budget)
            budget -= size
        kind = source_kind(settings, experiment.id, name)
        items.append(ExperimentSource(name=name, kind=kind, size_bytes=size, records=records))
    return ExperimentSourceList(items=items)


# --------------------------------------------------------------------------- deleting


def check_source_name(name: str) -> None:
    """Refuse a name no stored source can have: one that climbs out or is absolute."""
    parts = PurePosixPath(name).parts
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or ".." in parts:
        raise InvalidInputError(
            "a source name is a stored path relative to the data directory, without '..', "
            "'\\' or a leading '/'",
            location=NAME_LOCATION,
        )


def removable_source(settings: Settings, experiment: Experiment, name: str) -> None:
    """Refuse to remove ``name`` unless it is one of the experiment's stored files."""
    check_source_name(name)
    if name not in experiment.data_sources:
        raise NotFoundError("source", name)
    if source_kind(settings, experiment.id, name) == "path":
        raise ConflictError(
            f"source {name!r} is a path in the data directory, not a file the server stored: "
            "only inline and uploaded sources can be removed",
            code="path_source",
        )


def remove_stored_file(settings: Settings, experiment_id: str, name: str) -> None:
    """Delete the stored file of source ``name``, never anything outside its experiment's
    folder (a link swapped in there is removed, not followed)."""
    path = settings.data_dir / name
    folder = os.path.realpath(experiment_dir(settings, experiment_id))
    if Path(os.path.realpath(path.parent)).is_relative_to(folder):
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- content checks


def check_new_sources(
    settings: Settings,
    stored: Sequence[str],
    inline_names: Mapping[int, str],
    text_column: str | None,
) -> None:
    """Refuse sources of a new experiment a run could not read: ``stored`` are its data
    sources, ``inline_names`` the names given to those at these indexes that are inline."""
    planned = plan_sources(
        list(stored),
        data_dir=settings.data_dir,
        max_total_bytes=settings.max_source_bytes,
        max_folder_files=settings.max_folder_files,
    )
    for file in planned:
        location: list[str | int] = ["data_sources", file.index]
        inline = inline_names.get(file.index)
        if inline is None:
            check_path_file(
                file.name,
                data_dir=settings.data_dir,
                location=location,
                text_column=text_column,
                max_bytes=settings.max_source_bytes,
            )
        else:
            check_stored_file(
                file.name,
                data_dir=settings.data_dir,
                name=inline,
                location=[*location, "content"],
                text_column=text_column,
                max_bytes=settings.max_inline_source_bytes,
            )


def check_uploads(
    settings: Settings, stored: Sequence[str], names: Sequence[str], text_column: str | None
) -> None:
    """Refuse stored uploads a run could not read, naming each by the name it was sent as."""
    for index, (source, name) in enumerate(zip(stored, names, strict=True)):
        check_stored_file(
            source,
            data_dir=settings.data_dir,
            name=name,
            location=["files", index],
            text_column=text_column,
            max_bytes=settings.max_source_bytes,
        )


__all__ = [
    "INLINE_FOLDER",
    "UPLOAD_FOLDER",
    "check_new_sources",
    "check_source_name",
    "check_uploads",
    "describe_sources",
    "experiment_dir",
    "removable_source",
    "remove_stored_file",
    "source_kind",
]
