"""Noun phrases of a segment's evidence, for a title that names what its people deal with.

No tagger and no model: English puts a noun phrase after a determiner, a possessive or a
preposition ("the handover sheet", "my repeat prescription", "for client files"), and a
short answer often starts with one ("Paper list in my pocket."). The words
that follow one, up to a function word, a common verb, an adverb or punctuation, are taken
as a phrase (at most three words); one ending in a word that is rarely a noun is dropped.
A phrase is distinctive for a segment when a larger share of its participants say it than of
any other segment's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

MAX_PHRASE_WORDS = 3
TITLE_PHRASES = 2

_WORD = re.compile(r"[a-z][a-z'\u2019-]*|[^\sa-z]+")
_OPENERS_WORDS = """\
the my our their your his her a an every each this these those some any of for with on in at
from about into over through another"""
_OPENERS = frozenset(_OPENERS_WORDS.split())
_FUNCTION_WORDS = """\
and or but nor so yet if then than that which who whom whose what when where why how i me we
us you he him she it they them its is are was were be been being am do does did done have
has had having will would can could shall should may might must not no yes to as by up out
off down just only also too very really quite still even ever never again already there here
all both few more most other such own same next last first one two three four five six seven
eight nine ten half lot lots bit way thing things something anything everything nothing
someone anyone everyone nobody time times day days week weeks month months year years hour
hours minute minutes morning evening night afternoon today tomorrow yesterday myself
yourself ourselves themselves himself herself itself without before after between instead
across against during until via per like than within behind while because since though
although unless whether ones"""
_FUNCTION = frozenset(_FUNCTION_WORDS.split())
_VERBS_WORDS = """\
want wants need needs wish like likes love loves get gets got go goes went make makes made
take takes took give gives gave keep keeps kept see sees saw know knows knew think say says
said tell tells told ask asks asked try tries tried send sends sent find finds found put
puts set sets let lets come comes came look looks looked use uses used work works worked
help helps start starts stop stops wait waits call calls ring rings check checks write
writes print prints pay pays sit sits move moves show shows feel feels seem seems become
becomes leave leaves spend spends happen happens turn turns bring brings hold holds run runs
arrive arrives open opens lose loses miss misses chase chases fill fills sort sorts switch
switches share shares reach reaches"""
_VERBS = frozenset(_VERBS_WORDS.split())
_NOT_HEADS_WORDS = """\
new old different whole full empty real actual main good great big small long short late
early right wrong easy hard simple clear free extra single certain sure able available
likely possible ready busy proper random typical clean cleaner separate whole usual normal
general special several various personal online"""
FILLER_WORDS = frozenset({
    "actually", "basically", "honestly", "just", "like", "really", "maybe", "okay", "ok",
    "yeah", "yes", "guess", "think", "thing", "things", "lot", "lots", "stuff", "kind", "sort",
    "way", "pretty", "bit", "little", "sure", "know", "mean", "right", "good", "want", "need",
    "don", "doesn", "didn", "isn", "ll", "ve", "re", "time", "got", "make", "use", "using",
    "used", "says", "said", "let", "lets", "ones", "near", "inside", "outside", "matters",
    "hand", "hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years",
    "minute", "minutes", "morning", "today", "tomorrow", "start", "end",
})  # fmt: skip
"""Conversational words and units of time ("by hand", "hours per week") that say nothing
about a segment; never part of a phrase."""
_OBJECTS = frozenset({"me", "us", "you", "him", "her", "them", "it", "to"})
"""Words that follow a verb, not a noun: what comes before them is not a noun phrase's end."""
_NOT_HEADS = frozenset(_NOT_HEADS_WORDS.split())


def noun_phrases(sentence: str) -> list[str]:
    """The noun phrases of one sentence, lower case, in order."""
    words = ["the", *_WORD.findall(sentence.casefold().replace("\u2019", "'"))]
    found: list[str] = []
    index = 0  # the sentence's start opens a phrase too: "Paper list in my pocket."
    while index < len(words):
        if words[index] not in _OPENERS:
            index += 1
            continue
        phrase: list[str] = []
        index += 1
        while index < len(words) and len(phrase) < MAX_PHRASE_WORDS:
            word = words[index]
            if word.endswith("'s"):
                phrase = []  # "every patient's due times": the phrase starts again
                index += 1
                continue
            if word in _OPENERS or not _content(word):
                break
            phrase.append(word)
            index += 1
        after = words[index] if index < len(words) else "."
        if after in _OBJECTS:
            phrase = phrase[:-1]  # "the app logs me out": a verb before its object
        elif len(phrase) == MAX_PHRASE_WORDS and _content(after):
            phrase = []  # no end in sight: more likely a clause than a noun phrase
        plural = next((n for n, w in enumerate(phrase[:-1]) if _plural(w)), None)
        if plural is not None:
            phrase = phrase[: plural + 1]  # "the page lists features": a plural ends it
        while phrase and _not_head(phrase[-1]):
            phrase.pop()
        if phrase:
            found.append(" ".join(phrase))
    return found


def _plural(word: str) -> bool:
    return word.endswith("s") and not word.endswith(("ss", "us", "is"))


def _not_head(word: str) -> bool:
    """Rarely the last word of a noun phrase: an adjective, or a past tense ("arrived")."""
    return word in _NOT_HEADS or (word.endswith("ed") and not word.endswith("eed"))


def _content(word: str) -> bool:
    return (
        word[0].isalpha()
        and len(word) > 2
        and word not in _FUNCTION
        and word not in _VERBS
        and word not in FILLER_WORDS
        and not word.endswith(("ly", "'t", "'ll", "'d", "'re", "'ve", "'m"))
    )


def phrases_of(sentences: Iterable[str]) -> set[str]:
    """The distinct noun phrases of one participant's sentences."""
    return {phrase for sentence in sentences for phrase in noun_phrases(sentence)}


def distinctive_phrases(said: Sequence[set[str]], labels: Sequence[int], label: int) -> list[str]:
    """The noun phrases (``said``: each participant's, from :func:`phrases_of`) that most of
    segment ``label`` says and few of the others do, most distinctive first; a phrase needs
    two speakers when the segment has two participants or more, unless none has. A label
    below 0 leaves a participant out (not sampled)."""
    inside: Counter[str] = Counter()
    outside: dict[int, Counter[str]] = {}
    sizes: Counter[int] = Counter(owner for owner in labels if owner >= 0)
    for phrases, owner in zip(said, labels, strict=True):
        if owner < 0:
            continue
        (inside if owner == label else outside.setdefault(owner, Counter())).update(phrases)
    needed = 2 if sizes[label] >= 2 else 1

    def score(phrase: str) -> tuple[float, int, str]:
        share = inside[phrase] / sizes[label]
        elsewhere = max((c[phrase] / sizes[o] for o, c in outside.items()), default=0.0)
        return (-(share - elsewhere), -len(phrase.split()), phrase)

    for least in sorted({needed, 1}, reverse=True):  # one speaker when no phrase has two
        ranked = sorted((p for p in inside if inside[p] >= least), key=score)
        distinctive = [p for p in ranked if score(p)[0] < 0]
        if distinctive:
            return distinctive
    return []


def title_phrases(phrases: list[str], count: int = TITLE_PHRASES) -> list[str]:
    """The first ``count`` phrases that share no word with one taken before them; phrases
    ending in "-ing" ("typing", "branding": as often a verb as a noun) come last."""
    chosen: list[str] = []
    for phrase in sorted(phrases, key=lambda p: p.endswith("ing")):
        words = set(phrase.split())
        if all(not words & set(other.split()) for other in chosen):
            chosen.append(phrase)
        if len(chosen) == count:
            break
    return chosen
