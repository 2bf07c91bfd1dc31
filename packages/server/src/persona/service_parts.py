"""What the service's operation mixins reach of ``PersonaService``.

``PersonaService`` is the one facade users call, kept in several modules: ``persona.push``,
``persona.spend.operations``, ``persona.privacy.operations`` and
``persona.access.operations`` are its mixins. Each reaches the started service only through
the members declared here, which ``PersonaService`` defines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from persona.runtime import Parts
    from persona.settings import Settings
    from persona.storage import Repository

P = ParamSpec("P")
T = TypeVar("T")


class ServiceParts:
    if TYPE_CHECKING:
        settings: Settings

        async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

        async def _write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

        @property
        def _repository(self) -> Repository: ...

        @property
        def _started(self) -> Parts: ...
