"""Records (CSV rows, JSON objects) to Evidence: which column is the text, which the participant."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from persona.errors import SourceError
from persona.schemas import Evidence
from persona.sources.columns import find_column, is_grouping_column, participant_column

SAMPLE_RECORDS = 200
"""Records looked at to infer the text column."""
CATEGORY_MIN_VALUES = 9
"""Values a column needs in the sample before its repeats mark it as categories."""

_MAX_NESTING = 8
SHARED_VALUE_CHARS = 64
"""Participants, attribute names and values up to this length are shared between the records
of one file that repeat them (a role, a plan, a participant's id on each of their rows)."""
SHARED_VALUES = 100_000
"""Distinct values one file shares at most; later new ones are kept as read."""
SHARED_ATTRIBUTE_SETS = 10_000
"""Distinct sets of attributes one file shares at most; later new ones are kept as read."""

K = TypeVar("K")
V = TypeVar("V")

_EVERY_FIELD: set[str] = set(Evidence.model_fields)
"""The fields-set of every Evidence made by :func:`make_evidence` (one object for all)."""


def make_evidence(
    *,
    id: str,
    source: str,
    locator: str,
    participant: str | None,
    text: str,
    attributes: dict[str, str],
) -> Evidence:
    """Evidence from a reader's strings, built without validation around one shared set of
    field names.

    A validated model keeps a set of the fields it was given: a large share of a CSV row's
    record (benchmarks/large_sources.py), and a second object per record for every full
    garbage collection to scan (a large source is hundreds of thousands of records, each
    pass then stalls the event loop for longer). The readers give every field, and only
    strings, so validation finds nothing to check. Sharing the set is safe: it names every
    field, so an assignment adds nothing to it, and ``model_copy`` copies it before changing
    it.
    """
    return Evidence.model_construct(
        _EVERY_FIELD,
        id=id,
        source=source,
        locator=locator,
        participant=participant,
        text=text,
        attributes=attributes,
    )


def evidence_id(source: str, locator: str) -> str:
    """Stable id: the same source and locator give the same id on every load."""
    digest = hashlib.sha256(f"{source}\x00{locator}".encode()).hexdigest()
    return f"ev-{digest[:16]}"


def _is_number(value: str) -> bool:
    try:
        float(value.replace(",", ""))
    except ValueError:
        return False
    return True


def _average_text_length(values: list[str]) -> float | None:
    """Mean length of the values, or None when they are not free text (empty or numeric)."""
    if not values:
        return None
    numeric = sum(_is_number(v) for v in values)
    if numeric * 2 >= len(values):
        return None
    return sum(len(v) for v in values) / len(values)


def infer_text_column(
    columns: Sequence[str], sample: Sequence[Mapping[str, str]], *, exclude: str | None
) -> str | None:
    """The free-text column with the longest values on average (first column wins a tie),
    leaving out columns whose values repeat like categories, then grouping columns
    ("Customer Type", "department"), as long as something else is left: many respondents may
    give the same short answer, but a column named as a grouping is never their words."""
    candidates = [c for c in columns if c != exclude]
    ungrouped = [c for c in candidates if not is_grouping_column(c)]
    words = [c for c in ungrouped if not _repeating(c, sample)]
    best: tuple[float, str] | None = None
    for column in words or ungrouped or candidates:
        values = [v for record in sample if (v := record.get(column, "").strip())]
        average = _average_text_length(values)
        if average is not None and (best is None or average > best[0]):
            best = (average, column)
    return best[1] if best else None


def _repeating(column: str, sample: Sequence[Mapping[str, str]]) -> bool:
    """Whether the column's values repeat like categories: at most a third distinct."""
    values = [v for record in sample if (v := record.get(column, "").strip())]
    return len(values) >= CATEGORY_MIN_VALUES and 3 * len(set(values)) <= len(values)


@dataclass(frozen=True)
class ColumnPlan:
    """Which column holds the participant's words and which names the participant."""

    text: str
    participant: str | None
    _shared: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Short strings already seen in this file's records, each kept once."""
    _shared_attributes: dict[tuple[tuple[str, str], ...], dict[str, str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Attribute dicts already seen in this file's records, each kept once."""

    def evidence(self, record: Mapping[str, str], source: str, locator: str) -> Evidence | None:
        """The record as Evidence, or None when its text is empty."""
        text = record.get(self.text, "").strip()
        if not text:
            return None
        participant = record.get(self.participant, "").strip() if self.participant else ""
        share = self._share
        stripped = ((key, value.strip()) for key, value in record.items())
        attributes = {
            share(key): share(value)
            for key, value in stripped
            if value and key not in (self.text, self.participant)
        }
        return make_evidence(
            id=evidence_id(source, locator),
            source=source,
            locator=locator,
            participant=share(participant) or None,
            text=text,
            attributes=self._share_attributes(attributes),
        )

    def _share_attributes(self, attributes: dict[str, str]) -> dict[str, str]:
        """The dict equal to ``attributes`` seen before in this file: a participant's role,
        plan and age repeat on each of their rows. Records never change their attributes,
        so sharing one dict is safe."""
        key = tuple(attributes.items())
        return _kept_once(self._shared_attributes, key, attributes, SHARED_ATTRIBUTE_SETS)

    def _share(self, value: str) -> str:
        """The string equal to ``value`` seen before in this file, if short: a file repeats
        its categories on every row, and each row read is a new copy of them."""
        if len(value) > SHARED_VALUE_CHARS:
            return value
        return _kept_once(self._shared, value, value, SHARED_VALUES)


def _kept_once(kept: dict[K, V], key: K, value: V, limit: int) -> V:
    """The value kept under ``key``; else ``value``, kept while fewer than ``limit`` are."""
    found = kept.get(key)
    if found is None:
        found = value
        if len(kept) < limit:
            kept[key] = value
    return found


def plan_columns(
    columns: Sequence[str],
    sample: Sequence[Mapping[str, str]],
    *,
    text_column: str | None,
    source: str,
) -> ColumnPlan:
    """Choose the text and participant columns, or explain which columns there are."""
    listed = ", ".join(columns) or "(none)"
    participant = participant_column(columns)
    if text_column is not None:
        text = find_column(text_column, columns)
        if text is None:
            raise SourceError(source, f"no text column {text_column!r}; the columns are: {listed}")
    else:
        inferred = infer_text_column(columns, sample, exclude=participant)
        if inferred is None:
            raise SourceError(
                source,
                f"no text column: every column is empty or numeric (columns: {listed}); "
                "name the text column with text_column",
            )
        text = inferred
    return ColumnPlan(text=text, participant=None if participant == text else participant)


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _leaves(
    obj: Mapping[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key path, value as text) for every scalar value or list below ``obj``."""
    for key, value in obj.items():
        here = (*path, str(key))
        if isinstance(value, dict) and len(here) <= _MAX_NESTING:
            yield from _leaves(value, here)
        elif isinstance(value, list) and not any(isinstance(v, dict | list) for v in value):
            yield here, "; ".join(s for v in value if (s := _scalar(v)) is not None)
        elif isinstance(value, dict | list):
            yield here, json.dumps(value, ensure_ascii=False, sort_keys=True)
        elif (text := _scalar(value)) is not None:
            yield here, text


def flatten(obj: Mapping[str, Any]) -> dict[str, str]:
    """A JSON object as string columns. A nested value is named by its own key
    (``{"profile": {"role": ...}}`` gives ``role``) unless another value has that key too,
    then by its dotted path (``profile.role``). Lists of scalars are joined by '; '."""
    leaves = list(_leaves(obj))
    counts = Counter(path[-1] for path, _ in leaves)
    return {
        (path[-1] if counts[path[-1]] == 1 else ".".join(path)): value for path, value in leaves
    }


def columns_of(records: Sequence[Mapping[str, str]]) -> list[str]:
    """Every key of the records, in the order first seen."""
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    return list(seen)
