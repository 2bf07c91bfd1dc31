"""What PersonaClient adds on top of raw httpx: GET /experiments/{id}, same server, same run.

    python benchmarks/client_overhead.py                  # 20 rounds of 200 requests each
    python benchmarks/client_overhead.py --rounds 40 --requests 500

Starts `persona serve` (uvicorn, one worker) on a free loopback port with a temporary data
directory and a token, creates one experiment, then alternates rounds of
``PersonaClient.experiments.get(id)`` (request, status check, pydantic model) with rounds of
raw ``httpx.Client.get(url).json()`` (request, JSON decode), both keeping their connection
alive and sending the same token. Rounds alternate which goes first, so drift in the machine's
load falls on both. The ratio of median per-request times is the client's overhead (target
<= 1.15). For reference it also times module-level ``httpx.get`` (a new connection per
request). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from persona_client import APIConnectionError, PersonaClient

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "benchmark-token"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def persona_serve(data_dir: Path) -> Iterator[str]:
    """A real `persona serve` on loopback; yields its base URL and stops it on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    argv = [
        sys.executable, "-m", "persona.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(data_dir), "--auth-token", TOKEN, "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        argv, env=env, cwd=data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with PersonaClient(base_url=base_url, max_retries=0, timeout=2) as probe:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"server exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                probe.health()
                return
            except APIConnectionError:
                time.sleep(0.1)
    raise SystemExit("server did not start in time")


def per_request_times(call: Callable[[], object], requests: int) -> tuple[float, float]:
    """Mean wall seconds and mean CPU seconds of this process per call, over one round."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        call()
    return (time.perf_counter() - wall) / requests, (time.process_time() - cpu) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="requests per round")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        shutil.copy(ROOT / "examples" / "interviews.csv", data_dir / "interviews.csv")
        with persona_serve(data_dir) as base_url:
            run(base_url, args.rounds, args.requests, args.warmup)


def run(base_url: str, rounds: int, requests: int, warmup: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        PersonaClient(base_url=base_url, token=TOKEN) as client,
        httpx.Client(headers=headers) as raw,
    ):
        experiment = client.experiments.create(
            name="Checkout research Q3",
            data_sources=["./interviews.csv"],
            config={"provider": "local", "persona_count": 3},
        )
        url = f"{base_url}/experiments/{experiment.id}"

        def through_client() -> object:
            return client.experiments.get(experiment.id)

        def through_raw_httpx() -> object:
            response = raw.get(url)
            response.raise_for_status()
            return response.json()

        def through_httpx_get() -> object:
            return httpx.get(url, headers=headers).json()

        assert through_raw_httpx()["id"] == through_client().id  # type: ignore[index,attr-defined]
        for call in (through_client, through_raw_httpx):
            per_request_times(call, warmup)

        client_rounds: list[tuple[float, float]] = []
        raw_rounds: list[tuple[float, float]] = []
        for round_number in range(rounds):
            pair = [(through_client, client_rounds), (through_raw_httpx, raw_rounds)]
            for call, results in pair if round_number % 2 == 0 else reversed(pair):
                results.append(per_request_times(call, requests))
        fresh, _ = per_request_times(through_httpx_get, max(20, requests // 10))

    report(rounds, requests, client_rounds, raw_rounds, fresh)


def report(
    rounds: int,
    requests: int,
    client_rounds: list[tuple[float, float]],
    raw_rounds: list[tuple[float, float]],
    fresh: float,
) -> None:
    client_wall = statistics.median(wall for wall, _ in client_rounds)
    raw_wall = statistics.median(wall for wall, _ in raw_rounds)
    client_cpu = statistics.median(cpu for _, cpu in client_rounds)
    raw_cpu = statistics.median(cpu for _, cpu in raw_rounds)
    ratios = [c[0] / r[0] for c, r in zip(client_rounds, raw_rounds, strict=True)]
    quartiles = statistics.quantiles(ratios)
    print(f"GET /experiments/{{id}} on one uvicorn worker: {rounds} rounds x {requests} requests")
    print("                                  wall µs/request   client CPU µs/request")
    print(f"  PersonaClient.experiments.get   {client_wall * 1e6:15.1f}   {client_cpu * 1e6:21.1f}")
    print(f"  httpx.Client.get + .json()      {raw_wall * 1e6:15.1f}   {raw_cpu * 1e6:21.1f}")
    print(f"  httpx.get (new connection)      {fresh * 1e6:15.1f}")
    print(f"  ratio client / raw httpx, wall: {client_wall / raw_wall:.3f} (target <= 1.15)")
    print(f"    per-round quartiles: {quartiles[0]:.3f} / {quartiles[1]:.3f} / {quartiles[2]:.3f}")
    print(f"  ratio client / raw httpx, client CPU: {client_cpu / raw_cpu:.3f}")


if __name__ == "__main__":
    main()
