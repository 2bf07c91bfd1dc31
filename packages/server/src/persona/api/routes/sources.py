from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from persona.api.deps import ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.schemas import ExperimentSourceList

# Under the experiments tag, next to uploadSources, which adds the sources listed here.
router = APIRouter(
    prefix="/experiments/{experiment_id}/sources",
    tags=["experiments"],
    route_class=TokenFirstRoute,
)

# Not "name": fuzzers that link parameters by name would fill it with an experiment's name.
SourceName = Annotated[
    str,
    Path(
        description="The stored source, as in the experiment's data_sources (it may hold "
        "slashes), e.g. `.persona/experiments/exp-3kTqz9WbX1m4Yp8R/uploads/interviews.csv`.",
    ),
]


@router.get(
    "",
    operation_id="listSources",
    response_model=ExperimentSourceList,
    responses=problems(401, 404, 422),
)
async def list_sources(experiment_id: str, service: ServiceDep) -> ExperimentSourceList:
    """The experiment's sources in order: kind (`path`, `inline`, `upload`), size in bytes
    (null when the file is missing now) and record count when known (null otherwise)."""
    return await service.list_sources(experiment_id)


@router.delete(
    "/{source:path}",
    operation_id="deleteSource",
    status_code=204,
    response_class=Response,
    responses=problems(401, 404, 409, 422),
)
async def delete_source(experiment_id: str, source: SourceName, service: ServiceDep) -> Response:
    """Remove an inline or uploaded source from the experiment and delete its stored file.

    409 `path_source` for a path of the data directory (the server does not own the file),
    `last_source` for the experiment's only source (upload another first), and `run_active`
    while a run of the experiment is queued or running; 404 when it has no such source.
    """
    await service.delete_source(experiment_id, source)
    return Response(status_code=204)
