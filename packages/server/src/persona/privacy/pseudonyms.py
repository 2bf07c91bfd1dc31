"""Stable pseudonyms of one experiment: "Participant A", "Person 3", "[email 2]", "[phone 1]".

The same value of the same kind gets the same pseudonym in every record, source and run of the
experiment: the mapping is stored with the experiment (``persona.storage.privacy``), and a run
adds the values it meets for the first time, numbered after those already stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from persona.privacy.detectors import Kind


@dataclass(frozen=True, slots=True)
class Pseudonym:
    """``original`` of ``kind`` is called ``text`` wherever it leaves the machine."""

    kind: Kind
    number: int
    original: str

    @property
    def text(self) -> str:
        return label(self.kind, self.number)


def _letters(number: int) -> str:
    """1 → A, 26 → Z, 27 → AA: spreadsheet column names."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def label(kind: Kind, number: int) -> str:
    if kind == "participant":
        return f"Participant {_letters(number)}"
    if kind == "name":
        return f"Person {number}"
    return f"[{kind} {number}]"


class Pseudonyms:
    """The pseudonyms of one experiment: those stored before, and those added now."""

    def __init__(self, known: Iterable[Pseudonym] = ()) -> None:
        self._by_original: dict[tuple[Kind, str], str] = {}
        self._highest: dict[Kind, int] = {}
        self.added: list[Pseudonym] = []
        """New since construction: to be stored with the experiment."""
        for pseudonym in known:
            self._remember(pseudonym)

    def _remember(self, pseudonym: Pseudonym) -> str:
        text = self._by_original[(pseudonym.kind, pseudonym.original)] = pseudonym.text
        self._highest[pseudonym.kind] = max(self._highest.get(pseudonym.kind, 0), pseudonym.number)
        return text

    def of(self, kind: Kind, original: str) -> str:
        """The pseudonym of ``original``, given a new number the first time it is met."""
        text = self._by_original.get((kind, original))
        if text is None:
            pseudonym = Pseudonym(kind, self._highest.get(kind, 0) + 1, original)
            text = self._remember(pseudonym)
            self.added.append(pseudonym)
        return text


_PSEUDONYM = re.compile(
    r"(?:Participant [A-Z]+|Person \d+|\[(?:email|phone|url|ip|card|iban) \d+\])(?!\w)"
)
"""Anything shaped like a pseudonym (see ``label``): one pattern, whatever the number of them."""


class Restorer:
    """Puts the original words back in place of pseudonyms in a model's text."""

    def __init__(self, originals: Mapping[str, str]) -> None:
        self.originals = dict(originals)
        """pseudonym → original, of the pseudonyms a run sent."""

    def __call__(self, text: str) -> str:
        # A pseudonym the run did not send (an invented "Person 99") stays as it is.
        return _PSEUDONYM.sub(lambda match: self.originals.get(match[0], match[0]), text)
