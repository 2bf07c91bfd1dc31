"""The web interface's sign-in, its cookie's reach, CSRF checks, headers and escaping."""

from __future__ import annotations

import re
import time
from typing import Any
from unittest import mock

import httpx
import pytest
from persona.web.pages import signing

from ._web_cases import ORIGIN, SAME_ORIGIN, finished_local_run, post_form
from .conftest import TOKEN, ClientFactory, create_local


@pytest.fixture
async def guarded(make_client: ClientFactory) -> httpx.AsyncClient:
    """A server with a token, and a browser-like client that has not signed in."""
    return await make_client(api_token=TOKEN)


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    return await post_form(client, "/signin", data={"token": token, "next": "/"})


async def test_pages_redirect_to_the_sign_in_form_until_signed_in(
    guarded: httpx.AsyncClient,
) -> None:
    page = await guarded.get("/ui/experiments/new?x=1")

    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=/ui/experiments/new%3Fx%3D1"
    form = await guarded.get(page.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text
    assert 'value="/ui/experiments/new?x=1"' in form.text


async def test_a_wrong_token_is_refused_and_sets_no_cookie(guarded: httpx.AsyncClient) -> None:
    response = await sign_in(guarded, "not-the-token")

    assert response.status_code == 401
    assert "not accepted" in response.text
    assert "set-cookie" not in response.headers
    assert (await guarded.get("/")).status_code == 303


async def test_signing_in_sets_a_strict_http_only_cookie_with_an_expiry(
    guarded: httpx.AsyncClient,
) -> None:
    response = await sign_in(guarded)

    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{signing.COOKIE_NAME}=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    assert TOKEN not in cookie
    assert (await guarded.get("/")).status_code == 200


async def test_the_cookie_is_secure_behind_https(make_client: ClientFactory) -> None:
    client = await make_client(api_token=TOKEN)
    client.base_url = httpx.URL("https://testserver")

    response = await sign_in(client)

    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


async def test_the_cookie_never_authorises_the_json_api(guarded: httpx.AsyncClient) -> None:
    await sign_in(guarded)
    assert (await guarded.get("/")).status_code == 200

    for method, path in [("GET", "/experiments"), ("POST", "/experiments")]:
        response = await guarded.request(method, path, json={}, headers=SAME_ORIGIN)
        assert response.status_code == 401, (method, path)
    assert (
        await guarded.get("/experiments", headers={"Authorization": f"Bearer {TOKEN}"})
    ).status_code == 200


async def test_a_tampered_or_expired_cookie_is_refused(guarded: httpx.AsyncClient) -> None:
    await sign_in(guarded)
    value = guarded.cookies[signing.COOKIE_NAME]

    guarded.cookies.set(signing.COOKIE_NAME, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert (await guarded.get("/")).status_code == 303

    guarded.cookies.set(signing.COOKIE_NAME, value)
    later = time.time() + signing.SESSION_SECONDS + 5
    with mock.patch("itsdangerous.timed.time.time", return_value=later):
        assert (await guarded.get("/")).status_code == 303
    assert (await guarded.get("/")).status_code == 200


async def test_a_cookie_signed_for_other_tokens_is_refused(
    make_client: ClientFactory, guarded: httpx.AsyncClient
) -> None:
    await sign_in(guarded)
    other = await make_client(api_token="another-token-entirely")
    other.cookies.set(signing.COOKIE_NAME, guarded.cookies[signing.COOKIE_NAME])

    assert (await other.get("/")).status_code == 303


async def test_signing_out_ends_the_session(guarded: httpx.AsyncClient) -> None:
    await sign_in(guarded)

    response = await post_form(guarded, "/signout")

    assert response.status_code == 303 and response.headers["location"] == "/signin"
    assert "max-age=0" in response.headers["set-cookie"].lower()
    assert (await guarded.get("/")).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
async def test_sign_in_never_redirects_off_the_server(
    guarded: httpx.AsyncClient, target: str
) -> None:
    response = await post_form(guarded, "/signin", data={"token": TOKEN, "next": target})

    assert response.status_code == 303 and response.headers["location"] == "/"


CROSS_SITE: dict[str, dict[str, str]] = {
    "no origin or referer": {},
    "another origin": {"Origin": "https://evil.example"},
    "a look-alike host": {"Origin": "http://testserver.evil.example"},
    "an opaque origin": {"Origin": "null"},
    "another referer": {"Referer": "https://evil.example/page"},
    "cross-site fetch": {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"},
}


@pytest.mark.parametrize("case", list(CROSS_SITE))
async def test_every_form_refuses_a_request_from_another_site(
    client: httpx.AsyncClient, case: str
) -> None:
    experiment = await create_local(client)
    base = f"/ui/experiments/{experiment['id']}"
    forms: list[tuple[str, dict[str, Any]]] = [
        ("/ui/experiments", {"data": {"name": "x", "pasted": "P1: hello there"}}),
        (f"{base}/runs", {}),
        (f"{base}/runs/run-x/cancel", {}),
        (f"{base}/sources/delete", {"data": {"source": experiment["data_sources"][0]}}),
        (f"{base}/sources", {"files": [("files", ("more.md", b"P1: hello there", "text/plain"))]}),
        ("/signin", {"data": {"token": "x"}}),
        ("/signout", {}),
    ]
    for url, kwargs in forms:
        response = await post_form(client, url, headers=CROSS_SITE[case], **kwargs)
        assert response.status_code == 403, url
        assert "not sent from a page of this server" in response.text

    assert len((await client.get("/experiments")).json()["items"]) == 1
    sources = (await client.get(f"/experiments/{experiment['id']}/sources")).json()["items"]
    assert [s["name"] for s in sources] == experiment["data_sources"]
    assert (await client.get(f"/experiments/{experiment['id']}/runs")).json()["items"] == []


async def test_a_same_origin_referer_is_enough(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    response = await post_form(
        client,
        f"/ui/experiments/{experiment['id']}/runs",
        headers={"Referer": f"{ORIGIN}/ui/experiments/{experiment['id']}"},
    )

    assert response.status_code == 303


@pytest.mark.parametrize("path", ["/", "/ui/experiments/new", "/signin"])
async def test_pages_send_a_strict_content_security_policy(
    make_client: ClientFactory, path: str
) -> None:
    client = await make_client(api_token=TOKEN)

    response = await client.get(path, follow_redirects=True)

    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text  # every script is a file of this server
    assert not re.search(r"<[^>]+\son[a-z]+=", response.text)  # and no inline handler


async def test_assets_have_content_hashed_names_and_a_long_cache_life(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    urls = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)

    assert len(urls) == 5  # two stylesheets, htmx and its extension, the icon
    for url in urls:
        assert re.fullmatch(r"/assets/[\w.-]+\.[0-9a-f]{12}\.(css|min\.js|svg)", url), url
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = re.sub(r"\.[0-9a-f]{12}\.", ".000000000000.", urls[0])
    assert (await client.get(stale)).status_code == 404


HOSTILE = (
    "participant,response\n"
    'P1,"I said <script>alert(1)</script> and <img src=x onerror=alert(2)> twice, truly."\n'
    'P2,"Click <a href=""javascript:alert(3)"">here</a> says the \'tool\' every single day."\n'
    'P3,"<svg onload=alert(4)> is what \\" the \\u0022 export gave me; the export is slow."\n'
)


async def test_hostile_content_is_shown_as_text_on_every_page(client: httpx.AsyncClient) -> None:
    run = await finished_local_run(
        client,
        name="<script>alert('name')</script>",
        data_sources=[{"name": "hostile.csv", "content": HOSTILE}],
        config={"provider": "local", "persona_count": 1},
    )
    persona = run["personas"][0]
    pages = [
        "/",
        f"/ui/experiments/{run['experiment_id']}",
        f"/ui/personas/{persona['id']}",
        f"/ui/personas/{persona['id']}/card",
        f"/ui/experiments/{run['experiment_id']}/runs/{run['id']}/evidence",
    ]
    for path in pages:
        html = (await client.get(path)).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "<svg" not in html and 'href="javascript:' not in html, path
    evidence = (await client.get(pages[-1])).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evidence


async def test_a_hostile_file_name_in_a_refusal_is_text(client: httpx.AsyncClient) -> None:
    name = "<img src=x onerror=alert(1)>.csv"

    response = await post_form(
        client,
        "/ui/experiments",
        data={"name": "<script>alert(2)</script>", "provider": "local"},
        files=[("files", (name, b"participant,response\n", "text/csv"))],
    )

    assert response.status_code == 422
    assert "<img src=x" not in response.text and "<script>alert" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in response.text
