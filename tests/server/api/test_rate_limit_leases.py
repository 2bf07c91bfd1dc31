"""Request numbers reserved in blocks from one shared counter: never more than the limit in
all, whatever the number of processes."""

from __future__ import annotations

import asyncio

import pytest
from persona.access.limits import LEASE_SHARE, CounterLeases, RatePolicy, state_of


class SharedCounter:
    """The database's counter rows, as every process sees them."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.writes = 0

    async def reserve(self, subject: str, window_start: int, amount: int) -> int:
        await asyncio.sleep(0)
        self.writes += 1
        key = (subject, window_start)
        self.counts[key] = self.counts.get(key, 0) + amount
        return self.counts[key]


@pytest.mark.parametrize(("limit", "processes"), [(4, 2), (49, 3), (600, 4), (1000, 7)])
async def test_processes_together_never_let_more_than_the_limit_through(
    limit: int, processes: int
) -> None:
    counter = SharedCounter()
    replicas = [CounterLeases(counter.reserve) for _ in range(processes)]
    policy = RatePolicy("requests", limit, 60)

    numbers = [await replicas[n % processes].take(policy, "key-a", 120.0) for n in range(limit * 2)]
    allowed = [number for number in numbers if number <= limit]

    assert len(allowed) == len(set(allowed))  # no number handed out twice
    assert len(allowed) <= limit
    # What the reservations cost: one write per request below 50, far fewer above.
    block = max(1, limit // LEASE_SHARE)
    assert len(allowed) >= limit - (processes - 1) * block
    assert counter.writes <= len(numbers) // block + processes


async def test_a_new_window_starts_from_one_and_subjects_count_apart() -> None:
    counter = SharedCounter()
    leases = CounterLeases(counter.reserve)
    policy = RatePolicy("requests", 3, 60)

    first = [await leases.take(policy, "key-a", 10.0) for _ in range(4)]
    other = await leases.take(policy, "key-b", 10.0)
    later = await leases.take(policy, "key-a", 61.0)

    assert (first, other, later) == ([1, 2, 3, 4], 1, 1)
    assert state_of(policy, first[-1], 10.0).exceeded
    assert state_of(policy, first[-1], 10.0).reset_seconds == 50


async def test_requests_arriving_together_share_one_reservation() -> None:
    counter = SharedCounter()
    leases = CounterLeases(counter.reserve)
    policy = RatePolicy("requests", 600, 60)

    numbers = await asyncio.gather(*(leases.take(policy, "key-a", 5.0) for _ in range(100)))

    assert sorted(numbers) == list(range(1, 101))
    assert counter.writes == 9  # blocks of 12: not one block per request
