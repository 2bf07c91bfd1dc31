"""Providers: what the server can generate with."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterator

from persona_client import _operations as ops
from persona_client._resources._resource import _AsyncResource, _Resource
from persona_client.models import ProviderInfo


class Providers(_Resource):
    def list(self) -> builtins.list[ProviderInfo]:
        """Every provider the server knows, and whether it is configured (never its key)."""
        return self._request(ops.list_providers())

    def iter(self) -> Iterator[ProviderInfo]:
        """Every provider the server knows."""
        return iter(self.list())


class AsyncProviders(_AsyncResource):
    async def list(self) -> builtins.list[ProviderInfo]:
        """Every provider the server knows, and whether it is configured (never its key)."""
        return await self._request(ops.list_providers())

    async def iter(self) -> AsyncIterator[ProviderInfo]:
        """Every provider the server knows."""
        for provider in await self.list():
            yield provider
