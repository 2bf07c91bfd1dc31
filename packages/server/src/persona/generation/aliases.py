"""Short evidence ids for prompts: ``E1``, ``E2``, ... per request, mapped back in the reply.

Stored ids (``ev-c955f41bcafde2b4``) cost about 8 tokens each and models miscopy them. Each
request instead names its records ``E1``, ``E2``, ... in the order it renders them, and keeps
the table alias -> stored id with the prompt, so that its reply (and the reply to its repair
request) is read back with the same table. Aliases mean nothing outside their request: ``E1``
in two requests may be two different records.

Reading a reply, an alias becomes its stored id; a stored id written out in full is kept as
it is; anything else is left unchanged, so that grounding drops it and counts it, as it does
any id it does not know. Should a stored id look like an alias of the same request, the alias
wins: the model only ever saw aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from persona.generation.parsing import Note
from persona.schemas import Insight, PersonaContent, Quote

PREFIX = "E"

C = TypeVar("C", Insight, Quote)


def alias_for(number: int) -> str:
    """The alias of the ``number``-th record (from 1) a request names."""
    return f"{PREFIX}{number}"


def widest_alias(max_tokens: int) -> str:
    """An alias at least as long as any that a chunk of ``max_tokens`` tokens can hold.

    Every record in a chunk, and every distinct id in it, takes at least a token, so a chunk
    names fewer than ``max_tokens`` records. Lines sized with this alias still fit once the
    chunk's own (shorter or equal) aliases replace it.
    """
    return alias_for(max(1, max_tokens))


class AliasTable:
    """The aliases of one request, given out in the order ids are first rendered."""

    def __init__(self) -> None:
        self._by_id: dict[str, str] = {}

    def __call__(self, evidence_id: str) -> str:
        """The alias of ``evidence_id``, new unless this request has named it before."""
        alias = self._by_id.get(evidence_id)
        if alias is None:
            alias = self._by_id[evidence_id] = alias_for(len(self._by_id) + 1)
        return alias

    def stored_ids(self) -> dict[str, str]:
        """alias -> stored id, for reading the reply."""
        return {alias: evidence_id for evidence_id, alias in self._by_id.items()}


# --------------------------------------------------------------------------- reading replies


def resolve(ids: Iterable[str], aliases: Mapping[str, str]) -> list[str]:
    """``ids`` from a reply with every alias replaced by its stored id; others unchanged."""
    return [_resolve_one(value, aliases) for value in ids]


def _resolve_one(value: str, aliases: Mapping[str, str]) -> str:
    found = aliases.get(value)
    if found is None:
        # "e12" or " E12 " lose nothing; a stored id never matches an alias this way.
        found = aliases.get(value.strip().upper(), value)
    return found


def resolve_personas(
    personas: list[PersonaContent], aliases: Mapping[str, str]
) -> list[PersonaContent]:
    """Parsed personas with the aliases of their request replaced by stored ids."""
    if not aliases:
        return personas
    return [_resolve_persona(persona, aliases) for persona in personas]


def _resolve_persona(persona: PersonaContent, aliases: Mapping[str, str]) -> PersonaContent:
    # model_copy keeps every other field as parsing set it.
    def cited(items: list[C]) -> list[C]:
        return [
            item.model_copy(update={"evidence_ids": resolve(item.evidence_ids, aliases)})
            for item in items
        ]

    return persona.model_copy(
        update={
            "summary": cited(persona.summary),
            "goals": cited(persona.goals),
            "pain_points": cited(persona.pain_points),
            "behaviours": cited(persona.behaviours),
            "quotes": cited(persona.quotes),
            "evidence_ids": resolve(persona.evidence_ids, aliases),
        }
    )


def resolve_notes(notes: list[Note], aliases: Mapping[str, str]) -> list[Note]:
    """Parsed notes with stored ids, so that the next request can alias them afresh."""
    if not aliases:
        return notes
    return [
        note.model_copy(
            update={
                "evidence_ids": resolve(note.evidence_ids, aliases),
                "quotes": [
                    q.model_copy(update={"evidence_ids": resolve(q.evidence_ids, aliases)})
                    for q in note.quotes
                ],
            }
        )
        for note in notes
    ]
