"""When a run is pseudonymised, and with what: the decision for its provider, the names to
look for, and the optional named-entity recogniser.

On by default for a provider not on this machine (``anthropic``, ``gemini``, ``openai`` unless
its base URL is loopback); off by default for ``local``, ``ollama`` and a loopback
OpenAI-compatible server. The experiment's ``privacy.pseudonymize`` overrides either way, and
the run's report says which applied and why.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from persona.errors import ConflictError, InvalidInputError
from persona.privacy.detectors import Detector
from persona.privacy.pseudonyms import Pseudonym, Pseudonyms
from persona.privacy.view import PrivacyView, listed_names
from persona.schemas import Evidence, PrivacyConfig, PrivacyReport
from persona.sources.paths import data_root, open_inside, resolve_source

NER_MODEL = "en_core_web_lg"
"""The spaCy model Presidio's analyzer loads by default."""

MAX_NAMES_FILE_BYTES = 5 * 1024 * 1024


def on_this_machine(provider: str) -> bool:
    """Whether ``provider`` runs here: ``local``, ``ollama``, or ``openai`` at a loopback URL."""
    if provider in ("local", "ollama"):
        return True
    if provider == "openai":
        from persona.providers.openai import keyless_configured

        return keyless_configured()
    return False


def decide(privacy: PrivacyConfig, provider: str) -> tuple[bool, str]:
    """Whether a run with ``provider`` is pseudonymised, and why."""
    local = on_this_machine(provider)
    where = "runs on this machine" if local else "is not on this machine"
    if privacy.pseudonymize is True:
        return True, f"on: the experiment's config asks for it ({provider} {where})"
    if privacy.pseudonymize is False:
        if local:
            return False, f"off: the experiment's config turns it off ({provider} {where})"
        return False, (
            f"off: the experiment's config turns it off although {provider} {where}; "
            "the evidence was sent as it is"
        )
    if local:
        return False, f"off by default: {provider} {where}"
    return True, f"on by default: {provider} {where}"


def off(reason: str, records: int) -> PrivacyReport:
    return PrivacyReport(pseudonymized=False, reason=reason, records=records)


def require_ner() -> None:
    """Raise, naming what is missing and how to install it, unless the recogniser can run."""
    missing = []
    if importlib.util.find_spec(NER_MODEL) is None:
        missing.append(
            f"the spaCy model {NER_MODEL!r} (install it with: python -m spacy download {NER_MODEL})"
        )
    if importlib.util.find_spec("presidio_analyzer") is None:
        missing.append("Presidio's analyzer (install it with: pip install 'persona[pii]')")
    if missing:
        raise ConflictError(
            "privacy.ner is on but named-entity recognition needs "
            + " and ".join(missing)
            + "; nothing is downloaded at run time. Turn privacy.ner off to use the built-in "
            "detectors alone.",
            code="ner_unavailable",
        )


def ner_names(evidence: Sequence[Evidence]) -> set[str]:  # pragma: no cover - needs a model
    """Names of people and organisations Presidio's analyzer finds in the evidence."""
    require_ner()
    # Imported by name: the extra is optional, and type checks run without it.
    engine = importlib.import_module("presidio_analyzer").AnalyzerEngine()
    names: set[str] = set()
    for item in evidence:
        for result in engine.analyze(item.text, language="en", entities=["PERSON", "NRP"]):
            names.add(item.text[result.start : result.end])
    return names


def names_from_file(name: str, data_dir: Path) -> list[str]:
    """The names listed one a line in file ``name`` of the data directory (``#`` comments)."""
    location: list[str | int] = ["config", "privacy", "names_file"]
    path = resolve_source(name, data_dir, location=location)
    if path.is_dir():
        raise InvalidInputError(f"privacy.names_file {name!r} is a folder", location=location)
    with open_inside(data_root(data_dir), path, name) as file:
        data = file.read(MAX_NAMES_FILE_BYTES + 1)
    if len(data) > MAX_NAMES_FILE_BYTES:
        raise InvalidInputError(
            f"privacy.names_file {name!r} is larger than {MAX_NAMES_FILE_BYTES} bytes",
            location=location,
        )
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [n for line in lines if (n := line.split("#", 1)[0].strip()) and len(n) >= 2]


def detector(privacy: PrivacyConfig, evidence: Sequence[Evidence], data_dir: Path) -> Detector:
    """The detector for a run: the built-in patterns and every name it should look for."""
    names = list(privacy.names)
    if privacy.names_file:
        names += names_from_file(privacy.names_file, data_dir)
    if privacy.ner:
        names += sorted(ner_names(evidence))
    listed = listed_names(evidence, names, keep=privacy.keep)
    return Detector(listed, keep=privacy.keep, region=privacy.phone_region)


def pseudonymise(
    evidence: Sequence[Evidence],
    privacy: PrivacyConfig,
    known: Sequence[Pseudonym],
    data_dir: Path,
    reason: str,
) -> PrivacyView:
    """The run's evidence as the provider may see it, numbered after the ``known`` pseudonyms."""
    found = detector(privacy, evidence, data_dir)
    return PrivacyView.of(evidence, found, Pseudonyms(known), reason=reason)
