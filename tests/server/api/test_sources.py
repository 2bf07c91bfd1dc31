"""GET /experiments/{id}/sources, DELETE /experiments/{id}/sources/{name}, and the content
checks of uploads and of sources at creation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from persona.sources import load_evidence

from .conftest import TOKEN, ClientFactory, assert_problem, create_local

NOTES = {"name": "notes.md", "content": "**P1:** I gave up at the pricing page.\n"}
SURVEY = b"participant,answer\nP10,I want faster delivery options.\nP11,Invoices please.\n"


def sources_url(experiment_id: str) -> str:
    return f"/experiments/{experiment_id}/sources"


async def upload(
    client: httpx.AsyncClient, experiment_id: str, *files: tuple[str, bytes]
) -> httpx.Response:
    parts = [("files", (name, content)) for name, content in files]
    return await client.post(sources_url(experiment_id), files=parts)


async def with_all_kinds(client: httpx.AsyncClient) -> dict[str, Any]:
    """An experiment with a path, an inline and an uploaded source, in that order."""
    experiment = await create_local(client, data_sources=["interviews.csv", NOTES])
    uploaded = await upload(client, experiment["id"], ("survey.csv", SURVEY))
    assert uploaded.status_code == 200, uploaded.text
    result: dict[str, Any] = uploaded.json()
    return result


def stored_files(data_dir: Path, experiment_id: str) -> list[str]:
    folder = data_dir / ".persona" / "experiments" / experiment_id
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- list


async def test_list_gives_kind_size_and_records_in_order(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    experiment = await with_all_kinds(client)

    response = await client.get(sources_url(experiment["id"]))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["name"] for item in items] == experiment["data_sources"]
    assert [item["kind"] for item in items] == ["path", "inline", "upload"]
    for item in items:
        assert item["size_bytes"] == (data_dir / item["name"]).stat().st_size
        # Each was read when it was accepted, so its count is known.
        assert item["records"] == len(load_evidence([item["name"]], data_dir=data_dir))
    assert items[2]["records"] == 2


async def test_list_says_null_for_a_missing_file_and_for_unread_content(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    (data_dir / "big.csv").write_text("id,text\n" + "P1,some words here\n" * 1000)
    experiment = await create_local(client, data_sources=["interviews.csv", "big.csv"])
    (data_dir / "interviews.csv").unlink()

    items = (await client.get(sources_url(experiment["id"]))).json()["items"]

    assert items[0] == {
        "name": "interviews.csv",
        "kind": "path",
        "size_bytes": None,
        "records": None,
    }
    # Larger than what creation parses, and not run yet: its record count is not known.
    assert items[1]["size_bytes"] == (data_dir / "big.csv").stat().st_size
    assert items[1]["records"] is None


async def test_list_of_a_folder_source_sums_its_files(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    folder = data_dir / "round2"
    folder.mkdir()
    (folder / "a.md").write_text("P1 wants speed.\n")
    (folder / "b.md").write_text("P2 wants calm.\n\nP2 also wants invoices.\n")
    experiment = await create_local(client, data_sources=["round2"])

    [item] = (await client.get(sources_url(experiment["id"]))).json()["items"]

    assert item == {"name": "round2", "kind": "path", "size_bytes": 16 + 40, "records": 3}


async def test_list_of_an_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get(sources_url("exp-missing")), 404, "not_found")
    assert "exp-missing" in body["detail"]


# --------------------------------------------------------------------------- delete


@pytest.mark.parametrize(("position", "kind"), [(1, "inline"), (2, "upload")])
async def test_an_inline_or_uploaded_source_is_removed_with_its_file(
    client: httpx.AsyncClient, data_dir: Path, position: int, kind: str
) -> None:
    experiment = await with_all_kinds(client)
    name = experiment["data_sources"][position]
    assert (data_dir / name).is_file()

    response = await client.delete(f"{sources_url(experiment['id'])}/{name}")

    assert response.status_code == 204, response.text
    assert not (data_dir / name).exists()
    fetched = (await client.get(f"/experiments/{experiment['id']}")).json()
    assert name not in fetched["data_sources"]
    assert len(fetched["data_sources"]) == 2
    listed = (await client.get(sources_url(experiment["id"]))).json()["items"]
    assert kind not in [item["kind"] for item in listed]
    again = await client.delete(f"{sources_url(experiment['id'])}/{name}")
    assert name in assert_problem(again, 404, "not_found")["detail"]


async def test_a_path_source_is_not_removed(client: httpx.AsyncClient, data_dir: Path) -> None:
    experiment = await with_all_kinds(client)

    response = await client.delete(f"{sources_url(experiment['id'])}/interviews.csv")

    body = assert_problem(response, 409, "path_source")
    assert "interviews.csv" in body["detail"]
    assert (data_dir / "interviews.csv").is_file()
    fetched = (await client.get(f"/experiments/{experiment['id']}")).json()
    assert fetched["data_sources"] == experiment["data_sources"]


async def test_the_last_source_is_not_removed(client: httpx.AsyncClient, data_dir: Path) -> None:
    experiment = await create_local(client, data_sources=[NOTES])
    [name] = experiment["data_sources"]

    response = await client.delete(f"{sources_url(experiment['id'])}/{name}")

    assert "only source" in assert_problem(response, 409, "last_source")["detail"]
    assert (data_dir / name).is_file()


async def test_an_unknown_source_or_experiment_is_404(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    unknown = await client.delete(f"{sources_url(experiment['id'])}/nowhere/notes.md")
    missing = await client.delete(f"{sources_url('exp-missing')}/interviews.csv")

    assert "nowhere/notes.md" in assert_problem(unknown, 404, "not_found")["detail"]
    assert "exp-missing" in assert_problem(missing, 404, "not_found")["detail"]


@pytest.mark.parametrize("name", ["a/%2E%2E/interviews.csv", "%2E%2E/data/interviews.csv"])
async def test_a_climbing_source_name_is_422(
    client: httpx.AsyncClient, data_dir: Path, name: str
) -> None:
    experiment = await create_local(client)

    response = await client.delete(f"{sources_url(experiment['id'])}/{name}")

    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["path", "source"]
    assert (data_dir / "interviews.csv").is_file()


async def test_a_source_is_not_removed_while_a_run_is_active(
    make_client: ClientFactory, stalled_provider: asyncio.Event, data_dir: Path
) -> None:
    client = await make_client()
    experiment = await create_local(
        client, data_sources=["interviews.csv", NOTES], config={"provider": "anthropic"}
    )
    started = await client.post(f"/experiments/{experiment['id']}/generate", json={})
    assert started.status_code == 202, started.text
    name = experiment["data_sources"][1]

    response = await client.delete(f"{sources_url(experiment['id'])}/{name}")

    body = assert_problem(response, 409, "run_active")
    assert started.json()["id"] in body["detail"]
    assert (data_dir / name).is_file()
    cancelled = await client.post(
        f"/experiments/{experiment['id']}/runs/{started.json()['id']}/cancel"
    )
    assert cancelled.status_code == 202, cancelled.text
    after = await client.delete(f"{sources_url(experiment['id'])}/{name}")
    assert after.status_code == 204, after.text


async def test_listing_and_removing_need_the_token(
    make_client: ClientFactory, data_dir: Path
) -> None:
    client = await make_client(api_token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = await client.post(
        "/experiments",
        json={"name": "x", "data_sources": ["interviews.csv", NOTES]},
        headers=headers,
    )
    experiment = created.json()
    name = experiment["data_sources"][1]

    assert_problem(await client.get(sources_url(experiment["id"])), 401, "unauthorized")
    denied = await client.delete(f"{sources_url(experiment['id'])}/{name}")
    assert_problem(denied, 401, "unauthorized")
    assert (data_dir / name).is_file()
    listed = await client.get(sources_url(experiment["id"]), headers=headers)
    assert listed.status_code == 200
    deleted = await client.delete(f"{sources_url(experiment['id'])}/{name}", headers=headers)
    assert deleted.status_code == 204


# --------------------------------------------------------------------------- upload checks

BAD_UPLOADS = {
    "empty file": ("empty.csv", b"", "the file is empty"),
    "header-only CSV": ("header.csv", b"participant,answer\n", "header but no data rows"),
    "header-only TSV": ("header.tsv", b"participant\tanswer\r\n", "header but no data rows"),
    "blank text": ("blank.md", b"\n  \n\n", "the file is empty"),
    "NUL bytes": ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content"),
    "late NUL byte": ("late.md", b"P1 said hi.\n" * 10_000 + b"\x00", "binary content"),
    "Latin-1": ("latin.csv", b"participant,answer\nP1,caf\xe9 au lait\n", "not valid UTF-8"),
    "UTF-16": ("wide.txt", "P1 said hi.".encode("utf-16"), "UTF-16"),
    "no text column": ("numbers.csv", b"id,score\n1,2\n3,4\n", "no text column"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
async def test_a_bad_upload_is_422_naming_the_file_and_the_reason(
    client: httpx.AsyncClient, data_dir: Path, case: str
) -> None:
    filename, content, reason = BAD_UPLOADS[case]
    experiment = await create_local(client)

    response = await upload(client, experiment["id"], ("good.csv", SURVEY), (filename, content))

    body = assert_problem(response, 422, "invalid_source")
    assert body["detail"].startswith(f"{filename}: "), body["detail"]
    assert reason in body["detail"], body["detail"]
    assert body["errors"][0]["loc"] == ["body", "files", 1]
    # Nothing is kept of the request, not even its good file.
    fetched = (await client.get(f"/experiments/{experiment['id']}")).json()
    assert fetched["data_sources"] == ["interviews.csv"]
    assert stored_files(data_dir, experiment["id"]) == []


async def test_a_valid_upload_with_a_bom_and_crlf_is_accepted(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    content = b"\xef\xbb\xbfparticipant,answer\r\nP1,I want it fast.\r\n"

    response = await upload(client, experiment["id"], ("excel.csv", content))

    assert response.status_code == 200, response.text
    items = (await client.get(sources_url(experiment["id"]))).json()["items"]
    assert items[1]["records"] == 1


# --------------------------------------------------------------------------- create checks

BAD_INLINE = {
    "header-only CSV": ({"name": "a.csv", "content": "participant,answer\n"}, "no data rows"),
    "blank text": ({"name": "a.md", "content": " \n\n "}, "the file is empty"),
    "NUL character": ({"name": "a.txt", "content": "P1 said\u0000 hi"}, "binary content"),
    "malformed JSON": ({"name": "a.json", "content": "[{"}, "malformed JSON"),
}


@pytest.mark.parametrize("case", list(BAD_INLINE))
async def test_a_bad_inline_source_is_422_at_creation(
    client: httpx.AsyncClient, data_dir: Path, case: str
) -> None:
    inline, reason = BAD_INLINE[case]

    response = await client.post(
        "/experiments", json={"name": "x", "data_sources": ["interviews.csv", inline]}
    )

    body = assert_problem(response, 422, "invalid_source")
    assert body["detail"].startswith(f"{inline['name']}: "), body["detail"]
    assert reason in body["detail"], body["detail"]
    assert body["errors"][0]["loc"] == ["body", "data_sources", 1, "content"]
    assert (await client.get("/experiments")).json()["items"] == []
    assert not list((data_dir / ".persona" / "experiments").rglob("*.*"))


BAD_PATHS = {
    "header-only CSV": (b"participant,answer\n", "no data rows"),
    "binary": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "binary content"),
    "undecodable": (b"participant,answer\nP1,\xff\xfe caf\xe9\n", "not valid UTF-8"),
    "empty": (b"", "the file is empty"),
}


@pytest.mark.parametrize("case", list(BAD_PATHS))
async def test_a_bad_path_source_is_422_at_creation(
    client: httpx.AsyncClient, data_dir: Path, case: str
) -> None:
    content, reason = BAD_PATHS[case]
    (data_dir / "sub").mkdir()
    (data_dir / "sub" / "bad.csv").write_bytes(content)

    response = await client.post(
        "/experiments", json={"name": "x", "data_sources": ["interviews.csv", "sub"]}
    )

    body = assert_problem(response, 422, "invalid_source")
    assert body["detail"].startswith("sub/bad.csv: "), body["detail"]
    assert reason in body["detail"], body["detail"]
    assert body["errors"][0]["loc"] == ["body", "data_sources", 1]


async def test_a_large_path_source_is_checked_by_its_start_only(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    """Reading a large file of the data directory whole would make creation slow: its
    start is checked now, the rest when a run reads it."""
    start = b"participant,answer\n" + b"P1,some words\n" * 1000
    (data_dir / "late.csv").write_bytes(start + b"P2,\xff\n")
    (data_dir / "early.csv").write_bytes(b"participant,answer\nP1,\xff\n" + start)

    late = await client.post("/experiments", json={"name": "x", "data_sources": ["late.csv"]})
    early = await client.post("/experiments", json={"name": "x", "data_sources": ["early.csv"]})

    assert late.status_code == 201, late.text
    body = assert_problem(early, 422, "invalid_source")
    assert "early.csv: line 2" in body["detail"], body["detail"]
