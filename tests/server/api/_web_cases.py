"""Helpers of the web interface's tests: a browser-like client of the real app."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .conftest import create_local
from .test_runs import wait_finished

ORIGIN = "http://testserver"
SAME_ORIGIN = {"Origin": ORIGIN}


async def finished_local_run(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    """A succeeded run of the local provider over the tests' interviews, its personas in it."""
    experiment = await create_local(client, **changes)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    run = await wait_finished(client, started.headers["location"])
    assert run["status"] == "succeeded", run["error"]
    return run


def links(html: str, pattern: str) -> list[str]:
    return re.findall(rf'href="({pattern})"', html)


async def post_form(
    client: httpx.AsyncClient, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    return await client.post(
        url, headers=SAME_ORIGIN if headers is None else headers, follow_redirects=False, **kwargs
    )
