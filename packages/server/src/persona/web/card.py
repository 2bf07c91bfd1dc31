"""A persona card: every line with its grounding badge, participants and cited records.

The same card is a page of the interface, the self-contained HTML of
``GET /personas/{id}`` with ``Accept: text/html`` and a file of
``persona generate --format html``. No FastAPI here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from persona.schemas import CitedEvidence, Insight, Persona, PersonaContent, Quote, TextSpan
from persona.web.templating import (
    ENVIRONMENT,
    SECTION_TITLES,
    Badge,
    insight_badge,
    quote_badge,
    stylesheet,
)

CARD_STYLESHEET = "card.css"


@dataclass(frozen=True)
class CitedRecord:
    """A record a line cites, with the spans of the line's words in its text."""

    record: CitedEvidence
    spans: list[TextSpan]


@dataclass(frozen=True)
class CardLine:
    section: str
    index: int
    text: str
    badge: Badge
    records: list[CitedRecord]
    source_text: str | None = None
    missing: int = 0
    """Cited records not shown (beyond the sources listed)."""

    @property
    def participants(self) -> list[str]:
        names = (cited.record.participant for cited in self.records)
        return list(dict.fromkeys(name for name in names if name))

    @property
    def anchor(self) -> str:
        return f"{self.section}-{self.index}"


@dataclass(frozen=True)
class PersonaCard:
    persona: Persona | PersonaContent
    sections: dict[str, list[CardLine]]
    sources: list[CitedEvidence] = field(default_factory=list)


def persona_card(
    persona: Persona | PersonaContent, sources: Sequence[CitedEvidence]
) -> PersonaCard:
    """The card of ``persona``; ``sources`` are the records it cites (``cited_evidence``)."""
    by_id = {record.id: record for record in sources}
    sections: dict[str, list[CardLine]] = {}
    for section in SECTION_TITLES:
        statements: list[Insight | Quote] = getattr(persona, section)
        sections[section] = [
            _line(section, index, statement, by_id) for index, statement in enumerate(statements)
        ]
    return PersonaCard(persona=persona, sections=sections, sources=list(sources))


def _line(
    section: str, index: int, statement: Insight | Quote, by_id: dict[str, CitedEvidence]
) -> CardLine:
    records = []
    wanted = list(dict.fromkeys(statement.evidence_ids))
    for evidence_id in wanted:
        record = by_id.get(evidence_id)
        if record is None:
            continue
        spans = [
            span
            for citation in record.cited_by
            if citation.section == section and citation.index == index
            for span in citation.spans
        ]
        records.append(CitedRecord(record=record, spans=spans))
    if isinstance(statement, Quote):
        badge = quote_badge(statement)
        source_text = statement.source_text
    else:
        badge, source_text = insight_badge(statement), None
    return CardLine(
        section=section,
        index=index,
        text=statement.text,
        badge=badge,
        records=records,
        source_text=source_text,
        missing=len(wanted) - len(records),
    )


def _inline_css() -> Markup:
    # The packaged stylesheet, as it is: escaping would break its quoted font names and
    # badge symbols (a <style> element's text is not unescaped by the browser).
    return Markup(stylesheet(CARD_STYLESHEET))  # noqa: S704 - our own file, no user data


def card_html(persona: Persona | PersonaContent, sources: Sequence[CitedEvidence]) -> str:
    """The printable card: one HTML document, its CSS inline, no script, then its sources."""
    template = ENVIRONMENT.get_template("card.html")
    return template.render(card=persona_card(persona, sources), inline_css=_inline_css())


def index_html(entries: Sequence[tuple[str, PersonaContent]]) -> str:
    """An index page linking each card file (``entries``: file name, persona)."""
    template = ENVIRONMENT.get_template("card_index.html")
    return template.render(entries=entries, inline_css=_inline_css())
