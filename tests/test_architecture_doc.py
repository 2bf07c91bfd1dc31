"""docs/architecture.md stays a true map: every path it names exists, and every package and
top-level module of ``persona`` is on it.

The Layout section is a tree: a name at the start of a line (or a comma-separated run of
names) sits in the nearest folder above it with less indentation. Paths written with a slash
elsewhere in the document (``runs/queue.py``) are read from the ``persona`` package, or from
the repository's root.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "architecture.md"
PACKAGE = REPO_ROOT / "packages" / "server" / "src" / "persona"

# One name of the tree: a file with an extension, or a folder ending in "/".
_NAME = r"[\w.-]+(?:/[\w.-]+)*(?:\.\w+|/)"
_ENTRY = re.compile(rf"^( *)({_NAME}(?:, {_NAME})*)(?= |,|$)")
# A module path named in prose: a folder and a Python file, as in `api/errors.py`.
_INLINE = re.compile(r"(?<![\w/.-])((?:[a-z_]+/)+[a-z_]+\.py)\b")


def _layout_block(text: str) -> list[str]:
    section = text.split("## Layout", 1)[1]
    return section.split("```", 2)[1].splitlines()


def layout_paths(text: str) -> list[Path]:
    """Every path the Layout tree names, resolved from the repository's root."""
    folders: list[tuple[int, Path]] = []
    paths: list[Path] = []
    for line in _layout_block(text):
        match = _ENTRY.match(line)
        if not match:
            continue
        indent = len(match.group(1))
        while folders and folders[-1][0] >= indent:
            folders.pop()
        parent = folders[-1][1] if folders else REPO_ROOT
        for name in match.group(2).split(", "):
            path = parent / name.rstrip("/")
            paths.append(path)
            if name.endswith("/"):
                folders.append((indent, path))
    return paths


def inline_paths(text: str) -> list[tuple[str, list[Path]]]:
    """Each module path named in prose, with where it may live."""
    named = sorted(set(_INLINE.findall(text)))
    return [
        (name, [PACKAGE / name.removeprefix("persona/"), REPO_ROOT / name, PACKAGE.parent / name])
        for name in named
    ]


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_path_in_the_layout_exists(text: str) -> None:
    paths = layout_paths(text)
    assert len(paths) > 100, "the Layout tree was not read"
    missing = [str(path.relative_to(REPO_ROOT)) for path in paths if not path.exists()]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_module_path_in_the_prose_exists(text: str) -> None:
    named = inline_paths(text)
    assert any(name == "runs/queue.py" for name, _ in named)
    missing = [name for name, places in named if not any(p.exists() for p in places)]
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_package_and_top_level_module_is_on_the_map(text: str) -> None:
    on_map = {path.resolve() for path in layout_paths(text)}
    packages = [init.parent for init in PACKAGE.rglob("__init__.py")]
    modules = [path for path in PACKAGE.glob("*.py")]
    unnamed = sorted(
        str(path.relative_to(PACKAGE.parent))
        for path in [*packages, *modules]
        if path.resolve() not in on_map and path != PACKAGE / "__about__.py"
    )
    assert not unnamed, f"docs/architecture.md's Layout does not name: {unnamed}"


def test_the_reading_finds_a_missing_path_and_an_unnamed_package() -> None:
    """The checks above can fail: a made-up module is missing, a dropped line unnamed."""
    doc = DOC.read_text(encoding="utf-8")
    invented = doc.replace("    sse.py ", "    sse_gone.py ", 1)
    assert PACKAGE / "api" / "sse_gone.py" in layout_paths(invented)
    dropped = "\n".join(line for line in doc.splitlines() if not line.startswith("  webhooks/ "))
    assert PACKAGE / "webhooks" not in layout_paths(dropped)
    assert PACKAGE / "webhooks" in layout_paths(doc)


def contract_modules() -> set[str]:
    """The modules of the import contract's layers, as the document writes them."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    assert "ignore_imports" not in contract, "the layers contract lists no exceptions"
    names = set()
    for layer in contract["layers"]:
        for module in re.split(r"\s*[|:]\s*", layer):
            path = PACKAGE.parent / module.replace(".", "/")
            names.add(
                module.removeprefix("persona.").replace(".", "/")
                + ("/" if path.is_dir() else ".py")
            )
    return names


def test_the_layers_table_is_the_import_contract(text: str) -> None:
    table = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    in_doc = {name for row in rows[1:] for name in re.findall(r"`([\w/]+(?:\.py|/))`", row)}
    assert in_doc == contract_modules()
