"""The REST server (the `api` extra: `pip install './packages/server[api]'` from a clone).

``create_app(settings)`` builds an app; the module attribute ``app`` is built on first
access with settings from the environment, so ``uvicorn persona.api:app`` works. Both are
resolved lazily: importing ``persona.api.launch`` or ``persona.api.spec`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from persona.api.main import create_app

    app: FastAPI

__all__ = ["app", "create_app"]

_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from persona.api.main import create_app

    if name == "create_app":
        return create_app
    if _app is None:
        from persona.api.main import server_app

        _app = server_app()
    return _app
