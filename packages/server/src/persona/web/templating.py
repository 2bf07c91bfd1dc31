"""The Jinja environment shared by the interface's pages and the printable persona card.

Autoescaping is on for every template: participants' words are shown as text, whatever
they hold. What templates need beyond plain values (quoted spans marked, grounding badges)
is computed here, in Python, so it is escaped in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from persona.schemas import Insight, Quote, TextSpan

SECTION_TITLES = {
    "summary": "Summary",
    "goals": "Goals",
    "pain_points": "Pain points",
    "behaviours": "Behaviours",
    "quotes": "Quotes",
}
SECTION_SINGULAR = {
    "summary": "summary sentence",
    "goals": "goal",
    "pain_points": "pain point",
    "behaviours": "behaviour",
    "quotes": "quote",
}


@dataclass(frozen=True)
class Badge:
    """A grounding badge: its text says what the colour shows, for every reader."""

    kind: str
    label: str
    explanation: str


def quote_badge(quote: Quote) -> Badge:
    if quote.match == "approximate":
        return Badge("approximate", "Approximate", "Close to the words of a record, not exact.")
    if not quote.verified or quote.match == "none":
        return Badge("none", "Not found", "These words were found in no record.")
    if quote.citation == "corrected":
        return Badge(
            "corrected", "Verified, citation corrected", "Found word for word in another record."
        )
    return Badge("verified", "Verified", "Found word for word in the cited record.")


def insight_badge(insight: Insight) -> Badge:
    if insight.supported:
        return Badge("verified", "Supported", "Cites records of the evidence.")
    return Badge("none", "Unsupported insight", "Cites no record of the evidence.")


def merged_spans(spans: Iterable[TextSpan], length: int) -> list[tuple[int, int]]:
    """Spans clipped to the text, sorted, overlapping ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s.start), min(length, s.end)) for s in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, spans: Sequence[TextSpan] = ()) -> Markup:
    """``text`` escaped, with each stored span in ``<mark>``."""
    parts: list[str] = []
    position = 0
    for start, end in merged_spans(spans, len(text)):
        parts.append(escape(text[position:start]))
        parts.append(Markup("<mark>{}</mark>").format(text[start:end]))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def when(moment: datetime | None) -> str:
    """A timestamp as people read it, in UTC."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def file_size(size: int | None) -> str:
    if size is None:
        return "missing"
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def percent(share: float) -> str:
    return f"{round(share * 100)}%"


def stylesheet(name: str) -> str:
    """A packaged stylesheet's text, for the self-contained card that inlines its CSS."""
    return files("persona.web").joinpath("static", name).read_text(encoding="utf-8")


def build_environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("persona.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are package files: no stat of each one on every render.
        auto_reload=False,
    )
    environment.filters.update(highlight=highlight, when=when, file_size=file_size, percent=percent)
    environment.globals.update(
        quote_badge=quote_badge,
        insight_badge=insight_badge,
        SECTION_TITLES=SECTION_TITLES,
        SECTION_SINGULAR=SECTION_SINGULAR,
    )
    return environment


ENVIRONMENT = build_environment()
