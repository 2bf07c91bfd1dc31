"""Sources: upload, list and delete."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from persona_client import _operations as ops
from persona_client._resources._resource import _aitems, _AsyncResource, _Resource
from persona_client.models import Experiment, ExperimentSource, ExperimentSourceList


class Sources(_Resource):
    def upload(self, experiment_id: str, paths: ops.StrPath | Iterable[ops.StrPath]) -> Experiment:
        """Upload local files into the experiment's folder on the server (multipart)."""
        return self._request(ops.upload_sources(experiment_id, paths))

    def list(self, experiment_id: str) -> ExperimentSourceList:
        """The experiment's sources: name, kind (path, inline, upload), size and, when the
        server knows it, record count."""
        return self._request(ops.list_sources(experiment_id))

    def iter(self, experiment_id: str) -> Iterator[ExperimentSource]:
        """Every source of the experiment."""
        return iter(self.list(experiment_id).items)

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

    def iter(self, experiment_id: str) -> AsyncIterator[ExperimentSource]:
        """Every source of the experiment."""
        return _aitems(self.list(experiment_id))

    async def delete(self, experiment_id: str, name: str) -> None:
        """Remove an inline or uploaded source and its stored file; see ``Sources.delete``."""
        await self._request(ops.delete_source(experiment_id, name))
