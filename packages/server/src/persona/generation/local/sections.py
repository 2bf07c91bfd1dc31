"""Which section of a persona a sentence belongs to: a goal, a pain point, a behaviour or none.

Each section scores the sentence on its own evidence:

- goals: what people want, need, wish or are trying to do ("I'd love", "ideally");
- pain points: words of trouble ("frustrating", "freezes", "gets lost", "takes forever"),
  plus a clearly negative tone by the VADER sentiment lexicon (shipped in its package, so
  this works offline), which finds the complaints no fixed list foresees;
- behaviours: habits, a first-person routine ("I usually", "we always", "every morning
  I", "on Fridays we") counting more than a bare time marker ("every week").

The highest score wins; ties go to goals, then behaviours, then pain points, so that "I
always wish it exported" is a goal and "I usually build a macro when something annoys me"
a behaviour. A sentence with no score is in no section.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

GOALS, PAIN_POINTS, BEHAVIOURS = 0, 1, 2
SECTIONS = ("goals", "pain_points", "behaviours")

NEGATIVE_TONE = -0.3
"""VADER compound score at or below which a sentence reads as a complaint."""
CUE_WEIGHT = 2
ROUTINE_WEIGHT = 3
TIME_MARKER_WEIGHT = 1
TONE_WEIGHT = 1
LEAD_WEIGHT = 2
"""Added when the sentence opens with its goal cue: the want is what it is about."""

_INTENT = r"(?:want|need|wish|hope|plan\s+to)"
_GOAL = re.compile(
    rf"\b(?:i|we)\s+(?:(?:really|always|just|still|would|do)\s+)?{_INTENT}\b"
    r"|\b(?:my|our)\s+(?:main\s+|big(?:gest)?\s+)?(?:goal|aim|priority)\b"
    r"|\b(?:i|we)(?:'d|\u2019d|\s+would)\s+(?:really\s+)?(?:like|love|prefer)\b"
    r"|\b(?:i'm|i\u2019m|i\s+am|we're|we\u2019re|we\s+are)\s+(?:trying|hoping|looking)\s+to\b"
    r"|\bit\s+would\s+be\s+(?:great|nice|helpful|good|amazing|useful)\b|\bideally\b"
    r"|\bwhat\s+(?:i|we)(?:'d|\u2019d|\s+would)?\s+(?:want|love|like|need)\b",
    re.IGNORECASE,
)
_PAIN = re.compile(
    r"frustrat|annoy|\bhard\s+to\b|difficult|\bslow|problem|\bhate|confus|struggl|painful"
    r"|\bwaste|broken|tedious|\bcan't\b|\bcan\u2019t\b|\bcannot\b|\bcouldn't\b|takes\s+forever"
    r"|\btoo\s+(?:long|many|much|big|slow|late|small|hard)\b|\bso\s+(?:slow|late)\b"
    r"|complicated|\bcrash|\bbugs?\b|\bfreez|\bjams?\b|\bstuck\b|\bfail|\berrors?\b"
    r"|\bwrong\b|\bnever\s+(?:match|work|find|load|sync)|\blos[et]\b|\blose\b|\bmissing\b"
    r"|\bfalls?\s+(?:apart|behind)\b|\bpiles?\s+up\b|\bgives?\s+up\b|\bcomplain"
    r"|\bmistakes?\b|\bexpire|\bhurts?\b|\bchasing\b|\bnightmare|\bworr(?:y|ied|ies)\b"
    r"|\bcosts?\s+us\b|\bby\s+hand\b|\bgamble\b|\bdon't\s+talk\b|\bnobody\s+knows\b",
    re.IGNORECASE,
)
_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_PERIOD = rf"(?:day|morning|afternoon|evening|night|week|month|quarter|year|shift|time|{_DAYS})s?"
_ROUTINE = re.compile(
    r"\b(?:i|we)\s+(?:usually|always|often|typically|normally|generally|regularly|tend\s+to"
    r"|keep|still)\b(?!\s+(?:wish|want|need|hope|would|like|love))"
    r"|^(?:every|each|most|on|at|after|before|first\s+thing)\b[^.!?]{0,50}?\b(?:i|we)\s"
    r"|\b(?:my|our)\s+routine\b|\bhabit",
    re.IGNORECASE,
)
_TIME_MARKER = re.compile(
    rf"\b(?:every|each)\s+(?:single\s+)?{_PERIOD}\b|\b(?:daily|weekly|monthly|usually)\b"
    rf"|\bon\s+{_DAYS}\b|\bfirst\s+thing\b",
    re.IGNORECASE,
)


def section_of(sentence: str) -> int:
    """GOALS, PAIN_POINTS or BEHAVIOURS, whichever scores highest; -1 when none scores."""
    scores = section_scores(sentence)
    best = max(scores)
    if best <= 0:
        return -1
    return next(s for s in (GOALS, BEHAVIOURS, PAIN_POINTS) if scores[s] == best)


def section_scores(sentence: str) -> tuple[int, int, int]:
    """The score of ``sentence`` for goals, pain points and behaviours."""
    goal = CUE_WEIGHT * len(_GOAL.findall(sentence))
    if goal and _GOAL.match(sentence):  # "I need one place that..." is about the want
        goal += LEAD_WEIGHT
    pain = CUE_WEIGHT * len(_PAIN.findall(sentence))
    if _sentiment().polarity_scores(sentence)["compound"] <= NEGATIVE_TONE:
        pain += TONE_WEIGHT
    behaviour = ROUTINE_WEIGHT * len(_ROUTINE.findall(sentence))
    behaviour += TIME_MARKER_WEIGHT * len(_TIME_MARKER.findall(sentence))
    return goal, pain, behaviour


@cache
def feeling_words() -> frozenset[str]:
    """The words the sentiment lexicon gives a tone to ("hate", "love", "freeze")."""
    return frozenset(_sentiment().lexicon)


@cache
def _sentiment() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()
