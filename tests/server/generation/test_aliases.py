"""Per-request aliases: E1, E2, ... in prompts, stored ids again once a reply is read."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from persona.generation.aliases import AliasTable, resolve, resolve_notes, widest_alias
from persona.generation.chunking import TokenBudget, estimate_tokens, pack_sized
from persona.generation.parsing import Note
from persona.generation.pipeline import Completion, LLMGeneration
from persona.generation.prompt import ChatPrompt, render_evidence
from persona.schemas import Evidence, PersonaContent

from tests.fakes import model_answer

Answer = Callable[[ChatPrompt], str]


def records(count: int, words: int = 12) -> list[Evidence]:
    """Records whose every word is unique, so a quote tells which record it came from."""
    return [
        Evidence(
            id=f"ev-{n:016x}",
            source="interviews.csv",
            locator=f"row {n + 2}",
            participant=f"P{n % 7}",
            text=" ".join(f"r{n}w{i}" for i in range(words)),
        )
        for n in range(count)
    ]


def origin(quote: str) -> str:
    """The stored id of the record a quote of ``records`` was copied from."""
    return f"ev-{int(quote.split()[0][1:].split('w')[0]):016x}"


async def run(
    evidence: list[Evidence], answer: Answer, *, context: int = 100_000, count: int = 2
) -> tuple[list[PersonaContent], list[ChatPrompt]]:
    sent: list[ChatPrompt] = []

    async def complete(prompt: ChatPrompt) -> Completion:
        sent.append(prompt)
        return Completion(answer(prompt))

    budget = TokenBudget(context_tokens=context, output_tokens=min(4096, context // 3))
    generation = LLMGeneration(complete, label="fake model", budget=budget)
    return await generation.personas(evidence, count), sent


def fake_model(prompt: ChatPrompt) -> str:
    """The loopback fake's model: quotes copied from the prompt, cited as written there."""
    return model_answer(prompt.user, prompt.schema)


def persona_citing(*ids: str, quote: str = "nothing said") -> dict[str, Any]:
    return {
        "name": "Ana P.",
        "title": "Planner",
        "goals": [{"text": "a goal", "evidence_ids": list(ids)}],
        "quotes": [{"text": quote, "evidence_ids": list(ids[:1])}],
        "evidence_ids": list(ids),
    }


# --------------------------------------------------------------------------- the table


def test_aliases_are_given_in_order_of_first_mention_and_read_back() -> None:
    table = AliasTable()
    assert [table(i) for i in ["ev-b", "ev-a", "ev-b", "ev-c"]] == ["E1", "E2", "E1", "E3"]
    assert table.stored_ids() == {"E1": "ev-b", "E2": "ev-a", "E3": "ev-c"}


def test_reading_ids_maps_aliases_keeps_stored_ids_and_leaves_the_rest() -> None:
    aliases = {"E1": "ev-b", "E2": "ev-a"}
    assert resolve(["E2", "ev-b", "E9", "e1", " E2 ", "ev-zzz"], aliases) == [
        "ev-a",
        "ev-b",  # a stored id written out in full is taken as it is
        "E9",  # unknown: left for grounding to drop and count
        "ev-b",
        "ev-a",
        "ev-zzz",
    ]


def test_notes_are_read_back_to_stored_ids() -> None:
    note = Note.model_validate(
        {
            "theme": "t",
            "summary": "s",
            "evidence_ids": ["E2", "E1"],
            "quotes": [{"text": "q", "evidence_ids": ["E2"]}],
        }
    )
    [read] = resolve_notes([note], {"E1": "ev-b", "E2": "ev-a"})
    assert read.evidence_ids == ["ev-a", "ev-b"] and read.quotes[0].evidence_ids == ["ev-a"]


@given(
    st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=40), max_size=300),
    st.integers(min_value=300, max_value=3000),
)
def test_chunks_packed_with_the_widest_alias_still_fit_once_aliased(
    texts: list[str], room: int
) -> None:
    # Short stored ids ("ev-7") make aliases the longer name: the sizing must still hold.
    items = [Evidence(id=f"ev-{n}", source="s", locator="l", text=t) for n, t in enumerate(texts)]
    sized = functools.partial(render_evidence, alias=widest_alias(room))

    chunks = pack_sized(items, [estimate_tokens(sized(i)) for i in items], room)

    for chunk in chunks:
        table = AliasTable()
        assert sum(estimate_tokens(render_evidence(i, table(i.id))) + 1 for i in chunk) <= room


# --------------------------------------------------------------------------- whole runs


async def test_direct_request_cites_aliases_that_map_back_to_the_quoted_records() -> None:
    evidence = records(20)

    personas, sent = await run(evidence, fake_model)

    [prompt] = sent
    assert prompt.aliases == {f"E{n}": e.id for n, e in enumerate(evidence, start=1)}
    assert not any(e.id in prompt.user for e in evidence)
    quotes = [q for p in personas for q in p.quotes]
    assert quotes and all(q.evidence_ids == [origin(q.text)] and q.verified for q in quotes)
    assert all(p.dropped_evidence_ids == 0 for p in personas)
    assert {i for p in personas for i in p.evidence_ids} <= {e.id for e in evidence}


async def test_map_reduce_aliases_each_request_afresh_and_maps_every_reply_back() -> None:
    evidence = records(120, words=30)

    personas, sent = await run(evidence, fake_model, context=2560)

    notes_requests = [p for p in sent if p.kind == "notes"]
    assert len(notes_requests) > 2 and sent[-1].kind == "personas"
    chunks = [p for p in notes_requests if "<evidence>" in p.user]
    # E1 means a different record in each chunk: aliases are per request, and a request
    # names only the records it shows.
    assert len({p.aliases["E1"] for p in chunks}) == len(chunks) > 2
    assert sum(len(p.aliases) for p in chunks) == len(evidence)
    quotes = [q for p in personas for q in p.quotes]
    assert quotes and all(q.evidence_ids == [origin(q.text)] and q.verified for q in quotes)
    assert all(p.dropped_evidence_ids == 0 for p in personas)


async def test_a_repaired_reply_is_read_with_the_first_requests_aliases() -> None:
    evidence = records(5)
    replies = iter(
        [
            '{"personas": [',  # cut off
            json.dumps({"personas": [persona_citing("E3", quote="r2w0 r2w1")]}),
        ]
    )

    personas, sent = await run(evidence, lambda prompt: next(replies), count=1)

    first, repair = sent
    assert repair.user.startswith(first.user) and repair.aliases == first.aliases
    assert personas[0].evidence_ids == [evidence[2].id]
    assert personas[0].quotes[0].evidence_ids == [evidence[2].id]
    assert personas[0].quotes[0].verified


async def test_a_repair_without_the_original_keeps_its_aliases_too() -> None:
    evidence = records(3)
    runaway = "Let me think. " * 40_000  # too long to repeat with the original request
    replies = iter([runaway, json.dumps({"personas": [persona_citing("E2")]})])

    personas, sent = await run(evidence, lambda prompt: next(replies), context=8192, count=1)

    first, repair = sent
    assert "<evidence>" not in repair.user and repair.aliases == first.aliases
    assert personas[0].goals[0].evidence_ids == [evidence[1].id]


async def test_unknown_aliases_are_dropped_and_counted_and_real_ids_accepted() -> None:
    evidence = records(4)
    persona = persona_citing("E9", "E2", evidence[3].id, "ev-0000000000000099")
    # goals cite 4 ids, 2 unknown; the quote cites E9 alone; the persona lists all 4
    reply = json.dumps({"personas": [persona]})

    [grounded], _ = await run(evidence, lambda prompt: reply, count=1)

    assert grounded.goals[0].evidence_ids == [evidence[1].id, evidence[3].id]
    assert grounded.quotes[0].evidence_ids == []
    assert grounded.evidence_ids == [evidence[1].id, evidence[3].id]
    assert grounded.dropped_evidence_ids == 2 + 1 + 2
