"""Personas: read one, list an experiment's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from persona.errors import NotFoundError
from persona.schemas import Persona, PersonaPage
from persona.storage import queries
from persona.storage.cursor import Cursor
from persona.storage.models import PersonaRow
from persona.storage.rows import (
    StoreBase,
    _after_cursor,
    _experiment_row,
    _next_cursor,
    _persona,
    _run_row,
    check_limit,
)


class PersonaStore(StoreBase):
    """Personas: read one, list an experiment's."""

    def get_persona(self, persona_id: str) -> Persona:
        with self.db.read() as session:
            row = session.get(PersonaRow, persona_id)
            if row is None:
                raise NotFoundError("persona", persona_id)
            return _persona(row)

    def list_personas(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PersonaPage:
        """The experiment's personas, newest first; only those of ``run_id`` when given, in
        the order the run lists them."""
        check_limit(limit)
        query = queries.EXPERIMENT_PERSONAS
        if run_id is not None:
            stmt = _in_run_order(query.where(PersonaRow.run_id == run_id), cursor)
        else:
            stmt = _after_cursor(query, PersonaRow.created_at, PersonaRow.id, cursor, "personas")
        stmt = stmt.limit(limit + 1)
        with self.db.read() as session:
            _experiment_row(session, experiment_id)
            if run_id is not None:
                _run_row(session, run_id, experiment_id=experiment_id)
            rows = list(session.scalars(stmt, {"b_experiment": experiment_id}))
        return PersonaPage(
            items=[_persona(row) for row in rows[:limit]],
            next_cursor=_next_cursor(rows, limit, "personas"),
        )


def _in_run_order(query: Select[Any], cursor: str | None) -> Select[Any]:
    """One run's personas by their position in the run, after the one ``cursor`` names. (They
    share one ``created_at``: ordered by it, they would come in the order of their ids.)"""
    if cursor is not None:
        after = Cursor.decode(cursor, kind="personas")
        position = select(PersonaRow.position).where(PersonaRow.id == after.id)
        query = query.where(PersonaRow.position > position.scalar_subquery())
    return query.order_by(PersonaRow.position)
