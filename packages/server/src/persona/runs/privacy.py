"""The privacy step of a run (and of its preview): decide, pseudonymise with the experiment's
stored pseudonyms, store the new ones.

Two runs of one experiment may meet the same new value at once: the second to store its
pseudonyms finds the numbers taken, reads the experiment's pseudonyms again and pseudonymises
anew, so that one value has one pseudonym.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from persona.errors import ConflictError
from persona.privacy.step import decide, off, pseudonymise
from persona.privacy.view import PrivacyView
from persona.schemas import Evidence, PrivacyReport, ResolvedConfig
from persona.storage import Repository
from persona.storage.write_queue import WriteQueue

STORE_ATTEMPTS = 5
"""Times a run pseudonymises again after another run of the experiment stored first."""


async def privacy_view(
    repository: Repository,
    writes: WriteQueue,
    experiment_id: str,
    config: ResolvedConfig,
    evidence: Sequence[Evidence],
    data_dir: Path,
) -> tuple[PrivacyView | None, PrivacyReport]:
    """The pseudonymised view of ``evidence`` (None when privacy is off) and the report."""
    on, reason = decide(config.privacy, config.provider)
    if not on:
        return None, off(reason, len(evidence))
    for _ in range(STORE_ATTEMPTS):
        known = await asyncio.to_thread(repository.pseudonyms, experiment_id)
        view = await asyncio.to_thread(
            pseudonymise, evidence, config.privacy, known, data_dir, reason
        )
        if await writes.run(repository.add_pseudonyms, experiment_id, view.added):
            return view, view.report
    raise ConflictError(
        f"the pseudonyms of experiment {experiment_id!r} kept changing while this run stored "
        "its own; start the run again"
    )
