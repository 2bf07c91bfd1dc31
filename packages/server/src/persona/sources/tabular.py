"""CSV, JSON and JSONL readers. CSV and JSONL stream: memory holds one sample, not the file."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

from persona.errors import SourceError
from persona.schemas import Evidence
from persona.sources.records import SAMPLE_RECORDS, columns_of, flatten, plan_columns

DELIMITERS = (",", ";", "\t")
_SNIFF_LINES = 100
_SNIFF_CHARS = 64 * 1024

Numbered = tuple[int, dict[str, str]]


def _evidence(
    records: Iterator[Numbered],
    source: str,
    *,
    text_column: str | None,
    locator: str,
    columns: list[str] | None = None,
) -> Iterator[Evidence]:
    """Plan the columns on a sample of ``records``, then turn every record into Evidence."""
    sample = list(itertools.islice(records, SAMPLE_RECORDS))
    plan = plan_columns(
        columns if columns is not None else columns_of([r for _, r in sample]),
        [r for _, r in sample],
        text_column=text_column,
        source=source,
    )
    for number, record in itertools.chain(sample, records):
        evidence = plan.evidence(record, source, f"{locator} {number}")
        if evidence is not None:
            yield evidence


# --------------------------------------------------------------------------- CSV


def _take_sample(lines: Iterator[str]) -> tuple[list[str], bool]:
    """The first lines of the file, and whether more lines follow them."""
    sample: list[str] = []
    size = 0
    for line in lines:
        sample.append(line)
        size += len(line)
        if len(sample) >= _SNIFF_LINES or size >= _SNIFF_CHARS:
            return sample, True
    return sample, False


def _delimiter_score(sample: list[str], delimiter: str, truncated: bool) -> tuple[float, int]:
    """(share of rows as wide as the header, header width); (0, 0) for one column."""
    try:
        rows = [row for row in csv.reader(sample, delimiter=delimiter) if row]
    except csv.Error:
        return 0.0, 0
    if truncated and len(rows) > 1:
        rows = rows[:-1]  # the sample may end inside a quoted multi-line cell
    width = len(rows[0]) if rows else 0
    if width < 2:
        return 0.0, 0
    return sum(len(row) == width for row in rows) / len(rows), width


def sniff_delimiter(sample: list[str], truncated: bool) -> str:
    """The delimiter among comma, semicolon and tab that splits the sample most consistently."""
    scores = {d: _delimiter_score(sample, d, truncated) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: scores[d])


def _csv_rows(reader: Any, source: str) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) for every non-blank row; the header is row 1."""
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise SourceError(
                source, f"malformed CSV: {err}", place=f"line {reader.line_num}"
            ) from None
        number += 1
        if "".join(cells).strip():  # skip blank rows; one C call, not a loop per cell
            yield number, cells


def _header(cells: list[str]) -> list[str]:
    """Column names: blank ones numbered, repeated ones suffixed so that each is unique."""
    columns: list[str] = []
    for position, cell in enumerate(cells, start=1):
        name = cell.strip() or f"column {position}"
        unique, copy = name, 1
        while unique in columns:
            copy += 1
            unique = f"{name} ({copy})"
        columns.append(unique)
    return columns


def _csv_records(
    rows: Iterator[tuple[int, list[str]]], columns: list[str], reader: Any, source: str
) -> Iterator[Numbered]:
    width = len(columns)
    for number, cells in rows:
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            raise SourceError(
                source,
                f"{len(cells)} cells but the header has {width} columns "
                "(an unquoted delimiter in a cell?)",
                place=f"row {number}, line {reader.line_num}",
            )
        yield number, dict(zip(columns, cells, strict=False))


def read_csv(
    lines: Iterator[str], source: str, *, text_column: str | None, delimiter: str | None = None
) -> Iterator[Evidence]:
    """Evidence from each CSV row; ``locator`` is the spreadsheet row (the header is row 1)."""
    sample, truncated = _take_sample(lines)
    chosen = delimiter or sniff_delimiter(sample, truncated)
    reader = csv.reader(itertools.chain(sample, lines), delimiter=chosen)
    rows = _csv_rows(reader, source)
    first = next(rows, None)
    if first is None:
        raise SourceError(source, "the file is empty")
    columns = _header(first[1])
    records = _csv_records(rows, columns, reader, source)
    head = next(records, None)
    if head is None:
        raise SourceError(source, "the file has a header but no data rows", place="row 1")
    yield from _evidence(
        itertools.chain([head], records),
        source,
        text_column=text_column,
        locator="row",
        columns=columns,
    )


# --------------------------------------------------------------------------- JSON

_TYPE_NAMES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
    list: "a list",
    dict: "an object",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceError(
            source, f"malformed JSON: {err.msg}", place=f"line {err.lineno}, column {err.colno}"
        ) from None
    except (ValueError, RecursionError) as err:
        # Integers too long to convert, or nesting deeper than the parser allows.
        problem = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise SourceError(source, f"malformed JSON: {problem}") from None


def _object_arrays(data: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        key: value
        for key, value in data.items()
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value)
    }


def _record_array(data: Any, source: str) -> list[Any]:
    """The array of records: the document itself, or the one array of objects it holds."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        arrays = _object_arrays(data)
        if len(arrays) == 1:
            return next(iter(arrays.values()))
        if not arrays and [value for value in data.values() if isinstance(value, list)] == [[]]:
            return []  # {"responses": []}: the array is there, but empty
        if len(arrays) > 1:
            raise SourceError(
                source,
                f"the JSON object holds several arrays of objects ({', '.join(arrays)}); "
                "keep the one with the responses",
            )
    raise SourceError(
        source,
        f"no array of objects: found {_type_name(data)}; expected a list of objects or an "
        'object holding one, e.g. {"responses": [...]}',
    )


def _json_records(items: list[Any], source: str) -> Iterator[Numbered]:
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise SourceError(
                source, f"expected an object, found {_type_name(item)}", place=f"item {number}"
            )
        yield number, flatten(item)


def read_json(lines: Iterable[str], source: str, *, text_column: str | None) -> Iterator[Evidence]:
    """Evidence from each object of the file's array; ``locator`` is 'item N' (from 1)."""
    text = "".join(lines)
    if not text.strip():
        raise SourceError(source, "the file is empty")
    items = _record_array(_parse_json(text, source), source)
    if not items:
        raise SourceError(source, "the JSON array is empty")
    yield from _evidence(
        _json_records(items, source), source, text_column=text_column, locator="item"
    )


# --------------------------------------------------------------------------- JSONL


def _jsonl_records(lines: Iterable[str], source: str) -> Iterator[Numbered]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise SourceError(
                source, f"malformed JSON: {err.msg} (column {err.colno})", place=f"line {number}"
            ) from None
        except (ValueError, RecursionError) as err:
            problem = "nested too deeply" if isinstance(err, RecursionError) else str(err)
            raise SourceError(
                source, f"malformed JSON: {problem}", place=f"line {number}"
            ) from None
        if not isinstance(value, dict):
            raise SourceError(
                source, f"expected a JSON object, found {_type_name(value)}", place=f"line {number}"
            )
        yield number, flatten(value)


def read_jsonl(lines: Iterable[str], source: str, *, text_column: str | None) -> Iterator[Evidence]:
    """Evidence from each line's object; ``locator`` is 'line N'."""
    records = _jsonl_records(lines, source)
    head = next(records, None)
    if head is None:
        raise SourceError(source, "the file is empty")
    yield from _evidence(
        itertools.chain([head], records), source, text_column=text_column, locator="line"
    )
