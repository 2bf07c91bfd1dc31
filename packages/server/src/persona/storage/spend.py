"""Spend held against an experiment's budget by its active runs."""

from __future__ import annotations

from persona.storage import queries
from persona.storage.repository import Repository


def reserved_spend(repository: Repository, experiment_id: str) -> float:
    """USD the experiment's queued and running runs hold: the upper bounds of their estimates."""
    with repository.db.read() as session:
        reserved = session.scalar(queries.RESERVED_SPEND, {"b_experiment": experiment_id})
    return float(reserved or 0.0)
