"""A fake model that quotes every record it reads and sometimes miscopies the ids it cites.

    model = MiscopyingModel(rate=0.02, seed=1)
    with FakeOpenAIServer(default=model) as server:
        ...

It answers Persona's prompts as ``model_answer`` does (notes for a chunk, personas for the
rest), with two differences that make it a probe of citation formats rather than a stand-in
for a run. Every passage it reads for personas becomes one quote, copied whole, so that a
quote tells which record it came from (a note quotes the first of every three passages,
whole, and lists the ids of all three). And every id it writes is copied token by token,
each token wrong with probability ``rate``. Ids are cut into tokens as ``id_tokens`` says
(letters or digits, at most three in a token, each other character alone: a stored id such
as ``ev-c955f41bcafde2b4`` is 11 to 13 tokens, ``E517`` is 2), and a wrong token has one of
its characters replaced by another of the same kind (digit, hex letter, other letter). Both
the token cuts and the error rate are assumptions of this fake, not measurements of any
real model.

Each request draws its errors from its own generator, seeded from ``seed`` and the request's
text, so that answers do not depend on the order concurrent requests arrive in.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
from dataclasses import dataclass
from typing import Any

from tests.fakes.openai_server import NOTES_PER_GROUP, Content, _Item, _items

_TOKEN = re.compile(r"[A-Za-z]{1,3}|[0-9]{1,3}|.", re.DOTALL)
_HEX_LETTERS = "abcdef"


def id_tokens(value: str) -> list[str]:
    """``value`` cut into the tokens the fake copies one at a time."""
    return _TOKEN.findall(value)


def _other(char: str, rng: random.Random) -> str:
    """A character of the same kind as ``char`` but not ``char``."""
    if char.isdigit():
        pool = string.digits
    elif char.lower() in _HEX_LETTERS:
        pool = _HEX_LETTERS.upper() if char.isupper() else _HEX_LETTERS
    elif char.isalpha():
        pool = string.ascii_uppercase if char.isupper() else string.ascii_lowercase
    else:
        pool = "-_."
    return rng.choice([c for c in pool if c != char])


def miscopy(value: str, rate: float, rng: random.Random) -> str:
    """``value`` as copied by a writer who gets each token wrong with probability ``rate``."""
    copied = []
    for token in id_tokens(value):
        if rng.random() < rate:
            place = rng.randrange(len(token))
            token = token[:place] + _other(token[place], rng) + token[place + 1 :]
        copied.append(token)
    return "".join(copied)


@dataclass
class MiscopyingModel:
    """The fake server's ``default``: answers every chat request as described above."""

    rate: float
    seed: int = 0

    def __call__(self, body: dict[str, Any]) -> Content:
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        return Content(self.answer(prompt, schema or {}))

    def answer(self, prompt: str, schema: dict[str, Any]) -> str:
        digest = hashlib.sha256(f"{self.seed}\x00{prompt}".encode()).digest()
        rng = random.Random(digest)
        items = _items(prompt)
        properties = schema.get("properties", {})
        if "notes" in properties:
            return json.dumps(self._notes(items, rng))
        count = properties.get("personas", {}).get("minItems", 3)
        return json.dumps(self._personas(items, count, rng))

    def _cite(self, item: _Item, rng: random.Random) -> dict[str, Any]:
        return {"text": item.text, "evidence_ids": [miscopy(item.quote_id, self.rate, rng)]}

    def _notes(self, items: list[_Item], rng: random.Random) -> dict[str, Any]:
        notes: list[dict[str, Any]] = []
        for start in range(0, len(items), NOTES_PER_GROUP):
            group = items[start : start + NOTES_PER_GROUP]
            notes.append(
                {
                    "theme": f"finding {len(notes) + 1}",
                    "summary": "what these records say",
                    "participants": [],
                    "evidence_ids": [miscopy(i.quote_id, self.rate, rng) for i in group],
                    # One quote a note, as a model condensing would: notes must shrink.
                    "quotes": [self._cite(group[0], rng)],
                }
            )
        return {"notes": notes}

    def _personas(self, items: list[_Item], count: int, rng: random.Random) -> dict[str, Any]:
        personas = []
        for index in range(count):
            quotes = [self._cite(item, rng) for item in items[index::count]]
            personas.append(
                {
                    "name": f"Fake Persona {index + 1}",
                    "title": f"Segment {index + 1}",
                    "demographics": {},
                    "goals": [],
                    "pain_points": [],
                    "behaviours": [],
                    "quotes": quotes,
                    "evidence_ids": [i for q in quotes for i in q["evidence_ids"]],
                }
            )
        return {"personas": personas}
