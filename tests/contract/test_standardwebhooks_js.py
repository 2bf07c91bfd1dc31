"""Deliveries from a real `persona serve`, verified by the Standard Webhooks reference library
in JavaScript (npm ``standardwebhooks``, pinned in tools/contract): a receiver the project
did not write accepts every delivery, with the current secret and, after rotations, with each
secret still in its grace period, and refuses a tampered one."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.receiver import Delivery, WebhookReceiver
from tests.servers import clean_env, make_data_dir, running_server, wait_for

from .conftest import NODE_TOOLS, NPM_CI_HINT, missing, run_tool

pytestmark = pytest.mark.e2e

TOKEN = "webhook-js-token-0123456789"
VERIFY_SCRIPT = """
const fs = require("fs");
const { Webhook } = require("standardwebhooks");
const { secrets, deliveries } = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const results = deliveries.map(({ body, headers }) => secrets.map((secret) => {
  try {
    return new Webhook(secret).verify(Buffer.from(body, "base64"), headers).type;
  } catch (error) {
    return `refused: ${error.message}`;
  }
}));
process.stdout.write(JSON.stringify(results));
"""


def _verify_in_node(tmp_path: Path, secrets: list[str], deliveries: list[Delivery]) -> Any:
    """For each delivery, what the JavaScript library says with each secret: the event's
    type, or why it refused it."""
    if shutil.which("node") is None:
        missing(f"node is not installed: install Node.js >= 20.19, then {NPM_CI_HINT}")
    if not (NODE_TOOLS / "node_modules" / "standardwebhooks").is_dir():
        missing(f"the standardwebhooks npm package is not installed: {NPM_CI_HINT}")
    given = tmp_path / "deliveries.json"
    sent = [{"body": base64.b64encode(d.body).decode(), "headers": d.headers} for d in deliveries]
    given.write_text(json.dumps({"secrets": secrets, "deliveries": sent}), encoding="utf-8")
    script = tmp_path / "verify.js"
    script.write_text(VERIFY_SCRIPT, encoding="utf-8")
    done = run_tool(
        ["node", script, given], cwd=NODE_TOOLS, NODE_PATH=str(NODE_TOOLS / "node_modules")
    )
    return json.loads(done.stdout)


def test_the_javascript_reference_library_verifies_real_deliveries(tmp_path: Path) -> None:
    data_dir = make_data_dir(tmp_path)
    env = clean_env(PERSONA_WEBHOOK_ALLOW_PRIVATE="true")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        WebhookReceiver() as receiver,
        running_server(data_dir, env, "--auth-token", TOKEN) as server,
        httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api,
    ):
        created = api.post("/webhooks", json={"url": receiver.url, "events": ["*"]})
        assert created.status_code == 201, created.text
        hook = created.json()
        assert created.headers["location"] == f"/webhooks/{hook['id']}"
        second = api.post(f"/webhooks/{hook['id']}/rotate-secret").json()["secret"]
        third = api.post(f"/webhooks/{hook['id']}/rotate-secret").json()["secret"]
        body = {"name": "js", "data_sources": ["small.csv"], "config": {"provider": "local"}}
        experiment = api.post("/experiments", json=body).json()
        location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
        wait_for(api, location, {"succeeded"})
        count = len(api.get(f"{location}/events", params={"limit": 200}).json()["items"])
        deliveries = receiver.wait_for(count)

    tampered = Delivery(deliveries[0].headers, deliveries[0].body.replace(b"run.", b"run_"), 200)
    results = _verify_in_node(
        tmp_path, [hook["secret"], second, third, "whsec_" + "A" * 32], [*deliveries, tampered]
    )

    *verified, refused = results
    for delivery, by_secret in zip(deliveries, verified, strict=True):
        kind = json.loads(delivery.body)["type"]
        assert by_secret[:3] == [kind, kind, kind]
        assert by_secret[3].startswith("refused"), "a secret never issued verifies nothing"
    assert {json.loads(d.body)["type"] for d in deliveries} >= {"run.queued", "run.succeeded"}
    assert all(result.startswith("refused") for result in refused)
