"""Responses for hot routes: a schema serialised once, straight to JSON bytes."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as JSON, as FastAPI would write it for a declared ``response_model``.

    The schema was validated when it was built; returning it to FastAPI would validate it
    again against the response model and only then serialise it.
    """
    return Response(
        model.model_dump_json(by_alias=True), status_code=status_code, media_type="application/json"
    )
