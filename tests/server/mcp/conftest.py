"""The MCP server in-process, over the real app's service on a real database, with the SDK's
client; and the same app's REST API through httpx, to compare their answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from mcp import Client
from persona.api import create_app
from persona.mcp import build_server
from persona.service import PersonaService
from persona.settings import Settings

from tests.mcp_walk import examples_data_dir

T = TypeVar("T")


@asynccontextmanager
async def in_own_task(context: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """``context`` entered and left by one task of its own: pytest-asyncio sets a fixture up
    and tears it down in different tasks, and the MCP client's task group must be left by
    the task that entered it."""
    entered: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    leave = asyncio.Event()

    async def hold() -> None:
        async with context as value:
            entered.set_result(value)
            await leave.wait()

    task = asyncio.create_task(hold())
    await asyncio.wait([task, entered], return_when="FIRST_COMPLETED")
    if task.done():
        task.result()
    try:
        yield entered.result()
    finally:
        leave.set()
        await task


@dataclass
class Faces:
    mcp: Client
    api: httpx.AsyncClient
    service: PersonaService


@pytest.fixture
async def faces(tmp_path: Path, database_url: str) -> AsyncIterator[Faces]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=examples_data_dir(tmp_path), database_url=database_url
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        service: PersonaService = app.state.service
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as api,
            in_own_task(Client(build_server(lambda: service))) as mcp,
        ):
            yield Faces(mcp, api, service)
