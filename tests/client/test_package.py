"""The distribution itself: public names, generated models in step with the contract, typing."""

from __future__ import annotations

import inspect
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import persona_client
import persona_client._exceptions as exceptions_module
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packages" / "client" / "src" / "persona_client"
MODELS = PACKAGE / "models.py"
GENERATED_HEADER = (
    "# Generated from schemas/openapi.json by datamodel-code-generator. "
    "Do not edit: run `hatch run gen-client`."
)

EXPECTED_ALL = {
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPersonaClient",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PersonaClient",
    "PersonaError",
    "RateLimitError",
    "RunCancelledError",
    "RunEvent",
    "RunFailedError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
    "models",
    "verify_webhook",
}


def tool(name: str) -> str:
    """A console script of the environment running the tests."""
    return str(Path(sys.executable).parent / name)


def test_public_names() -> None:
    assert set(persona_client.__all__) == EXPECTED_ALL
    assert len(persona_client.__all__) == len(EXPECTED_ALL)
    for name in persona_client.__all__:
        assert getattr(persona_client, name) is not None


def test_every_exception_is_public_and_drawn_in_the_tree() -> None:
    tree = exceptions_module.__doc__ or ""
    defined = {
        name
        for name, value in vars(exceptions_module).items()
        if inspect.isclass(value)
        and issubclass(value, exceptions_module.PersonaError)
        and value.__module__ == exceptions_module.__name__
    }
    assert defined <= set(persona_client.__all__)
    for name in defined:
        drawn = re.search(rf"^(.*── )?{name}\s", tree, flags=re.MULTILINE)
        assert drawn, f"{name} is missing from the tree in the module docstring"


def test_models_match_the_committed_contract() -> None:
    """`hatch run gen-client -- --check`: the generated models are what the spec gives."""
    script = tomllib.loads((ROOT / "hatch.toml").read_text())["envs"]["default"]["scripts"]
    argv = shlex.split(script["gen-client"][0].replace("{args}", "--check"))
    assert argv[0] == "datamodel-codegen"
    argv[0] = tool("datamodel-codegen")
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, (
        "packages/client/src/persona_client/models.py is stale; run `hatch run gen-client`.\n"
        + result.stdout
        + result.stderr
    )


def test_models_module_is_generated_only() -> None:
    first_line = MODELS.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == GENERATED_HEADER


def test_ships_py_typed_and_depends_only_on_httpx_httpx_sse_pydantic_standardwebhooks() -> None:
    assert (PACKAGE / "py.typed").is_file()
    project = tomllib.loads((ROOT / "packages" / "client" / "pyproject.toml").read_text())
    names = {re.split(r"[<>=!~\[; ]", dep)[0] for dep in project["project"]["dependencies"]}
    assert names == {"httpx", "httpx-sse", "pydantic", "standardwebhooks"}


def test_importing_the_client_imports_no_server_code() -> None:
    code = (
        "import sys, persona_client\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(loaded & {'persona', 'fastapi', 'starlette'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_mypy_strict_passes_on_the_package(tmp_path: Path) -> None:
    env = {**os.environ, "MYPY_CACHE_DIR": str(tmp_path / "mypy-cache")}
    result = subprocess.run(
        [tool("mypy"), "--strict", "--config-file", str(ROOT / "pyproject.toml"), str(PACKAGE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
