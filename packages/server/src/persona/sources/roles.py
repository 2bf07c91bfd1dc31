"""Participants for every record: the column a caller names, else the one recognised by name,
else the record itself, with a warning naming the source.

Applied to each record as it is read, so that a run's evidence snapshot, its personas'
``participants`` and the evidence endpoints all show the same participants.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from persona.errors import SourceError
from persona.schemas import ColumnRoles, Evidence
from persona.sources.columns import find_column

NO_PARTICIPANT = (
    "{source}: no participant column (participant, respondent, user, person, customer, id or "
    "a *_id column), so each of its {count} record(s) counts as a participant of its own; "
    "name the column with --participant-column or columns.participant"
)


class RoleAssigner:
    """Gives each record its participant and remembers what the caller should be told."""

    def __init__(self, columns: ColumnRoles | None) -> None:
        self.participant = columns.participant if columns else None
        self.segment = columns.segment if columns else None
        self.unnamed: dict[str, int] = {}
        """Records per source that named no participant."""
        self.segment_seen = False

    def assign(self, records: Iterable[Evidence]) -> Iterator[Evidence]:
        for record in records:
            yield self.record(record)

    def record(self, record: Evidence) -> Evidence:
        if self.segment and not self.segment_seen:
            self.segment_seen = find_column(self.segment, list(record.attributes)) is not None
        if self.participant:
            record = self._named_participant(record, self.participant)
        if record.participant:
            return record
        self.unnamed[record.source] = self.unnamed.get(record.source, 0) + 1
        return record.model_copy(update={"participant": f"{record.source} {record.locator}"})

    def warnings(self) -> list[str]:
        """One warning per source whose records named no participant; raises SourceError
        when the named segment column is in no record."""
        if self.segment and not self.segment_seen:
            raise SourceError(
                "columns.segment", f"no source has a column {self.segment!r} (--segment-column)"
            )
        return [
            NO_PARTICIPANT.format(source=source, count=count)
            for source, count in self.unnamed.items()
        ]

    @staticmethod
    def _named_participant(record: Evidence, wanted: str) -> Evidence:
        column = find_column(wanted, list(record.attributes))
        if column is None:
            if record.participant:  # the named column is the one recognised by name
                return record
            listed = ", ".join(record.attributes) or "(none besides the text)"
            raise SourceError(
                record.source,
                f"no participant column {wanted!r} in {record.locator} (--participant-column); "
                f"its other columns are: {listed}",
            )
        attributes = {k: v for k, v in record.attributes.items() if k != column}
        return record.model_copy(
            update={"participant": record.attributes[column], "attributes": attributes}
        )
