"""Personas as Markdown, for `persona generate --format markdown` and `Accept: text/markdown`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from persona.schemas import CitedEvidence, Insight, Persona, PersonaContent, Quote

MAX_LISTED_EVIDENCE = 100
"""Evidence ids listed in the Evidence section; the JSON form always has them all."""
MAX_LISTED_SOURCES = 100
"""Records shown in the Sources section; the JSON form and the evidence endpoint have all."""
MAX_SOURCE_CHARS = 400
"""A longer record text is shortened to this many characters around the first quote."""
_SECTION_NAMES = {
    "summary": "summary",
    "goals": "goal",
    "pain_points": "pain point",
    "behaviours": "behaviour",
    "quotes": "quote",
}

_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")
_SPACE = re.compile(r"\s+")
_DOT = " \u00b7 "
INVENTED_NAME = "_invented name_"
"""Beside the title: a persona's name is made up, never a participant's."""
_ELLIPSIS = "\u2026"


def persona_markdown(
    persona: Persona | PersonaContent, sources: Sequence[CitedEvidence] | None = None
) -> str:
    """Name (marked as invented), title, summary, demographics table, insight lists, quotes
    and evidence, then the cited records when ``sources`` are given; ends in a newline."""
    blocks = [
        f"# {_inline(persona.name)}",
        f"*{_inline(persona.title)}*{_DOT}{INVENTED_NAME}",
        *_summary(persona.summary),
        _demographics(persona.demographics),
        _insights("Goals", persona.goals),
        _insights("Pain points", persona.pain_points),
        _insights("Behaviours", persona.behaviours),
        _quotes(persona.quotes),
        _evidence(persona),
    ]
    if sources is not None:
        blocks.append(_sources(sources, len(persona.evidence_ids)))
    if isinstance(persona, Persona):
        blocks.append(_footer(persona))
    return "\n\n".join(blocks) + "\n"


def _summary(sentences: list[Insight]) -> list[str]:
    """The summary as one paragraph; its citations are in the JSON and the Sources."""
    return [" ".join(_inline(sentence.text) for sentence in sentences)] if sentences else []


def _demographics(demographics: dict[str, str]) -> str:
    if not demographics:
        return "## Demographics\n\n_None recorded._"
    rows = [f"| {_cell(key)} | {_cell(value)} |" for key, value in demographics.items()]
    return "\n".join(["## Demographics", "", "| Attribute | Value |", "| --- | --- |", *rows])


def _insights(heading: str, items: list[Insight]) -> str:
    if not items:
        return f"## {heading}\n\n_None found in the evidence._"
    lines = [f"- {_inline(item.text)}{_cited(item.evidence_ids)}" for item in items]
    return "\n".join([f"## {heading}", "", *lines])


def _quotes(quotes: list[Quote]) -> str:
    if not quotes:
        return "## Quotes\n\n_None found in the evidence._"
    return "\n\n".join(["## Quotes", *(_quote(quote) for quote in quotes)])


def _quote(quote: Quote) -> str:
    lines = [f"> {_escape(line)}".rstrip() for line in quote.text.strip().splitlines()]
    return "\n".join(
        [*lines, ">", f"> \u2014 {_quote_mark(quote)}{_cited(quote.evidence_ids, _DOT)}"]
    )


def _quote_mark(quote: Quote) -> str:
    if quote.verified:
        corrected = " (citation corrected)" if quote.citation == "corrected" else ""
        return f"\u2713 verified{corrected}"
    if quote.match == "approximate" and quote.source_text:
        return f"\u2248 **approximate**: the source says \u201c{_inline(quote.source_text)}\u201d"
    return "\u2717 **not found** in the evidence"


def _evidence(persona: PersonaContent) -> str:
    notes = [*_grounding_note(persona), *_dropped_note(persona.dropped_evidence_ids)]
    paragraphs = ["## Evidence", " ".join(notes), _evidence_list(persona.evidence_ids)]
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def _grounding_note(persona: PersonaContent) -> list[str]:
    counts = persona.grounding
    notes = []
    quotes = counts.quotes_verified + counts.quotes_approximate + counts.quotes_unverified
    if quotes:
        share = round(100 * counts.quotes_verified / quotes)
        note = f"Grounding: {counts.quotes_verified} of {quotes} quotes verified ({share}%)"
        extra = [
            f"{counts.quotes_corrected} with a corrected citation" * bool(counts.quotes_corrected),
            f"{counts.quotes_approximate} approximate" * bool(counts.quotes_approximate),
        ]
        notes.append(note + "".join(f"; {part}" for part in extra if part) + ".")
    if counts.insights_unsupported:
        insights = counts.insights_supported + counts.insights_unsupported
        notes.append(
            f"{counts.insights_unsupported} of {insights} goals, pain points and behaviours "
            "cite no evidence."
        )
    return notes


def _dropped_note(count: int) -> list[str]:
    if not count:
        return []
    if count == 1:
        return ["1 cited evidence id did not exist and was removed."]
    return [f"{count} cited evidence ids did not exist and were removed."]


def _evidence_list(ids: list[str]) -> str:
    if not ids:
        return "_No evidence records._"
    noun = "record" if len(ids) == 1 else "records"
    listed = ", ".join(_code(evidence_id) for evidence_id in ids[:MAX_LISTED_EVIDENCE])
    more = len(ids) - MAX_LISTED_EVIDENCE
    suffix = f", and {more} more (all are in the JSON form)" if more > 0 else ""
    return f"{len(ids)} {noun}: {listed}{suffix}."


def _sources(records: Sequence[CitedEvidence], cited: int) -> str:
    """The records its statements cite; the count of those backing it only as a whole."""
    shown = [record for record in records if record.cited_by][:MAX_LISTED_SOURCES]
    if not shown:
        return "## Sources\n\n_No stored record is cited by a statement of this persona._"
    blocks = ["## Sources", *(_source(record) for record in shown)]
    if cited > len(shown):
        blocks.append(
            f"_{cited - len(shown)} more of the records listed under Evidence back the persona "
            "as a whole._"
        )
    return "\n\n".join(blocks)


def _source(record: CitedEvidence) -> str:
    where = [_code(record.source), _inline(record.locator)]
    if record.participant:
        where.append(f"participant {_inline(record.participant)}")
    cited_by = ", ".join(
        f"{_SECTION_NAMES[citation.section]} {citation.index + 1}" for citation in record.cited_by
    )
    lines = [f"- {_DOT.join(where)} ({_code(record.id)})"]
    if cited_by:
        lines.append(f"  cited by {cited_by}")
    lines.append(f"  > {_inline(_shortened(record))}")
    return "\n".join(lines)


def _shortened(record: CitedEvidence) -> str:
    """The record's text, or MAX_SOURCE_CHARS of it centred on its first quote."""
    text = record.text
    if len(text) <= MAX_SOURCE_CHARS:
        return text
    spans = [span for citation in record.cited_by for span in citation.spans]
    middle = (spans[0].start + spans[0].end) // 2 if spans else 0
    start = max(0, min(middle - MAX_SOURCE_CHARS // 2, len(text) - MAX_SOURCE_CHARS))
    end = start + MAX_SOURCE_CHARS
    before = _ELLIPSIS if start else ""
    after = _ELLIPSIS if end < len(text) else ""
    return f"{before}{text[start:end]}{after}"


def _footer(persona: Persona) -> str:
    created = persona.created_at.isoformat().replace("+00:00", "Z")
    return (
        f"---\n\nPersona {_code(persona.id)} \u00b7 experiment {_code(persona.experiment_id)} "
        f"\u00b7 run {_code(persona.run_id)} \u00b7 created {created}"
    )


def _cited(ids: list[str], separator: str = " \u2014 ") -> str:
    if not ids:
        return f"{separator}no evidence cited"
    return f"{separator}evidence: {', '.join(_code(evidence_id) for evidence_id in ids)}"


def _inline(text: str) -> str:
    """Escaped text inside a line: white space, line breaks included, folded to single spaces."""
    return _SPECIAL.sub(r"\\\1", _SPACE.sub(" ", text).strip())


def _cell(text: str) -> str:
    return _inline(text) or " "


def _escape(text: str) -> str:
    """Lines shown as written: emphasis, links, HTML, tables, headings and list markers escaped."""
    text = _SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda match: f"{match[1]}{_escape_marker(match[2])}", text)


def _escape_marker(marker: str) -> str:
    return f"{marker[:-1]}\\{marker[-1]}"


def _code(text: str) -> str:
    """``text`` as a code span, fenced with more backticks than it contains."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"
