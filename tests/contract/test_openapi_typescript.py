"""openapi-typescript, the generator a TypeScript user often runs first, works on the spec
from the repository root, as its README shows (`npx openapi-typescript schemas/openapi.json`).

It reads a Redocly configuration from the directory it runs in; one at the root naming the
spec as an API (the lint's, now in tools/contract) made it stop with "API persona is
missing an `x-openapi-ts.output` key". The types it writes must compile under strict tsc.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import REPO, SPEC, node_tool, run_tool

TSCONFIG = {
    "compilerOptions": {"strict": True, "noEmit": True, "types": [], "skipLibCheck": False},
}


def test_openapi_typescript_generates_types_from_the_repository_root(tmp_path: Path) -> None:
    openapi_typescript = node_tool("openapi-typescript")
    tsc = node_tool("tsc")
    output = tmp_path / "persona.d.ts"

    run_tool([openapi_typescript, SPEC.relative_to(REPO), "--output", output], REPO)

    types = output.read_text(encoding="utf-8")
    operation_ids = {
        operation["operationId"]
        for path_item in json.loads(SPEC.read_text(encoding="utf-8"))["paths"].values()
        for operation in path_item.values()
    }
    assert all(f"    {operation_id}: {{" in types for operation_id in operation_ids)
    (tmp_path / "tsconfig.json").write_text(
        json.dumps({**TSCONFIG, "files": ["persona.d.ts"]}), encoding="utf-8"
    )
    run_tool([tsc, "--project", tmp_path / "tsconfig.json"], tmp_path)
