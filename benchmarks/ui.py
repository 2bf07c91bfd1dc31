"""The web interface's server time and page weight, on one uvicorn worker while runs execute.

Starts `persona serve` (one worker, SQLite, a token) on a data directory holding a CSV of
10,000 interview answers. A run of the offline `local` provider reads all of them; a run
of the `openai` provider, answered by a loopback fake model in this process, makes a
persona of 50 lines each citing another record. While runs of the first experiment keep
executing in the background, it times, one request after another over a kept-alive
connection from this process:

- the persona page (``/ui/personas/{id}``) of the persona citing 50 records, each listed
  with its quoted words marked;
- the first page of the local run's evidence
  (``/ui/experiments/{id}/runs/{run}/evidence``), 50 of its 10,000 records, each with the
  persona lines citing it.

Prints p50 and p99 in ms of each (targets: p99 <= 50 ms), the bytes of the persona page's
HTML plus every asset it loads on a first visit (target <= 150 KB uncompressed), and what a
second visit loads (target: the HTML only: the assets are immutable, content-hashed URLs).
Times are measured from the client on loopback, so they include the HTTP round trip: an
upper bound on the server's time. Measures only; asserts nothing.

2026-12-07, 300 requests each, on 2 cores with nothing else running (load average under
1). Idle: the persona page p50 4.7 ms, p99 8.0 ms; the evidence page p50 5.1 ms, p99
8.0 ms (the same records as JSON from the API: p50 2.4 ms, p99 3.4 ms). With runs of the
10,000 records executing one after another (a `local` synthesis in a thread of the server,
the sources being under ``local_subprocess_min_bytes``): the persona page p50 13.2 ms, p99
21.2 ms; the evidence page p50 27.0 ms, p99 43.6 ms; the JSON evidence p50 17.3 ms, p99
27.9 ms. Before the server shortened its switch interval (``hand_the_lock_back_sooner``,
0.5 ms instead of Python's 5 ms), the same measure gave the persona page p99 140.1 ms, the
evidence page p99 359.4 ms and the JSON evidence p99 259.9 ms (1 ms: 30.0, 49.9 and
39.6 ms): every wake-up of a request waited for the synthesis thread to hand the
interpreter lock over. The price is the runs' share of the processor while requests keep
coming: 4 runs finished during the measuring instead of 15 in a window about half as long.
The persona page weighs 57.8 KB of HTML and 64.7 KB of assets on a first visit
(122.5 KB), 57.8 KB on the next. Before the cited records were cached
(``persona.generation.cited_cache``) the persona page took p50 44.5 ms idle: reading the
cited records and locating each quote's words in them was most of a card's time, about 13 ms
of 17 for a persona citing 50 records of a run that read 10,000; asset URLs are
hashed once per process and templates are not checked for changes on every render (both
showed in a profile).

    python benchmarks/ui.py [--requests 300] [--records 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _processes import child_process, free_port, healthy, wait_for

from tests.fakes.openai_server import (
    Content,
    FakeOpenAIServer,
    Reply,
    _items,
    write_reply,
)

TOKEN = "ui-benchmark-token"
TOPICS = [
    "copying order numbers from the inbox into the tracker every morning",
    "forty notifications by ten o'clock and only three of them matter",
    "spreadsheet macros nobody else can maintain while I am away",
    "the same delay email forwarded three times by warehouse and support",
    "a dashboard showing late shipments before customers call us",
    "onboarding a teammate takes two weeks because the process lives in my head",
    "paying for a whole team plan when I am the only user",
    "chasing late invoices is the most frustrating part of my week",
]


def write_interviews(path: Path, records: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant", "segment", "response"])
        for number in range(records):
            topic = TOPICS[number % len(TOPICS)]
            writer.writerow(
                [
                    f"P{number % 400:03d}",
                    ["Operations", "Freelancer", "Enterprise IT"][number % 3],
                    f"Answer {number}: honestly the worst part is {topic}, "
                    f"and it happened again on day {number % 31 + 1}.",
                ]
            )


def persona_citing_50(body: dict) -> Reply:
    """The fake model's persona: 10 goals, 10 pain points, 10 behaviours and 20 quotes,
    each citing another of the first 50 records of the prompt, quoting its first words.
    The notes that condense the evidence first are the fake's usual ones."""
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema", {})
    if "personas" not in schema.get("properties", {}):
        return Content(write_reply(body))
    prompt = "\n".join(str(message.get("content", "")) for message in body["messages"])
    items = _items(prompt)[:50]
    lines = [
        {"text": " ".join(item.text.split()[:9]), "evidence_ids": [item.quote_id]} for item in items
    ]
    persona = {
        "name": "Dana Okafor",
        "title": "Operations lead",
        "demographics": {"segment": "Operations"},
        "goals": lines[:10],
        "pain_points": lines[10:20],
        "behaviours": lines[20:30],
        "quotes": lines[30:50],
        "evidence_ids": [item.quote_id for item in items],
    }
    return Content(json.dumps({"personas": [persona]}))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(client: httpx.Client, url: str, requests: int) -> list[float]:
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return samples


def keep_runs_executing(client: httpx.Client, experiment: str, stop: threading.Event) -> int:
    """Start a run whenever none is active, until ``stop``; how many were started."""
    started = 0
    while not stop.is_set():
        active = client.get(f"/experiments/{experiment}/runs", params={"limit": 5}).json()
        if not any(run["status"] in {"queued", "running"} for run in active["items"]):
            client.post(f"/experiments/{experiment}/generate").raise_for_status()
            started += 1
        stop.wait(0.2)
    return started


def wait_run(client: httpx.Client, location: str) -> dict:
    while True:
        run = client.get(location).json()
        if run["status"] not in {"queued", "running"}:
            if run["status"] != "succeeded":
                raise SystemExit(f"run {run['status']}: {run['error']}")
            return run
        time.sleep(0.2)


def create(api: httpx.Client, provider: str, count: int) -> str:
    body = {
        "name": f"UI benchmark, {provider}",
        "data_sources": ["interviews.csv"],
        "config": {"provider": provider, "persona_count": count},
    }
    return str(api.post("/experiments", json=body).raise_for_status().json()["id"])


def page_weight(client: httpx.Client, url: str) -> tuple[int, int, int]:
    """(HTML bytes, asset bytes on a first visit, bytes of a second visit)."""
    html = client.get(url).content
    assets = re.findall(rb'(?:src|href)="(/assets/[^"]+)"', html)
    asset_bytes = 0
    cached = True
    for asset in assets:
        response = client.get(asset.decode())
        asset_bytes += len(response.content)
        cached &= "immutable" in response.headers.get("cache-control", "")
    return len(html), asset_bytes, len(html) if cached else len(html) + asset_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        data_dir = Path(temp)
        write_interviews(data_dir / "interviews.csv", args.records)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        fake = FakeOpenAIServer(default=persona_citing_50).start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
        env |= {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "fake"}
        argv = [
            sys.executable, "-m", "persona.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--data-dir", str(data_dir), "--workers", "1",
            "--auth-token", TOKEN, "--log-level", "warning",
        ]  # fmt: skip
        with child_process(argv, env, data_dir / "server.log") as server:
            wait_for(lambda: healthy(base_url), "healthy", [server])
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=120) as api:
                local = create(api, "local", 5)
                run = wait_run(api, api.post(f"/experiments/{local}/generate").headers["location"])
                llm = create(api, "openai", 1)
                cited = wait_run(api, api.post(f"/experiments/{llm}/generate").headers["location"])
                persona_id = cited["personas"][0]["id"]
                experiment = local
                with httpx.Client(base_url=base_url, timeout=60) as browser:
                    signed = browser.post(
                        "/signin", data={"token": TOKEN}, headers={"Origin": base_url}
                    )
                    assert browser.cookies, signed.text
                    persona_url = f"/ui/personas/{persona_id}"
                    evidence_url = f"/ui/experiments/{experiment}/runs/{run['id']}/evidence"
                    urls = {
                        "persona page": persona_url,
                        "evidence page": evidence_url,
                        # The same records from the JSON API, for comparison.
                        "evidence JSON": f"/experiments/{experiment}/runs/{run['id']}/evidence",
                    }
                    browser.headers["Authorization"] = f"Bearer {TOKEN}"  # for the JSON API
                    for url in urls.values():
                        timed(browser, url, 20)  # warm up
                    idle = {name: timed(browser, url, args.requests) for name, url in urls.items()}
                    stop = threading.Event()
                    started_runs: list[int] = []
                    background = threading.Thread(
                        target=lambda: started_runs.append(
                            keep_runs_executing(api, experiment, stop)
                        )
                    )
                    background.start()
                    try:
                        busy = {
                            name: timed(browser, url, args.requests) for name, url in urls.items()
                        }
                    finally:
                        stop.set()
                        background.join()
                    html, assets, second = page_weight(browser, persona_url)
        fake.stop()
    print(f"{args.records:,} records; a persona citing 50 of them; evidence: the first page of 50")
    for label, samples in (("idle", idle), (f"{started_runs[0]} runs executing", busy)):
        for name, times in samples.items():
            p50, p99 = percentiles(times)
            print(f"{name}, {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"persona page first visit: {html / 1024:.1f} KB HTML + {assets / 1024:.1f} KB assets "
        f"= {(html + assets) / 1024:.1f} KB; second visit: {second / 1024:.1f} KB"
    )


if __name__ == "__main__":
    main()
