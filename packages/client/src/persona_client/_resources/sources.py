"""Sources (uploads) and providers."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from persona_client import _operations as ops
from persona_client._resources._resource import _AsyncResource, _Resource
from persona_client.models import Experiment, ExperimentSourceList, ProviderInfo


class Sources(_Resource):
    def upload(self, experiment_id: str, paths: ops.StrPath | Iterable[ops.StrPath]) -> Experiment:
        """Upload local files into the experiment's folder on the server (multipart)."""
        return self._request(ops.upload_sources(experiment_id, paths))

    def list(self, experiment_id: str) -> ExperimentSourceList:
        """The experiment's sources: name, kind (path, inline, upload), size and, when the
        server knows it, record count."""
        return self._request(ops.list_sources(experiment_id))

    def delete(self, experiment_id: str, name: str) -> None:
        """Remove an inline or uploaded source (``name`` as listed) and its stored file.

        ConflictError for a path source, the last source, or while a run is active."""
        self._request(ops.delete_source(experiment_id, name))


class AsyncSources(_AsyncResource):
    async def upload(
        self, experiment_id: str, paths: ops.StrPath | Iterable[ops.StrPath]
    ) -> Experiment:
        """Upload local files into the experiment's folder on the server (multipart)."""
        return await self._request(ops.upload_sources(experiment_id, paths))

    async def list(self, experiment_id: str) -> ExperimentSourceList:
        """The experiment's sources; see ``Sources.list``."""
        return await self._request(ops.list_sources(experiment_id))

    async def delete(self, experiment_id: str, name: str) -> None:
        """Remove an inline or uploaded source and its stored file; see ``Sources.delete``."""
        await self._request(ops.delete_source(experiment_id, name))


class Providers(_Resource):
    def list(self) -> builtins.list[ProviderInfo]:
        """Every provider the server knows, and whether it is configured (never its key)."""
        return self._request(ops.list_providers())


class AsyncProviders(_AsyncResource):
    async def list(self) -> builtins.list[ProviderInfo]:
        """Every provider the server knows, and whether it is configured (never its key)."""
        return await self._request(ops.list_providers())
