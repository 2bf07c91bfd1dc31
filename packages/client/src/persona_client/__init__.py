"""Typed sync and async client for the Persona REST API.

    from persona_client import PersonaClient

    with PersonaClient(base_url="http://127.0.0.1:8000", token="...") as client:
        experiment = client.experiments.create(name="Q3", data_sources=["./interviews.csv"])
        run = client.runs.wait(client.runs.start(experiment.id, provider="local"))
        for persona in run.personas:
            print(persona.name, persona.title)

Responses are the models of ``persona_client.models``, generated from the server's OpenAPI
contract. Errors are the classes below; their tree is drawn in ``persona_client._exceptions``.
"""

from persona_client import models
from persona_client.__about__ import __version__
from persona_client._client import AsyncPersonaClient, PersonaClient
from persona_client._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PersonaError,
    RateLimitError,
    RunCancelledError,
    RunFailedError,
    UnprocessableEntityError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from persona_client._streams import RunEvent
from persona_client._webhooks import verify_webhook

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPersonaClient",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PersonaClient",
    "PersonaError",
    "RateLimitError",
    "RunCancelledError",
    "RunEvent",
    "RunFailedError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
    "models",
    "verify_webhook",
]
