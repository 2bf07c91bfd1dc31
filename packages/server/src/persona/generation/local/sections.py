"""Which section of a persona a sentence belongs to: a goal, a pain point, a behaviour or none.

Each section scores the sentence on its own evidence:

- goals: what people want, need, wish or are trying to do ("I'd love", "ideally", "I'd pay
  for", "it would help");
- pain points: words of trouble ("frustrating", "freezes", "gets lost", "takes forever",
  "too many", "never"), questions and uncertainty ("I still don't know", "I'm never sure"),
  plus a clearly negative tone by the VADER sentiment lexicon (shipped in its package, so
  this works offline), which finds the complaints no fixed list foresees;
- behaviours: habits, a first-person routine ("I usually", "we always", "I keep", "I plan
  the week", "every morning I", "on Fridays we") counting more than a bare time marker
  ("every week").

A short answer with no cue of its own takes the section of the question it answers
(:func:`question_section`: "What gets in your way?" asks for pain points).

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
    r"|\b(?:i|we)(?:'d|\u2019d|\s+would)\s+(?:happily\s+)?pay\b|\bwould\s+(?:help|save)\b"
    r"|\bwould\s+be\s+(?:lovely|brilliant|nice|great)\b|^give\s+me\b"
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
    r"|\bcosts?\s+us\b|\bby\s+hand\b|\bgamble\b|\bdon't\s+talk\b|\bnobody\s+knows\b"
    r"|\btoo\s+\w+|\bnever\b|\bnobody\b|\bno\s+one\b|\bworst\b|\bangry\b|\bscramble\b"
    r"|\bwastes?\b|\beats?\b|\bstall|\bdrop(?:s|ped)?\s+out\b|\bdropping\b|\bnervous\b"
    r"|\bsurprise\b|\bblind\b|\bbrutal\b|\bburied\b|\btimed?\s+out\b|\blocked\s+out\b",
    re.IGNORECASE,
)
_UNCERTAIN = re.compile(
    r"\b(?:i|we)\s+(?:still\s+)?(?:do\s+not|don't|don\u2019t|can't|can\u2019t|cannot)\s+"
    r"(?:know|tell|understand|see)\b|\b(?:i'm|i\u2019m|i\s+am|we're|we\s+are)\s+(?:never|not)\s+"
    r"(?:sure|certain)\b|\bno\s+idea\b|\bnever\s+know\b|\?\s*$",
    re.IGNORECASE,
)
"""A question or an admission of not knowing: something stands in the person's way."""
UNCERTAIN_WEIGHT = 4
_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_PERIOD = rf"(?:day|morning|afternoon|evening|night|week|month|quarter|year|shift|time|{_DAYS})s?"
_ROUTINE = re.compile(
    r"\b(?:i|we)\s+(?:usually|always|often|typically|normally|generally|regularly|tend\s+to"
    r"|keep|still|plan|check|write|go|do|ring|call|print|sit|take|block|set|move)\b"
    r"(?!\s+(?:wish|want|need|hope|would|like|love|to|not|don|can|know|have\s+to))"
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


def tone_only(sentence: str) -> bool:
    """True when only its negative tone makes ``sentence`` a pain point: no cue phrase says so."""
    return section_scores(sentence) == (0, TONE_WEIGHT, 0)


def section_scores(sentence: str) -> tuple[int, int, int]:
    """The score of ``sentence`` for goals, pain points and behaviours."""
    goal = CUE_WEIGHT * len(_GOAL.findall(sentence))
    if goal and _GOAL.match(sentence):  # "I need one place that..." is about the want
        goal += LEAD_WEIGHT
    pain = CUE_WEIGHT * len(_PAIN.findall(sentence))
    pain += UNCERTAIN_WEIGHT * bool(_UNCERTAIN.search(sentence))
    if _sentiment().polarity_scores(sentence)["compound"] <= NEGATIVE_TONE:
        pain += TONE_WEIGHT
    behaviour = ROUTINE_WEIGHT * len(_ROUTINE.findall(sentence))
    behaviour += TIME_MARKER_WEIGHT * len(_TIME_MARKER.findall(sentence))
    return goal, pain, behaviour


_QUESTION_CUES = (
    re.compile(
        r"\b(?:want|wish|help|would|change|ideal|improve|hope|need|like\s+to|easier|better)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:hard|hardest|difficult|frustrat\w*|problems?|way|worst|annoy\w*|struggl\w*"
        r"|challeng\w*|pain\w*|wrong|stops?)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:how\s+do\s+you|today|currently|typical|usually|walk\s+me|routine|what\s+do\s+you\s+do"
        r"|handle|manage)\b",
        re.I,
    ),
)


def question_section(question: str) -> int:
    """The section a question asks for ("What would help most?" asks for goals), or -1."""
    scores = [len(cue.findall(question)) for cue in _QUESTION_CUES]
    best = max(scores)
    if best == 0 or scores.count(best) > 1:
        return -1
    return scores.index(best)


@cache
def feeling_words() -> frozenset[str]:
    """The words the sentiment lexicon gives a tone to ("hate", "love", "freeze")."""
    return frozenset(_sentiment().lexicon)


@cache
def _sentiment() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()
