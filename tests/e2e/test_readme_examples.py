"""Every ```bash and ```python block of the READMEs runs as pasted against a real server.

The reader's situation after the Quickstart is rebuilt: a fresh clone (here a copy of the
files the examples read), `persona serve` started in it, and a second terminal in the clone
where `hatch shell` put `persona` and `python` (this test's environment) on PATH. Only the
port differs: the server listens on a free one, which replaces `127.0.0.1:8000` in the blocks.

The bash blocks of one README run in order in one bash session, as typed into one terminal
(so a block may use a variable an earlier one set), with `set -euo pipefail`, and curl failing
on an error status. Each Python block runs on its own, as a script. A block preceded by
``<!-- not run: why -->`` is skipped; any other block that fails fails the test.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import REPO_ROOT, ServerProcess, clean_env, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

READMES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "packages").glob("*/README.md"))]
CLONE_CONTENT = ("examples", "schemas")
"""What the examples read from the clone."""
README_PORT = "127.0.0.1:8000"
LANGUAGES = {"bash", "python"}
FENCE = re.compile(r"^```\s*(\S*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<why>\S.*?)\s*-->$")
TOKEN = "readme-token-0123456789"
"""$TOKEN of the examples that send one: a reader sets it (see the README's REST server
section); the Quickstart server has no token and ignores the header."""
BLOCK_TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    readme: Path
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.readme.relative_to(REPO_ROOT)}:{self.line}"


def fenced_blocks(readme: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, each with the reason a ``not run`` marker
    right before it gives."""
    blocks: list[Block] = []
    lines = readme.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        before = [line.strip() for line in lines[:index] if line.strip()]
        marker = NOT_RUN.match(before[-1]) if before else None
        code = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(readme, index + 1, opening[1], code, marker["why"] if marker else None))
        index = end + 1
    return blocks


def runnable(language: str) -> list[Block]:
    return [
        block
        for readme in READMES
        for block in fenced_blocks(readme)
        if block.language == language and block.not_run is None
    ]


def readmes_with_bash() -> list[Path]:
    return sorted({block.readme for block in runnable("bash")})


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of a fresh clone that the examples read."""
    root = tmp_path_factory.mktemp("readme") / "persona"
    root.mkdir()
    for name in CLONE_CONTENT:
        shutil.copytree(REPO_ROOT / name, root / name)
    return root


@pytest.fixture(scope="module")
def server(clone: Path) -> Iterator[ServerProcess]:
    """`hatch run serve` in the clone: `persona serve` over the clone's directory."""
    with running_server(clone, clean_env()) as running:
        yield running


def reader_env() -> dict[str, str]:
    """A terminal after `hatch shell`: this environment's `persona` and `python` first."""
    env = clean_env(TOKEN=TOKEN)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def at_server(code: str, server: ServerProcess) -> str:
    return code.replace(f"http://{README_PORT}", server.base_url)


def bash_session(blocks: list[Block], server: ServerProcess) -> str:
    """One bash script typing ``blocks`` in order; a failure names its block."""
    parts = [
        "set -euo pipefail",
        # An error status fails the command, and the problem body is still shown.
        'curl() { command curl --fail-with-body --show-error "$@"; }',
        "trap 'echo \"README block failed: $block\" >&2' ERR",
    ]
    for block in blocks:
        parts += [f"block={block.where}", 'echo "--- $block" >&2', at_server(block.code, server)]
    return "\n".join(parts) + "\n"


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".persona"))


# ---------------------------------------------------------------------- the documents


def test_every_code_block_is_bash_or_python_or_plain_text() -> None:
    """Blocks in another language (sh, console, shell) would escape the test."""
    other = [
        (block.where, block.language)
        for readme in READMES
        for block in fenced_blocks(readme)
        if block.language and block.language not in LANGUAGES
    ]
    assert other == []


def test_the_extractor_reads_blocks_and_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "Text\n\n```bash\necho one\n```\n\n<!-- not run: needs ANTHROPIC_API_KEY -->\n"
        "```python\nprint(2)\n```\n\n```\nplain\n```\n",
        encoding="utf-8",
    )

    blocks = fenced_blocks(readme)

    assert [(b.line, b.language, b.code, b.not_run) for b in blocks] == [
        (3, "bash", "echo one\n", None),
        (8, "python", "print(2)\n", "needs ANTHROPIC_API_KEY"),
        (12, "", "plain\n", None),
    ]


def test_the_quickstart_commands_are_the_test_and_serve_commands() -> None:
    """The two set-up lines stay what CI and `hatch run serve` run."""
    quickstart = next(b for b in fenced_blocks(REPO_ROOT / "README.md") if b.language == "bash")
    commands = [line.split("#")[0].strip() for line in quickstart.code.splitlines()]

    assert commands == [
        "pip install hatch && hatch run serve",
        "pip install hatch && hatch test --cover",
    ]
    assert "hatch test --cover" in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert 'serve = "persona serve {args}"' in (REPO_ROOT / "hatch.toml").read_text()


def test_the_readmes_have_examples_that_run() -> None:
    """The test below would pass on no blocks at all."""
    assert len(runnable("bash")) >= 5
    assert len(runnable("python")) >= 3


# ---------------------------------------------------------------------- the examples


@pytest.mark.parametrize("readme", readmes_with_bash(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_the_shell_examples_run_as_pasted(readme: Path, clone: Path, server: ServerProcess) -> None:
    blocks = [block for block in runnable("bash") if block.readme == readme]

    done = subprocess.run(
        ["bash", "-c", bash_session(blocks, server)],
        cwd=clone,
        env=reader_env(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )

    output = (done.stdout[-3000:] + "\n" + done.stderr[-6000:]).strip()
    assert done.returncode == 0, output
    assert "Traceback" not in done.stderr, output
    assert leftovers(clone) == [".persona"], "examples left state outside the server's"


@pytest.mark.parametrize("block", runnable("python"), ids=lambda b: b.where)
def test_the_python_examples_run_as_pasted(
    block: Block, clone: Path, server: ServerProcess
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", at_server(block.code, server)],
        cwd=clone,
        env=reader_env(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert done.stdout.strip(), "the example printed nothing"
    assert leftovers(clone) == [".persona"], "the example left state outside the server's"


@pytest.mark.parametrize("block", runnable("python"), ids=lambda b: b.where)
def test_the_python_examples_leave_nothing_behind_in_another_folder(
    block: Block, server: ServerProcess, tmp_path: Path
) -> None:
    """Run from the wrong folder, an example may fail, but it creates no data directory."""
    subprocess.run(
        [sys.executable, "-c", at_server(block.code, server)],
        cwd=tmp_path,
        env=reader_env(),
        capture_output=True,
        timeout=BLOCK_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )

    # Under `hatch test --cover` the interpreter itself writes its coverage data here.
    left = [path for path in tmp_path.iterdir() if not path.name.startswith(".coverage")]
    assert left == []
