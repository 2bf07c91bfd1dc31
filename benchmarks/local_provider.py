"""Time and peak memory of the ``local`` provider on 10k and 100k synthetic evidence rows.

    python benchmarks/local_provider.py            # 10k and 100k rows, 3 personas
    python benchmarks/local_provider.py --rows 50000 --personas 5

Each size runs in a fresh interpreter, so peak RSS (resource.getrusage) belongs to that size
alone. It includes the interpreter, the imports and the evidence objects themselves. The
times are those of ``LocalProvider.generate`` only: its first (cold) and second (warm) run.
Figures are printed, never asserted.
Targets on a 2-core machine: 100k rows <= 10 s and <= 1 GB peak; 10k -> 100k time ratio <= 12.

Figures of 2026-12-04, before and after the section scorer (VADER), the near-duplicate
check and the bucketed numeric attributes, run one after the other: at load 3.3-3.7, 100k
rows cold 3.91 s -> 4.19 s, warm 1.92 s -> 2.30 s, peak RSS 470 -> 475 MiB; at load 11,
warm CPU 1.96 s -> 2.40 s, peak RSS 440 -> 467 MiB.

Figures of 2026-12-07, before and after summaries, noun-phrase titles, quotes that may repeat
an insight and sections from the question answered, run one after the other at load 3-4.5:
10k rows warm CPU 0.60 s -> 0.66 s; 100k rows cold 7.19 s -> 6.34 s, warm CPU 3.19 s ->
3.62 s, peak RSS 441 -> 431 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time

ROWS_PER_PARTICIPANT = 10
ROLES = {
    "Designer": ("mockups", "prototypes", "design reviews", "Figma files", "style guides"),
    "Accountant": ("invoices", "the ledger", "month-end close", "expense reports", "VAT returns"),
    "Delivery driver": ("routes", "parcels", "the depot", "delivery slots", "proof of delivery"),
    "Support agent": ("tickets", "the help centre", "refunds", "live chat", "escalations"),
    "Store manager": ("staff rotas", "stock counts", "the till", "weekly sales", "promotions"),
}
GOALS = (
    "I want to get through {thing} without switching tools.",
    "I need a faster way to deal with {thing}.",
    "My goal is to spend less time on {thing} each week.",
    "I wish {thing} just worked on my phone.",
    "Ideally I'd like to share {thing} with my team in one click.",
)
PAINS = (
    "It is so frustrating when {thing} takes forever to load.",
    "Honestly, {thing} is hard to find in the current app.",
    "The biggest problem is that {thing} keeps getting out of sync.",
    "I hate having to re-enter {thing} by hand.",
    "It's annoying that {thing} breaks whenever there is an update.",
)
BEHAVIOURS = (
    "I usually check {thing} first thing in the morning.",
    "Every day I use a spreadsheet to keep track of {thing}.",
    "We always go over {thing} together on Mondays.",
    "I often print {thing} because the screen is too small.",
    "I tend to leave {thing} until Friday afternoon.",
)
NEUTRAL = (
    "That's a good question.",
    "We have been with this company for about {years} years now.",
    "Our team is {size} people, spread over two offices.",
    "I mostly work from home these days.",
    "To be fair, the support people have been helpful.",
    "It depends on the week, really.",
)


def synthetic_evidence(rows: int, seed: int = 7) -> list[object]:
    """``rows`` Evidence records, 10 per participant, from a fixed seed (same rows every time)."""
    from persona.schemas import Evidence

    rng = random.Random(seed)
    roles = sorted(ROLES)
    plans = ("free", "team", "enterprise")
    evidence = []
    for participant in range(rows // ROWS_PER_PARTICIPANT + (rows % ROWS_PER_PARTICIPANT > 0)):
        role = roles[participant % len(roles)]
        attributes = {"role": role, "age": str(rng.randint(21, 64)), "plan": rng.choice(plans)}
        for _ in range(min(ROWS_PER_PARTICIPANT, rows - len(evidence))):
            evidence.append(
                Evidence(
                    id=f"interviews.csv#row-{len(evidence) + 2}",
                    source="interviews.csv",
                    locator=f"row {len(evidence) + 2}",
                    participant=f"P{participant:06d}",
                    text=_answer(rng, ROLES[role]),
                    attributes=attributes,
                )
            )
    return evidence


def _answer(rng: random.Random, things: tuple[str, ...]) -> str:
    """One to three sentences: a realistic mix of cues, neutral talk and the role's topics."""
    pools = (GOALS, PAINS, BEHAVIOURS, NEUTRAL)
    sentences = []
    for _ in range(rng.randint(1, 3)):
        template = rng.choice(rng.choices(pools, weights=(3, 3, 3, 2))[0])
        sentences.append(
            template.format(
                thing=rng.choice(things), years=rng.randint(1, 12), size=rng.randint(2, 40)
            )
        )
    return " ".join(sentences)


def measure(rows: int, personas: int) -> dict[str, float]:
    """Run the provider twice in this process and return its figures.

    The first run pays for the provider's lazy imports (scikit-learn, SciPy), as the first
    run of a fresh ``persona generate`` does; the second shows the work proper, as every
    later run of a server does.
    """
    from persona.providers.local import LocalProvider
    from persona.schemas import GenerationConfig

    evidence = synthetic_evidence(rows)
    config = GenerationConfig(persona_count=personas)
    timings, cpu = [], []
    for _ in range(2):
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        result = asyncio.run(LocalProvider().generate(evidence, config))  # type: ignore[arg-type]
        timings.append(time.perf_counter() - started)
        cpu.append(_cpu_seconds() - cpu_started)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": rows,
        "cold": timings[0],
        "warm": timings[1],
        "warm_cpu": cpu[1],
        "peak_mib": peak_kib / 1024,
        "personas": len(result.personas),
        "quotes_verified": sum(q.verified for p in result.personas for q in p.quotes),
        "quotes": sum(len(p.quotes) for p in result.personas),
    }


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: less sensitive than wall time to a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _in_fresh_process(rows: int, personas: int) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--rows",
        str(rows),
        "--personas",
        str(personas),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="default: 10000 and 100000")
    parser.add_argument("--personas", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.rows or [10_000, 100_000]
    if args.child:
        print(json.dumps(measure(sizes[0], args.personas)))
        return
    results = [_in_fresh_process(rows, args.personas) for rows in sizes]
    print(
        f"{'rows':>8} {'cold (s)':>9} {'warm (s)':>9} {'warm CPU (s)':>13} {'peak RSS (MiB)':>15} "
        f"{'personas':>9} {'quotes verified':>16}"
    )
    for figures in results:
        quotes = f"{figures['quotes_verified']}/{figures['quotes']}"
        print(
            f"{figures['rows']:>8} {figures['cold']:>9.2f} {figures['warm']:>9.2f} "
            f"{figures['warm_cpu']:>13.2f} {figures['peak_mib']:>15.0f} {figures['personas']:>9} "
            f"{quotes:>16}"
        )
    if len(results) >= 2:
        first, last = results[0], results[-1]
        print(
            f"time ratio {first['rows']} -> {last['rows']} rows: "
            f"cold {last['cold'] / first['cold']:.1f}, warm {last['warm'] / first['warm']:.1f}"
        )
    print("cold: first run in a fresh process (includes importing scikit-learn); warm: second run")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
