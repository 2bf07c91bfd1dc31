"""A persona's summary from its own attributes and lines: who they are, what they want, what
stands in their way, each sentence citing the records it rests on."""

from __future__ import annotations

from persona.schemas import Insight

MAX_CITED = 10
"""Records the first sentence cites: enough to show who is meant, few enough to read."""


def summarize(
    first_name: str,
    participants: int,
    role: str | None,
    phrases: list[str],
    who_ids: list[str],
    insights: dict[str, list[Insight]],
) -> list[Insight]:
    """Two or three sentences: who (cites ``who_ids``, the records naming the role or the
    phrases), the main goal and the main pain point in the participants' own words (each
    citing that line's records); a behaviour stands in for a missing goal or pain point."""
    people = f"{participants} participant{'s' if participants != 1 else ''}"
    who = f"{first_name} stands for {people}"
    if role:
        who += f" grouped as \u201c{role}\u201d"
    if phrases:
        joined = phrases[0] if len(phrases) == 1 else f"{phrases[0]} and {phrases[1]}"
        who += f" who mention {joined} more than the others do"
    sentences = [Insight(text=f"{who}.", evidence_ids=who_ids[:MAX_CITED])]
    openers = (
        ("goals", "Above all they want this: "),
        ("pain_points", "What stands in their way: "),
        ("behaviours", "A habit they share: "),
    )
    for section, opener in openers:
        if len(sentences) == 3:
            break
        if insights[section]:
            line = insights[section][0]
            sentences.append(
                Insight(text=f"{opener}\u201c{line.text}\u201d", evidence_ids=line.evidence_ids)
            )
    return sentences
