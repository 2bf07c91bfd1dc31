"""Column roles: which column of a tabular source names the participant and which groups
participants (a segment, role, department, plan...), recognised by name."""

from __future__ import annotations

import re
from collections.abc import Sequence

PARTICIPANT_NAMES = (
    "participant",
    "participant_id",
    "participant_name",
    "respondent",
    "respondent_id",
    "interviewee",
    "user",
    "user_id",
    "username",
    "person",
    "person_id",
    "customer",
    "customer_id",
    "speaker",
    "id",
    "name",
)
"""In order of preference: the first of these among the columns names the participant; after
them, any other ``*_id`` column ("Case ID")."""
ROLE_NAMES = (
    "segment", "persona", "role", "job_title", "jobtitle", "job", "occupation", "title",
    "position", "profession", "department", "team", "type",
)  # fmt: skip
"""Grouping columns that say who a participant is, in order of preference for a title: a
column named so, or ending so ("Customer Type", "user_segment"), is the researcher's own
segmentation."""
GROUPING_NAMES = frozenset({*ROLE_NAMES, "group", "cohort", "plan", "tier"})
"""Every grouping column: these others (a plan, a cohort) group participants by something
other than who they are, so they count as far as the participants' words agree with them."""
_SEPARATORS = re.compile(r"[\s\-_.]+")


def normalise_column(column: str) -> str:
    """``column`` case- and separator-insensitively: "Respondent ID" -> "respondent_id"."""
    return _SEPARATORS.sub("_", column.strip().casefold()).strip("_")


def participant_column(columns: Sequence[str]) -> str | None:
    """The column naming the participant, by name; None when there is none."""
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(normalise_column(column), column)
    found = next((by_name[n] for n in PARTICIPANT_NAMES if n in by_name), None)
    if found is None:
        found = next((c for n, c in by_name.items() if n.endswith("_id")), None)
    return found


def is_grouping_column(column: str) -> bool:
    return _role_name(column, GROUPING_NAMES) is not None


def role_rank(column: str) -> int | None:
    """Where a role-like column comes in ``ROLE_NAMES`` (lower first), or None."""
    name = _role_name(column, frozenset(ROLE_NAMES))
    return None if name is None else ROLE_NAMES.index(name)


def _role_name(column: str, names: frozenset[str]) -> str | None:
    name = normalise_column(column)
    if name in names:
        return name
    last = name.rsplit("_", 1)[-1]
    return last if last in names else None


def find_column(wanted: str, columns: Sequence[str]) -> str | None:
    """The column ``wanted`` names: exactly, else the one equal to it up to case and
    separators (None when no column, or more than one, is)."""
    if wanted in columns:
        return wanted
    folded = [c for c in columns if normalise_column(c) == normalise_column(wanted)]
    return folded[0] if len(folded) == 1 else None
