"""``privacy.names_file``: a list of names in the data directory, and nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from persona.errors import InvalidInputError
from persona.privacy.step import detector, names_from_file
from persona.schemas import Evidence, PrivacyConfig

RECORD = Evidence(
    id="ev-1",
    source="notes.md",
    locator="line 1",
    participant="P1",
    text="Maria Keller from Cobalt Freight approved it; Keller is strict.",
)


def test_names_from_a_file_in_the_data_directory_are_replaced(tmp_path: Path) -> None:
    (tmp_path / "people.txt").write_text(
        "# the study's people\nMaria Keller\nCobalt Freight  # the customer\n\nX\n",
        encoding="utf-8",
    )

    assert names_from_file("people.txt", tmp_path) == ["Maria Keller", "Cobalt Freight"]
    found = detector(PrivacyConfig(names_file="people.txt"), [RECORD], tmp_path).find(RECORD.text)
    assert [RECORD.text[f.start : f.end] for f in found] == ["Maria Keller", "Cobalt Freight"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../secrets.txt", "outside the data directory"),
        ("missing.txt", "does not exist"),
        ("/etc/passwd", "outside the data directory"),
    ],
)
def test_a_names_file_outside_or_missing_is_refused_naming_the_field(
    tmp_path: Path, name: str, problem: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secrets.txt").write_text("Top Secret\n", encoding="utf-8")

    with pytest.raises(InvalidInputError) as caught:
        names_from_file(name, data)

    assert problem in caught.value.message
    assert caught.value.location == ["config", "privacy", "names_file"]
