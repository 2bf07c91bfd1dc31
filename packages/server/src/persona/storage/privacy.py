"""Each experiment's pseudonyms and each run's privacy report.

The pseudonyms hold the participants' personal data: they are read only by the run that
pseudonymises the experiment's evidence (and its preview), and deleted with the experiment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import cast

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from persona.privacy.detectors import Kind
from persona.privacy.pseudonyms import Pseudonym
from persona.schemas import PrivacyReport
from persona.storage.models import PseudonymRow, RunRow
from persona.storage.rows import StoreBase


def _digest(original: str) -> str:
    return hashlib.sha256(original.encode()).hexdigest()


class PrivacyStore(StoreBase):
    def pseudonyms(self, experiment_id: str) -> list[Pseudonym]:
        """The experiment's pseudonyms, as stored by its earlier runs."""
        statement = select(PseudonymRow.kind, PseudonymRow.number, PseudonymRow.original).where(
            PseudonymRow.experiment_id == experiment_id
        )
        with self.db.read_connection() as connection:
            rows = connection.execute(statement).all()
        return [Pseudonym(cast(Kind, kind), number, original) for kind, number, original in rows]

    def add_pseudonyms(self, experiment_id: str, added: Sequence[Pseudonym]) -> bool:
        """Store pseudonyms new to the experiment; False, storing none, when another run
        stored one of the same numbers or values first (or the experiment is gone)."""
        if not added:
            return True
        rows = [
            {
                "experiment_id": experiment_id,
                "kind": p.kind,
                "number": p.number,
                "original": p.original,
                "digest": _digest(p.original),
            }
            for p in added
        ]
        try:
            with self.db.write_connection() as connection:
                connection.execute(insert(PseudonymRow), rows)
        except IntegrityError:
            return False
        return True

    def record_privacy(self, run_id: str, attempt: int, report: PrivacyReport) -> bool:
        """Keep the privacy report of a running attempt; False when the attempt is stale."""
        statement = (
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.attempts == attempt, RunRow.status == "running")
            .values(privacy=report.model_dump(mode="json"))
        )
        with self.db.write_connection() as connection:
            return bool(connection.execute(statement).rowcount)
