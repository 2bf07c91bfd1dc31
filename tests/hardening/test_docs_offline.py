"""The API docs render offline: /docs (Swagger UI) and /redoc (ReDoc) in Debian's headless
Chromium, which can reach the loopback server and nothing else, list every operation of the
server's own spec, and the pages ask for nothing outside the server.

Chromium is started by the test with no route off the machine: every host name fails to
resolve (``--host-resolver-rules``) and every non-loopback address goes to a dead proxy.
The operations are rendered by the pages' JavaScript: the HTML the server sends names none.

The tests never install the browser: .ci/run does that in CI. A missing browser skips
them, saying how to run them, unless PERSONA_REQUIRE_BROWSER=1 (set by .ci/run) makes it a
failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browsers import (
    BROWSER_REQUIRED,
    CHROMIUM,
    OFFLINE_ARGS,
    REQUIRE_BROWSER,
    find_chromium,
)
from tests.servers import ServerProcess, clean_env, make_data_dir, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RENDER_TIMEOUT = 120.0
"""Wall-clock seconds one headless page load may take before Chromium is killed."""
VIRTUAL_TIME_BUDGET_MS = 10_000
TOKEN = "docs-token-0123456789"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

Operation = tuple[str, str, str]
"""(METHOD, path, operationId)"""


@dataclass
class Rendered:
    """What Chromium made of a page: the DOM after the scripts ran and the requests made."""

    dom: str
    requests: list[dict[str, Any]]
    stderr: str

    def urls_initiated_by(self, origin: str) -> list[str]:
        """URLs of the requests the page itself made (scripts, styles, fetches, fonts)."""
        return [r["url"] for r in self.requests if r.get("initiator") == origin]


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium; see the module's docstring for when it is missing."""
    return find_chromium(CHROMIUM, required=BROWSER_REQUIRED)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`persona serve` with a token: the API is protected, its docs and spec are public."""
    data_dir = make_data_dir(tmp_path_factory.mktemp("docs"))
    with running_server(data_dir, clean_env(), "--auth-token", TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def spec_operations(server: ServerProcess) -> set[Operation]:
    spec = httpx.get(f"{server.base_url}/openapi.json", timeout=30).raise_for_status().json()
    # The webhook deliveries are documented operations too, named by event type.
    operations = {
        (method.upper(), path, operation["operationId"])
        for path, item in [*spec["paths"].items(), *spec["webhooks"].items()]
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    assert len(operations) >= 10, spec["paths"]
    return operations


def render(chromium: Path, url: str, profile: Path) -> Rendered:
    """Load ``url`` in headless Chromium cut off from the network; the DOM once it settled."""
    net_log = profile.parent / f"{profile.name}-netlog.json"
    argv = [
        str(chromium),
        *OFFLINE_ARGS,
        f"--user-data-dir={profile}",
        f"--log-net-log={net_log}",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        "--dump-dom",
        url,
    ]  # fmt: skip
    # Its own session, so that a hung browser is killed with all of its child processes.
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=clean_env(HOME=str(profile.parent)),
    )
    try:
        stdout, stderr = process.communicate(timeout=RENDER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish loading {url} within {RENDER_TIMEOUT}s")
    errors = stderr.decode(errors="replace")
    assert process.returncode == 0, f"Chromium exited with {process.returncode}:\n{errors}"
    return Rendered(stdout.decode(errors="replace"), url_requests(net_log), errors)


def url_requests(net_log: Path) -> list[dict[str, Any]]:
    """The parameters (url, initiator, method) of every request in a Chromium net log."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]
        for event in log["events"]
        if event["type"] == start_job and "url" in event.get("params", {})
    ]


class RenderedOperations(HTMLParser):
    """Collects one record per operation block of a rendered page (method, path, id)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []
        self._capturing: str | None = None

    def handle_data(self, data: str) -> None:
        if self._capturing:
            current = self.found[-1]
            current[self._capturing] = current.get(self._capturing, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._capturing = None

    def operations(self) -> set[Operation]:
        return {
            (op.get("method", "").upper(), op.get("path", ""), op.get("operation_id", ""))
            for op in self.found
        }


class SwaggerOperations(RenderedOperations):
    """Swagger UI: one ``div.opblock`` per operation, with method, path and operationId."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div" and "opblock" in classes:
            self.found.append({})
        elif self.found and tag == "span":
            if "opblock-summary-path" in classes:
                self.found[-1]["path"] = attributes.get("data-path") or ""
            elif "opblock-summary-method" in classes:
                self._capturing = "method"
            elif "opblock-summary-operation-id" in classes:
                self._capturing = "operation_id"


class RedocOperations(RenderedOperations):
    """ReDoc: a section ``operation/<id>`` per operation, whose first HTTP verb badge is
    followed by the operation's path."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        section = attributes.get("data-section-id") or ""
        if section.startswith("operation/"):
            self.found.append({"operation_id": section.removeprefix("operation/")})
        elif self.found and tag == "span":
            current = self.found[-1]
            if "http-verb" in (attributes.get("class") or "").split() and "method" not in current:
                self._capturing = "method"
            elif "method" in current and "path" not in current:
                self._capturing = "path"


def parsed(parser: SwaggerOperations | RedocOperations, dom: str) -> set[Operation]:
    parser.feed(dom)
    parser.close()
    return parser.operations()


def assert_only_local_requests(rendered: Rendered, server: ServerProcess) -> None:
    """The page fetched the spec from the server and asked no other host for anything."""
    urls = rendered.urls_initiated_by(server.base_url)
    assert f"{server.base_url}/openapi.json" in urls, (urls, rendered.stderr)
    elsewhere = [url for url in urls if not url.startswith(f"{server.base_url}/")]
    assert elsewhere == [], elsewhere


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_served_html_names_no_operation(
    server: ServerProcess, spec_operations: set[Operation], page: str
) -> None:
    """Whatever the browser shows of the operations, its scripts rendered it."""
    html = httpx.get(f"{server.base_url}{page}", timeout=30).raise_for_status().text

    assert "/openapi.json" in html
    assert [op_id for _, _, op_id in spec_operations if op_id in html] == []
    assert [path for _, path, _ in spec_operations if path in html] == []


def test_swagger_ui_renders_every_operation_offline(
    chromium: Path, server: ServerProcess, spec_operations: set[Operation], tmp_path: Path
) -> None:
    rendered = render(chromium, f"{server.base_url}/docs", tmp_path / "profile")

    assert parsed(SwaggerOperations(), rendered.dom) == spec_operations, rendered.stderr
    assert_only_local_requests(rendered, server)


def test_redoc_renders_every_operation_offline(
    chromium: Path, server: ServerProcess, spec_operations: set[Operation], tmp_path: Path
) -> None:
    rendered = render(chromium, f"{server.base_url}/redoc", tmp_path / "profile")
    # ReDoc shows a webhook delivery without method and path: it is named by its event type.
    expected = {
        ("", "", op_id) if path.startswith("run.") else (method, path, op_id)
        for method, path, op_id in spec_operations
    }

    assert parsed(RedocOperations(), rendered.dom) == expected, rendered.stderr
    assert_only_local_requests(rendered, server)


def test_the_browser_reaches_nothing_by_name(
    chromium: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """The isolation is in force: the same server by a host name (localhost) is unreachable."""
    by_name = server.base_url.replace("127.0.0.1", "localhost")

    rendered = render(chromium, f"{by_name}/docs", tmp_path / "profile")

    assert "swagger-ui" not in rendered.dom
    # Older Chromium logs the error; newer shows it on its error page only.
    assert "ERR_NAME_NOT_RESOLVED" in rendered.stderr + rendered.dom


# ---------------------------------------------------------------------- without a browser


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What the test would run is recorded, not run: a missing browser must not lead to an
    installation, even as root."""
    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **_: ran.append(argv))
    monkeypatch.setattr(subprocess, "Popen", lambda argv, **_: ran.append(argv))
    return ran


def test_a_missing_browser_is_a_skip_that_says_how_to_run_the_tests(
    tmp_path: Path, nothing_runs: list[list[str]]
) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        find_chromium(tmp_path / "chromium", required=False)

    assert "apt-get install -y chromium" in str(skipped.value)
    assert f"{REQUIRE_BROWSER}=1" in str(skipped.value)
    assert nothing_runs == []


def test_a_missing_browser_fails_when_it_is_required(
    tmp_path: Path, nothing_runs: list[list[str]]
) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        find_chromium(tmp_path / "chromium", required=True)

    assert f"{tmp_path / 'chromium'} is missing" in str(failed.value)
    assert nothing_runs == []


def test_ci_requires_the_browser_and_runs_the_readme_test_command() -> None:
    """So that CI never skips the browser tests silently."""
    script = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    lines = [line.strip() for line in script.splitlines()]

    test_command = next(line for line in lines if line.endswith(".venv/bin/hatch test"))

    assert "set -euo pipefail" in lines
    assert f"export {REQUIRE_BROWSER}=1" in lines
    assert lines.index(f"export {REQUIRE_BROWSER}=1") < lines.index(test_command)
    assert test_command in (Path(__file__).parents[2] / "README.md").read_text().splitlines()
