"""The new-experiment form: its fields read into an ExperimentCreate, its errors placed.

Uploaded files become the experiment's inline sources, so they are checked, and stored,
in the one call that creates it: a refused file leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from persona.errors import InvalidInputError
from persona.schemas import MAX_INLINE_SOURCE_CHARS, ExperimentCreate

PASTED_NAME = "pasted.md"
DEFAULT_COUNT = 3
MAX_FORM_FILES = 20
MAX_FORM_FIELDS = 20


@dataclass
class FormErrors:
    """Messages next to the fields they are about: files by name."""

    name: str | None = None
    pasted: str | None = None
    provider: str | None = None
    persona_count: str | None = None
    files: list[tuple[str, str]] = field(default_factory=list)
    form: str | None = None

    def __bool__(self) -> bool:
        return any(
            [self.name, self.pasted, self.provider, self.persona_count, self.files, self.form]
        )


@dataclass
class NewExperimentForm:
    values: dict[str, Any]
    sources: list[dict[str, str]]
    """Inline sources, validated with the rest of the request."""
    origins: list[str]
    """For each source, the file (or the pasted text) it came from."""
    errors: FormErrors


def blank_values(default_provider: str) -> dict[str, Any]:
    return {
        "name": "",
        "pasted": "",
        "provider": default_provider,
        "model": "",
        "persona_count": DEFAULT_COUNT,
    }


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def read_form(form: FormData, default_provider: str) -> NewExperimentForm:
    values = blank_values(default_provider)
    values.update(
        name=_text(form, "name"),
        pasted=_text(form, "pasted"),
        provider=_text(form, "provider") or default_provider,
        model=_text(form, "model"),
        persona_count=_text(form, "persona_count") or str(DEFAULT_COUNT),
    )
    errors = FormErrors()
    sources: list[dict[str, str]] = []
    origins: list[str] = []
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    for upload in uploads:
        name = upload.filename or "upload"
        content = await _decoded(upload, name, errors)
        if content is not None:
            sources.append({"name": name, "content": content})
            origins.append(name)
    if values["pasted"]:
        sources.append({"name": PASTED_NAME, "content": values["pasted"]})
        origins.append(PASTED_NAME)
    if not sources and not errors.files:
        errors.form = "Add at least one source: upload a file or paste some text."
    return NewExperimentForm(values=values, sources=sources, origins=origins, errors=errors)


async def _decoded(upload: UploadFile, name: str, errors: FormErrors) -> str | None:
    raw = await upload.read(MAX_INLINE_SOURCE_CHARS * 4 + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        errors.files.append((name, f"{name}: not UTF-8 text (byte {err.start})"))
        return None
    if not text.strip():
        errors.files.append((name, f"{name}: the file is empty"))
        return None
    if len(text) > MAX_INLINE_SOURCE_CHARS:
        errors.files.append(
            (
                name,
                f"{name}: over {MAX_INLINE_SOURCE_CHARS:,} characters; upload it to the "
                "experiment through the API instead",
            )
        )
        return None
    return text


def experiment_create(form: NewExperimentForm) -> ExperimentCreate | None:
    """The request the form makes, or None with the form's errors filled in."""
    values = form.values
    config: dict[str, Any] = {"provider": values["provider"]}
    if values["model"]:
        config["model"] = values["model"]
    try:
        config["persona_count"] = int(values["persona_count"])
    except ValueError:
        form.errors.persona_count = "A whole number from 1 to 20."
    if form.errors:
        return None
    try:
        return ExperimentCreate.model_validate(
            {"name": values["name"], "data_sources": form.sources, "config": config}
        )
    except ValidationError as err:
        for error in err.errors():
            place_error(form, [str(part) for part in error["loc"]], error["msg"])
        return None


def place_error(form: NewExperimentForm, location: list[str], message: str) -> None:
    """Put a message next to the field ``location`` names (a request or service location)."""
    head = location[0] if location else ""
    if head == "name":
        form.errors.name = message
    elif head == "config" and "persona_count" in location:
        form.errors.persona_count = message
    elif head == "config" and "provider" in location:
        form.errors.provider = message
    elif head == "data_sources" and len(location) > 1 and location[1].isdigit():
        origin = form.origins[int(location[1])]
        if origin == PASTED_NAME:
            form.errors.pasted = message
        else:
            form.errors.files.append((origin, message))
    else:
        form.errors.form = message


def place_service_error(form: NewExperimentForm, error: InvalidInputError) -> None:
    """A refusal of the service next to its field: an invalid_source next to its file."""
    place_error(form, [str(part) for part in error.location], error.message)
