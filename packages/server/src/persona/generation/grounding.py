"""Check personas against the evidence they cite: quotes verified, unknown ids dropped."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from persona.generation.memo import IdentityMemo
from persona.schemas import Evidence, Grounding, Insight, PersonaContent, Quote, TextSpan

_QUOTE_MARKS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)
_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = " \"'.,;:!?-()[]"


def normalize(text: str) -> str:
    """Fold case, Unicode forms, curly quotes, dashes and runs of white space."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_MARKS)
    return _SPACE.sub(" ", text).strip().casefold()


def quote_in_text(quote: str, text: str) -> bool:
    """True when ``quote`` appears in ``text`` up to normalisation (edge punctuation ignored)."""
    needle = _needle(quote)
    return bool(needle) and needle in normalize(text)


def _needle(quote: str) -> str:
    return normalize(quote).strip(_EDGE_PUNCT)


_normalized_text: IdentityMemo[Evidence, str] = IdentityMemo(lambda item: normalize(item.text))
"""Each (shared, cached) Evidence object's text is normalised once, not once per quote."""


def _known(ids: Iterable[str], evidence: Mapping[str, Evidence]) -> tuple[list[str], int]:
    kept: list[str] = []
    seen: set[str] = set()  # a persona may cite tens of thousands of ids: no list scans
    dropped = 0
    for evidence_id in ids:
        if evidence_id in evidence:
            if evidence_id not in seen:
                seen.add(evidence_id)
                kept.append(evidence_id)
        else:
            dropped += 1
    return kept, dropped


def _verify_quote(quote: Quote, evidence: Mapping[str, Evidence]) -> tuple[Quote, int]:
    ids, dropped = _known(quote.evidence_ids, evidence)
    needle = _needle(quote.text)
    verified = bool(needle) and any(needle in _normalized_text(evidence[i]) for i in ids)
    return Quote(text=quote.text, evidence_ids=ids, verified=verified), dropped


def _clean_insights(
    items: list[Insight], evidence: Mapping[str, Evidence]
) -> tuple[list[Insight], int]:
    cleaned: list[Insight] = []
    dropped = 0
    for item in items:
        ids, lost = _known(item.evidence_ids, evidence)
        dropped += lost
        cleaned.append(Insight(text=item.text, evidence_ids=ids))
    return cleaned, dropped


def ground(persona: PersonaContent, evidence: Mapping[str, Evidence]) -> PersonaContent:
    """Return ``persona`` with quotes verified, unknown evidence ids dropped and counted,
    and ``grounding`` set to verified quotes / quotes (1.0 when it has no quotes)."""
    dropped = 0
    quotes: list[Quote] = []
    for quote in persona.quotes:
        checked, lost = _verify_quote(quote, evidence)
        quotes.append(checked)
        dropped += lost
    sections: dict[str, list[Insight]] = {}
    for section in ("goals", "pain_points", "behaviours"):
        sections[section], lost = _clean_insights(getattr(persona, section), evidence)
        dropped += lost
    evidence_ids, lost = _known(persona.evidence_ids, evidence)
    dropped += lost
    listed = set(evidence_ids)
    for item in [*quotes, *sections["goals"], *sections["pain_points"], *sections["behaviours"]]:
        for evidence_id in item.evidence_ids:
            if evidence_id not in listed:
                listed.add(evidence_id)
                evidence_ids.append(evidence_id)
    verified = sum(q.verified for q in quotes)
    return persona.model_copy(
        update={
            "quotes": quotes,
            **sections,
            "evidence_ids": evidence_ids,
            "grounding": Grounding(
                quotes_verified=verified,
                quotes_unverified=len(quotes) - verified,
                score=verified / len(quotes) if quotes else 1.0,
            ),
            "dropped_evidence_ids": dropped,
        }
    )


def quote_spans(quote: Quote, text: str) -> list[TextSpan]:
    """Where the quote stands in ``text`` (a case-insensitive exact search)."""
    start = text.casefold().find(quote.text.strip().casefold())
    return [] if start < 0 else [TextSpan(start=start, end=start + len(quote.text.strip()))]
