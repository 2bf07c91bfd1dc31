"""Every ```bash and ```python block of the READMEs and docs/deploy.md runs as pasted against
a real server, and the Quickstart fails loudly.

The reader's situation after the Quickstart is rebuilt: a fresh clone (here a copy of the
files the examples read), `persona serve` started in it as `hatch run serve` starts it (no
options: the current directory is the data directory), and a second terminal in the clone
where `hatch shell` put `persona` and `python` (this test's environment) on PATH. Only the
port differs: the server listens on a free one, which replaces `127.0.0.1:8000` in the blocks.

The bash blocks of one document run in order in one bash session, as typed into one terminal
(so a block may use a variable an earlier one set), with `set -euo pipefail`, and curl failing
on an error status. Each Python block runs on its own, as a script. A block preceded by
``<!-- not run: why -->`` is skipped; any other block that fails fails the test.

The set-up commands themselves (a virtual environment, hatch, the whole test suite) run in
CI: `.ci/run` runs the README's test command and `.ci/check-readme-setup` its serve command,
on a fresh clone, with a Python marked externally managed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from persona_client import PersonaClient

from tests.ports import free_port
from tests.servers import REPO_ROOT, ServerProcess, clean_env, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

READMES = [
    REPO_ROOT / "README.md",
    *sorted((REPO_ROOT / "packages").glob("*/README.md")),
    REPO_ROOT / "docs" / "deploy.md",
]
"""The documents whose examples run: the READMEs, and the runnable parts of the deploy guide."""
CLONE_CONTENT = ("examples", "schemas")
"""What the examples read from the clone."""
README_PORT = "127.0.0.1:8000"
LANGUAGES = {"bash", "python"}
NOT_RUN_LANGUAGES = {"powershell", "json", "javascript"}
"""Shown for Windows, an application's configuration (tests/e2e/test_mcp_*.py use the AI
assistants' ones), or browser code (tests/e2e/test_event_source_browser.py does what it
shows); never run here, so always under a ``not run`` marker."""
FENCE = re.compile(r"^```\s*(\S*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<why>\S.*?)\s*-->$")
TOKEN = "readme-token-0123456789"
"""$TOKEN of the examples that send one: a reader sets it (see the README's REST server
section); the Quickstart server has no token and ignores the header."""
BLOCK_TIMEOUT = 300
FAILURE_TIMEOUT = 10
"""Seconds within which the Quickstart must stop, with its error, when it cannot succeed."""
SET_UP = re.compile(r"^python3 -m venv \.venv && \.venv/bin/pip install -q hatch && (.+)$")


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


def hatch_run_serve(*args: str) -> list[str]:
    """`hatch run serve` with ``args``: hatch.toml's script is `persona serve {args}`, run by
    this environment's `persona` (the one `hatch shell` puts on PATH)."""
    return [str(Path(sys.executable).parent / "persona"), "serve", *args]


@pytest.fixture(scope="module")
def server(clone: Path) -> Iterator[ServerProcess]:
    """`hatch run serve` in the clone, on a free port: the clone is the data directory."""
    with running_server(clone, clean_env(), command=hatch_run_serve("--port", "{port}")) as running:
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
        parts += [
            f"block={block.where}",
            'echo "--- $block" >&2',
            at_server(block.code, server),
            # A block whose steps are joined by && stops at its first failure without tripping
            # `set -e`: its status is that of the failed step.
            '(( $? == 0 )) || { echo "README block failed: $block" >&2; exit 1; }',
        ]
    return "\n".join(parts) + "\n"


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".persona"))


# ---------------------------------------------------------------------- the documents


def test_every_code_block_is_bash_or_python_or_plain_text() -> None:
    """Blocks in another language (sh, console, shell) would escape the test; PowerShell is
    shown for Windows and marked as not run here."""
    other = [
        (block.where, block.language)
        for readme in READMES
        for block in fenced_blocks(readme)
        if block.language
        and block.language not in LANGUAGES
        and not (block.language in NOT_RUN_LANGUAGES and block.not_run)
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


def set_up_commands() -> list[str]:
    """The Quickstart's set-up lines (a virtual environment, hatch, then what hatch runs)."""
    blocks = fenced_blocks(REPO_ROOT / "README.md")
    return [line for block in blocks for line in block.code.splitlines() if SET_UP.match(line)]


def test_the_quickstart_sets_up_in_a_virtual_environment_and_ci_runs_it_verbatim() -> None:
    """Two commands, each the whole set-up: one serves, one tests. Neither installs into the
    system Python (PEP 668), and CI runs both as written (see the module's docstring)."""
    serve, test = set_up_commands()
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    check = (REPO_ROOT / ".ci" / "check-readme-setup").read_text()

    assert SET_UP.fullmatch(serve)[1] == ".venv/bin/hatch run serve"  # type: ignore[index]
    assert SET_UP.fullmatch(test)[1] == ".venv/bin/hatch test"  # type: ignore[index]
    assert test in ci
    # The longer matrix CI runs besides: every test, stress tests included, on both databases,
    # with coverage.
    full = "PERSONA_TEST_DATABASES=sqlite,postgresql PERSONA_TEST_STRESS=1"
    assert f"{full} .venv/bin/hatch test --cover" in ci
    assert ".ci/check-readme-setup" in "\n".join(ci)
    assert "hatch run serve$" in check  # the line it takes from the README
    assert 'serve = "persona serve {args}"' in (REPO_ROOT / "hatch.toml").read_text()


def test_the_set_up_lines_are_in_blocks_of_their_own() -> None:
    """The serve command runs until stopped: pasted together with anything after it, the rest
    would never run."""
    serve, _ = set_up_commands()
    (block,) = [b for b in fenced_blocks(REPO_ROOT / "README.md") if serve in b.code]

    assert block.code == serve + "\n"
    assert block.not_run


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


# ---------------------------------------------------------------------- failing loudly


def quickstart() -> Block:
    """The Quickstart's example: the first block that creates an experiment."""
    return next(
        block
        for block in runnable("bash")
        if block.readme.name == "README.md" and "/experiments" in block.code
    )


def paste(code: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """``code`` pasted into an interactive shell: no `set -e`, nothing but what it says."""
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", code],
        cwd=cwd,
        env=reader_env(),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return done, time.monotonic() - started


def test_the_quickstart_without_a_server_stops_at_once_saying_so(clone: Path) -> None:
    nothing_there = f"127.0.0.1:{free_port()}"

    done, seconds = paste(quickstart().code.replace(README_PORT, nothing_there), clone)

    assert done.returncode != 0
    assert seconds < FAILURE_TIMEOUT
    assert f"Failed to connect to 127.0.0.1 port {nothing_there.split(':')[1]}" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_quickstart_against_a_server_elsewhere_shows_its_problem(tmp_path: Path) -> None:
    """A server started in another directory cannot read examples/: its 422 problem, naming
    the source, is what the reader sees, and nothing runs after it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with running_server(
        elsewhere, clean_env(), command=hatch_run_serve("--port", "{port}")
    ) as server:
        done, seconds = paste(at_server(quickstart().code, server), tmp_path)
        experiments = httpx.get(f"{server.base_url}/experiments", timeout=30).json()

    assert done.returncode != 0
    assert seconds < FAILURE_TIMEOUT
    assert '"status":422' in done.stderr.replace(" ", "")
    assert "examples/interviews.csv" in done.stderr
    assert "Traceback" not in done.stderr
    assert experiments["items"] == []


def test_the_evidence_examples_find_records(server: ServerProcess) -> None:
    """The filters the README shows (in curl and in Python) match records of examples/."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    (curl_filter,) = re.findall(r"/evidence\?participant=(\w+)&q=(\w+)", readme)
    (python_filter,) = re.findall(r'participant="(\w+)", q="(\w+)"', readme)
    client = PersonaClient(base_url=server.base_url)
    experiment = client.experiments.create(name="filters", data_sources=["examples/interviews.csv"])
    run = client.runs.wait(client.runs.start(experiment.id, provider="local"), timeout=120)

    for participant, words in (curl_filter, python_filter):
        found = list(
            client.runs.iter_evidence(experiment.id, run.id, participant=participant, q=words)
        )
        assert found, (participant, words)
        assert all(record.participant == participant for record in found)
        assert all(words in record.text.lower() for record in found)
