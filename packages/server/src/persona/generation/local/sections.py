"""Which section of a persona a sentence belongs to: a goal, a pain point, a behaviour or none."""

from __future__ import annotations

import re
from collections import Counter

GOALS, PAIN_POINTS, BEHAVIOURS = 0, 1, 2
SECTIONS = ("goals", "pain_points", "behaviours")

_CUES = {
    GOALS: (
        r"\b(?:i|we)\s+(?:really\s+)?(?:want|need|wish|hope)\b|\b(?:my|our)\s+goal\b"
        r"|\b(?:i|we)(?:'d|\s+would)\s+(?:like|love)\b|\b(?:i'm|i\s+am|we're|we\s+are)\s+trying\s+to\b"
        r"|\bit\s+would\s+be\s+(?:great|nice|helpful)\b|\bideally\b"
    ),
    PAIN_POINTS: (
        r"frustrat|annoy|\bhard\s+to\b|difficult|\bslow|problem|\bhate|confus|struggl|painful"
        r"|\bwaste|broken|tedious|\bcan't\b|\bcannot\b|takes\s+forever|\btoo\s+(?:long|many|much)\b"
        r"|complicated|\bcrash|\bbugs?\b"
    ),
    BEHAVIOURS: (
        r"\b(?:i|we)\s+(?:usually|always|often|typically|normally|tend\s+to|use)\b"
        r"|\bevery\s+(?:day|week|month|morning|evening|time)\b|\busually\b|\bdaily\b|\bweekly\b"
        r"|\bmy\s+routine\b|\bhabit"
    ),
}
_CUE = re.compile(
    "|".join(f"(?P<c{section}>{pattern})" for section, pattern in _CUES.items()), re.IGNORECASE
)


def section_of(sentence: str) -> int:
    """The section whose cue phrases the sentence matches most often (ties: pain points first)."""
    hits = Counter(int(match.lastgroup[1:]) for match in _CUE.finditer(sentence) if match.lastgroup)
    if not hits:
        return -1
    return max(hits, key=lambda section: (hits[section], section == PAIN_POINTS, -section))
