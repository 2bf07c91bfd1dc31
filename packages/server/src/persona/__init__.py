"""Persona: evidence-backed user personas from qualitative research data.

The SDK's public API, importable from here::

    import persona

    with persona.SyncPersonaService(persona.Settings(data_dir="research")) as svc:
        experiment = svc.create_experiment(
            persona.ExperimentCreate(name="Q3", data_sources=["interviews.csv"])
        )

Names are imported on first use, not with the package: ``import persona`` (and so the
``persona`` command's start-up) loads neither SQLAlchemy nor pydantic until a name that
needs them is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from persona.__about__ import __version__

if TYPE_CHECKING:
    from persona.errors import (
        BudgetExceededError,
        ConflictError,
        IdempotencyConflictError,
        InsufficientEvidenceError,
        InvalidInputError,
        NotFoundError,
        PayloadTooLargeError,
        PersonaError,
        ProviderError,
        ProviderNotConfiguredError,
        SourceError,
    )
    from persona.schemas import (
        CitedEvidence,
        CitedEvidencePage,
        ColumnRoles,
        Evidence,
        EvidenceCitation,
        EvidencePage,
        Experiment,
        ExperimentCreate,
        ExperimentPage,
        ExperimentSource,
        ExperimentSourceList,
        GenerationConfig,
        GenerationOverrides,
        Grounding,
        GroundingCounts,
        Health,
        InlineSource,
        Insight,
        Persona,
        PersonaContent,
        PersonaPage,
        ProviderInfo,
        ProviderName,
        Quote,
        ResolvedConfig,
        Run,
        RunDetail,
        RunError,
        RunPage,
        TextSpan,
        Usage,
    )
    from persona.service import PersonaService, StartedRun, UploadedFile
    from persona.settings import Settings
    from persona.spend.budgets import Budget
    from persona.spend.schemas import BudgetState, RunEstimate
    from persona.sync_service import SyncPersonaService

_HOME: dict[str, str] = {
    "PersonaService": "persona.service",
    "SyncPersonaService": "persona.sync_service",
    "StartedRun": "persona.service",
    "UploadedFile": "persona.service",
    "Settings": "persona.settings",
    "CitedEvidence": "persona.schemas",
    "CitedEvidencePage": "persona.schemas",
    "Evidence": "persona.schemas",
    "EvidenceCitation": "persona.schemas",
    "EvidencePage": "persona.schemas",
    "Experiment": "persona.schemas",
    "ColumnRoles": "persona.schemas",
    "ExperimentCreate": "persona.schemas",
    "ExperimentPage": "persona.schemas",
    "ExperimentSource": "persona.schemas",
    "ExperimentSourceList": "persona.schemas",
    "GenerationConfig": "persona.schemas",
    "GenerationOverrides": "persona.schemas",
    "Grounding": "persona.schemas",
    "GroundingCounts": "persona.schemas",
    "Health": "persona.schemas",
    "InlineSource": "persona.schemas",
    "Insight": "persona.schemas",
    "Persona": "persona.schemas",
    "PersonaContent": "persona.schemas",
    "PersonaPage": "persona.schemas",
    "ProviderInfo": "persona.schemas",
    "ProviderName": "persona.schemas",
    "Quote": "persona.schemas",
    "ResolvedConfig": "persona.schemas",
    "Run": "persona.schemas",
    "RunDetail": "persona.schemas",
    "RunError": "persona.schemas",
    "RunPage": "persona.schemas",
    "TextSpan": "persona.schemas",
    "Usage": "persona.schemas",
    "BudgetExceededError": "persona.errors",
    "ConflictError": "persona.errors",
    "IdempotencyConflictError": "persona.errors",
    "InsufficientEvidenceError": "persona.errors",
    "InvalidInputError": "persona.errors",
    "NotFoundError": "persona.errors",
    "PayloadTooLargeError": "persona.errors",
    "PersonaError": "persona.errors",
    "ProviderError": "persona.errors",
    "ProviderNotConfiguredError": "persona.errors",
    "SourceError": "persona.errors",
    "Budget": "persona.spend.budgets",
    "BudgetState": "persona.spend.schemas",
    "RunEstimate": "persona.spend.schemas",
}
"""The module each public name lives in, imported when the name is first asked for."""

__all__ = (
    "Budget",
    "BudgetExceededError",
    "BudgetState",
    "CitedEvidence",
    "CitedEvidencePage",
    "ColumnRoles",
    "ConflictError",
    "Evidence",
    "EvidenceCitation",
    "EvidencePage",
    "Experiment",
    "ExperimentCreate",
    "ExperimentPage",
    "ExperimentSource",
    "ExperimentSourceList",
    "GenerationConfig",
    "GenerationOverrides",
    "Grounding",
    "GroundingCounts",
    "Health",
    "IdempotencyConflictError",
    "InlineSource",
    "Insight",
    "InsufficientEvidenceError",
    "InvalidInputError",
    "NotFoundError",
    "PayloadTooLargeError",
    "Persona",
    "PersonaContent",
    "PersonaError",
    "PersonaPage",
    "PersonaService",
    "ProviderError",
    "ProviderInfo",
    "ProviderName",
    "ProviderNotConfiguredError",
    "Quote",
    "ResolvedConfig",
    "Run",
    "RunDetail",
    "RunError",
    "RunEstimate",
    "RunPage",
    "Settings",
    "SourceError",
    "StartedRun",
    "SyncPersonaService",
    "TextSpan",
    "UploadedFile",
    "Usage",
    "__version__",
)


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'persona' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it without coming back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
