"""Time of grounding quotes against a large run: the evidence index build and the lookups.

    python benchmarks/grounding.py                       # 100k records, 50 quotes
    python benchmarks/grounding.py --records 20000 --quotes 200 --seed 3

Builds ``--records`` synthetic evidence records (seeded, the same every time) of interview
-like sentences over a vocabulary of a few thousand words, and ``--quotes`` quotes spread over
five personas: a fifth verbatim and citing their record, a fifth verbatim but citing another
record, a fifth citing nothing, a fifth near-verbatim (a letter of a word changed, the
punctuation dropped) and a fifth invented. It prints the time to index the evidence
(normalising every record's text and the word index), the time to ground the personas on
that index, their total, the same grounding again on the cached index, and the grounding
counts. The Evidence objects are new, so nothing is cached from before. Figures are printed,
never asserted.
Target on a 2-core machine: 100k records and 50 quotes in <= 2 s, index build included.
"""

from __future__ import annotations

import argparse
import itertools
import random
import string
import time
from typing import Any

PERSONAS = 5
KINDS = ("verbatim", "miscited", "uncited", "near-verbatim", "invented")


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """``size`` distinct pronounceable made-up words."""
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.randint(1, 4)
        words.add(
            "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(syllables))
        )
    return sorted(words)


def synthetic_evidence(records: int, seed: int) -> list[Any]:
    """``records`` Evidence records of two to five sentences of 6-16 words each, the words
    drawn with a Zipf-like skew (a few very common, most rare), as in speech."""
    from persona.schemas import Evidence

    rng = random.Random(seed)
    words = vocabulary(rng, 5000)
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    evidence = []
    for n in range(records):
        sentences = []
        for _ in range(rng.randint(2, 5)):
            chosen = rng.choices(words, cum_weights=cumulative, k=rng.randint(6, 16))
            sentences.append(" ".join(chosen).capitalize() + rng.choice(".?!"))
        evidence.append(
            Evidence(
                id=f"interviews.csv#row-{n + 2}",
                source="interviews.csv",
                locator=f"row {n + 2}",
                participant=f"P{n // 10:06d}",
                text=" ".join(sentences),
            )
        )
    return evidence


def synthetic_quotes(evidence: list[Any], count: int, seed: int) -> list[Any]:
    """``count`` quotes, cycling through KINDS, each a run of 8-14 words of a random record."""
    from persona.schemas import Quote

    rng = random.Random(seed + 1)
    quotes = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        record = rng.choice(evidence)
        words = record.text.split()
        size = min(len(words), rng.randint(8, 14))
        start = rng.randint(0, len(words) - size)
        text = " ".join(words[start : start + size])
        cited = [record.id]
        if kind == "miscited":
            cited = [rng.choice(evidence).id]
        elif kind == "uncited":
            cited = []
        elif kind == "near-verbatim":
            text = _near(rng, text)
        elif kind == "invented":
            text = " ".join(rng.choice(words) for _ in range(size)) + " " + _nonsense(rng)
        quotes.append(Quote(text=text, evidence_ids=cited, verified=False))
    return quotes


def _near(rng: random.Random, text: str) -> str:
    """``text`` misspelt: a letter of one word (not the first or last) changed, and without
    its punctuation."""
    words = text.translate(str.maketrans("", "", ".?!")).split()
    position = rng.randint(1, len(words) - 2)
    word = words[position]
    letter = rng.randrange(len(word))
    words[position] = word[:letter] + ("x" if word[letter] != "x" else "y") + word[letter + 1 :]
    return " ".join(words)


def _nonsense(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(12))


def measure(records: int, quotes: int, seed: int) -> dict[str, Any]:
    from persona.generation.grounding import EvidenceIndex, ground
    from persona.schemas import Grounding, PersonaContent

    started = time.perf_counter()
    evidence = synthetic_evidence(records, seed)
    made = time.perf_counter() - started
    all_quotes = synthetic_quotes(evidence, quotes, seed)
    personas = [
        PersonaContent(name=f"Persona {n}", title="Synthetic", quotes=all_quotes[n::PERSONAS])
        for n in range(PERSONAS)
    ]
    started = time.perf_counter()
    index = EvidenceIndex.of(evidence)
    index.build()
    built = time.perf_counter() - started
    started = time.perf_counter()
    grounded = [ground(persona, index) for persona in personas]
    grounding = time.perf_counter() - started
    started = time.perf_counter()
    index = EvidenceIndex.of(evidence)  # as the next run over the same objects would
    for persona in personas:
        ground(persona, index)
    again = time.perf_counter() - started
    return {
        "made": made,
        "built": built,
        "grounding": grounding,
        "again": again,
        "counts": Grounding.total([p.grounding for p in grounded]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--quotes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    figures = measure(args.records, args.quotes, args.seed)
    counts = figures["counts"]
    print(f"{args.records} records, {args.quotes} quotes over {PERSONAS} personas")
    print(f"  making the records (not timed below) {figures['made']:7.3f} s")
    print(f"  index build                          {figures['built']:7.3f} s")
    print(f"  grounding                            {figures['grounding']:7.3f} s")
    print(
        f"  total                                {figures['built'] + figures['grounding']:7.3f} s"
    )
    print(f"  grounding again, index cached        {figures['again']:7.3f} s")
    print(
        f"  verified {counts.quotes_verified} (corrected {counts.quotes_corrected}), "
        f"approximate {counts.quotes_approximate}, unverified {counts.quotes_unverified}, "
        f"score {counts.score:.2f}"
    )


if __name__ == "__main__":
    main()
