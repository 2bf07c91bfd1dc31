"""The web interface's routes, mounted at ``/`` next to the API (``install_web``)."""

from __future__ import annotations

from fastapi import FastAPI

from persona.web.pages import assets, experiments, personas, runs, session


def install_web(app: FastAPI) -> None:
    """Add the interface's routers; none of its routes is part of the API's document."""
    for router in (
        assets.router,
        session.router,
        experiments.router,
        runs.router,
        personas.router,
    ):
        app.include_router(router)
