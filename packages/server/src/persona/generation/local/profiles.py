"""Participants' attributes: one profile per participant, which keys describe people, and
the demographics of a segment."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from persona.sources.columns import is_grouping_column

if TYPE_CHECKING:
    from persona.generation.local.corpus import Corpus
    from persona.generation.local.segments import Segment

MAX_ATTRIBUTE_CHARS = 80
MAX_ATTRIBUTE_WORDS = 6
CONTEXT_KEYS = frozenset({"question", "prompt", "context", "interviewer", "comment", "notes"})
"""Attributes that hold what was asked or noted around the words, not who said them."""
SHOWN_VALUES = 3
VARYING_SHARE = 0.25
MIN_IDENTIFYING = 5
"""A text attribute with a distinct value for each of this many participants is an identifier."""


@dataclass
class Profiles:
    values: list[dict[str, str]]
    """Each participant's attributes: for each key, the value most of their records give."""
    varying: set[str]
    """Keys that change between one participant's records (the topic of an answer, say):
    facts about the record, not about the person."""


def read_profiles(corpus: Corpus) -> Profiles:
    by_participant: list[list[dict[str, str]]] = [[] for _ in corpus.participants]
    for record, participant in zip(corpus.records, corpus.record_participant, strict=True):
        by_participant[participant].append(record.attributes)
    values: list[dict[str, str]] = []
    repeated: Counter[str] = Counter()  # participants with two or more values for the key
    changed: Counter[str] = Counter()  # ... of which the values differ
    for dicts in by_participant:
        profile, counters = _profile(dicts)
        values.append(profile)
        for key, counter in counters.items():
            if counter.total() > 1:
                repeated[key] += 1
                changed[key] += len(counter) > 1
    varying = {key for key in repeated if changed[key] > VARYING_SHARE * repeated[key]}
    return Profiles(values, varying)


def _profile(dicts: list[dict[str, str]]) -> tuple[dict[str, str], dict[str, Counter[str]]]:
    """One participant's attributes, and how often each value of each key occurs."""
    first = dicts[0]
    if all(other == first for other in dicts[1:]):  # the usual case: one row of attributes
        profile = {key: value.strip() for key, value in first.items() if value.strip()}
        return profile, {key: Counter({value: len(dicts)}) for key, value in profile.items()}
    counters: dict[str, Counter[str]] = {}
    for attributes in dicts:
        for key, value in attributes.items():
            if value.strip():
                counters.setdefault(key, Counter())[value.strip()] += 1
    return {key: most_common(counter) for key, counter in counters.items()}, counters


def descriptive_attributes(profiles: Profiles) -> dict[str, bool]:
    """Attribute keys worth aggregating, mapped to True when every value is a number.

    Left out: context (the interviewer's question), keys that vary within a participant,
    free text (long values) and identifiers (a distinct value per participant).
    """
    values: dict[str, Counter[str]] = {}
    for profile in profiles.values:
        for key, value in profile.items():
            values.setdefault(key, Counter())[value] += 1
    kept: dict[str, bool] = {}
    for key in sorted(values):
        counts = values[key]
        numeric = all(_number(value) is not None for value in counts)
        if role_key(key) in CONTEXT_KEYS or key in profiles.varying:
            continue
        if any(_free_text(value) for value in counts):
            continue
        identifying = len(counts) >= MIN_IDENTIFYING and max(counts.values()) == 1
        if identifying and not numeric and not is_grouping_column(key):
            continue
        kept[key] = numeric
    return kept


def _free_text(value: str) -> bool:
    return len(value) > MAX_ATTRIBUTE_CHARS or len(value.split()) > MAX_ATTRIBUTE_WORDS


def segment_attributes(
    profiles: Profiles, segment: Segment, keys: dict[str, bool]
) -> dict[str, list[str]]:
    """For each descriptive key, the values of the segment's participants who have it."""
    result: dict[str, list[str]] = {}
    for participant in segment.participants.tolist():
        for key, value in profiles.values[participant].items():
            if key in keys:
                result.setdefault(key, []).append(value)
    return result


def most_common(counter: Counter[str]) -> str:
    return min(counter, key=lambda value: (-counter[value], value))


def describe_demographics(
    attributes: dict[str, list[str]], keys: dict[str, bool], participant_count: int
) -> dict[str, str]:
    demographics = {"participants": str(participant_count)}
    for key in sorted(attributes):
        values = attributes[key]
        demographics[key] = _numeric_summary(values) if keys[key] else _share_summary(values)
    return demographics


def _numeric_summary(values: list[str]) -> str:
    numbers = sorted(n for n in map(_number, values) if n is not None)
    low, high, median = numbers[0], numbers[-1], statistics.median(numbers)
    if low == high:
        return _format_number(low)
    return f"{_format_number(low)}\u2013{_format_number(high)} (median {_format_number(median)})"


def _share_summary(values: list[str]) -> str:
    """The most common values with their shares: 'Designer (60%), Engineer (40%)'."""
    counts = Counter(values)
    ranked = sorted(counts, key=lambda value: (-counts[value], value))
    shown = [f"{value} ({round(100 * counts[value] / len(values))}%)" for value in ranked]
    more = len(ranked) - SHOWN_VALUES
    return ", ".join(shown[:SHOWN_VALUES]) + (f" and {more} more" if more > 0 else "")


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _format_number(number: float) -> str:
    return f"{round(number, 1):g}"


def role_key(key: str) -> str:
    return key.strip().lower().replace(" ", "_").replace("-", "_")
