"""Where data sources may come from: paths that resolve inside the data directory, and nowhere else.

Every check works on the fully resolved path (``os.path.realpath``), so ``..`` chains and
symbolic links anywhere in the path are judged by where they really lead. Files are then
opened one directory at a time with ``O_NOFOLLOW``, so a link swapped in after the check
cannot lead the read outside the data directory either.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from persona.errors import SourceError
from persona.sources.decoding import size_limit_problem

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".md", ".markdown", ".txt"}
)
FOLDER_FILES_SETTING = "PERSONA_MAX_FOLDER_FILES"

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_URL_WITHOUT_SLASHES = re.compile(r"^(?:file|https?|ftp|sftp|s3|gs|data):", re.IGNORECASE)
_DISPLAY_LIMIT = 200

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the check must not block the open.
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class SourceFile:
    """One file to read: its resolved path, its name relative to the data directory,
    and the index of the data source that brought it."""

    path: Path
    name: str
    index: int


def display(source: str) -> str:
    """The source as it can be shown in one line: control characters escaped, length capped."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in source)
    if len(shown) > _DISPLAY_LIMIT:
        return shown[:_DISPLAY_LIMIT] + "..."
    return shown


def data_root(data_dir: Path) -> Path:
    """The data directory with every symbolic link resolved: what 'inside' is measured against."""
    return Path(os.path.realpath(data_dir))


def relative_name(path: Path, root: Path) -> str:
    """POSIX name of ``path`` relative to ``root``: how evidence and errors name a file."""
    return path.relative_to(root).as_posix()


def _is_url(source: str) -> bool:
    return bool(_URL.match(source) or _URL_WITHOUT_SLASHES.match(source))


def _inside(path: str, roots: tuple[Path, ...]) -> bool:
    return any(Path(path).is_relative_to(root) for root in roots)


def resolve_source(source: str, data_dir: Path, *, location: list[str | int] | None = None) -> Path:
    """Resolve a data-source string to an existing regular file or folder inside ``data_dir``.

    Relative strings are taken from ``data_dir``; absolute ones must lead inside it.
    Nothing is decoded: ``%2e%2e`` is a file name like any other.
    """
    shown = display(source)

    def rejected(problem: str) -> SourceError:
        return SourceError(shown, problem, location=location)

    if "\x00" in source:
        raise rejected("contains a NUL byte")
    if not source.strip():
        raise rejected("is empty: give a path inside the data directory")
    if _is_url(source):
        raise rejected("is a URL: only paths inside the data directory are accepted")
    root = data_root(data_dir)
    candidate = os.path.join(os.path.abspath(data_dir), source)
    real = os.path.realpath(candidate)
    if not _inside(real, (root,)):
        if _inside(os.path.normpath(candidate), (root, Path(os.path.abspath(data_dir)))):
            raise rejected("is a symbolic link to a place outside the data directory")
        raise rejected("is outside the data directory")
    try:
        mode = os.stat(real).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise rejected("does not exist in the data directory") from None
    except OSError as err:
        raise rejected(f"cannot be read ({err.strerror})") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise rejected("is not a regular file or folder (a device, FIFO or socket)")
    return Path(real)


def open_inside(root: Path, path: Path, name: str) -> BinaryIO:
    """Open the regular file ``path`` under ``root`` without following any symbolic link."""
    parts = path.relative_to(root).parts
    if not parts or os.open not in os.supports_dir_fd:  # pragma: no cover - no openat (Windows)
        return _open_checked(path, name)
    try:
        fd = _open_beneath(root, parts)
    except OSError as err:
        raise SourceError(
            name, f"cannot be opened ({err.strerror}); was it moved or replaced by a link?"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SourceError(name, "is not a regular file (a device, FIFO or socket)")
    return os.fdopen(fd, "rb")


def _open_beneath(root: Path, parts: tuple[str, ...]) -> int:
    """``openat`` one component at a time, refusing links at every step."""
    dir_fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _open_checked(path: Path, name: str) -> BinaryIO:  # pragma: no cover - no openat (Windows)
    if not path.is_file() or path.is_symlink():
        raise SourceError(name, "is not a regular file")
    return path.open("rb")


def _supported(path: Path | str) -> bool:
    return os.path.splitext(path)[1].lower() in SUPPORTED_EXTENSIONS


def _extensions() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


class _FolderWalk:
    """Depth-first, name-sorted walk of one folder source, bounded by ``limit`` data files."""

    def __init__(
        self, folder: Path, root: Path, *, limit: int, shown: str, location: list[str | int]
    ):
        self.root = root
        self.limit = limit
        self.shown = shown
        self.location = location
        self.found = 0
        self.seen_dirs = {folder}
        self.folder = folder

    def files(self) -> list[Path]:
        files: list[Path] = []
        stack: list[tuple[Path, bool]] = [(self.folder, True)]
        while stack:
            path, is_dir = stack.pop()
            if is_dir:
                stack.extend(reversed(self._children(path)))
            else:
                files.append(path)
        return files

    def _children(self, folder: Path) -> list[tuple[Path, bool]]:
        children: list[tuple[str, Path, bool]] = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                child = self._child(entry)
                if child is not None:
                    children.append((entry.name, *child))
        children.sort(key=lambda item: item[0])
        return [(path, is_dir) for _, path, is_dir in children]

    def _child(self, entry: os.DirEntry[str]) -> tuple[Path, bool] | None:
        """The entry as (path, is_dir), or None when it is skipped."""
        if entry.is_symlink():
            return self._linked_child(entry)
        if entry.is_dir(follow_symlinks=False):
            return Path(entry.path), True
        if entry.is_file(follow_symlinks=False) and _supported(entry.name):
            return self._count(Path(entry.path)), False
        return None  # unsupported extension, device, FIFO or socket: never opened

    def _linked_child(self, entry: os.DirEntry[str]) -> tuple[Path, bool] | None:
        real = Path(os.path.realpath(entry.path))
        if not real.is_relative_to(self.root):
            name = relative_name(Path(entry.path), self.root)
            raise SourceError(
                name,
                "is a symbolic link to a place outside the data directory",
                location=self.location,
            )
        try:
            mode = os.stat(real).st_mode
        except OSError:
            return None  # a dangling link holds nothing to read
        if stat.S_ISDIR(mode) and real not in self.seen_dirs:
            self.seen_dirs.add(real)
            return real, True
        if stat.S_ISREG(mode) and _supported(real):
            return self._count(real), False
        return None

    def _count(self, path: Path) -> Path:
        self.found += 1
        if self.found > self.limit:
            raise SourceError(
                self.shown,
                f"the folder holds more than {self.limit} data files "
                f"(setting {FOLDER_FILES_SETTING}); choose a smaller folder",
                location=self.location,
            )
        return path


def _files_of(
    path: Path, root: Path, *, shown: str, max_folder_files: int, location: list[str | int]
) -> list[Path]:
    """The data files one resolved source stands for: itself, or its folder's supported files."""
    if path.is_dir():
        walk = _FolderWalk(path, root, limit=max_folder_files, shown=shown, location=location)
        files = walk.files()
        if not files:
            raise SourceError(
                shown, f"the folder holds no data files ({_extensions()})", location=location
            )
        return files
    if not _supported(path):
        suffix = path.suffix or "(none)"
        raise SourceError(
            shown,
            f"unsupported file extension {suffix}; supported: {_extensions()}",
            location=location,
        )
    return [path]


def plan_sources(
    sources: list[str] | tuple[str, ...],
    *,
    data_dir: Path,
    max_total_bytes: int,
    max_folder_files: int,
) -> list[SourceFile]:
    """Resolve and expand every source, each file once, within the file-count and size limits."""
    root = data_root(data_dir)
    planned: list[SourceFile] = []
    seen: set[Path] = set()
    total = 0
    for index, source in enumerate(sources):
        location: list[str | int] = ["data_sources", index]
        path = resolve_source(source, data_dir, location=location)
        shown = display(source)
        for file in _files_of(
            path, root, shown=shown, max_folder_files=max_folder_files, location=location
        ):
            if file in seen:
                continue
            seen.add(file)
            name = relative_name(file, root)
            size = os.stat(file).st_size
            if size == 0:
                raise SourceError(name, "the file is empty", location=location)
            total += size
            if total > max_total_bytes:
                raise SourceError(
                    name, size_limit_problem(total, max_total_bytes), location=location
                )
            planned.append(SourceFile(path=file, name=name, index=index))
    return planned


__all__ = [
    "SUPPORTED_EXTENSIONS",
    "SourceFile",
    "data_root",
    "display",
    "open_inside",
    "plan_sources",
    "relative_name",
    "resolve_source",
]
