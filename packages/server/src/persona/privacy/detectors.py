"""Finding personal data in a record's text, offline: e-mail addresses, URLs, IBANs, payment
cards, IP addresses, phone numbers, listed names (participants, speakers, the experiment's list)
and names after a greeting or before a signature.

Every pattern is compiled once. The costly checks run only on what a cheap pattern found: the
phone library sees only runs of digits long enough to be a number, the IBAN check only what
looks like one, so a record without digits, ``@`` or a link costs a few substring tests.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
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


_EMAIL = re.compile(r"[\w.+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TLDS = "com|org|net|io|co|uk|de|fr|nl|es|it|eu|app|dev|ai|gov|edu|info|biz|me|us|ca|au"
_URL = re.compile(
    r"\b(?:https?://|ftp://|www\.)[^\s<>\"'`]+"
    rf"|\b[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:{_TLDS})\b(?:/[^\s<>\"'`]*)?",
)
_URL_TRAILING = ".,;:!?)]}'\""
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE_CANDIDATE = re.compile(r"(?:\+|\b00|\()?\d[\d ().\-\u00a0]{5,}\d")
"""A digit run long enough to be a phone number, with the separators numbers are written with."""
_DIGITS = re.compile(r"\d")
_GREETING = re.compile(
    r"\b(?:Hi|Hello|Hey|Dear|Thanks|Thank you|Cheers|Morning|Afternoon|Evening|Bye)"
    r",?[ \t]+(?P<name>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)\b"
    r"|(?:^|\n)[ \t]*(?:\u2014|\u2013|--|-|Regards,|Best,|Thanks,|Cheers,|Best regards,)"
    r"[ \t]*\n?[ \t]*(?P<signed>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)[ \t]*(?=\n|$)"
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
    for match in _GREETING.finditer(text):
        name = match["name"] or match["signed"]
        first = name.split()[0]
        if first in _NOT_NAMES:
            continue
        yield first if name.split()[-1] in _NOT_NAMES else name


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
        self._names = _literal_pattern(self.names)

    def find(self, text: str) -> list[Found]:
        """Non-overlapping finds in ``text``, left to right; where two overlap, the kind found
        first below wins (an e-mail address's domain is not also a URL)."""
        found: list[Found] = []
        has_digits = _DIGITS.search(text) is not None
        if "@" in text:
            self._add(found, text, _EMAIL.finditer(text), "email")
        if "." in text or "/" in text:
            for match in _URL.finditer(text):
                end = _trim_url(text, match.start(), match.end())
                self._add_span(found, text, match.start(), end, "url")
        if has_digits:
            self._digits(found, text)
        if self._names is not None:
            for match in self._names.finditer(text):
                self._add_span(found, text, match.start(), match.end(), self.names[match[0]])
        found.sort(key=lambda item: item.start)
        return found

    def _digits(self, found: list[Found], text: str) -> None:
        for match in _IBAN.finditer(text):
            if iban_valid(match[0]):
                self._add_span(found, text, match.start(), match.end(), "iban")
        for match in _CARD.finditer(text):
            digits = match[0].replace(" ", "").replace("-", "")
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                self._add_span(found, text, match.start(), match.end(), "card")
        for pattern in (_IPV4, _IPV6):
            for match in pattern.finditer(text):
                if _ip_valid(match[0]):
                    self._add_span(found, text, match.start(), match.end(), "ip")
        for match in _PHONE_CANDIDATE.finditer(text):
            if sum(c.isdigit() for c in match[0]) >= 7:
                self._phones(found, text, match.start(), match.end())

    def _phones(self, found: list[Found], text: str, start: int, end: int) -> None:
        # The library is slow: it sees the candidate with a little context (a leading "+").
        begin = max(0, start - 1)
        for number in phonenumbers.PhoneNumberMatcher(text[begin:end], self.region):
            self._add_span(found, text, begin + number.start, begin + number.end, "phone")

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


def _literal_pattern(words: Sequence[str] | dict[str, Kind]) -> re.Pattern[str] | None:
    """One pattern matching any of ``words`` as a whole word, longest first, as a trie (an
    alternation of thousands of names would try each one at every capital letter)."""
    if not words:
        return None
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(rf"(?<!\w)(?:{_trie_pattern(trie)})(?!\w)")


def _trie_pattern(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
    branches = [re.escape(char) + _trie_pattern(child) for char, child in node.items() if char]
    ending = "" in node
    if not branches:
        return ""
    # Longer continuations first, so that "Ann Lee" wins over "Ann".
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if ending else body
