"""Exceptions raised by the Persona client.

PersonaError
 ├── APIConnectionError              the server could not be reached, or the connection broke
 │    └── APITimeoutError            the request timed out
 ├── APIStatusError                  an error status (.status_code, .problem, .request_id)
 │    ├── BadRequestError            400
 │    ├── AuthenticationError        401
 │    ├── PermissionDeniedError      403
 │    ├── NotFoundError              404
 │    ├── ConflictError              409
 │    ├── PayloadTooLargeError       413
 │    ├── UnprocessableEntityError   422 (.errors: where each field went wrong)
 │    ├── RateLimitError             429
 │    └── InternalServerError        5xx
 ├── APIResponseValidationError      a success response whose body does not match the models
 ├── RunFailedError                  runs.wait(): the run failed (.run, .error)
 │    └── RunCancelledError          runs.wait(): the run was cancelled
 ├── WaitTimeoutError                runs.wait(): unfinished at the timeout; also a TimeoutError
 └── WebhookVerificationError        verify_webhook(): the signature does not check out

Other 4xx statuses raise APIStatusError itself.
"""

from __future__ import annotations

import json

import httpx
from pydantic import ValidationError

from persona_client.models import FieldError, Problem, RunDetail, RunError

REQUEST_ID_HEADER = "X-Request-ID"


class PersonaError(Exception):
    """Base class of every error the client raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class APIConnectionError(PersonaError):
    """No response: the server could not be reached or the connection broke mid-request."""

    def __init__(self, message: str, *, request: httpx.Request) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request did not complete within the client's timeout."""


class APIStatusError(PersonaError):
    """The server answered with an error status.

    ``problem`` is the parsed RFC 9457 body when the server sent one, ``body`` the raw decoded
    body (JSON value or text), ``request_id`` the server's id for the request (quote it in bug
    reports: the server logs it).
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: object,
        problem: Problem | None,
    ) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code
        self.body = body
        self.problem = problem
        self.request_id = _request_id(response, problem)

    @property
    def code(self) -> str | None:
        """The server's machine-readable error code, when it sent one."""
        return self.problem.code if self.problem is not None else None


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class PayloadTooLargeError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    """Input the server rejected; ``errors`` names each field (``loc``) and what was wrong."""

    @property
    def errors(self) -> list[FieldError]:
        if self.problem is None or self.problem.errors is None:
            return []
        return self.problem.errors


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


class APIResponseValidationError(PersonaError):
    """A success response whose body is not what the API contract says it is."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code
        self.request_id = response.headers.get(REQUEST_ID_HEADER)


class RunFailedError(PersonaError):
    """A waited-for run finished without personas; ``run`` is its final state."""

    def __init__(self, run: RunDetail) -> None:
        super().__init__(_run_failure_message(run))
        self.run = run

    @property
    def error(self) -> RunError | None:
        """The run's error (code and message), as the server recorded it."""
        return self.run.error


class RunCancelledError(RunFailedError):
    pass


class WebhookVerificationError(PersonaError):
    """A webhook delivery whose signature does not check out: do not trust its body."""


class WaitTimeoutError(PersonaError, TimeoutError):
    """The run was still unfinished when the wait timed out; ``run`` is its last state seen."""

    def __init__(self, run: RunDetail, timeout: float) -> None:
        super().__init__(
            f"run {run.id} still {run.status} after {timeout:g} seconds; it keeps running "
            "on the server (cancel it with runs.cancel)"
        )
        self.run = run
        self.timeout = timeout


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an error status: one per documented status, 5xx shared."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_ERRORS.get(status_code, APIStatusError)


def make_status_error(response: httpx.Response) -> APIStatusError:
    """Build the exception for an error response, parsing its problem-details body if any."""
    body = _decode_body(response)
    problem = _parse_problem(body)
    message = _status_message(response, body, problem)
    return status_error_class(response.status_code)(
        message, response=response, body=body, problem=problem
    )


def _decode_body(response: httpx.Response) -> object:
    if not response.content:
        return None
    try:
        decoded: object = json.loads(response.content)
    except ValueError:
        return response.text
    return decoded


def _parse_problem(body: object) -> Problem | None:
    if not isinstance(body, dict):
        return None
    try:
        return Problem.model_validate(body)
    except ValidationError:
        return None


def _status_message(response: httpx.Response, body: object, problem: Problem | None) -> str:
    """``422 Unprocessable Entity: detail (request id …)``, then one line per field error."""
    field_errors = (problem.errors or []) if problem is not None else []
    if problem is not None:
        message = f"{response.status_code} {problem.title}"
        if problem.detail and not _only_summarises(problem.detail, field_errors):
            message += f": {problem.detail}"
    else:
        message = f"{response.status_code} {response.reason_phrase}"
        if isinstance(body, str) and body.strip():
            message += f": {_shorten(body.strip())}"
    request_id = _request_id(response, problem)
    if request_id:
        message += f" (request id {request_id})"
    for field_error in field_errors:
        message += f"\n  {_location(field_error.loc)}: {field_error.msg}"
    return message


def _only_summarises(detail: str, field_errors: list[FieldError]) -> bool:
    """True when the detail says nothing the field error lines will not say."""
    return bool(field_errors) and all(error.msg in detail for error in field_errors)


def _location(loc: list[str | int]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _request_id(response: httpx.Response, problem: Problem | None) -> str | None:
    header: str | None = response.headers.get(REQUEST_ID_HEADER)
    if header:
        return header
    return problem.request_id if problem is not None else None


def _run_failure_message(run: RunDetail) -> str:
    if run.status == "cancelled":
        message = f"run {run.id} was cancelled"
    else:
        message = f"run {run.id} {run.status}"
    if run.error is not None:
        message += f": {run.error.code}: {run.error.message}"
    return message
