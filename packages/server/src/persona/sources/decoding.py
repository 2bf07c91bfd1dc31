"""Bytes to text: UTF-8 (with or without a BOM) line by line, under a byte budget."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from persona.errors import SourceError

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
SIZE_SETTING = "PERSONA_MAX_SOURCE_BYTES"


def format_bytes(size: int) -> str:
    """Human-readable size in binary units: '512 bytes', '50.0 MiB', '1.0 GiB'."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def size_limit_problem(total: int, limit: int) -> str:
    return (
        f"the data sources total {format_bytes(total)}, above the limit of "
        f"{format_bytes(limit)} (setting {SIZE_SETTING})"
    )


@dataclass
class ByteBudget:
    """How many bytes one load may read across all of its files."""

    limit: int
    used: int = 0

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def take(self, size: int, name: str) -> None:
        self.used += size
        if self.used > self.limit:
            # The files grew after they were checked, or a line ran past the budget.
            raise SourceError(name, f"while reading: {size_limit_problem(self.used, self.limit)}")


def _decode_problem(raw: bytes, line_number: int, err: UnicodeDecodeError) -> str:
    if line_number == 1 and raw.startswith(UTF16_BOMS):
        return "the file looks like UTF-16; save it as UTF-8"
    return f"bytes are not valid UTF-8 ({err.reason}); save the file as UTF-8"


def read_lines(stream: BinaryIO, name: str, budget: ByteBudget) -> Iterator[str]:
    """Yield decoded lines with their line endings; a bad byte names its line and byte offset."""
    offset = 0
    line_number = 0
    while True:
        # Reading at most one byte past the budget keeps a huge single line from being loaded.
        raw = stream.readline(budget.remaining + 1)
        if not raw:
            return
        line_number += 1
        budget.take(len(raw), name)
        start = offset
        offset += len(raw)
        if line_number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
            start += len(UTF8_BOM)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise SourceError(
                name,
                _decode_problem(raw, line_number, err),
                place=f"line {line_number}, byte {start + err.start}",
            ) from None
        yield text


def check_decodable(data: bytes, name: str, *, final: bool) -> None:
    """Refuse ``data`` (the start of a file, or all of it when ``final``) when
    :func:`read_lines` would refuse it, with the same message and place."""
    start = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    try:
        # Incremental: a character cut at the end of a prefix is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(data[start:], final=final)
    except UnicodeDecodeError as err:
        offset = start + err.start
        line_start = data.rfind(b"\n", 0, offset) + 1
        line_number = data.count(b"\n", 0, offset) + 1
        raise SourceError(
            name,
            _decode_problem(data[line_start:], line_number, err),
            place=f"line {line_number}, byte {offset}",
        ) from None
