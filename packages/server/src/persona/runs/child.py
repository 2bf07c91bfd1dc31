"""The child process of :mod:`persona.runs.offload`: one local synthesis over large sources.

    python -m persona.runs.child < job.json

Reads a ``ChildJob`` on stdin, reads the sources, synthesises the personas with the local
provider and writes JSON lines on stdout (progress, then the result or the error), as the
offload module describes. Anything else this process would print goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from persona.errors import PersonaError
from persona.providers.local import LocalProvider
from persona.runs.offload import ChildJob, ChildResult, EvidenceRead
from persona.schemas import Evidence
from persona.sources import iter_evidence
from persona.sources.digest import evidence_digest
from persona.sources.roles import RoleAssigner
from persona.sources.working_set import read_working_set, run_holding_working_set

NICENESS = 10
"""How much lower than the server's this process's CPU priority is: where runs outnumber
cores, the server answers requests first and the synthesis takes what is left."""


def main() -> None:
    os.nice(NICENESS)
    out = sys.stdout
    sys.stdout = sys.stderr  # the pipe carries protocol lines only
    job = ChildJob.model_validate_json(sys.stdin.buffer.read())
    try:
        _emit(out, {"progress": 0.0, "stage": "reading sources"})
        with run_holding_working_set():
            roles = RoleAssigner(job.config.columns)
            evidence = read_working_set(roles.assign(_records(job)))
            warnings = roles.warnings()
            result = asyncio.run(_synthesize(job, evidence, out))
            result.warnings = warnings
    except PersonaError as err:
        _emit(out, {"error": {"code": err.code, "message": err.message}})
        return
    _emit(out, {"result": result.model_dump(mode="json")})


def _records(job: ChildJob) -> Iterator[Evidence]:
    return iter_evidence(
        job.sources,
        data_dir=Path(job.data_dir),
        text_column=job.text_column,
        max_total_bytes=job.max_total_bytes,
        max_folder_files=job.max_folder_files,
    )


async def _synthesize(job: ChildJob, evidence: list[Evidence], out: TextIO) -> ChildResult:
    async def progress(fraction: float, stage: str) -> None:
        _emit(out, {"progress": fraction, "stage": stage})

    read = EvidenceRead(set_id=evidence_digest(evidence), records=len(evidence))
    _emit(out, {"evidence": read.model_dump(mode="json")})
    generated = await LocalProvider().generate(evidence, job.config, progress=progress)
    return ChildResult(
        personas=generated.personas,
        usage=generated.usage,
        peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )


def _emit(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message, separators=(",", ":")) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
