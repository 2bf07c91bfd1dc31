"""Sources in another encoding than UTF-8, for ``persona generate --encoding``.

The readers take UTF-8 only. A file saved in another encoding (an Excel "CSV" export is
Windows-1252 on Western European systems) is decoded once with the encoding the user names
and written as UTF-8 into a scratch copy of the data directory, under the same relative
path, so that source names, locators and evidence ids stay what they would have been.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from persona.errors import SourceError

UTF8_NAMES = frozenset({"utf-8", "utf-8-sig"})


def check_encoding(name: str) -> str:
    """The codec's canonical name; LookupError for an unknown encoding."""
    return codecs.lookup(name).name


def needs_transcoding(encoding: str | None) -> bool:
    return encoding is not None and check_encoding(encoding) not in UTF8_NAMES


def utf8_copy(sources: list[str], data_dir: Path, encoding: str, scratch: Path) -> Path:
    """A copy of the files ``sources`` names (paths relative to ``data_dir``, files or
    folders) under ``scratch``, decoded from ``encoding`` and written as UTF-8; ``scratch``."""
    for source in sources:
        path = data_dir / source
        files = sorted(_visible_files(path)) if path.is_dir() else [path]
        for file in files:
            _transcode(file, data_dir, encoding, scratch)
    return scratch


def _visible_files(folder: Path) -> list[Path]:
    return [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]


def _transcode(file: Path, data_dir: Path, encoding: str, scratch: Path) -> None:
    name = file.relative_to(data_dir).as_posix()
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise SourceError(name, f"cannot be read: {err.strerror}") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problem = f"bytes are not valid {encoding} ({err.reason})"
        raise SourceError(name, problem, place=f"line {line}") from None
    target = scratch / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
