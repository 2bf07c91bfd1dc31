"""Loopback ports for the servers and PostgreSQL clusters the tests start.

Under pytest-xdist several workers start servers at once. A port the kernel picked for
``bind(0)`` is free only until it is closed: another worker asking at that moment may be
handed the same one. So each worker takes its ports from its own slice of the range below
the kernel's ephemeral ports (which ``bind(0)`` and outgoing connections use), at a random
place in the slice, skipping any that something else listens on. Workers never share a port,
and a port is never one the kernel hands out.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

LOWEST = 10_000
"""Below this are well-known and registered services (PostgreSQL's 5432, 8000, 8080…)."""
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_START = 32_768
"""Linux's default; BSD and macOS start at 49152, above it."""
SLICES = 16
"""Workers sharing the range: more than any machine's cores that run these tests."""


def _ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def _worker_number() -> int:
    """0 for ``gw0`` (and without xdist), 1 for ``gw1``, …"""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0) % SLICES


def worker_slice() -> range:
    """The ports this test process may use."""
    size = (_ephemeral_start() - LOWEST) // SLICES
    start = LOWEST + _worker_number() * size
    return range(start, start + size)


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port of this worker's slice that nothing listens on now."""
    ports = worker_slice()
    for _ in range(len(ports)):
        port = random.choice(ports)
        if _is_free(port):
            return port
    raise RuntimeError(f"no free loopback port in {ports.start}-{ports.stop - 1}")
