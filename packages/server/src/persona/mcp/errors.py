"""Errors as MCP sees them: a tool error carries the code, message and status of the
problem the REST API answers for the same error (persona.api.errors decides them)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, TextContent
from pydantic import BaseModel, ValidationError

from persona import errors
from persona.access.principal import Principal
from persona.access.scopes import Scope
from persona.api.auth import Forbidden
from persona.api.errors import (
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_DETAIL,
    field_error,
    invalid_fields_detail,
    status_for,
)
from persona.schemas import OutputModel

logger = logging.getLogger("persona.mcp")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

INTERNAL_ERROR_MESSAGE = "Internal error; the server's log has the details."


class ToolProblem(OutputModel):
    """What a failed tool call returns: the fields of the API's problem details."""

    code: str
    message: str
    status: int


def problem_of(exc: Exception) -> ToolProblem:
    """The problem the API would answer for ``exc``; unexpected errors are logged here."""
    if isinstance(exc, errors.PersonaError) and (status := status_for(exc)) != 500:
        return ToolProblem(code=exc.code, message=exc.message, status=status)
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return ToolProblem(
            code="database_unavailable", message=DATABASE_UNAVAILABLE_DETAIL, status=503
        )
    if isinstance(exc, ValidationError):
        fields = [field_error(error) for error in exc.errors()]
        return ToolProblem(
            code="validation_error", message=invalid_fields_detail(fields), status=422
        )
    logger.error("unhandled error in an MCP call", exc_info=exc)
    return ToolProblem(code="internal_error", message=INTERNAL_ERROR_MESSAGE, status=500)


def scope_problem(principal: Principal, needed: Scope) -> ToolProblem:
    """The API's 403 problem for a key without the scope a tool needs."""
    forbidden = Forbidden(principal, needed)
    return ToolProblem(code=forbidden.code, message=forbidden.detail, status=forbidden.status_code)


def error_result(problem: ToolProblem) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=f"{problem.message} ({problem.code})")],
        structured_content=problem.model_dump(),
        is_error=True,
    )


async def answer(
    call: Callable[[], Awaitable[M]], text: Callable[[M], str] | None = None
) -> CallToolResult:
    """The tool's result: the model ``call`` returns (as JSON text unless ``text`` renders
    it), or a tool error when it raises."""
    try:
        value = await call()
    except Exception as exc:
        return error_result(problem_of(exc))
    structured = value.model_dump(mode="json")
    shown = text(value) if text else json.dumps(structured, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=shown)], structured_content=structured
    )


async def or_mcp_error(call: Callable[[], Awaitable[T]], uri: str) -> T:
    """What ``call`` returns for a resource or prompt; a failure becomes an MCP error with
    the API's code and status in its data (invalid params for what the caller asked wrongly,
    as the SDK answers an unknown resource)."""
    try:
        return await call()
    except Exception as exc:
        problem = problem_of(exc)
        json_rpc_code = INTERNAL_ERROR if problem.status >= 500 else INVALID_PARAMS
        raise MCPError(
            code=json_rpc_code, message=problem.message, data=problem.model_dump() | {"uri": uri}
        ) from exc
