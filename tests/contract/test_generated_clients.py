"""Clients generated from the committed spec work, for every generator we support.

openapi-python-client's client drives the whole flow against a real `persona serve`: create,
upload a file, start a generation with no body, wait for the run, read a persona as JSON and
as Markdown, page the personas, delete. openapi-generator's python and typescript-fetch
clients and @hey-api/openapi-ts's client must compile (Python: byte-compiled and imported;
TypeScript: `tsc --noEmit`, strict).
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.servers import SMALL_CSV, clean_env, make_data_dir, running_server

from .conftest import SPEC, java, node_tool, run_tool

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "contract-token-0123456789"
PACKAGE = "persona_generated_client"
RUN_TIMEOUT = 60.0
POLL = 0.1
# Tests, docs and CI files that openapi-generator would also write; only the code is checked.
OPENAPI_GENERATOR_CODE_ONLY = "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false"
TSCONFIG: dict[str, Any] = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        # The clients call fetch and build FormData and Blob: the browser's globals.
        "lib": ["ES2022", "DOM", "DOM.Iterable"],
        "strict": True,
        "noEmit": True,
        "types": [],
    },
}


# --------------------------------------------------------------------------- generating


def openapi_python_client(output: Path) -> None:
    run_tool(
        [
            sys.executable, "-m", "openapi_python_client", "generate", "--path", SPEC,
            "--output-path", output, "--meta", "none", "--fail-on-warning",
        ],
        output.parent,
        # Its post-generation hooks run `ruff` from PATH: the one installed beside it.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )  # fmt: skip


def without_webhooks(folder: Path) -> Path:
    """The spec without its ``webhooks``, as the README tells openapi-generator users to
    give it: openapi-generator 7.26 turns OpenAPI 3.1 webhooks (the deliveries a receiver
    gets, not operations a client calls) into code that does not compile."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    del spec["webhooks"]
    target = folder / "openapi-without-webhooks.json"
    target.write_text(json.dumps(spec), encoding="utf-8")
    return target


def openapi_generator(generator: str, output: Path, *options: str) -> None:
    jar = importlib.resources.files("openapi_generator_cli") / "openapi-generator.jar"
    spec = without_webhooks(output.parent)
    run_tool(
        [
            java(), "-jar", str(jar), "generate", "--input-spec", spec,
            "--generator-name", generator, "--output", output,
            "--global-property", OPENAPI_GENERATOR_CODE_ONLY, *options,
        ],
        output.parent,
    )  # fmt: skip


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[ModuleType]:
    """The openapi-python-client package, imported; removed from sys.modules afterwards."""
    openapi_python_client(tmp_path / PACKAGE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def endpoint(module: str) -> Any:
    """``api.<tag>.<operation>`` of the generated package (its ``sync_detailed`` and ``sync``)."""
    return importlib.import_module(f"{PACKAGE}.api.{module}")


# --------------------------------------------------------------------------- the flow


def test_openapi_python_client_runs_the_whole_flow(tmp_path: Path, generated: ModuleType) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    data_dir = make_data_dir(tmp_path)
    (data_dir / "small.csv").unlink()  # uploaded below instead

    with (
        running_server(data_dir, clean_env(PERSONA_API_TOKEN=TOKEN)) as server,
        generated.AuthenticatedClient(base_url=server.base_url, token=TOKEN) as client,
    ):
        created = endpoint("experiments.create_experiment").sync_detailed(
            client=client,
            body=models.ExperimentCreate(
                name="Generated client",
                data_sources=["./interviews.csv"],
                config=models.GenerationConfig(
                    provider=models.GenerationConfigProviderType0("local"), persona_count=2
                ),
            ),
        )
        assert created.status_code == 201, created.content
        experiment = created.parsed

        upload = types.File(
            payload=BytesIO(SMALL_CSV.encode()), file_name="small.csv", mime_type="text/csv"
        )
        uploaded = endpoint("experiments.upload_sources").sync_detailed(
            experiment.id, client=client, body=models.SourceUpload(files=[upload])
        )
        assert uploaded.status_code == 200, uploaded.content
        assert len(uploaded.parsed.data_sources) == 2
        stored = [p for p in data_dir.rglob("small.csv") if p.parent != data_dir]
        assert [p.read_text(encoding="utf-8") for p in stored] == [SMALL_CSV]

        started = endpoint("runs.start_run").sync_detailed(experiment.id, client=client)
        assert started.status_code == 202, started.content
        assert started.parsed.config.provider == "local"
        run = wait_for_run(client, experiment.id, started.parsed.id)
        assert run.status == "succeeded", run.error
        assert len(run.persona_ids) == 2

        persona = endpoint("personas.get_persona").sync(run.persona_ids[0], client=client)
        assert isinstance(persona, models.Persona), persona
        assert persona.evidence_ids
        # The uploaded file was read: the run's evidence has its records.
        evidence = endpoint("runs.list_run_evidence").sync(
            experiment.id, run.id, client=client, q="forty alerts"
        )
        assert isinstance(evidence, models.EvidencePage), evidence
        from_upload = [item for item in evidence.items if item.source.endswith("small.csv")]
        assert [item.participant for item in from_upload] == ["P2"]

        markdown = endpoint("personas.get_persona_markdown").sync_detailed(
            persona.id, client=client
        )
        assert markdown.status_code == 200
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert markdown.parsed.startswith(f"# {persona.name}")

        seen: list[str] = []
        cursor: Any = types.UNSET
        while True:
            page = endpoint("personas.list_personas").sync(
                experiment.id, client=client, limit=1, cursor=cursor
            )
            assert isinstance(page, models.PersonaPage), page
            assert len(page.items) <= 1
            seen += [item.id for item in page.items]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(run.persona_ids)

        deleted = endpoint("experiments.delete_experiment").sync_detailed(
            experiment.id, client=client
        )
        assert deleted.status_code == 204
        gone = endpoint("experiments.get_experiment").sync(experiment.id, client=client)
        assert isinstance(gone, models.Problem)
        assert gone.status == 404
        # Errors of the Markdown operation are problems too, parsed as JSON.
        missing = endpoint("personas.get_persona_markdown").sync("persona-nope", client=client)
        assert isinstance(missing, models.Problem)
        assert missing.status == 404


def wait_for_run(client: Any, experiment_id: str, run_id: str) -> Any:
    get_run = endpoint("runs.get_run")
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = get_run.sync(experiment_id, run_id, client=client)
        if run.status not in {"queued", "running"}:
            return run
        time.sleep(POLL)
    pytest.fail(f"run {run_id} not finished after {RUN_TIMEOUT}s")


# --------------------------------------------------------------------------- compiling


def test_openapi_generator_python_client_compiles_and_imports(tmp_path: Path) -> None:
    output = tmp_path / "python"
    openapi_generator("python", output, "--package-name", "persona_og")

    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(output / "persona_og")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    # Imported in a fresh interpreter: the generated package must not shadow this one's.
    imported = subprocess.run(
        [
            sys.executable, "-c",
            "import persona_og as og\n"
            "api = og.PersonasApi(og.ApiClient(og.Configuration(host='http://127.0.0.1:1')))\n"
            "assert callable(api.get_persona_markdown)\n"
            "assert 'files' in og.ExperimentsApi.upload_sources.__annotations__\n",
        ],
        cwd=output,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr


def test_typescript_clients_compile(tmp_path: Path) -> None:
    openapi_ts = node_tool("openapi-ts")
    tsc = node_tool("tsc")
    openapi_generator("typescript-fetch", tmp_path / "typescript-fetch")
    run_tool([openapi_ts, "--input", SPEC, "--output", tmp_path / "hey-api"], tmp_path)
    tsconfig = {**TSCONFIG, "include": ["typescript-fetch/**/*.ts", "hey-api/**/*.ts"]}
    (tmp_path / "tsconfig.json").write_text(json.dumps(tsconfig), encoding="utf-8")

    run_tool([tsc, "--project", tmp_path / "tsconfig.json"], tmp_path)

    sdk = (tmp_path / "hey-api" / "sdk.gen.ts").read_text(encoding="utf-8")
    assert "getPersonaMarkdown" in sdk and "formDataBodySerializer" in sdk
    fetch_api = (tmp_path / "typescript-fetch" / "apis" / "ExperimentsApi.ts").read_text()
    assert "files: Array<Blob>" in fetch_api
