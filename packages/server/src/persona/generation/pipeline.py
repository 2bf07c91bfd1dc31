"""One generation with an LLM, the same for every provider: prompt, parse, repair, ground.

A provider supplies a ``Complete`` function (one prompt in, one reply and its token usage
out); this module decides what to ask. Evidence that fits the model's context goes in one
request. Evidence that does not is condensed chunk by chunk into notes that keep evidence
ids (map), condensed again while the notes are still too large, and the personas are written
from the notes (reduce). A reply that cannot be parsed gets one repair request; a second
failure is ``ProviderError(code="invalid_output")`` with the raw replies kept. A reply cut off
at its token limit is asked again once with the most room the model allows, never repaired at
the same size; cut off even then, the work is split (the personas asked for in two smaller
batches from the same data, each later batch told who is already written so that they stay
distinct; a chunk's notes from its two halves), down to a single persona or record. A refused or
blocked reply fails the run at once with ``provider_refused``. Every request names its records
by short aliases; its reply is read back to stored ids with that request's table (see
``persona.generation.aliases``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from persona.errors import InsufficientEvidenceError, ProviderError
from persona.generation.aliases import resolve_notes, resolve_personas, widest_alias
from persona.generation.chunking import (
    CHARS_PER_TOKEN,
    MIN_CHUNK_TOKENS,
    ChunkTooLargeError,
    TokenBudget,
    estimate_tokens,
    pack_sized,
    split_evidence,
)
from persona.generation.grounding import EvidenceIndex, ground
from persona.generation.parsing import Note, OutputError, parse_notes, parse_personas
from persona.generation.prompt import (
    ChatPrompt,
    notes_prompt,
    persona_prompt,
    personas_from_notes_prompt,
    render_evidence,
    render_note,
    repair_prompt,
)
from persona.generation.provider import ProgressCallback
from persona.schemas import Evidence, PersonaContent, Usage

T = TypeVar("T")
Parsed = TypeVar("Parsed", list[PersonaContent], list[Note])

MAP_CONCURRENCY = 4
"""Chunks condensed at once within one run: faster than one by one, gentle on rate limits."""

MIN_SUMMARY_CHARS = 80
"""A note's summary is halved no further than this when a note is too long to pass on."""

MAX_CONDENSE_ROUNDS = 4
"""Rounds of condensing notes further before giving up (each round shrinks them severalfold)."""


Stop = Literal["complete", "truncated", "exhausted", "refused"]
"""Why a reply ended: ``complete``; ``truncated`` at the output limit the request set (more
room may help); ``exhausted``, cut off at the model's own ceiling (more room cannot help);
``refused`` or blocked by the model or the provider's filters."""


@dataclass
class Completion:
    """A model's reply to one prompt, why it ended and the tokens the provider counted."""

    text: str
    input_tokens: int = 0
    """Every input token, cached and cache-written ones included."""
    output_tokens: int = 0
    stop: Stop = "complete"
    stop_reason: str | None = None
    """The provider's own word for why the reply ended (``max_tokens``, ``SAFETY``, a refusal
    message), for error messages."""
    cached_input_tokens: int = 0
    """Of ``input_tokens``, those read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Of ``input_tokens``, those written to the provider's prompt cache."""


Complete = Callable[[ChatPrompt], Awaitable[Completion]]


class OutputCutOffError(ProviderError):
    """A reply cut off at its output limit with the most room the model allows: asking for
    less in one request is what may help."""


def _shortened(note: Note, max_tokens: int, render: Callable[[Note], str] = render_note) -> Note:
    """``note`` cut down until ``render(note)`` fits ``max_tokens``: its summary, then its
    quotes, then its evidence ids, keeping the first (a note always keeps at least one id)."""
    while estimate_tokens(render(note)) > max_tokens:
        if len(note.summary) > MIN_SUMMARY_CHARS:
            note = note.model_copy(update={"summary": note.summary[: len(note.summary) // 2]})
        elif note.quotes:
            note = note.model_copy(update={"quotes": note.quotes[:-1]})
        elif len(note.theme) > MIN_SUMMARY_CHARS:
            note = note.model_copy(update={"theme": note.theme[:MIN_SUMMARY_CHARS]})
        elif len(note.evidence_ids) > 1:
            kept = note.evidence_ids[: len(note.evidence_ids) // 2]
            note = note.model_copy(update={"evidence_ids": kept})
        else:
            break  # still too large: pack() reports it
    return note


@overload
def _resolved(parsed: list[PersonaContent], aliases: Mapping[str, str]) -> list[PersonaContent]: ...
@overload
def _resolved(parsed: list[Note], aliases: Mapping[str, str]) -> list[Note]: ...
def _resolved(
    parsed: list[PersonaContent] | list[Note], aliases: Mapping[str, str]
) -> list[PersonaContent] | list[Note]:
    """A parsed reply with its request's aliases replaced by stored ids."""
    notes = [item for item in parsed if isinstance(item, Note)]
    if notes:
        return resolve_notes(notes, aliases)
    return resolve_personas([item for item in parsed if isinstance(item, PersonaContent)], aliases)


def _sized_note(note: Note, widest: str) -> str:
    """``note`` rendered with every id as long as the longest alias its chunk can give, so
    that it is never larger once a request names its ids (see ``widest_alias``)."""
    return render_note(note, lambda _: widest)


def _ground_all(drafts: list[PersonaContent], evidence: Sequence[Evidence]) -> list[PersonaContent]:
    index = EvidenceIndex.of(evidence)
    return [ground(draft, index) for draft in drafts]


async def _gather_or_cancel(coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run all at once; on the first failure cancel the rest and raise that failure."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class LLMGeneration:
    """The requests of one run against one model, with their usage summed."""

    def __init__(
        self,
        complete: Complete,
        *,
        label: str,
        budget: TokenBudget,
        max_output_tokens: int | None = None,
        progress: ProgressCallback | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        self._complete = complete
        self._before_request = before_request
        """Called before every request; what it raises stops the run (a spend cap reached)."""
        self.label = label
        """Names the provider and model in error messages, e.g. "openai model gpt-4o-mini"."""
        self.budget = budget
        self.max_output_tokens = max_output_tokens or budget.output_tokens
        """The most output tokens the model can give one reply."""
        self._progress = progress
        self._stage = (0.0, "starting")
        self.usage = Usage()
        self.cached_input_tokens = 0
        self.cache_write_tokens = 0
        self.requests = 0

    async def personas(self, evidence: Sequence[Evidence], count: int) -> list[PersonaContent]:
        """``count`` personas from ``evidence``, grounded in it."""
        if not evidence:
            raise InsufficientEvidenceError("there is no evidence to write personas from")
        output = self.budget.output_tokens
        if self.budget.fits(persona_prompt(evidence, count, output).text):
            await self._report(0.1, "writing personas")
            drafts = await self._personas_in_batches(
                lambda n: persona_prompt(evidence, n, output), count
            )
        else:
            notes = await self._condense_evidence(evidence)
            notes = await self._condense_notes_until_they_fit(notes, count)
            await self._report(0.85, "writing personas from notes")
            drafts = await self._personas_in_batches(
                lambda n: personas_from_notes_prompt(notes, n, output), count
            )
        # No stage of its own, which would cost a database write; in a thread, as a miscited
        # quote has the run's evidence indexed, which takes long on large runs.
        return await asyncio.to_thread(_ground_all, drafts, evidence)

    def planned_prompts(self, evidence: Sequence[Evidence], count: int) -> list[ChatPrompt]:
        """The prompts ``personas`` sends first, built without sending any: the one request
        when the evidence fits, else a notes request per chunk and the final request (shown
        without notes, which only the model's replies give). Repairs, retries with more room
        and further rounds of condensing depend on the replies and are not planned."""
        output = self.budget.output_tokens
        direct = persona_prompt(evidence, count, output)
        if not evidence or self.budget.fits(direct.text):
            return [direct]
        chunks = self._evidence_chunks(evidence)
        notes = [
            notes_prompt(
                records,
                part=part,
                parts=len(chunks),
                source="research evidence",
                max_output_tokens=output,
            )
            for part, records in enumerate(chunks, start=1)
        ]
        return [*notes, personas_from_notes_prompt([], count, output)]

    async def _personas_in_batches(
        self,
        prompt_for: Callable[[int], ChatPrompt],
        count: int,
        written: Sequence[PersonaContent] = (),
    ) -> list[PersonaContent]:
        """``count`` personas more than ``written``, in one request; in two batches of about
        half as many when the reply is cut off even with the most room the model allows (and
        so on down to one persona a request), each batch told who is already written."""
        prompt = self._unlike(prompt_for(count), written)
        try:
            return await self._ask(prompt, lambda text: parse_personas(text, count))
        except OutputCutOffError:
            if count < 2:
                raise
        first = (count + 1) // 2
        fraction, _ = self._stage
        await self._report(fraction, f"writing personas in batches of {first} or fewer")
        drafts = await self._personas_in_batches(prompt_for, first, written)
        return drafts + await self._personas_in_batches(
            prompt_for, count - first, [*written, *drafts]
        )

    def _unlike(self, prompt: ChatPrompt, written: Sequence[PersonaContent]) -> ChatPrompt:
        """``prompt`` asking for personas other than ``written``, when the names fit the
        context (distinct personas are wanted, but the data matters more)."""
        if not written:
            return prompt
        names = "; ".join(f"{p.name} ({p.title})" for p in written)
        unlike = dataclasses.replace(
            prompt,
            user=f"{prompt.user}\n\nThese personas are already written from the same data: "
            f"{names}. Write different people, each standing for a segment none of them "
            "stands for.",
        )
        return unlike if self.budget.fits(unlike.text) else prompt

    # ----------------------------------------------------------------------- requests

    async def _send(self, prompt: ChatPrompt) -> Completion:
        if not self.budget.fits(prompt.text):  # a bug upstream, never the model's fault
            raise ProviderError(
                f"refusing to send {self.label} a prompt of about "
                f"{estimate_tokens(prompt.text)} tokens; it holds {self.budget.input_limit}",
                code="context_exceeded",
            )
        completion = await self._request(prompt)
        if completion.stop == "truncated":
            completion = await self._with_more_room(prompt, completion)
        if completion.stop in ("truncated", "exhausted"):
            raise OutputCutOffError(
                f"{self.label} cut its {prompt.kind} reply off at its output limit "
                f"({completion.stop_reason}) with the most room it allows, even asked for "
                "one persona or about one record a request; choose a model that writes "
                "longer replies",
                code="invalid_output",
                raw_output=completion.text or None,
            )
        return completion

    async def _request(self, prompt: ChatPrompt) -> Completion:
        """One request, its usage counted; a refusal fails at once, with the usage kept."""
        if self._before_request is not None:
            self._before_request()
        completion = await self._complete(prompt)
        self.requests += 1
        self.usage = Usage(
            input_tokens=self.usage.input_tokens + completion.input_tokens,
            output_tokens=self.usage.output_tokens + completion.output_tokens,
        )
        self.cached_input_tokens += completion.cached_input_tokens
        self.cache_write_tokens += completion.cache_write_tokens
        if completion.stop == "refused":
            # A repair request would quote the refusal back and pay for a second one.
            raise ProviderError(
                f"{self.label} refused to write the {prompt.kind}: {completion.stop_reason}",
                code="provider_refused",
                raw_output=completion.text or None,
            )
        return completion

    async def _with_more_room(self, prompt: ChatPrompt, cut: Completion) -> Completion:
        """``prompt`` again with the most output room the model and its context allow, once;
        ``cut`` itself when that is no more than it had (the same size would be cut again)."""
        room = min(
            self.max_output_tokens,
            self.budget.context_tokens - estimate_tokens(prompt.text) - self.budget.margin,
        )
        if room <= prompt.max_output_tokens:
            return cut
        return await self._request(dataclasses.replace(prompt, max_output_tokens=room))

    async def _ask(self, prompt: ChatPrompt, parse: Callable[[str], Parsed]) -> Parsed:
        """Send ``prompt`` and parse the reply; one repair request if it cannot be parsed.
        Either reply cites ``prompt``'s aliases (a repair keeps them) and is read with them."""
        first = await self._send(prompt)
        try:
            return _resolved(parse(first.text), prompt.aliases)
        except OutputError as exc:
            problem = str(exc)
        repair = self._repair(prompt, first.text, problem)
        second = await self._send(repair)
        try:
            return _resolved(parse(second.text), repair.aliases)
        except OutputError as exc:
            raise ProviderError(
                f"{self.label} returned unusable {prompt.kind} output twice "
                f"(the second time after a repair request): {exc}",
                code="invalid_output",
                raw_output=f"{first.text}\n\n--- reply to the repair request ---\n{second.text}",
            ) from None

    def _repair(self, prompt: ChatPrompt, reply: str, problem: str) -> ChatPrompt:
        """The repair request: with the original request when it fits, else the reply alone."""
        full = repair_prompt(prompt, reply, problem, with_original=True)
        if self.budget.fits(full.text):
            return full
        bare = repair_prompt(prompt, reply, problem, with_original=False)
        excess = estimate_tokens(bare.text) - self.budget.input_limit
        if excess > 0:  # a runaway reply: keep its start, which is where the JSON begins
            keep = max(0, len(reply) - int(excess * CHARS_PER_TOKEN) - 64)
            bare = repair_prompt(prompt, reply[:keep] + " [cut]", problem, with_original=False)
        return bare

    async def _report(self, fraction: float, stage: str) -> None:
        self._stage = (fraction, stage)
        if self._progress is not None:
            await self._progress(fraction, stage)

    async def tokens_received(self, tokens: int) -> None:
        """Reports a streamed reply's progress: ``tokens`` received so far, in the current
        stage (the stage itself stays what it was)."""
        fraction, stage = self._stage
        if self._progress is not None:
            await self._progress(fraction, f"{stage} ({tokens} tokens received)")

    # ----------------------------------------------------------------------- map-reduce

    def _chunk_room(self, source: str) -> int:
        """Tokens of data one notes request can carry besides its instructions."""
        empty = notes_prompt([], part=999, parts=999, source=source, max_output_tokens=0)
        room = self.budget.input_limit - estimate_tokens(empty.text)
        if room < MIN_CHUNK_TOKENS:
            raise ProviderError(
                f"the context window of {self.label} ({self.budget.context_tokens} tokens) is "
                "too small to hold the instructions and a useful chunk of data; choose a model "
                "with a larger context or set PERSONA_PROVIDER_CONTEXT_TOKENS",
                code="context_exceeded",
            )
        return room

    def _evidence_chunks(self, evidence: Sequence[Evidence]) -> list[list[Evidence]]:
        room = self._chunk_room("research evidence")
        # Sized with the longest alias a chunk can give, so that a chunk still fits once its
        # request names its records E1, E2, ...
        sized = functools.partial(render_evidence, alias=widest_alias(room))
        try:
            pieces = [p for e in evidence for p in split_evidence(e, room - 1, sized)]
            return pack_sized(pieces, [estimate_tokens(sized(p)) for p in pieces], room)
        except ChunkTooLargeError as exc:
            raise ProviderError(f"{self.label}: {exc}", code="context_exceeded") from None

    async def _condense_evidence(self, evidence: Sequence[Evidence]) -> list[Note]:
        chunks = self._evidence_chunks(evidence)
        return await self._condense(chunks, "research evidence", "condensing evidence", 0.05, 0.75)

    async def _condense_notes_until_they_fit(self, notes: list[Note], count: int) -> list[Note]:
        for round_number in range(1, MAX_CONDENSE_ROUNDS + 1):
            reduce = personas_from_notes_prompt(notes, count, self.budget.output_tokens)
            if self.budget.fits(reduce.text):
                return notes
            room = self._chunk_room("research notes")
            sized = functools.partial(_sized_note, widest=widest_alias(room))
            notes = [_shortened(n, room - 1, sized) for n in notes]
            sizes = [estimate_tokens(sized(n)) for n in notes]
            try:
                chunks = pack_sized(notes, sizes, room)
            except ChunkTooLargeError as exc:
                raise ProviderError(
                    f"{self.label}: a note is too large to pass on ({exc})",
                    code="context_exceeded",
                ) from None
            before = sum(sizes)
            start = 0.75 + 0.1 * (round_number - 1) / MAX_CONDENSE_ROUNDS
            notes = await self._condense(
                chunks,
                "research notes",
                f"condensing notes (round {round_number})",
                start,
                start + 0.1 / MAX_CONDENSE_ROUNDS,
            )
            if sum(estimate_tokens(sized(n)) for n in notes) >= before:
                raise ProviderError(
                    f"{self.label} did not shorten the notes when asked to condense them",
                    code="invalid_output",
                )
        raise ProviderError(
            f"the notes from the evidence still do not fit {self.label} after "
            f"{MAX_CONDENSE_ROUNDS} rounds of condensing",
            code="context_exceeded",
        )

    async def _chunk_notes(
        self,
        records: Sequence[Evidence | Note],
        part: int,
        parts: int,
        source: str,
        gate: asyncio.Semaphore,
    ) -> list[Note]:
        """Notes from one chunk; from its two halves, one request each (and so on down to one
        record), when the reply is cut off even with the most room the model allows."""
        prompt = notes_prompt(
            records,
            part=part,
            parts=parts,
            source=source,
            max_output_tokens=self.budget.output_tokens,
        )
        try:
            async with gate:
                return await self._ask(prompt, parse_notes)
        except OutputCutOffError:
            if len(records) < 2:
                raise
        half = len(records) // 2
        first = await self._chunk_notes(records[:half], part, parts, source, gate)
        return first + await self._chunk_notes(records[half:], part, parts, source, gate)

    async def _condense(
        self,
        chunks: Sequence[Sequence[Evidence | Note]],
        source: str,
        stage: str,
        start: float,
        end: float,
    ) -> list[Note]:
        """Notes from every chunk, several chunks at a time, reporting each one done."""
        gate = asyncio.Semaphore(MAP_CONCURRENCY)
        done = 0

        async def condense_one(part: int, records: Sequence[Evidence | Note]) -> list[Note]:
            nonlocal done
            notes = await self._chunk_notes(records, part, len(chunks), source, gate)
            done += 1
            await self._report(
                start + (end - start) * done / len(chunks), f"{stage}: {done}/{len(chunks)} chunks"
            )
            return notes

        per_chunk = await _gather_or_cancel(
            [condense_one(part, records) for part, records in enumerate(chunks, start=1)]
        )
        notes = [note for chunk_notes in per_chunk for note in chunk_notes]
        if not notes:
            raise ProviderError(
                f"{self.label} returned no notes for any chunk of the data", code="invalid_output"
            )
        return notes
