"""Pseudonyms stable per experiment, the offset map back to the original words, and the
decision of when a run is pseudonymised."""

from __future__ import annotations

import pytest
from persona.errors import PersonaError
from persona.generation.grounding import EvidenceIndex, ground
from persona.privacy.detectors import Detector
from persona.privacy.pseudonyms import Pseudonym, Pseudonyms, Restorer, label
from persona.privacy.step import decide, require_ner
from persona.privacy.view import PrivacyView, listed_names
from persona.schemas import Evidence, PersonaContent, PrivacyConfig, Quote


def record(n: int, text: str, participant: str | None = None) -> Evidence:
    return Evidence(
        id=f"ev-{n}", source="s.csv", locator=f"row {n}", participant=participant, text=text
    )


EVIDENCE = [
    record(1, "Email ana@example.com or call +1 415 555 2671; Hi Sarah!", "Ana Ruiz"),
    record(2, "Ana Ruiz says ana@example.com is her only address.", "P2"),
]


def view(known: list[Pseudonym] | None = None) -> PrivacyView:
    names = listed_names(EVIDENCE, ["Globex"])
    return PrivacyView.of(EVIDENCE, Detector(names), Pseudonyms(known or []), reason="on")


def test_labels() -> None:
    assert [label("participant", n) for n in (1, 26, 27, 53)] == [
        "Participant A",
        "Participant Z",
        "Participant AA",
        "Participant BA",
    ]
    assert (label("name", 3), label("email", 2), label("phone", 1)) == (
        "Person 3",
        "[email 2]",
        "[phone 1]",
    )


def test_the_same_value_has_the_same_pseudonym_across_records_and_runs() -> None:
    first = view()
    sent = first.evidence
    assert sent[0].participant == "Participant A" and sent[1].participant == "Participant B"
    assert sent[0].text == "Email [email 1] or call [phone 1]; Hi Person 1!"
    assert sent[1].text == "Participant A says [email 1] is her only address."
    assert [r.id for r in sent] == [r.id for r in EVIDENCE]

    again = view(first.added)  # a later run, with the stored pseudonyms
    assert [r.text for r in again.evidence] == [r.text for r in sent]
    assert again.added == []

    report = first.report
    counts = {k.kind: (k.replaced, k.records, k.values) for k in report.kinds}
    assert counts == {
        "participant": (3, 2, 2),
        "name": (1, 1, 1),
        "email": (2, 2, 1),
        "phone": (1, 1, 1),
    }
    assert report.records == report.records_affected == 2


def test_restore_maps_quotes_back_to_the_original_characters_and_regrounds() -> None:
    current = view()
    drafts = [
        PersonaContent(
            name="Participant A's double",
            title="Writes to [email 1]",
            quotes=[
                Quote(
                    text="Email [email 1] or call [phone 1]", evidence_ids=["ev-1"], verified=False
                ),
                Quote(
                    text="Participant A says [email", evidence_ids=["ev-2"], verified=False
                ),  # cut a pseudonym
                Quote(text="Person 12 never said this", evidence_ids=["ev-1"], verified=False),
            ],
            evidence_ids=["ev-1", "ev-2"],
        )
    ]
    seen = EvidenceIndex.of(current.evidence)  # the pipeline grounds in what the model saw
    (persona,) = current.restore([ground(d, seen) for d in drafts])
    assert persona.name == "Ana Ruiz's double" and persona.title == "Writes to ana@example.com"
    first, cut, invented = persona.quotes
    assert first.text == "Email ana@example.com or call +1 415 555 2671" and first.verified
    assert cut.text == "Ana Ruiz says ana@example.com" and cut.verified
    assert invented.text == "Person 12 never said this" and not invented.verified
    assert persona.participants == ["Ana Ruiz", "P2"]


def test_restorer_never_matches_inside_a_longer_pseudonym() -> None:
    restore = Restorer({"Person 1": "Sarah", "Person 12": "Tom", "[url 1]": "acme.io"})
    assert restore("Person 1, Person 12 and Person 123 at [url 1]") == (
        "Sarah, Tom and Person 123 at acme.io"
    )


@pytest.mark.parametrize(
    ("provider", "pseudonymize", "on", "words"),
    [
        ("anthropic", None, True, "on by default"),
        ("gemini", None, True, "on by default"),
        ("openai", None, True, "on by default"),
        ("local", None, False, "off by default"),
        ("ollama", None, False, "off by default"),
        ("local", True, True, "asks for it"),
        ("anthropic", False, False, "turns it off although anthropic is not on this machine"),
    ],
)
def test_on_by_default_for_providers_not_on_this_machine(
    monkeypatch: pytest.MonkeyPatch, provider: str, pseudonymize: bool | None, on: bool, words: str
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.example.com/v1")
    decided, reason = decide(PrivacyConfig(pseudonymize=pseudonymize), provider)
    assert decided is on and words in reason


def test_openai_at_a_loopback_url_is_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    assert decide(PrivacyConfig(), "openai") == (
        False,
        "off by default: openai runs on this machine",
    )


def test_ner_without_its_model_names_the_model_and_how_to_install_it() -> None:
    with pytest.raises(PersonaError) as caught:
        require_ner()
    assert caught.value.code == "ner_unavailable"
    assert "en_core_web_lg" in caught.value.message
    assert "python -m spacy download en_core_web_lg" in caught.value.message


def test_privacy_switches_are_booleans_not_numbers() -> None:
    with pytest.raises(ValueError, match="pseudonymize"):
        PrivacyConfig.model_validate({"pseudonymize": 1})
    with pytest.raises(ValueError, match="ner"):
        PrivacyConfig.model_validate({"ner": 0})
