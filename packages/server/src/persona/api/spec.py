"""Export the OpenAPI document: the contract the typed client is generated from."""

from __future__ import annotations

import json
from pathlib import Path

from persona.api.main import create_app
from persona.settings import Settings


def openapi_json() -> str:
    """The app's OpenAPI document as JSON text: FastAPI's key order, 2-space indent, newline."""
    # The document does not depend on settings; defaults keep it independent of the environment.
    spec = create_app(Settings.model_construct()).openapi()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def export_openapi(output: Path | None) -> str:
    """Return the OpenAPI JSON text and write it to ``output`` when given."""
    text = openapi_json()
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    return text
