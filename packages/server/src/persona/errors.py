"""Domain errors raised by the SDK. They carry no HTTP: the API maps them in one handler.

PersonaError
 ├── NotFoundError              (a resource id that does not exist)
 ├── ConflictError              (state does not allow the operation)
 │    ├── IdempotencyConflictError
 │    ├── SourceChangedError     (a run's sources changed between two reads)
 │    └── BudgetExceededError    (a run's estimate exceeds what is left of a budget)
 ├── InvalidInputError          (input that names what was wrong and where)
 │    ├── SourceError           (a data source: file + place)
 │    └── InsufficientEvidenceError
 ├── PayloadTooLargeError
 ├── ProviderNotConfiguredError (no key: names the env var to set)
 ├── ProviderError              (a provider call failed; .code is the run error code)
 └── DatabaseUnavailableError   (the database stayed unreachable or busy past the wait)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from persona.schemas import Usage


class PersonaError(Exception):
    """Base class of every error the SDK raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class NotFoundError(PersonaError):
    code = "not_found"

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"{resource} {resource_id!r} not found")
        self.resource = resource
        self.resource_id = resource_id


class ConflictError(PersonaError):
    code = "conflict"


class IdempotencyConflictError(ConflictError):
    code = "idempotency_conflict"


class SourceChangedError(ConflictError):
    code = "source_changed"


class BudgetExceededError(ConflictError):
    """A run is refused before any provider request: what it may cost exceeds what is left of
    a budget (the message names the budget and the estimate), or it cannot be priced."""

    code = "budget_exceeded"


class InvalidInputError(PersonaError):
    """Input rejected; ``location`` names the field or place (e.g. ['data_sources', 0])."""

    code = "invalid_input"

    def __init__(
        self, message: str, *, location: list[str | int] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.location = location or []


class SourceError(InvalidInputError):
    """A data source could not be used. The message names the file and, when known, the place."""

    code = "invalid_source"

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        place: str | None = None,
        location: list[str | int] | None = None,
    ) -> None:
        where = f"{source}: {place}: " if place else f"{source}: "
        super().__init__(where + problem, location=location)
        self.source = source
        self.problem = problem
        self.place = place


class InsufficientEvidenceError(InvalidInputError):
    code = "insufficient_evidence"


class PayloadTooLargeError(PersonaError):
    code = "payload_too_large"


class DatabaseUnavailableError(PersonaError):
    """The database could not be used for longer than the caller waits: ``kind`` is
    ``unreachable`` (no answer) or ``busy`` (statements time out, no connection free)."""

    code = "database_unavailable"

    def __init__(self, message: str, *, kind: Literal["unreachable", "busy"]) -> None:
        super().__init__(message)
        self.kind = kind


class ProviderNotConfiguredError(PersonaError):
    code = "provider_not_configured"

    def __init__(self, provider: str, env_var: str) -> None:
        super().__init__(
            f"provider {provider!r} is not configured: set the {env_var} environment variable"
        )
        self.provider = provider
        self.env_var = env_var


class ProviderError(PersonaError):
    """A provider call failed. ``code``: provider_auth, provider_unavailable, invalid_output."""

    code = "provider_error"

    def __init__(
        self, message: str, *, code: str, status: int | None = None, raw_output: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.raw_output = raw_output
        self.usage: Usage | None = None
        """Tokens (and their cost) the run spent before failing, when the provider counted
        them: a failed run is billed too."""
