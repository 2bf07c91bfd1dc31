"""Prompt tokens and citation accuracy with stored evidence ids versus per-request aliases.

    python benchmarks/citation_aliases.py                       # 1,000 records
    python benchmarks/citation_aliases.py --rows 5000 --miscopy 0 0.05 --trials 5
    python benchmarks/citation_aliases.py --map-reduce-context 0   # the direct request only

The source: ``--rows`` synthetic interview rows shaped like examples/interviews.csv
(participant, role, segment, age, company_size, topic, response), the same rows for the same
``--seed``, written to a CSV in a temporary data directory and read back through Persona's
own sources loader, so that every record has its real stored id (``ev-`` and 16 hex digits).
Each run is measured twice: as Persona prompts now, records named E1, E2, ... per request,
and as it prompted before, records named by their stored ids (the prompt module's alias
table is swapped for one that names each record by its stored id, and chunks are sized for
stored ids, as they were; the prompt's wording, which mentions E1, E2, ..., is the same in
both).

1. Prompt size: the single request that writes personas from the whole source, in
   characters and in tokens by Persona's own estimate (``estimate_tokens``: characters /
   3.5). No real BPE tokenizer is counted: none that works offline is installed (tiktoken
   downloads its vocabulary at run time), so these are estimates, not a tokenizer's counts.
   The estimate counts hex digits like prose; BPE vocabularies cut hex into shorter pieces,
   so a real tokenizer would likely count more tokens for stored ids (not measured here).

2. Citation accuracy: ``OpenAIProvider.generate`` over real loopback sockets against the
   fake OpenAI-compatible server (tests/fakes), whose model is ``MiscopyingModel``
   (tests/fakes/miscopy.py): it quotes every record it reads, whole, and cites the id as it
   read it in the prompt, getting each token of the id wrong with probability ``--miscopy``
   (the same rate and seed for both namings). Its token cuts (11 to 13 tokens for a stored
   id, 2 for ``E517``) and the error rate are ASSUMPTIONS OF THE FAKE, NOT MEASUREMENTS OF A REAL
   MODEL: the accuracies follow from them, and show what the pipeline makes of the errors.
   A quote is correct when, after the pipeline has mapped the reply back and grounded it,
   it cites exactly the record it was copied from (and grounding did not have to correct
   the citation); "wrong" cites another record; "dropped" cites none, its id unknown and
   dropped by grounding. A miscopied stored id is almost never another record's id, so it
   is dropped; a miscopied alias is often another alias of the same request, so it points
   at the wrong record without anything noticing. The run is made once with the model's
   whole context (one request) and once with ``--map-reduce-context`` tokens, which forces
   notes per chunk and a reduce step (an id copied twice, so about twice the risk).

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import random
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

from persona.generation import pipeline as pipeline_module  # noqa: E402
from persona.generation import prompt as prompt_module  # noqa: E402
from persona.generation.aliases import AliasTable  # noqa: E402
from persona.generation.chunking import estimate_tokens, output_tokens_for  # noqa: E402
from persona.generation.prompt import persona_prompt  # noqa: E402
from persona.providers.openai import OpenAIProvider  # noqa: E402
from persona.schemas import Evidence, GenerationConfig, PersonaContent  # noqa: E402
from persona.settings import Settings  # noqa: E402
from persona.sources import load_evidence  # noqa: E402

from tests.fakes import FakeOpenAIServer  # noqa: E402
from tests.fakes.miscopy import MiscopyingModel, id_tokens  # noqa: E402

NAMINGS = ("stored ids", "aliases")
PROFILES = (  # (role, segment, age, company_size), as in examples/interviews.csv
    ("Operations manager", "Operations", "41", "51-200"),
    ("Head of operations", "Operations", "45", "201-500"),
    ("Freelance designer", "Freelancer", "29", "1"),
    ("Freelance translator", "Freelancer", "42", "1"),
    ("IT administrator", "Enterprise IT", "39", "5000+"),
    ("GRC analyst", "Enterprise IT", "31", "10000+"),
    ("Support lead", "Customer support", "34", "51-200"),
    ("Finance controller", "Finance", "48", "201-500"),
)
TOPICS = {
    "workflow": ("the shared tracker", "order numbers", "the weekly report", "handoffs"),
    "pain": ("notifications", "duplicate emails", "manual exports", "status meetings"),
    "tools": ("spreadsheet macros", "the CRM", "our ticketing tool", "browser extensions"),
    "pricing": ("per-seat pricing", "annual plans", "the invoice total", "add-on fees"),
    "security": ("access reviews", "audit evidence", "single sign-on", "offboarding"),
}
OPENERS = (
    "Every morning I spend {n} minutes on {thing}, and I want that to happen on its own.",
    "The problem is that {thing} takes {n} clicks, and by ten o'clock it is exhausting.",
    "I usually build a workaround for {thing}, but nobody can maintain it after {n} weeks.",
    "My goal this year is to cut the time we lose on {thing} by {n} percent.",
    "Honestly, {thing} broke {n} times last quarter and I had to explain it every time.",
)
CLOSERS = (
    "",
    " Right now three people forward the same email about it.",
    " I would pay for something that flagged it automatically.",
    " My team stopped trusting it months ago.",
)


# --------------------------------------------------------------------------- the source


def synthetic_rows(rows: int, seed: int) -> list[dict[str, str]]:
    """``rows`` interview rows, four per participant, every response different."""
    rng = random.Random(seed)
    seen: set[str] = set()
    table: list[dict[str, str]] = []
    while len(table) < rows:
        role, segment, age, size = PROFILES[(len(table) // 4) % len(PROFILES)]
        topic = rng.choice(sorted(TOPICS))
        thing = rng.choice(TOPICS[topic])
        text = rng.choice(OPENERS).format(thing=thing, n=rng.randint(2, 90))
        text += rng.choice(CLOSERS)
        if text in seen:  # a quote must tell which record it came from
            continue
        seen.add(text)
        participant = f"P{len(table) // 4 + 1:04d}"
        table.append(
            {
                "participant": participant,
                "role": role,
                "segment": segment,
                "age": age,
                "company_size": size,
                "topic": topic,
                "response": text,
            }
        )
    return table


def load_source(directory: Path, rows: int, seed: int) -> list[Evidence]:
    """The rows written as interviews.csv and read back by Persona's sources loader."""
    table = synthetic_rows(rows, seed)
    with (directory / "interviews.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    return load_evidence(["interviews.csv"], data_dir=directory)


# --------------------------------------------------------------------------- namings


class _StoredIds(AliasTable):
    """Names every record by its stored id: the prompts as they were before aliases."""

    def __call__(self, evidence_id: str) -> str:
        super().__call__(evidence_id)
        return evidence_id

    def stored_ids(self) -> dict[str, str]:
        return {evidence_id: evidence_id for evidence_id in super().stored_ids().values()}


@contextlib.contextmanager
def naming(name: str) -> Iterator[None]:
    """Prompts written with ``name``: "aliases" as Persona does, or "stored ids"."""
    if name == "aliases":
        yield
        return
    # Swapped in the modules that use them, as a test's monkeypatch would.
    widest_alias = getattr(pipeline_module, "widest_alias")  # noqa: B009
    setattr(prompt_module, "AliasTable", _StoredIds)  # noqa: B010
    # Lines are sized for the names they will carry: stored ids are all 19 characters.
    setattr(pipeline_module, "widest_alias", lambda max_tokens: "ev-" + "0" * 16)  # noqa: B010
    try:
        yield
    finally:
        setattr(prompt_module, "AliasTable", AliasTable)  # noqa: B010
        setattr(pipeline_module, "widest_alias", widest_alias)  # noqa: B010


# --------------------------------------------------------------------------- 1. prompt size


def prompt_size(evidence: Sequence[Evidence], personas: int) -> None:
    out = output_tokens_for(personas, 128_000, 32_000)
    print(f"1. The request that writes {personas} personas from all {len(evidence)} records")
    print(f"   {'':<12} {'characters':>11} {'est. tokens':>12} {'per record':>11}")
    sizes = {}
    for name in NAMINGS:
        with naming(name):
            text = persona_prompt(evidence, personas, out).text
        sizes[name] = (len(text), estimate_tokens(text))
        per_record = estimate_tokens(text) / len(evidence)
        print(f"   {name:<12} {len(text):>11,} {sizes[name][1]:>12,} {per_record:>11.1f}")
    chars = sizes["stored ids"][0] - sizes["aliases"][0]
    tokens = sizes["stored ids"][1] - sizes["aliases"][1]
    share = tokens / sizes["stored ids"][1]
    print(f"   saved: {chars:,} characters, {tokens:,} estimated tokens ({share:.1%})")
    aliases = [f"E{n}" for n in range(1, len(evidence) + 1)]
    for name, ids in (("stored id", [e.id for e in evidence]), ("alias", aliases)):
        mean_chars = statistics.mean(len(i) + 2 for i in ids)  # with its quotes
        estimated = statistics.mean(estimate_tokens(f'"{i}"') for i in ids)
        cut = statistics.mean(len(id_tokens(i)) for i in ids)
        print(
            f"   one {name} cited: {mean_chars:.1f} characters, {estimated:.1f} estimated "
            f"tokens, {cut:.1f} tokens as the fake model cuts it"
        )
    print("   BPE tokens: not measured (no tokenizer that works offline is installed)\n")


# --------------------------------------------------------------------------- 2. accuracy


@dataclass
class Score:
    correct: int = 0
    wrong: int = 0
    dropped: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    reply_chars: int = 0

    @property
    def quotes(self) -> int:
        return self.correct + self.wrong + self.dropped

    def add(self, personas: list[PersonaContent], origin: dict[str, str]) -> None:
        for quote in (q for p in personas for q in p.quotes):
            given = getattr(quote, "citation", "given") == "given"  # not corrected by grounding
            if quote.evidence_ids == [origin[quote.text]] and given:
                self.correct += 1
            elif quote.evidence_ids:
                self.wrong += 1
            else:
                self.dropped += 1


async def one_run(
    evidence: list[Evidence],
    directory: Path,
    model: MiscopyingModel,
    context: int | None,
    personas: int,
) -> Score:
    """One generation through the OpenAI provider against the miscopying fake."""
    score = Score()
    settings = Settings(_env_file=None, data_dir=directory, provider_context_tokens=context)
    with FakeOpenAIServer(default=model) as server:
        provider = OpenAIProvider(settings, api_key="sk-fake", base_url=server.base_url)
        try:
            config = GenerationConfig(provider="openai", persona_count=personas)
            result = await provider.generate(evidence, config)
        finally:
            await provider.aclose()
        for request in server.chat_requests:
            messages = request.body["messages"]
            score.prompt_tokens += estimate_tokens("\n".join(m["content"] for m in messages))
        score.requests = len(server.chat_requests)
    score.add(result.personas, {e.text: e.id for e in evidence})
    return score


def accuracy(evidence: list[Evidence], directory: Path, args: argparse.Namespace) -> None:
    contexts: list[tuple[str, int | None]] = [("direct (the model's whole context)", None)]
    if args.map_reduce_context:
        label = f"map-reduce ({args.map_reduce_context:,}-token context)"
        contexts.append((label, args.map_reduce_context))
    print(
        f"2. Citation accuracy against the miscopying fake, {args.trials} trial(s) each; "
        "the miscopy rate is the fake's assumption, not a measurement"
    )
    for label, context in contexts:
        print(f"   {label}")
        print(
            f"   {'p/token':>7} {'naming':<11} {'quotes':>7} {'correct':>8} {'wrong':>7} "
            f"{'dropped':>8} {'requests':>9} {'est. prompt tokens':>19}"
        )
        for rate in args.miscopy:
            for name in NAMINGS:
                scores = []
                for trial in range(args.trials):
                    model = MiscopyingModel(rate, seed=args.seed + trial)
                    with naming(name):
                        run = one_run(evidence, directory, model, context, args.personas)
                        scores.append(asyncio.run(run))
                print_row(rate, name, scores)


def print_row(rate: float, name: str, scores: list[Score]) -> None:
    quotes = sum(s.quotes for s in scores)

    def share(count: int) -> str:
        return f"{count / quotes:.1%}" if quotes else "-"

    print(
        f"   {rate:>7.3f} {name:<11} {quotes // len(scores):>7} "
        f"{share(sum(s.correct for s in scores)):>8} {share(sum(s.wrong for s in scores)):>7} "
        f"{share(sum(s.dropped for s in scores)):>8} {scores[0].requests:>9} "
        f"{statistics.mean(s.prompt_tokens for s in scores):>19,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="records in the source")
    parser.add_argument("--personas", type=int, default=3)
    parser.add_argument(
        "--miscopy",
        type=float,
        nargs="+",
        default=[0.0, 0.01, 0.03],
        help="the fake's chance of getting one token of an id wrong (default: 0 0.01 0.03)",
    )
    parser.add_argument("--trials", type=int, default=3, help="runs per rate and naming")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--map-reduce-context",
        type=int,
        default=32_000,
        help="context tokens that force map-reduce (0: skip it)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        evidence = load_source(directory, args.rows, args.seed)
        print(f"{len(evidence)} records, ids like {evidence[0].id}\n")
        prompt_size(evidence, args.personas)
        accuracy(evidence, directory, args)


if __name__ == "__main__":
    main()
