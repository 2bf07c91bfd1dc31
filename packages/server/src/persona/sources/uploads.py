"""Files the service writes for an experiment: inline sources and uploads, with safe names.

A stored file name is a plain, visible name (``safe_file_name``) of a supported kind, written
under the experiment's folder (``sources.stored.experiment_dir``): inline sources in
``inline/``, uploads in ``uploads/``, an upload never overwriting a file already there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from persona.errors import InvalidInputError, PayloadTooLargeError, SourceError
from persona.ids import new_id
from persona.schemas import DataSource, InlineSource
from persona.settings import Settings
from persona.sources import SUPPORTED_EXTENSIONS, resolve_source
from persona.sources.stored import INLINE_FOLDER, UPLOAD_FOLDER, check_new_sources, experiment_dir

UPLOAD_CHUNK = 64 * 1024


@dataclass
class UploadedFile:
    """A file sent to ``upload_sources``: its name and a readable binary stream."""

    filename: str
    stream: BinaryIO


def relative_name(settings: Settings, path: Path) -> str:
    """A stored file's name as sources list it: relative to the data directory."""
    return path.relative_to(settings.data_dir).as_posix()


def prepare_sources(
    settings: Settings,
    experiment_id: str,
    sources: Sequence[DataSource],
    text_column: str | None,
) -> list[str]:
    """Check path sources, write inline ones, check what they hold; stored names relative
    to the data dir. Nothing written is left behind when one of them is refused."""
    root = Path(os.path.realpath(settings.data_dir))
    stored: list[str] = []
    inline_names: dict[int, str] = {}
    try:
        for index, source in enumerate(sources):
            location: list[str | int] = ["data_sources", index]
            if isinstance(source, InlineSource):
                seen = set(inline_names.values())
                path = _write_inline(settings, experiment_id, source, location, seen)
                inline_names[index] = path.name
                stored.append(relative_name(settings, path))
            else:
                path = resolve_source(source, settings.data_dir, location=location)
                stored.append(path.relative_to(root).as_posix())
        check_new_sources(settings, stored, inline_names, text_column)
    except BaseException:
        remove_experiment_files(settings, experiment_id, [])
        raise
    return stored


def _write_inline(
    settings: Settings,
    experiment_id: str,
    source: InlineSource,
    location: list[str | int],
    seen: set[str],
) -> Path:
    name = safe_file_name(source.name, location=[*location, "name"])
    if name in seen:
        raise InvalidInputError(
            f"inline source name {name!r} is used twice", location=[*location, "name"]
        )
    seen.add(name)
    _require_supported(name, [*location, "name"])
    content = source.content.encode("utf-8")
    limit = settings.max_inline_source_bytes
    if len(content) > limit:
        raise PayloadTooLargeError(
            f"inline source {name!r} is {len(content)} bytes; the limit is {limit} bytes "
            "(PERSONA_MAX_INLINE_SOURCE_BYTES)"
        )
    folder = experiment_dir(settings, experiment_id) / INLINE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def store_uploads(
    settings: Settings, experiment_id: str, files: Sequence[UploadedFile]
) -> list[Path]:
    """Stream the files into the experiment's folder, counting bytes against the limit."""
    names = []
    for index, upload in enumerate(files):
        name = safe_file_name(base_name(upload.filename), location=["files", index])
        _require_supported(name, ["files", index])
        names.append(name)
    folder = experiment_dir(settings, experiment_id) / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    budget = _UploadBudget(settings.max_upload_bytes)
    written: list[Path] = []
    try:
        for name, upload in zip(names, files, strict=True):
            written.append(_stream_to_folder(upload.stream, folder, name, budget))
    except BaseException:
        remove_files(written)
        raise
    return written


def remove_experiment_files(settings: Settings, experiment_id: str, run_ids: Sequence[str]) -> None:
    """Delete the experiment's stored sources and what its runs left in the state dir."""
    shutil.rmtree(experiment_dir(settings, experiment_id), ignore_errors=True)
    for run_id in run_ids:
        shutil.rmtree(settings.state_dir / "runs" / run_id, ignore_errors=True)


def safe_file_name(name: str, *, location: list[str | int]) -> str:
    """``name`` if it is a plain, visible file name; else InvalidInputError at ``location``."""
    problem = None
    if not name or not name.strip():
        problem = "is empty"
    elif "\x00" in name:
        problem = "contains a NUL byte"
    elif "/" in name or "\\" in name:
        problem = "contains a path separator"
    elif name in (".", ".."):
        problem = "is not a file name"
    elif name.startswith("."):
        problem = "is a hidden name (starts with '.')"
    elif any(not c.isprintable() for c in name):
        problem = "contains control characters"
    elif len(name.encode("utf-8")) > 255:
        problem = "is longer than 255 bytes"
    if problem is not None:
        shown = name.encode("unicode_escape").decode("ascii")[:100]
        raise InvalidInputError(f"file name {shown!r} {problem}", location=location)
    return name


def base_name(filename: str) -> str:
    """The last component of an uploaded file name (browsers may send a full path)."""
    return PurePosixPath(filename.replace("\\", "/")).name if filename else ""


def _require_supported(name: str, location: list[str | int]) -> None:
    if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise SourceError(
            name,
            "has an unsupported file type; use one of " + ", ".join(sorted(SUPPORTED_EXTENSIONS)),
            location=location,
        )


class _UploadBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise PayloadTooLargeError(
                f"the upload is larger than the limit of {self.limit} bytes "
                "(PERSONA_MAX_UPLOAD_BYTES)"
            )


def _stream_to_folder(stream: BinaryIO, folder: Path, name: str, budget: _UploadBudget) -> Path:
    """Copy ``stream`` into ``folder`` under ``name`` (or name-2, name-3, ... if taken)."""
    partial = folder / f".upload-{new_id('part')}"
    try:
        with partial.open("wb") as out:
            while chunk := stream.read(UPLOAD_CHUNK):
                budget.spend(len(chunk))
                out.write(chunk)
        return _link_unique(partial, folder, name)
    finally:
        partial.unlink(missing_ok=True)


def _link_unique(source: Path, folder: Path, name: str) -> Path:
    """Give ``source`` the first free name; an existing file is never overwritten."""
    stem, suffix = os.path.splitext(name)
    number = 1
    while True:
        target = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        try:
            os.link(source, target)  # atomic: fails if the name exists
        except FileExistsError:
            number += 1
            continue
        return target


def remove_files(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
