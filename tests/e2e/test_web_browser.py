"""The web interface in a real browser: Debian's headless Chromium driven by Playwright
against a real `persona serve`, cut off from every network but the server's.

A user's whole path (sign in, upload, run, persona, evidence, printable card, sign out),
every page checked with axe-core (tools/contract) for serious or critical accessibility
violations and photographed; and a source full of hostile markup, shown on every page
without anything in it running. Screenshots go to PERSONA_SCREENSHOTS_DIR when it is set,
else to the test's temporary folder (the test prints where).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browsers import BROWSER_REQUIRED, launched_chromium, unavailable
from tests.paths import EXAMPLE_INTERVIEWS, REPO_ROOT
from tests.servers import ServerProcess, clean_env, make_data_dir, running_server, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "web-token-0123456789"
AXE = REPO_ROOT / "tools" / "contract" / "node_modules" / "axe-core" / "axe.min.js"
# Read at import, like PERSONA_REQUIRE_BROWSER (tests/conftest.py clears PERSONA_*).
SCREENSHOTS_DIR = os.environ.get("PERSONA_SCREENSHOTS_DIR")
RUN_TIMEOUT_MS = 90_000
# Set on each page before its scripts run (an init script is not subject to the page's
# Content-Security-Policy): what the run's live cell showed, and whether a dialog opened.
WATCH_SCRIPT = """
window.__personaStates = [];
window.__personaDialogs = 0;
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = () => { window.__personaDialogs += 1; };
}
new MutationObserver(() => {
  for (const live of document.querySelectorAll(".live, #run-cell")) {
    const state = live.textContent.replace(/\\s+/g, " ").trim();
    const states = window.__personaStates;
    if (states[states.length - 1] !== state) states.push(state);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@dataclass
class Watch:
    """What the browser did: requests, console errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        if not AXE.exists():
            unavailable(
                "axe-core is missing: run `npm ci` in tools/contract", required=BROWSER_REQUIRED
            )
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = make_data_dir(tmp_path_factory.mktemp("web"))
    with running_server(data_dir, clean_env(), "--auth-token", TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture
def page(browser: Any, server: ServerProcess) -> Iterator[tuple[Any, Watch]]:
    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH_SCRIPT)
    opened = context.new_page()
    watch = Watch()
    opened.on("request", lambda request: watch.requests.append(request.url))
    opened.on(
        "console",
        lambda message: (
            watch.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    opened.on("pageerror", lambda error: watch.console_errors.append(str(error)))
    opened.on("dialog", lambda dialog: (watch.dialogs.append(dialog.message), dialog.dismiss()))
    yield opened, watch
    context.close()


def check_accessibility(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in json.loads(result)["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert violations == [], f"{name}: {violations}"


def visit(page: Any, screenshots: Path, name: str) -> None:
    """Check the page now shown and keep its picture."""
    page.wait_for_load_state("networkidle")
    check_accessibility(page, name)
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def sign_in(page: Any) -> None:
    page.goto("/")
    assert re.search(r"/signin\?next=", page.url)
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def assert_stayed_home(watch: Watch, server: ServerProcess) -> None:
    elsewhere = [url for url in watch.requests if not url.startswith(server.base_url + "/")]
    assert elsewhere == []


def test_a_user_signs_in_generates_and_reads_personas(
    page: tuple[Any, Watch], server: ServerProcess, screenshots: Path
) -> None:
    tab, watch = page
    tab.goto("/")
    visit(tab, screenshots, "sign-in")
    sign_in(tab)
    visit(tab, screenshots, "experiments-empty")

    tab.click("text=New experiment >> nth=0")
    tab.fill("#name", "Checkout research Q3")
    tab.set_input_files("#files", str(EXAMPLE_INTERVIEWS))
    tab.check("#provider-local")
    tab.fill("#persona_count", "3")
    visit(tab, screenshots, "new-experiment")
    tab.click("text=Create experiment")
    tab.wait_for_url(re.compile(r"/ui/experiments/exp-"))
    experiment_url = tab.url
    assert "interviews.csv" in tab.inner_text("#h-sources + table")

    tab.evaluate("window.__sameDocument = true")
    tab.click("text=Start a run")
    tab.wait_for_selector("#h-personas", timeout=RUN_TIMEOUT_MS)
    states = tab.evaluate("window.__personaStates")
    assert tab.evaluate("window.__sameDocument") is not True  # the POST loaded a new page
    tab.evaluate("window.__sameDocument = true")
    visit(tab, screenshots, "experiment")
    # The run's cell changed while the page stayed: from the stream, not a reload.
    assert len(states) >= 2 and states[-1].startswith("succeeded"), states
    assert any(s.startswith(("queued", "running")) for s in states), states

    tab.click(".persona-tile a >> nth=0")
    tab.wait_for_url(re.compile(r"/ui/personas/persona-"))
    persona_url = tab.url
    quote = tab.inner_text("#quotes-0 .line-text")
    tab.click("#quotes-0 summary")
    marked = tab.locator("#quotes-0 .record mark").first
    assert marked.is_visible()
    assert _words(marked.inner_text()) in _words(quote)
    visit(tab, screenshots, "persona")

    tab.click("text=Printable card")
    tab.wait_for_url(re.compile(r"/card$"))
    assert tab.locator("script").count() == 0
    assert tab.locator(".card-sources mark").count() >= 1
    visit(tab, screenshots, "printable-card")

    tab.goto(experiment_url)
    tab.click("text=Evidence >> nth=0")
    tab.wait_for_url(re.compile(r"/evidence$"))
    tab.fill("#text", quote[:20])
    tab.click("button:has-text('Filter')")
    tab.wait_for_url(re.compile(r"text="))
    assert tab.locator(".cited-by a").count() >= 1
    visit(tab, screenshots, "evidence")

    tab.goto("/")
    visit(tab, screenshots, "experiments")
    tab.click("text=Sign out")
    tab.wait_for_url(re.compile(r"/signin$"))
    tab.goto(persona_url)
    assert "/signin?next=" in tab.url  # refused: the session is gone
    api = tab.request.get("/experiments")
    assert api.status == 401  # and the interface's cookie never opened the API

    assert_stayed_home(watch, server)
    assert watch.console_errors == [] and watch.dialogs == []


HOSTILE_CSV = """participant,response
P1,"I typed <script>alert('p1')</script> into the tracker and the order numbers vanished again."
P2,"The export says <img src=x onerror=alert('p2')> where the customer name should be."
P3,"Support sent a link <a href=""javascript:alert('p3')"">click here</a>, the invoice page froze."
P4,"Our notes field shows <svg onload=alert('p4')></svg> after each sync, the sync takes an hour."
P5,"I paste \\"><script>alert('p5')</script> by accident and the tracker page stops working."
P6,"Too many notifications: forty alerts by ten o'clock and only three matter <b>at all</b>."
"""


def test_hostile_content_never_runs_on_any_page(
    page: tuple[Any, Watch], server: ServerProcess
) -> None:
    tab, watch = page
    created, run = generated(
        server, "<img src=x onerror=alert('name')> <script>alert('name')</script>", HOSTILE_CSV
    )
    sign_in(tab)
    pages = [
        "/",
        f"/ui/experiments/{created['id']}",
        *(f"/ui/personas/{persona['id']}" for persona in run["personas"]),
        *(f"/ui/personas/{persona['id']}/card" for persona in run["personas"]),
        f"/ui/experiments/{created['id']}/runs/{run['id']}/evidence",
    ]
    for path in pages:
        tab.goto(path)
        tab.wait_for_load_state("networkidle")
        for summary in tab.locator("details summary").all():
            summary.click()
        for link in tab.locator("a[href^='javascript']").all():
            raise AssertionError(f"{path}: a javascript: link {link.get_attribute('href')}")
        assert tab.evaluate("window.__personaDialogs") == 0, path
    evidence = tab.inner_text("main")
    assert "<script>alert('p1')</script>" in evidence  # shown, as text
    assert watch.dialogs == [] and watch.console_errors == []
    assert_stayed_home(watch, server)


def generated(server: ServerProcess, name: str, csv: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An experiment over ``csv`` and its succeeded run of the local provider, through the API."""
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as api:
        created = (
            api.post(
                "/experiments",
                json={
                    "name": name,
                    "data_sources": [{"name": "interviews.csv", "content": csv}],
                    "config": {"provider": "local", "persona_count": 2},
                },
            )
            .raise_for_status()
            .json()
        )
        started = api.post(f"/experiments/{created['id']}/generate").raise_for_status()
        return created, wait_for(api, started.headers["location"], {"succeeded"})


def test_pages_read_well_with_javascript_off(browser: Any, server: ServerProcess) -> None:
    created, _ = generated(server, "No script", EXAMPLE_INTERVIEWS.read_text(encoding="utf-8"))
    context = browser.new_context(base_url=server.base_url, java_script_enabled=False)
    tab = context.new_page()
    try:
        sign_in(tab)
        tab.click(f"a[href='/ui/experiments/{created['id']}']")
        tab.click(".persona-tile a >> nth=0")
        tab.click("#quotes-0 summary")
        assert tab.locator("#quotes-0 .record mark").first.is_visible()
        tab.click("text=All evidence of the run")
        assert tab.locator(".cited-by a").count() >= 1
    finally:
        context.close()


def _words(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()
