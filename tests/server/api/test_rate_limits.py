"""Rate limits: per key, per run start, per address for failed attempts; shared by replicas."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem
from .test_keys import ADMIN, bearer, create_key

POLICY = re.compile(r'^"([a-z-]+)";q=(\d+);w=(\d+)$')
STATE = re.compile(r'^"([a-z-]+)";r=(\d+);t=(\d+)$')


def assert_limited(response: httpx.Response, policy: str, quota: int, window: int) -> None:
    body = assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    assert POLICY.match(response.headers["ratelimit-policy"]).groups() == (  # type: ignore[union-attr]
        policy,
        str(quota),
        str(window),
    )
    name, remaining, reset = STATE.match(response.headers["ratelimit"]).groups()  # type: ignore[union-attr]
    assert (name, remaining, int(reset)) == (policy, "0", retry_after)
    assert f"{quota} ({policy}) per {window} s" in body["detail"]


async def test_a_key_over_its_request_rate_gets_429_with_retry_after(
    make_client: ClientFactory,
) -> None:
    client = await make_client(api_token=TOKEN, rate_limit_requests=3)
    key = bearer((await create_key(client, "read"))["secret"])

    answers = [await client.get("/experiments", headers=key) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [STATE.match(a.headers["ratelimit"]).group(2) for a in answers[:3]] == ["2", "1", "0"]  # type: ignore[union-attr]
    assert_limited(answers[3], "requests", 3, 60)
    # Another key, and the bootstrap token, have limits of their own.
    other = bearer((await create_key(client, "read"))["secret"])
    assert (await client.get("/experiments", headers=other)).status_code == 200
    assert (await client.get("/experiments", headers=ADMIN)).status_code == 200


async def test_run_starts_have_a_limit_of_their_own(make_client: ClientFactory) -> None:
    client = await make_client(api_token=TOKEN, rate_limit_run_starts=2)
    key = bearer((await create_key(client, "write"))["secret"])
    experiment = (await client.post("/experiments", json=LOCAL_BODY, headers=key)).json()
    generate = f"/experiments/{experiment['id']}/generate"

    started = [await client.post(generate, headers=key) for _ in range(3)]
    reads = await client.get("/experiments", headers=key)

    assert [s.status_code for s in started] == [202, 202, 429]
    assert_limited(started[2], "run-starts", 2, 3600)
    assert reads.status_code == 200


async def test_a_thousand_wrong_keys_from_one_address_get_401_then_429(
    make_client: ClientFactory,
) -> None:
    client = await make_client(api_token=TOKEN)
    right = bearer((await create_key(client, "read"))["secret"])

    statuses = [
        (
            await client.get("/experiments", headers=bearer(f"psk_wrong{n:04d}" + "x" * 30))
        ).status_code
        for n in range(1000)
    ]
    after = await client.get("/experiments", headers=right)
    bootstrap = await client.get("/experiments", headers=ADMIN)

    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    # Past its failures, the address is refused even a right key (or the bootstrap token,
    # which people choose) until the window ends: nothing can be guessed faster.
    assert_limited(after, "auth-failures", 20, 60)
    assert_limited(bootstrap, "auth-failures", 20, 60)


async def test_limits_are_shared_by_every_replica_on_the_database(
    make_client: ClientFactory,
) -> None:
    first = await make_client(api_token=TOKEN, rate_limit_requests=4)
    second = await make_client(api_token=TOKEN, rate_limit_requests=4)
    key = bearer((await create_key(first, "read"))["secret"])

    statuses = [
        (await replica.get("/experiments", headers=key)).status_code
        for replica in (first, second, first, second, first, second)
    ]

    assert statuses == [200, 200, 200, 200, 429, 429]


@pytest.mark.parametrize("setting", ["rate_limit_requests", "rate_limit_auth_failures"])
async def test_a_limit_of_zero_is_no_limit(make_client: ClientFactory, setting: str) -> None:
    client = await make_client(api_token=TOKEN, **{setting: 0})
    key = bearer((await create_key(client, "read"))["secret"])
    wrong = bearer("psk_" + "w" * 40)
    checked = key if setting == "rate_limit_requests" else wrong

    statuses = {(await client.get("/experiments", headers=checked)).status_code for _ in range(25)}

    assert statuses == ({200} if checked is key else {401})
