"""Reading a model's reply: find the JSON in it, validate it, turn it into personas or notes.

Models wrap JSON in code fences, in ``<output>`` tags or after a sentence of prose; all of
these are accepted. Small liberties that lose nothing are tolerated too (a number where a
string was asked for, a bare string where an object with ``text`` was asked for, a single id
instead of a list); anything else is an ``OutputError`` that names the place.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from persona.schemas import Insight, PersonaContent, Quote

MAX_REPORTED_ERRORS = 5


class OutputError(ValueError):
    """A reply that is not the JSON asked for; the message says what and where."""


# --------------------------------------------------------------------------- wire models


def _as_id_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) else v for v in value]
    return value


def _as_text_object(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DraftInsight(_Wire):
    text: str = Field(min_length=1)
    evidence_ids: list[str] = Field(default=[], description="Ids of the evidence it rests on.")

    _ids = field_validator("evidence_ids", mode="before")(_as_id_list)


class DraftQuote(_Wire):
    text: str = Field(min_length=1, description="Words copied verbatim from one evidence text.")
    evidence_ids: list[str] = Field(default=[], description="Id of the evidence it is copied from.")

    _ids = field_validator("evidence_ids", mode="before")(_as_id_list)


class DraftPersona(_Wire):
    """One persona, every statement tied to the evidence it rests on."""

    # PersonaContent without the fields grounding sets (verified, grounding, dropped ids).

    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    summary: list[DraftInsight] = []
    demographics: dict[str, str] = {}
    goals: list[DraftInsight] = []
    pain_points: list[DraftInsight] = []
    behaviours: list[DraftInsight] = []
    quotes: list[DraftQuote] = []
    evidence_ids: list[str] = []

    @field_validator("demographics", mode="before")
    @classmethod
    def _stringify_values(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _scalar_text(v) for k, v in value.items() if v is not None}
        return value

    @field_validator("summary", "goals", "pain_points", "behaviours", "quotes", mode="before")
    @classmethod
    def _text_items(cls, value: Any) -> Any:
        if isinstance(value, str):  # a summary written as one paragraph
            value = [value]
        return [_as_text_object(v) for v in value] if isinstance(value, list) else value

    _ids = field_validator("evidence_ids", mode="before")(_as_id_list)

    def to_content(self) -> PersonaContent:
        """The persona as the service stores it; quotes start unverified until grounded."""

        def insights(items: list[DraftInsight]) -> list[Insight]:
            return [Insight(text=i.text, evidence_ids=i.evidence_ids) for i in items]

        return PersonaContent(
            name=self.name,
            title=self.title,
            summary=insights(self.summary),
            demographics=self.demographics,
            goals=insights(self.goals),
            pain_points=insights(self.pain_points),
            behaviours=insights(self.behaviours),
            quotes=[
                Quote(text=q.text, evidence_ids=q.evidence_ids, verified=False) for q in self.quotes
            ],
            evidence_ids=self.evidence_ids,
        )


class PersonaDrafts(_Wire):
    personas: list[DraftPersona] = Field(min_length=1)


class Note(_Wire):
    """A condensed finding from one chunk of evidence, keeping the ids it came from."""

    theme: str = Field(min_length=1, description="A short label for the finding.")
    summary: str = Field(min_length=1, description="What the evidence says, in a sentence or two.")
    participants: list[str] = Field(default=[], description="Participants it applies to.")
    evidence_ids: list[str] = Field(default=[], description="Ids of the evidence it rests on.")
    quotes: list[DraftQuote] = Field(default=[], description="Verbatim quotes that show it.")

    _ids = field_validator("evidence_ids", "participants", mode="before")(_as_id_list)

    @field_validator("quotes", mode="before")
    @classmethod
    def _text_items(cls, value: Any) -> Any:
        return [_as_text_object(v) for v in value] if isinstance(value, list) else value


class NoteDrafts(_Wire):
    notes: list[Note] = []


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    return value


# --------------------------------------------------------------------------- finding JSON

_OUTPUT_TAG = re.compile(r"<output>(.*?)(?:</output>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_DECODER = json.JSONDecoder()


def _candidates(text: str) -> list[str]:
    """Places the JSON may be, most explicit first."""
    found = [m.group(1) for m in _OUTPUT_TAG.finditer(text)]
    found += [m.group(1) for m in _FENCE.finditer(text)]
    found.append(text)
    return found


def _is_cut_off(error: json.JSONDecodeError) -> bool:
    """True when decoding failed because the text ended, not because of a stray brace."""
    return error.msg.startswith("Unterminated string") or error.pos >= len(error.doc.rstrip())


def _first_json_value(text: str) -> dict[str, Any] | list[Any]:
    """The first complete JSON object or array in ``text``, skipping prose before it.

    A value that is cut off ends the search: an object nested inside it would otherwise be
    mistaken for the whole reply.
    """
    stripped = text.strip()
    for match in re.finditer(r"[{\[]", stripped):
        try:
            value, _ = _DECODER.raw_decode(stripped, match.start())
        except json.JSONDecodeError as exc:
            if _is_cut_off(exc):
                raise OutputError(
                    f"the JSON is cut off: {exc.msg} at line {exc.lineno} column {exc.colno}"
                ) from None
            continue
        return value  # type: ignore[no-any-return]
    raise OutputError("it contains no JSON object")


def extract_json(text: str) -> dict[str, Any] | list[Any]:
    """The JSON object or array in a model's reply, wherever it is wrapped; OutputError when
    there is none."""
    if not text.strip():
        raise OutputError("the reply is empty")
    reasons: list[str] = []
    for candidate in _candidates(text):
        try:
            return _first_json_value(candidate)
        except OutputError as exc:
            reasons.append(str(exc))
    raise OutputError(f"no JSON found in the reply: {reasons[0]}")


# --------------------------------------------------------------------------- validation


def _describe(error: ValidationError, root: str) -> str:
    parts = []
    for item in error.errors()[:MAX_REPORTED_ERRORS]:
        place = ".".join(str(p) for p in (root, *item["loc"]))
        parts.append(f"{place}: {item['msg']}")
    more = error.error_count() - MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_personas(text: str, expected: int) -> list[PersonaContent]:
    """The ``expected`` personas in a reply; extra ones are dropped, missing ones are an error."""
    value = extract_json(text)
    if isinstance(value, list):
        value = {"personas": value}
    elif "personas" not in value and "name" in value:
        value = {"personas": [value]}
    try:
        drafts = PersonaDrafts.model_validate(value)
    except ValidationError as exc:
        raise OutputError(_describe(exc, "$")) from None
    if len(drafts.personas) < expected:
        raise OutputError(f"$.personas: expected {expected} personas, got {len(drafts.personas)}")
    return [draft.to_content() for draft in drafts.personas[:expected]]


def parse_notes(text: str) -> list[Note]:
    """The notes in a map-step reply (an object with a 'notes' list, or the list itself)."""
    value = extract_json(text)
    if isinstance(value, list):
        value = {"notes": value}
    try:
        return NoteDrafts.model_validate(value).notes
    except ValidationError as exc:
        raise OutputError(_describe(exc, "$")) from None
