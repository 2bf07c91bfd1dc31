"""``import persona``: the SDK's public API from the package itself, imported on first use."""

from __future__ import annotations

import subprocess
import sys

import persona
import persona.errors
import persona.schemas
import persona.service
import persona.settings
import persona.spend.budgets
import persona.spend.schemas
import persona.sync_service
import pytest

HEAVY_MODULES = ("sqlalchemy", "pydantic", "fastapi", "httpx", "numpy", "sklearn")


def imported_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running ``code``."""
    script = (
        f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_every_public_name_is_the_object_its_module_defines() -> None:
    homes = (
        persona.service,
        persona.sync_service,
        persona.settings,
        persona.schemas,
        persona.errors,
        persona.spend.budgets,
        persona.spend.schemas,
    )
    for name in persona.__all__:
        value = getattr(persona, name)
        if name == "__version__":
            continue
        assert any(getattr(home, name, None) is value for home in homes), name


def test_the_front_door_offers_the_service_settings_schemas_and_errors() -> None:
    assert persona.PersonaService is persona.service.PersonaService
    assert persona.SyncPersonaService is persona.sync_service.SyncPersonaService
    assert persona.Settings is persona.settings.Settings
    assert persona.ExperimentCreate is persona.schemas.ExperimentCreate
    assert issubclass(persona.NotFoundError, persona.PersonaError)
    assert set(persona.__all__) <= set(dir(persona))
    assert len(persona.__all__) == len(set(persona.__all__))
    assert set(persona.__all__) == {"__version__", *persona._HOME}


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from persona import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(persona.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'NoSuchThing'"):
        _ = persona.NoSuchThing  # type: ignore[attr-defined]


def test_importing_the_package_loads_nothing_heavy() -> None:
    loaded = imported_after("import persona")
    assert loaded.isdisjoint(HEAVY_MODULES), loaded & set(HEAVY_MODULES)


def test_a_name_loads_only_what_it_needs() -> None:
    loaded = imported_after("import persona\npersona.PersonaError")
    assert loaded.isdisjoint(HEAVY_MODULES), loaded & set(HEAVY_MODULES)
    assert "sqlalchemy" not in imported_after("import persona\npersona.Settings")
