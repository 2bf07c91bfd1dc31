"""The REST server (``pip install persona[api]``).

``create_app(settings)`` builds an app; the module attribute ``app`` is built on first
access with settings from the environment, so ``uvicorn persona.api:app`` works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from persona.api.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

    app: FastAPI

__all__ = ["app", "create_app"]

_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
