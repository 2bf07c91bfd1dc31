"""How close a run's estimate comes to the usage the provider reports, per counting method.

    python benchmarks/estimate.py

For each data set, the service estimates a run on provider ``openai`` (``estimate_run``), then
runs it against the loopback fake of an OpenAI-compatible server (tests/fakes), which reports
prompt tokens as OpenAI does: o200k_base tokens of every message, 3 tokens framing each and 3
priming the reply, and the reply schema's tokens. Compared are the prompt tokens of the
requests planned in advance (the one request of a direct run; the notes requests of a
map-reduce run, whose final request carries notes only the replies give) with what the fake
reported for the requests sent, once with the offline tokenizer and once with the character
estimate (the fallback without the ``tokens`` extra). The fake answers deterministically, so
no repair or retry adds requests. Figures are printed, never asserted.

Figures of 2026-12-07 (2-core machine shared with other work, gpt-5.4-mini prices):

    data set              strategy    sent/planned  tokenizer  characters  USD spent (range)
    interviews.csv        direct               1/1      +0.0%       +6.0%  0.0077 (0.0036-0.58)
    transcripts/          direct               1/1      +0.0%      +10.3%  0.0051 (0.0015-0.58)
    interviews.csv at 6k  map_reduce           3/3      +0.0%       +8.4%  0.0153 (0.0045-1.74)
    320 rows at 8k        map_reduce          11/8      +0.0%       +5.9%  0.1005 (0.0250-4.64)

The fake counts with the same encoding as the tokenizer method, so its +0.0% says that the
estimate counts the very prompts the run sends, framing and schema included; against
OpenAI itself the messages count the same, and how it counts a reply schema is its own.
The character estimate over-counts by 6-10% (3.5 characters a token is generous on purpose:
a chunk judged to fit does fit), so without the tokenizer a budget refuses a little early,
never late. The 320-row run sent 3 requests more than planned: its notes did not fit the
final request and were condensed once more, which only the replies can tell (the estimate
says so in its notes; the run's cap holds all the same). The upper bounds are wide because
OpenAI's requests set no output limit: each reply is bounded by the model's (128,000 tokens).
An estimate took 1.2-2.6 s the first time in a process (loading the tokenizer takes about
1 s, and the provider is imported), then 10-240 ms over these sources, most of it reading them
(a start with a budget pays this too: it estimates the run first).
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

import persona.spend.tokens as tokens  # noqa: E402
from persona.generation.prompt import personas_from_notes_prompt  # noqa: E402
from persona.schemas import ExperimentCreate, GenerationConfig  # noqa: E402
from persona.service import PersonaService  # noqa: E402
from persona.settings import Settings  # noqa: E402
from persona.spend.estimate import prompt_tokens as estimated_prompt  # noqa: E402

from tests.fakes import FakeOpenAIServer  # noqa: E402
from tests.fakes.openai_server import prompt_tokens  # noqa: E402

ROWS = 320
"""Rows of the synthetic interview file: enough for many chunks at an 8k context."""
PERSONAS = 3


def _many_rows(data_dir: Path) -> str:
    """The example interviews repeated with other participants, as ``many.csv``."""
    with (ROOT / "examples" / "interviews.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    path = data_dir / "many.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for i in range(ROWS):
            row = dict(rows[i % len(rows)])
            row["participant"] = f"{row['participant']}-{i // len(rows)}"
            writer.writerow(row)
    return path.name


@dataclass
class Row:
    """One data set's estimate beside what the fake reported for the requests sent."""

    strategy: str = ""
    planned: int = 0
    sent: int = 0
    reported: int = 0
    """Prompt tokens the fake reported for the requests planned in advance."""
    estimated: dict[str, int] = field(default_factory=dict)
    """Per counting method, the estimate's prompt tokens of those requests."""
    seconds: dict[str, float] = field(default_factory=dict)
    cost: str = ""
    """The run's cost beside the estimate's range (tokenizer), in USD."""

    def error(self, method: str) -> float:
        return (self.estimated[method] - self.reported) / self.reported


def _condenses_evidence(body: dict[str, Any]) -> bool:
    """A notes request over the evidence (not over earlier notes, nor the final request)."""
    return "of a body of research evidence too large" in body["messages"][-1]["content"]


async def _measure(data_dir: Path, source: str, context: int | None, fake: FakeOpenAIServer) -> Row:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / f'persona-{context}.db'}",
        provider_context_tokens=context,
    )
    config = GenerationConfig(provider="openai", persona_count=PERSONAS)
    row = Row()
    async with PersonaService(settings) as service:
        experiment = await service.create_experiment(
            ExperimentCreate(name="estimate", data_sources=[source], config=config)
        )
        for method, encoding in (("tokenizer", tokens._encoding), ("characters", lambda: None)):
            original = tokens._encoding
            tokens._encoding = encoding  # type: ignore[assignment]
            try:
                started = time.perf_counter()
                found = await service.estimate_run(experiment.id)
                row.seconds[method] = time.perf_counter() - started
                # The planned final request of map-reduce, without notes, is not compared.
                final = personas_from_notes_prompt([], PERSONAS, 0)
                unknown = estimated_prompt(final) if found.strategy == "map_reduce" else 0
                row.estimated[method] = found.prompt_tokens - unknown
            finally:
                tokens._encoding = original
            row.strategy, row.planned = found.strategy, found.requests
            if method == "tokenizer":
                low, high = found.cost_usd_min or 0.0, found.cost_usd_max or 0.0
        fake.requests.clear()
        started_run = await service.start_run(experiment.id)
        done = await service.wait_for_run(experiment.id, started_run.run.id, timeout=300)
    assert done.status == "succeeded", done.error
    spent = done.usage.cost_usd or 0.0
    row.cost = f"{spent:.4f} ({low:.4f}-{high:.2f})"
    bodies = [r.body for r in fake.chat_requests]
    row.sent = len(bodies)
    mapped = row.strategy == "map_reduce"
    known = [b for b in bodies if _condenses_evidence(b)] if mapped else bodies
    row.reported = sum(prompt_tokens(b) for b in known)
    return row


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="persona-estimate-") as scratch:
        data_dir = Path(scratch)
        shutil.copy(ROOT / "examples" / "interviews.csv", data_dir / "interviews.csv")
        shutil.copytree(ROOT / "examples" / "transcripts", data_dir / "transcripts")
        many = _many_rows(data_dir)
        cases: list[tuple[str, str, int | None]] = [
            ("interviews.csv", "interviews.csv", None),
            ("transcripts/", "transcripts", None),
            ("interviews.csv at 6k", "interviews.csv", 6_000),
            (f"{ROWS} rows at 8k", many, 8_000),
        ]
        print(
            f"{'data set':24} {'strategy':11} {'sent/planned':>12} {'tokenizer':>10} "
            f"{'characters':>11} {'seconds':>8}  USD spent (range)"
        )
        with FakeOpenAIServer() as fake:
            os.environ["OPENAI_BASE_URL"] = fake.base_url
            os.environ.pop("OPENAI_API_KEY", None)
            for label, source, context in cases:
                row = asyncio.run(_measure(data_dir, source, context, fake))
                print(
                    f"{label:24} {row.strategy:11} {f'{row.sent}/{row.planned}':>12} "
                    f"{row.error('tokenizer'):>+10.1%} {row.error('characters'):>+11.1%} "
                    f"{row.seconds['tokenizer']:>8.3f}  {row.cost}"
                )


if __name__ == "__main__":
    main()
