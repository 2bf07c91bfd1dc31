"""What `persona generate` prints or writes: personas as JSON, Markdown or HTML cards."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from persona.schemas import CitedEvidence, Persona


class OutputFormat(StrEnum):
    json = "json"
    markdown = "markdown"
    html = "html"


SUFFIXES = {OutputFormat.json: ".json", OutputFormat.markdown: ".md", OutputFormat.html: ".html"}


def render_persona(
    persona: Persona,
    records: list[CitedEvidence],
    output_format: OutputFormat,
    with_evidence: bool,
) -> str:
    """A persona's content, without the ids and timestamps of the throwaway database, so the
    same input gives the same output."""
    from persona.schemas import PersonaContent

    content = persona.model_dump(mode="json", include=set(PersonaContent.model_fields))
    if output_format is not OutputFormat.json:
        from persona.generation.render import MAX_LISTED_SOURCES, persona_markdown
        from persona.web.card import card_html

        render = persona_markdown if output_format is OutputFormat.markdown else card_html
        return render(PersonaContent.model_validate(content), records[:MAX_LISTED_SOURCES])
    if with_evidence:
        content["evidence"] = [record.model_dump(mode="json") for record in records]
    return json.dumps(content, indent=2, ensure_ascii=False)


def printed_personas(rendered: list[str], output_format: OutputFormat) -> str:
    """The rendered personas as one text for stdout: Markdown documents, or a JSON array."""
    if output_format is OutputFormat.markdown:
        return "\n\n".join(text.rstrip("\n") for text in rendered)
    return "[\n" + ",\n".join(_indent(text) for text in rendered) + "\n]"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def write_personas(
    folder: Path, personas: list[Persona], rendered: list[str], output_format: OutputFormat
) -> Iterator[Path]:
    """Write one file per persona into ``folder`` (and, for HTML, an index page), yielding
    each path once written; an OSError stops it."""
    suffix = SUFFIXES[output_format]
    folder.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, Persona]] = []
    for number, (persona, text) in enumerate(zip(personas, rendered, strict=True), start=1):
        path = folder / f"{number:02d}-{_slug(persona.name)}{suffix}"
        path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
        written.append((path.name, persona))
        yield path
    if output_format is OutputFormat.html:
        from persona.web.card import index_html

        index = folder / "index.html"
        index.write_text(index_html(written), encoding="utf-8")
        yield index


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "persona"
