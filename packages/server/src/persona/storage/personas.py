"""Personas: read one, list an experiment's."""

from __future__ import annotations

from persona.errors import NotFoundError
from persona.schemas import Persona, PersonaPage
from persona.storage import queries
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
        """The experiment's personas, newest first; only those of ``run_id`` when given."""
        check_limit(limit)
        query = queries.EXPERIMENT_PERSONAS
        if run_id is not None:
            query = query.where(PersonaRow.run_id == run_id)
        stmt = _after_cursor(query, PersonaRow.created_at, PersonaRow.id, cursor, "personas").limit(
            limit + 1
        )
        with self.db.read() as session:
            _experiment_row(session, experiment_id)
            if run_id is not None:
                _run_row(session, run_id, experiment_id=experiment_id)
            rows = list(session.scalars(stmt, {"b_experiment": experiment_id}))
        return PersonaPage(
            items=[_persona(row) for row in rows[:limit]],
            next_cursor=_next_cursor(rows, limit, "personas"),
        )
