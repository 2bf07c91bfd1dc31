from __future__ import annotations

from pathlib import Path

import httpx

from tests.servers import SEED_BODY

from .conftest import LOCAL_BODY, assert_problem, create_local


async def test_seed_request_creates_experiment_without_provider_key(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/experiments", json=SEED_BODY)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("exp-")
    assert body["name"] == SEED_BODY["name"]
    assert body["status"] == "created"
    assert body["created_at"]
    assert body["config"]["provider"] == "anthropic"
    assert body["config"]["model"] == "claude-sonnet-4-5-20250929"
    assert response.headers["location"] == f"/experiments/{body['id']}"
    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_get_unknown_experiment_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/experiments/exp-doesnotexist")

    body = assert_problem(response, 404, "not_found")
    assert "exp-doesnotexist" in body["detail"]


async def test_list_is_newest_first_and_pages_with_cursor(client: httpx.AsyncClient) -> None:
    created = [(await create_local(client, name=f"exp {i}"))["id"] for i in range(5)]

    first = (await client.get("/experiments", params={"limit": 2})).json()
    second = (
        await client.get("/experiments", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await client.get("/experiments", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()

    seen = [e["id"] for page in (first, second, third) for e in page["items"]]
    assert seen == list(reversed(created))
    assert third["next_cursor"] is None


async def test_list_by_a_part_of_the_name_pages_with_cursor(client: httpx.AsyncClient) -> None:
    matching = [(await create_local(client, name=f"Checkout {i}"))["id"] for i in range(3)]
    await create_local(client, name="Onboarding")
    await create_local(client, name="100% of 5_ users")

    first = (await client.get("/experiments", params={"name": "checkOUT", "limit": 2})).json()
    rest = await client.get(
        "/experiments", params={"name": "checkout", "cursor": first["next_cursor"]}
    )

    seen = [e["id"] for page in (first, rest.json()) for e in page["items"]]
    assert seen == list(reversed(matching))
    # LIKE's wildcards are plain characters in a name.
    literal = (await client.get("/experiments", params={"name": "% of 5_"})).json()["items"]
    assert [e["name"] for e in literal] == ["100% of 5_ users"]
    assert (await client.get("/experiments", params={"name": "_"})).json()["items"] == literal
    too_long = await client.get("/experiments", params={"name": "x" * 101})
    assert assert_problem(too_long, 422)["errors"][0]["loc"] == ["query", "name"]


async def test_list_limit_out_of_range_is_422_naming_the_parameter(
    client: httpx.AsyncClient,
) -> None:
    for limit in (0, 201, "many"):
        response = await client.get("/experiments", params={"limit": limit})
        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["query", "limit"]


async def test_bad_cursor_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/experiments", params={"cursor": "not-a-cursor"})

    assert_problem(response, 422)


async def test_unknown_body_field_is_rejected_with_its_location(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/experiments", json={**LOCAL_BODY, "owner": "me"})

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [
        {
            "loc": ["body", "owner"],
            "msg": "Extra inputs are not permitted",
            "type": "extra_forbidden",
        }
    ]


async def test_unknown_config_field_and_bad_count_are_both_reported(
    client: httpx.AsyncClient,
) -> None:
    body = {**LOCAL_BODY, "config": {"provider": "local", "persona_count": 0, "colour": "red"}}

    problem = assert_problem(await client.post("/experiments", json=body), 422)

    locations = {tuple(e["loc"]) for e in problem["errors"]}
    assert locations == {("body", "config", "persona_count"), ("body", "config", "colour")}


async def test_missing_source_file_is_422_at_create_time(client: httpx.AsyncClient) -> None:
    response = await client.post("/experiments", json={**LOCAL_BODY, "data_sources": ["nope.csv"]})

    body = assert_problem(response, 422)
    assert "nope.csv" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "data_sources", 0]


async def test_traversal_and_outside_paths_are_rejected_naming_the_source(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    outside = data_dir.parent / "secret.csv"
    outside.write_text("participant,answer\nP1,do not read me\n")
    (data_dir / "link.csv").symlink_to(outside)
    hostile = [
        "../secret.csv",
        "sub/../../secret.csv",
        str(outside),
        "/etc/passwd",
        "link.csv",
        "file:///etc/passwd",
        "https://example.com/interviews.csv",
        "interviews.csv\x00.txt",
    ]
    for source in hostile:
        response = await client.post(
            "/experiments", json={**LOCAL_BODY, "data_sources": ["interviews.csv", source]}
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["loc"] == ["body", "data_sources", 1], source
        assert "do not read me" not in response.text

    listing = (await client.get("/experiments")).json()
    assert listing["items"] == []


async def test_inline_source_is_stored_with_the_experiment(client: httpx.AsyncClient) -> None:
    inline = {"name": "notes.md", "content": "P1 said checkout was confusing."}

    experiment = await create_local(client, data_sources=["interviews.csv", inline])

    assert len(experiment["data_sources"]) == 2
    assert any(source.endswith("notes.md") for source in experiment["data_sources"])


async def test_delete_removes_experiment_then_404(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    deleted = await client.delete(f"/experiments/{experiment['id']}")

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_problem(await client.get(f"/experiments/{experiment['id']}"), 404)
    assert_problem(await client.delete(f"/experiments/{experiment['id']}"), 404)


async def test_upload_adds_files_to_the_experiment(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    files = [
        ("files", ("extra.csv", b"participant,answer\nP10,I want faster delivery options.\n")),
        ("files", ("notes.md", b"# Notes\n\nP11 prefers paying by invoice.\n")),
    ]

    response = await client.post(f"/experiments/{experiment['id']}/sources", files=files)

    assert response.status_code == 200, response.text
    sources = response.json()["data_sources"]
    assert len(sources) == 3
    assert any(s.endswith("extra.csv") for s in sources)
    assert any(s.endswith("notes.md") for s in sources)
    fetched = (await client.get(f"/experiments/{experiment['id']}")).json()
    assert fetched["data_sources"] == sources


async def test_upload_to_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/experiments/exp-missing/sources", files=[("files", ("a.csv", b"participant,answer\n"))]
    )

    assert_problem(response, 404)


async def test_upload_without_files_is_422(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    response = await client.post(
        f"/experiments/{experiment['id']}/sources", data={"note": "no file here"}
    )

    body = assert_problem(response, 422)
    assert ["body", "files"] in [e["loc"] for e in body["errors"]]


async def test_upload_keeps_only_the_base_name_of_a_traversal_filename(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    experiment = await create_local(client)
    files = [("files", ("../../escaped.csv", b"participant,answer\nP1,hello there\n"))]

    response = await client.post(f"/experiments/{experiment['id']}/sources", files=files)

    assert response.status_code == 200, response.text
    stored = response.json()["data_sources"][-1]
    assert stored == f".persona/experiments/{experiment['id']}/uploads/escaped.csv"
    assert not (data_dir.parent / "escaped.csv").exists()
    assert not (data_dir.parent.parent / "escaped.csv").exists()


async def test_upload_of_hidden_or_unsupported_file_is_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    experiment = await create_local(client)
    url = f"/experiments/{experiment['id']}/sources"

    hidden = await client.post(url, files=[("files", (".env", b"SECRET=1"))])
    binary = await client.post(url, files=[("files", ("a.csv", b"x")), ("files", ("b.exe", b"MZ"))])

    assert assert_problem(hidden, 422)["errors"][0]["loc"] == ["body", "files", 0]
    problem = assert_problem(binary, 422)
    assert problem["errors"][0]["loc"] == ["body", "files", 1]
    assert "b.exe" in problem["detail"]
