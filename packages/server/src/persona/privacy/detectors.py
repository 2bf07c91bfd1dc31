"""Finding personal data in a record's text, offline: e-mail addresses, URLs, IBANs, payment
cards, IP addresses, phone numbers, listed names (participants, speakers, the experiment's list)
and names after a greeting or before a signature.

Every pattern is compiled once. The costly checks run only on what a cheap pattern found: the
phone library sees only runs of digits long enough to be a number, the IBAN check only what
looks like one, so a record without digits, ``@`` or a link costs a few substring tests.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import phonenumbers

Kind = Literal["participant", "name", "email", "phone", "url", "ip", "card", "iban"]

KINDS: tuple[Kind, ...] = ("participant", "name", "email", "phone", "url", "ip", "card", "iban")


@dataclass(frozen=True, slots=True)
class Found:
    """Characters ``start`` to ``end`` of a text are personal data of ``kind``."""

    start: int
    end: int
    kind: Kind

    def overlaps(self, other: Found) -> bool:
        return self.start < other.end and other.start < self.end


# Every pattern starts only where a match can begin (never inside the run of characters it
# opens with) and takes each character once, so that a hostile record of a megabyte without
# spaces costs a scan, not a scan per character.
_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TLDS = "com|org|net|io|co|uk|de|fr|nl|es|it|eu|app|dev|ai|gov|edu|info|biz|me|us|ca|au"
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>\"'`]+")
_TLD = re.compile(rf"\.(?:{_TLDS})(?![\w-])")
"""The end of a bare domain ("acme.io"): its start is found by walking back from here, which
costs far less than trying a domain pattern at every word."""
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_PATH_END = frozenset(" \t\n\r<>\"'`")
_URL_TRAILING = ".,;:!?)]}'\""
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_NUMBERS = re.compile(r"(?:\+|\()?\d[\d ().\-\u00a0]{5,}\d")
"""A run of digits long enough to be a phone, card or IP address, with the separators those
are written with: one scan finds every candidate, each then checked for what it may be."""
_DIGITS = re.compile(r"\d")
# No leading \b: a pattern opening with literal words lets the engine skip to their first
# letters; the word boundary before them is checked afterwards.
_GREETING = re.compile(
    r"(?:Hi|Hello|Hey|Dear|Thanks|Thank you|Cheers|Morning|Afternoon|Evening|Bye)"
    r",?[ \t]+(?P<name>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)\b"
)
_SIGNATURE = re.compile(
    r"\n[ \t]*(?:\u2014|\u2013|--|-|Regards,|Best,|Thanks,|Cheers,|Best regards,)"
    r"[ \t]*(?:\n[ \t]*)?(?P<name>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)[ \t]*(?=\n|$)"
)
_NOT_NAMES = frozenset(
    {
        "All", "Everyone", "Team", "There", "Again", "Guys", "Folks", "So", "For", "You",
        "The", "This", "That", "It", "Yes", "No", "Not", "Sir", "Madam", "Support", "Both",
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
        "Then", "Now", "Well", "Anyway", "Ok", "Okay", "Sure", "Just", "Everybody",
    }
)  # fmt: skip
"""Words a greeting or signature puts where a name goes that are not names."""


MAX_DOMAIN = 253
"""The longest a domain name can be: how far back a bare domain's start is looked for."""
MAX_JOINS = 4
"""Apostrophes and hyphens in the first word of a name at most ("Jean-Luc's")."""
_JOINERS = frozenset("'\u2019-")
MAX_NUMBER = 64
"""The longest run of digits and separators looked at as a phone number."""

_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


@functools.lru_cache(maxsize=65_536)
def _is_phone(candidate: str, region: str | None) -> bool:
    """Whether ``candidate`` is one valid phone number, international or local to ``region``.

    Cached: a participant's number recurs in their signature, and the library is slow."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    if region and phonenumbers.is_valid_number_for_region(number, region):
        return True  # the common case, without the library's search through every region
    return bool(phonenumbers.is_valid_number(number))


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces ignored)."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _ip_valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trim_url(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _URL_TRAILING:
        end -= 1
    return end


def greeted_names(text: str) -> Iterable[str]:
    """Names after a greeting ("Hi Sarah") or alone on a line after a dash ("— Tom")."""
    matches = [m for m in _GREETING.finditer(text) if not _inside_word(text, m.start())]
    if "\n" in text:
        matches += _SIGNATURE.finditer("\n" + text)
    for match in matches:
        name = match["name"]
        first = name.split()[0]
        if first in _NOT_NAMES:
            continue
        yield first if name.split()[-1] in _NOT_NAMES else name


def _inside_word(text: str, start: int) -> bool:
    return start > 0 and _word_char(text[start - 1])


class Detector:
    """Finds personal data in texts: the patterns above, and the names it is given.

    ``names`` maps each listed name (participants and speakers, the experiment's list, names
    seen after greetings) to its kind; they are matched case-sensitively as whole words.
    ``keep`` lists values never replaced, compared case-insensitively.
    """

    def __init__(
        self,
        names: dict[str, Kind],
        *,
        keep: Iterable[str] = (),
        region: str | None = "US",
    ) -> None:
        self.keep = frozenset(k.casefold() for k in keep)
        self.names = {
            n: k for n, k in names.items() if len(n) >= 2 and n.casefold() not in self.keep
        }
        self.region = region
        self._names = _Names(self.names)

    def find(self, text: str) -> list[Found]:
        """Non-overlapping finds in ``text``, left to right; where two overlap, the kind found
        first below wins (an e-mail address's domain is not also a URL)."""
        found: list[Found] = []
        has_digits = _DIGITS.search(text) is not None
        if "@" in text:
            self._add(found, text, _EMAIL.finditer(text), "email")
        if "." in text:
            self._urls(found, text)
        # Listed names before numbers: a participant id ("R-20481977") is the participant,
        # even where its digits would make a phone number.
        for start, name in self._names.finditer(text):
            self._add_span(found, text, start, start + len(name), self.names[name])
        if has_digits:
            self._digits(found, text)
        found.sort(key=lambda item: item.start)
        return found

    def _urls(self, found: list[Found], text: str) -> None:
        if "/" in text or "www." in text:
            for match in _URL.finditer(text):
                end = _trim_url(text, match.start(), match.end())
                self._add_span(found, text, match.start(), end, "url")
        after = 0
        for match in _TLD.finditer(text):
            if match.start() < after:
                continue  # a later label of a domain already found ("acme.co.uk")
            start, limit = match.start(), max(0, match.start() - MAX_DOMAIN)
            while start > limit and text[start - 1] in _DOMAIN_CHARS:
                start -= 1
            if start == match.start() or (start > 0 and text[start - 1] in "@/"):
                continue  # no name before the dot, or part of an address or a longer link
            end = match.end()
            while end + 1 < len(text) and text[end] == "." and text[end + 1].isalnum():
                end += 1  # more labels: "acme.co.uk"
                while end < len(text) and text[end] in _DOMAIN_CHARS and text[end] != ".":
                    end += 1
            if end < len(text) and text[end] == "/":
                while end < len(text) and text[end] not in _PATH_END:
                    end += 1
            after = end
            self._add_span(found, text, start, _trim_url(text, start, end), "url")

    def _digits(self, found: list[Found], text: str) -> None:
        for match in _IBAN.finditer(text):
            if not _inside_word(text, match.start()) and iban_valid(match[0]):
                self._add_span(found, text, match.start(), match.end(), "iban")
        for match in _NUMBERS.finditer(text):
            run, start = match[0], match.start()
            if run.count(".") >= 3:
                for address in _IPV4.finditer(run):
                    if _ip_valid(address[0]):
                        end = start + address.end()
                        self._add_span(found, text, start + address.start(), end, "ip")
            digits = sum(map(str.isdigit, run))
            if digits < 7:
                continue
            if digits >= 13:
                for card in _CARD.finditer(run):
                    if card.start() > 0 and run[card.start() - 1] == "+":
                        continue  # "+49 1514 ...": a phone number, whatever Luhn says
                    number = card[0].replace(" ", "").replace("-", "")
                    if 13 <= len(number) <= 19 and luhn_valid(number):
                        self._add_span(
                            found, text, start + card.start(), start + card.end(), "card"
                        )
            self._phones(found, text, start, match.end())
        if text.count(":") >= 2:
            for match in _IPV6.finditer(text):
                if _ip_valid(match[0]):
                    self._add_span(found, text, match.start(), match.end(), "ip")

    def _phones(self, found: list[Found], text: str, start: int, end: int) -> None:
        if end - start > MAX_NUMBER:
            return
        if any(item.start < end and start < item.end for item in found):
            return  # a card, an IBAN or an address already: not a phone number as well
        candidate = text[start:end]
        if _DATE.fullmatch(candidate):
            return
        if _is_phone(candidate, self.region):
            self._add_span(found, text, start, end, "phone")
        elif sum(map(str.isdigit, candidate)) >= 10:
            # Perhaps a number run together with others: the library's matcher looks inside.
            for number in phonenumbers.PhoneNumberMatcher(candidate, self.region):
                self._add_span(found, text, start + number.start, start + number.end, "phone")

    def _add(
        self, found: list[Found], text: str, matches: Iterable[re.Match[str]], kind: Kind
    ) -> None:
        for match in matches:
            self._add_span(found, text, match.start(), match.end(), kind)

    def _add_span(self, found: list[Found], text: str, start: int, end: int, kind: Kind) -> None:
        if end <= start or (self.keep and text[start:end].casefold() in self.keep):
            return
        item = Found(start, end, kind)
        if not any(item.overlaps(other) for other in found):
            found.append(item)


_WORD_REST = r"(?:[\w'\u2019\-]*[^\W_])?"
"""A word goes on through letters, digits, apostrophes and hyphens ("O'Neil", "P-0417"), and
ends with a letter or digit."""


class _Names:
    """Finds listed names as whole words, longest first, case as written.

    Names are looked up by their first word: a scan for words starting with a letter some name
    starts with, then a dictionary lookup, so thousands of names cost no more to look for than
    a few (a pattern holding them all would take seconds to compile)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.by_first: dict[str, list[str]] = {}
        for name in names:
            first = re.match(rf"[^\W_]{_WORD_REST}", name)
            if first is not None:
                self.by_first.setdefault(first[0], []).append(name)
        for listed in self.by_first.values():
            listed.sort(key=len, reverse=True)
        starts = "".join(sorted({re.escape(word[0]) for word in self.by_first}))
        self._words = re.compile(rf"[{starts}]{_WORD_REST}") if starts else None

    def finditer(self, text: str) -> Iterator[tuple[int, str]]:
        """(start, name) of every listed name in ``text``, left to right."""
        if self._words is None:
            return
        by_first, after, length = self.by_first, 0, len(text)
        for word in self._words.finditer(text):
            listed = by_first.get(word[0])
            if listed is None:
                joined = word[0]
                if "'" not in joined and "-" not in joined and "\u2019" not in joined:
                    continue  # most words: no name starts with them
                listed = self._joined(joined)
                if not listed:
                    continue
            start = word.start()
            if start < after or (start and _word_char(text[start - 1])):
                continue
            for name in listed:
                end = start + len(name)
                if text.startswith(name, start) and (end == length or not _word_char(text[end])):
                    yield start, name
                    after = end
                    break

    def _joined(self, word: str) -> list[str]:
        """The names starting with the part of ``word`` before an apostrophe or a hyphen
        ("Dana's" is "Dana" in "Dana's team"), the longest such part first."""
        cuts = [n for n, char in enumerate(word[:MAX_DOMAIN]) if char in _JOINERS]
        for cut in reversed(cuts[:MAX_JOINS]):
            if (listed := self.by_first.get(word[:cut])) is not None:
                return listed
        return []


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"
