"""What the PersonaService tests share: an experiment body and an uploaded file."""

from __future__ import annotations

import io

from persona.schemas import ExperimentCreate, GenerationConfig, InlineSource
from persona.service import UploadedFile


def experiment_body(*sources: str | InlineSource, **config: object) -> ExperimentCreate:
    return ExperimentCreate(
        name="study",
        data_sources=list(sources or ["interviews.csv"]),
        config=GenerationConfig(**config),  # type: ignore[arg-type]
    )


def uploaded_file(name: str, content: bytes) -> UploadedFile:
    return UploadedFile(filename=name, stream=io.BytesIO(content))
