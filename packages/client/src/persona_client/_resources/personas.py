"""Personas: get, Markdown, HTML, evidence, and an experiment's list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from persona_client import _operations as ops
from persona_client._resources._resource import _apaginate, _AsyncResource, _paginate, _Resource
from persona_client.models import CitedEvidence, CitedEvidencePage, Persona, PersonaPage


class Personas(_Resource):
    def get(self, persona_id: str) -> Persona:
        return self._request(ops.get_persona(persona_id))

    def markdown(self, persona_id: str) -> str:
        """The persona rendered as a Markdown document by the server, ending with its sources."""
        return self._request(ops.get_persona_markdown(persona_id))

    def html(self, persona_id: str) -> str:
        """The persona's printable card: one HTML document, its CSS inline, then its sources."""
        return self._request(ops.get_persona_html(persona_id))

    def list(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> PersonaPage:
        """One page of the experiment's personas: of one run, of the newest succeeded run
        (``latest``), or all."""
        operation = ops.list_personas(
            experiment_id, run_id=run_id, latest=latest, limit=limit, cursor=cursor
        )
        return self._request(operation)

    def iter(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        page_size: int | None = None,
    ) -> Iterator[Persona]:
        return _paginate(
            lambda cursor: self.list(
                experiment_id, run_id=run_id, latest=latest, limit=page_size, cursor=cursor
            )
        )

    def list_evidence(
        self, persona_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> CitedEvidencePage:
        """One page of the records the persona cites; see ``iter_evidence``."""
        operation = ops.list_persona_evidence(persona_id, limit=limit, cursor=cursor)
        return self._request(operation)

    def iter_evidence(
        self, persona_id: str, *, page_size: int | None = None
    ) -> Iterator[CitedEvidence]:
        """Every record the persona cites (source, locator, participant, text), each with the
        statements citing it and where its quotes stand in its text, page after page."""
        return _paginate(
            lambda cursor: self.list_evidence(persona_id, limit=page_size, cursor=cursor)
        )


class AsyncPersonas(_AsyncResource):
    async def get(self, persona_id: str) -> Persona:
        return await self._request(ops.get_persona(persona_id))

    async def markdown(self, persona_id: str) -> str:
        """The persona rendered as a Markdown document by the server, ending with its sources."""
        return await self._request(ops.get_persona_markdown(persona_id))

    async def html(self, persona_id: str) -> str:
        """The persona's printable card: one HTML document, its CSS inline, then its sources."""
        return await self._request(ops.get_persona_html(persona_id))

    async def list(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> PersonaPage:
        """One page of the experiment's personas; see ``Personas.list``."""
        operation = ops.list_personas(
            experiment_id, run_id=run_id, latest=latest, limit=limit, cursor=cursor
        )
        return await self._request(operation)

    def iter(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        page_size: int | None = None,
    ) -> AsyncIterator[Persona]:
        return _apaginate(
            lambda cursor: self.list(
                experiment_id, run_id=run_id, latest=latest, limit=page_size, cursor=cursor
            )
        )

    async def list_evidence(
        self, persona_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> CitedEvidencePage:
        """One page of the records the persona cites; see ``Personas.iter_evidence``."""
        operation = ops.list_persona_evidence(persona_id, limit=limit, cursor=cursor)
        return await self._request(operation)

    def iter_evidence(
        self, persona_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[CitedEvidence]:
        """Every record the persona cites; see ``Personas.iter_evidence``."""
        return _apaginate(
            lambda cursor: self.list_evidence(persona_id, limit=page_size, cursor=cursor)
        )
