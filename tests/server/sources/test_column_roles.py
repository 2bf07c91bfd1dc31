"""Column roles: participant and grouping columns recognised by name or named by the caller,
and records that name no participant."""

from __future__ import annotations

from pathlib import Path

import pytest
from persona.errors import SourceError
from persona.schemas import ColumnRoles, Evidence
from persona.sources import load_evidence
from persona.sources.roles import RoleAssigner


def _load(tmp_path: Path, text: str) -> list[Evidence]:
    (tmp_path / "data.csv").write_text(text, encoding="utf-8")
    return load_evidence(["data.csv"], data_dir=tmp_path)


@pytest.mark.parametrize("column", ["person", "Customer ID", "Case-ID", "INTERVIEWEE", "user"])
def test_participant_columns_are_recognised_whatever_their_case_and_separators(
    tmp_path: Path, column: str
) -> None:
    evidence = _load(tmp_path, f"{column},comment\nA7,I want the invoices sent on time.\n")
    assert evidence[0].participant == "A7"
    assert column not in evidence[0].attributes


def test_a_grouping_column_is_never_taken_for_the_words(tmp_path: Path) -> None:
    # The group names are longer than the answers, and the same short answers repeat.
    rows = "".join(
        f"{n},Advice centre volunteer,{answer}\n"
        for n in range(12)
        for answer in ("Forms that save.", "Binder of forms.")
    )
    evidence = _load(tmp_path, "respondent_id,Visitor Type,answer\n" + rows)
    assert evidence[0].text == "Forms that save."
    assert evidence[0].attributes == {"Visitor Type": "Advice centre volunteer"}


def test_records_naming_no_participant_count_as_their_own_with_a_warning(
    tmp_path: Path,
) -> None:
    evidence = _load(tmp_path, "comment\nToo many alerts.\nI keep a paper list.\n")
    roles = RoleAssigner(None)
    assigned = list(roles.assign(evidence))
    assert [e.participant for e in assigned] == ["data.csv row 2", "data.csv row 3"]
    [warning] = roles.warnings()
    assert warning.startswith("data.csv: no participant column")
    assert "2 record(s)" in warning and "--participant-column" in warning


def test_a_named_participant_column_takes_the_place_of_the_recognised_one(
    tmp_path: Path,
) -> None:
    evidence = _load(tmp_path, "id,Staff Ref,comment\n1,S-9,I want fewer alerts.\n")
    roles = RoleAssigner(ColumnRoles(participant="staff_ref"))
    [record] = roles.assign(evidence)
    assert record.participant == "S-9"
    assert "Staff Ref" not in record.attributes
    assert roles.warnings() == []


def test_a_named_column_missing_from_the_sources_is_an_error_naming_it(tmp_path: Path) -> None:
    evidence = _load(tmp_path, "comment,team\nToo many alerts.,Ops\n")
    with pytest.raises(SourceError, match=r"data\.csv.*no participant column 'who'.*team"):
        list(RoleAssigner(ColumnRoles(participant="who")).assign(evidence))
    roles = RoleAssigner(ColumnRoles(segment="division"))
    list(roles.assign(evidence))
    with pytest.raises(SourceError, match="no source has a column 'division'"):
        roles.warnings()
