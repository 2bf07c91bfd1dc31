"""Pages of experiments: the list, the new-experiment form, one experiment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from persona.api.deps import NameFilter, ServiceDep
from persona.errors import InvalidInputError
from persona.service import UploadedFile
from persona.web.pages.forms import (
    MAX_FORM_FIELDS,
    MAX_FORM_FILES,
    FormErrors,
    NewExperimentForm,
    blank_values,
    experiment_create,
    place_service_error,
    read_form,
)
from persona.web.pages.rendering import render
from persona.web.pages.route import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 25
PageCursor = Annotated[str | None, Query(min_length=1, max_length=512)]


def experiment_url(experiment_id: str) -> str:
    return f"/ui/experiments/{experiment_id}"


@router.get("/")
async def experiments_page(
    request: Request, service: ServiceDep, name: NameFilter = None, cursor: PageCursor = None
) -> Response:
    page = await service.list_experiments(name=name, limit=PAGE_SIZE, cursor=cursor)
    return render(request, "experiments.html", page=page, name=name, cursor=cursor)


def _form_page(
    request: Request, service: ServiceDep, form: NewExperimentForm | None, status: int = 200
) -> Response:
    default = service.settings.default_provider
    return render(
        request,
        "new_experiment.html",
        status=status,
        providers=service.list_providers(),
        values=form.values if form else blank_values(default),
        errors=form.errors if form else FormErrors(),
        form_error=form.errors.form if form else None,
    )


@router.get("/ui/experiments/new")
async def new_experiment_page(request: Request, service: ServiceDep) -> Response:
    return _form_page(request, service, None)


@router.post("/ui/experiments")
async def create_experiment(request: Request, service: ServiceDep) -> Response:
    """Create from the form; a refused field or file is shown next to it, nothing stored."""
    async with request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS) as data:
        form = await read_form(data, service.settings.default_provider)
    body = experiment_create(form)
    if body is None:
        return _form_page(request, service, form, status=422)
    try:
        experiment = await service.create_experiment(body)
    except InvalidInputError as error:
        place_service_error(form, error)
        return _form_page(request, service, form, status=422)
    return RedirectResponse(experiment_url(experiment.id), status_code=303)


@router.get("/ui/experiments/{experiment_id}")
async def experiment_page(request: Request, experiment_id: str, service: ServiceDep) -> Response:
    return await _experiment_page(request, experiment_id, service)


async def _experiment_page(
    request: Request,
    experiment_id: str,
    service: ServiceDep,
    *,
    upload_error: str | None = None,
    status: int = 200,
) -> Response:
    experiment = await service.get_experiment(experiment_id)
    runs = await service.list_runs(experiment_id, limit=20)
    sources = await service.list_sources(experiment_id)
    personas = await service.list_personas(experiment_id, latest=True, limit=20)
    return render(
        request,
        "experiment.html",
        status=status,
        experiment=experiment,
        runs=runs.items,
        sources=sources.items,
        personas=personas.items,
        upload_error=upload_error,
    )


@router.post("/ui/experiments/{experiment_id}/sources")
async def upload_sources(request: Request, experiment_id: str, service: ServiceDep) -> Response:
    """Add files to the experiment; a refused one is named on the page, and none is kept."""
    async with request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS) as data:
        files = [
            UploadedFile(filename=f.filename or "", stream=f.file)
            for f in data.getlist("files")
            if isinstance(f, UploadFile) and f.filename
        ]
        try:
            await service.upload_sources(experiment_id, files)
        except InvalidInputError as error:
            return await _experiment_page(
                request, experiment_id, service, upload_error=error.message, status=422
            )
    return RedirectResponse(experiment_url(experiment_id), status_code=303)


@router.post("/ui/experiments/{experiment_id}/sources/delete")
async def delete_source(
    experiment_id: str, source: Annotated[str, Form(max_length=2048)], service: ServiceDep
) -> Response:
    await service.delete_source(experiment_id, source)
    return RedirectResponse(experiment_url(experiment_id), status_code=303)
