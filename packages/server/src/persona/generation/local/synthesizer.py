"""The offline synthesizer: personas synthesised from the evidence itself, with no LLM.

Participants are clustered into segments (k-means with a fixed seed) on their TF-IDF text
vector joined with one-hot vectors of their categorical attributes (segment, company size...),
each attribute weighted by how well it agrees with what the participants say; each segment
becomes one persona whose goals, pain points, behaviours and quotes are sentences copied
verbatim from the segment's evidence, chosen by cue phrases and by how central they are to
the segment. Same evidence + config gives byte-identical output.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from persona.generation.grounding import EvidenceIndex, ground
from persona.generation.local.corpus import Corpus, read_corpus, require_participants
from persona.generation.local.naming import dominant_role, name_for, title_for
from persona.generation.local.phrases import (
    distinctive_phrases,
    phrases_of,
    title_phrases,
)
from persona.generation.local.picking import SentencePicker, quote_target
from persona.generation.local.profiles import (
    describe_demographics,
    descriptive_attributes,
    read_profiles,
    segment_attributes,
)
from persona.generation.local.sections import SECTIONS
from persona.generation.local.segments import Segment, segment_participants
from persona.generation.local.summary import summarize
from persona.generation.local.vectors import Vectors, vectorise
from persona.generation.provider import ProgressCallback
from persona.schemas import Evidence, PersonaContent
from persona.sources.columns import find_column

T = TypeVar("T")
PHRASE_SENTENCES = 50
"""Sentences per participant looked at for noun phrases: enough for a long interview."""
PHRASE_PARTICIPANTS = 300
"""Participants per segment whose noun phrases are read: shares of a sample this size
rank phrases as the whole segment's would, within a few percent."""
MAX_SUMMARY_IDS = 10
MAX_SUMMARY_SCAN = 1_000
"""Records looked through for those the summary's first sentence cites."""


async def synthesize(
    evidence: Sequence[Evidence],
    persona_count: int,
    seed: int,
    progress: ProgressCallback | None = None,
    segment_column: str | None = None,
) -> list[PersonaContent]:
    """``persona_count`` grounded personas, one per segment of similar participants;
    ``segment_column`` names the attribute that groups them, if not recognised by name."""
    corpus = await _step(progress, 0.05, "reading evidence", read_corpus, evidence)
    require_participants(corpus, persona_count)
    segment_key = _attribute_named(corpus, segment_column)
    vectors = await _step(progress, 0.3, "vectorising", vectorise, corpus, segment_key)
    segments = await _step(
        progress, 0.6, "clustering", segment_participants, corpus, vectors, persona_count, seed
    )
    personas = await _step(
        progress, 0.8, "describing personas", describe, corpus, vectors, segments, segment_key
    )
    grounded = await _step(progress, 0.95, "checking quotes", ground_all, corpus, personas)
    if progress is not None:
        await progress(1.0, "done")
    return grounded


async def _step(
    progress: ProgressCallback | None,
    fraction: float,
    stage: str,
    work: Callable[..., T],
    *args: Any,
) -> T:
    """Report ``stage`` and run ``work`` in a thread, so the event loop keeps serving."""
    if progress is not None:
        await progress(fraction, stage)
    return await asyncio.to_thread(work, *args)


def _attribute_named(corpus: Corpus, column: str | None) -> str | None:
    """The attribute key ``column`` names (up to case and separators), if any record has it."""
    if column is None:
        return None
    keys = list(dict.fromkeys(key for record in corpus.records for key in record.attributes))
    return find_column(column, keys)


def describe(
    corpus: Corpus, vectors: Vectors, segments: list[Segment], segment_key: str | None = None
) -> list[PersonaContent]:
    profiles = read_profiles(corpus)
    keys = descriptive_attributes(profiles)
    said_by, labels = _said_by(corpus, segments)
    used_first_names: set[str] = set()
    titles: list[str] = []
    personas: list[PersonaContent] = []
    for label, segment in enumerate(segments):
        scores = vectors.sentences[segment.sentences] @ segment.centroid
        picker = SentencePicker(corpus, segment, scores)
        attributes = segment_attributes(profiles, segment, keys)
        picker.choose_insights()
        quotes = picker.quotes(quote_target(len(segment.participants)))
        insights = {name: picker.insights(section) for section, name in enumerate(SECTIONS)}
        phrases = distinctive_phrases(said_by, labels, label)
        title = title_for(attributes, phrases, titles, segment_key)
        titles.append(title)
        name = name_for(corpus, segment, used_first_names)
        role = dominant_role(attributes, segment_key)
        shown = title_phrases(phrases)
        summary = summarize(
            name.split()[0],
            len(segment.participants),
            role,
            shown,
            _records_saying(corpus, segment, role, shown),
            insights,
        )
        personas.append(
            PersonaContent(
                name=name,
                title=title,
                summary=summary,
                demographics=describe_demographics(attributes, keys, len(segment.participants)),
                **insights,
                quotes=quotes,
                evidence_ids=[corpus.records[i].id for i in segment.records],
            )
        )
    return personas


def _said_by(corpus: Corpus, segments: list[Segment]) -> tuple[list[set[str]], list[int]]:
    """The noun phrases of each participant's first ``PHRASE_SENTENCES`` sentences, and
    their segment; only the first ``PHRASE_PARTICIPANTS`` of each segment are read (the
    others have segment -1), which bounds the work on a large corpus."""
    labels = [-1] * len(corpus.participants)
    for label, segment in enumerate(segments):
        for participant in segment.participants[:PHRASE_PARTICIPANTS].tolist():
            labels[participant] = label
    sentences: list[list[str]] = [[] for _ in corpus.participants]
    for sentence, record in enumerate(corpus.sentence_record):
        participant = corpus.record_participant[record]
        mine = sentences[participant]
        if labels[participant] >= 0 and len(mine) < PHRASE_SENTENCES:
            mine.append(corpus.sentence_text[sentence])
    return [phrases_of(mine) for mine in sentences], labels


def _records_saying(
    corpus: Corpus, segment: Segment, role: str | None, phrases: list[str]
) -> list[str]:
    """The segment's records that carry its role or say one of its phrases (of the first
    ``MAX_SUMMARY_SCAN``)."""
    said = re.compile("|".join(rf"\b{re.escape(p)}\b" for p in phrases)) if phrases else None
    found: list[str] = []
    for index in segment.records[:MAX_SUMMARY_SCAN].tolist():
        record = corpus.records[index]
        if (role and role in record.attributes.values()) or (
            said and said.search(record.text.casefold())
        ):
            found.append(record.id)
            if len(found) >= MAX_SUMMARY_IDS:
                break
    return found or [corpus.records[i].id for i in segment.records[:MAX_SUMMARY_IDS].tolist()]


def ground_all(corpus: Corpus, personas: list[PersonaContent]) -> list[PersonaContent]:
    index = EvidenceIndex.of(corpus.records)
    return [ground(persona, index) for persona in personas]
