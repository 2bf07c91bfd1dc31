"""Local runs over large sources, read and synthesised in a child process.

Why: the offline synthesizer is CPU work from end to end. Over a large source, parsing the
file, building the corpus and clustering its participants take seconds, much of it in calls
that hold the interpreter lock (a worker thread does not keep the event loop free), and they
grow the heap by a multiple of the source's size (benchmarks/large_sources.py), which the
process keeps, fragmented, long after the run ended. So a run of the ``local`` provider whose
sources total at least ``settings.local_subprocess_min_bytes`` runs ``python -m
persona.runs.child``: the child reads the sources, synthesises and grounds the personas exactly
as the provider does in-process, reports its stages, prints the personas and exits, returning
all of its memory. As soon as the child has read the sources it names the digest of their
evidence, and the runner stores the evidence snapshot while the child synthesises, by reading
the sources once more, in chunks (never a list of every record), checking the digest: a source
edited in between fails the run (``source_changed``) rather than pairing personas with other
evidence.

The protocol is JSON: one :class:`ChildJob` on the child's stdin; on its stdout, one JSON line
per progress report (``{"progress": 0.3, "stage": "vectorising"}``), one
``{"evidence": EvidenceRead}`` once the sources are read, then one line with either
``{"result": ChildResult}`` or ``{"error": {"code": ..., "message": ...}}``. The child's
stderr is kept (its last 64 KiB) for the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from persona.errors import PersonaError, SourceError
from persona.generation.provider import ProgressCallback
from persona.schemas import GenerationConfig, PersonaContent, Usage
from persona.settings import Settings
from persona.sources.paths import plan_sources

if TYPE_CHECKING:
    from persona.storage import ClaimedRun

logger = logging.getLogger("persona.runs.offload")

CHILD_MODULE = "persona.runs.child"
STDERR_KEPT = 64 * 1024
"""Bytes of the child's stderr kept for the log (the end of it)."""
RESULT_LINE_MIN = 64 * 1024 * 1024
"""Smallest allowance for the result line: it lists the evidence ids each persona cites."""


class ChildJob(BaseModel):
    """What the child reads: the run's sources and limits, and its generation config."""

    sources: list[str]
    data_dir: str
    text_column: str | None
    max_total_bytes: int
    max_folder_files: int
    config: GenerationConfig


class EvidenceRead(BaseModel):
    """The evidence the child read: its snapshot id (digest) and number of records."""

    set_id: str
    records: int


class ChildResult(BaseModel):
    """The grounded personas the child synthesised."""

    personas: list[PersonaContent]
    usage: Usage
    warnings: list[str] = []
    """What the sources lacked (persona.sources.roles)."""
    peak_rss_kib: int
    """The child's peak resident memory, for the log."""


def subprocess_slots(settings: Settings) -> int:
    """How many children may synthesise at once: ``max_local_subprocesses``, else the CPUs
    this process may run on (two children on one core take as long as one after the other,
    and hold twice the memory meanwhile)."""
    if settings.max_local_subprocesses is not None:
        return settings.max_local_subprocesses
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


def job_for(claimed: ClaimedRun, settings: Settings) -> ChildJob:
    return ChildJob(
        sources=list(claimed.data_sources),
        data_dir=str(settings.data_dir),
        text_column=claimed.source_text_column,
        max_total_bytes=settings.max_source_bytes,
        max_folder_files=settings.max_folder_files,
        config=claimed.config,
    )


def is_local(claimed: ClaimedRun, settings: Settings) -> bool:
    """Whether the run is the local provider's, the only kind a child may synthesise; no I/O."""
    return (claimed.config.provider or settings.default_provider) == "local"


def runs_in_child(claimed: ClaimedRun, settings: Settings) -> bool:
    """True when the run is the local provider's over sources of at least
    ``local_subprocess_min_bytes``. Sources that cannot be planned are read in-process,
    where their error is reported as for any run. Blocking: it lists folders."""
    if not is_local(claimed, settings):
        return False
    try:
        planned = plan_sources(
            list(claimed.data_sources),
            data_dir=settings.data_dir,
            max_total_bytes=settings.max_source_bytes,
            max_folder_files=settings.max_folder_files,
        )
        total = sum(os.stat(file.path).st_size for file in planned)
    except (SourceError, OSError):
        return False
    return total >= settings.local_subprocess_min_bytes


async def synthesize_in_child(
    job: ChildJob,
    progress: ProgressCallback,
    evidence_read: Callable[[EvidenceRead], None],
    *,
    run_id: str,
) -> ChildResult:
    """Run the job in a child process and return its result. Its progress goes to
    ``progress``, its evidence to ``evidence_read`` (once, before the result); an exception
    there (the run superseded) or a cancellation kills the child."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        CHILD_MODULE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=RESULT_LINE_MIN + job.max_total_bytes,
    )
    assert process.stdin is not None and process.stdout is not None
    stderr = asyncio.ensure_future(_tail(process.stderr))
    try:
        process.stdin.write(job.model_dump_json().encode())
        await process.stdin.drain()
        process.stdin.close()
        outcome = await _read_outcome(process.stdout, progress, evidence_read)
        returncode = await process.wait()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        output = await stderr
    if isinstance(outcome, ChildResult):
        logger.info(
            "run %s synthesised in a child process in %.1f s (its peak memory %d MiB)",
            run_id,
            time.monotonic() - started,
            outcome.peak_rss_kib // 1024,
        )
        return outcome
    if outcome is not None:
        raise outcome
    logger.error(
        "the child process of run %s ended with exit code %s and no result; its output:\n%s",
        run_id,
        returncode,
        output,
    )
    raise PersonaError(
        f"the process synthesising the personas ended without a result (exit code "
        f"{returncode}); the server log has its output",
        code="internal_error",
    )


async def _read_outcome(
    stdout: asyncio.StreamReader,
    progress: ProgressCallback,
    evidence_read: Callable[[EvidenceRead], None],
) -> ChildResult | PersonaError | None:
    """Follow the child's lines to its result or error; None when it printed neither."""
    async for line in stdout:
        if line.startswith(b'{"result"'):
            # Megabytes of evidence ids over a large source: parsed off the event loop.
            return await asyncio.to_thread(_parse_result, line)
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            error = message["error"]
            return PersonaError(str(error["message"]), code=str(error["code"]))
        if "evidence" in message:
            evidence_read(EvidenceRead.model_validate(message["evidence"]))
            continue
        await progress(float(message["progress"]), str(message["stage"]))
    return None


def _parse_result(line: bytes) -> ChildResult:
    return ChildResult.model_validate(json.loads(line)["result"])


async def _tail(stream: asyncio.StreamReader | None) -> str:
    """The end of the stream (its last STDERR_KEPT bytes), read to its end."""
    kept = b""
    if stream is not None:
        while chunk := await stream.read(STDERR_KEPT):
            kept = (kept + chunk)[-STDERR_KEPT:]
    return kept.decode("utf-8", errors="replace")
