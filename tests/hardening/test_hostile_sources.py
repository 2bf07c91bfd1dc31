"""Hostile data sources through the API: every one is refused or bounded with a 4xx problem
naming the source and its index, and no file outside the data directory is ever opened.

What is opened is observed, not assumed: a Python audit hook sees every ``open`` (builtins,
io and os) and ``os.scandir``/``os.listdir``, and ``os.open`` is wrapped to resolve the
directory descriptor of ``openat`` calls, which the audit event does not carry.
"""

from __future__ import annotations

import asyncio
import os
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import assert_problem

FOLDER_FILES = 10_000
SPARSE_BYTES = 1024**3
SECRET = "id,text\nP9,the secret outside the data directory\n"


# --------------------------------------------------------------------------- watching opens


@dataclass
class OpenWatch:
    """Every path opened or listed while ``active``: (resolved path, how it was reached)."""

    active: bool = False
    seen: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, path: str, how: str) -> None:
        if self.active:
            with self.lock:
                self.seen.append((os.path.realpath(path), how))


WATCH = OpenWatch()
_IGNORED_ROOTS = tuple(
    {
        os.path.realpath(p)
        for p in (
            sys.prefix,
            sys.base_prefix,
            sysconfig.get_paths()["stdlib"],
            sysconfig.get_paths()["purelib"],
        )
    }
)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not WATCH.active or event not in ("open", "os.scandir", "os.listdir"):
        return
    path = args[0]
    if isinstance(path, int) or path is None:
        return  # an already open descriptor: its opening was seen
    path = os.fsdecode(path)
    if event == "open" and args[1] is None and not os.path.isabs(path):
        return  # os.open relative to a directory descriptor: see _watching_os_open
    WATCH.note(os.path.abspath(path), event)


sys.addaudithook(_audit)  # hooks cannot be removed; inert unless a test activates WATCH


@pytest.fixture
def watch_opens(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenWatch]:
    """Record every opened path during the test (after its setup)."""
    real_open = os.open

    def watching_os_open(
        path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None
    ) -> int:
        if dir_fd is not None and not os.path.isabs(os.fsdecode(path)):
            directory = os.readlink(f"/proc/self/fd/{dir_fd}")
            WATCH.note(os.path.join(directory, os.fsdecode(path)), "openat")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", watching_os_open)
    # The source reader checks that os.open supports dir_fd before it walks with openat.
    monkeypatch.setattr(os, "supports_dir_fd", os.supports_dir_fd | {watching_os_open})
    WATCH.seen.clear()
    WATCH.active = True
    try:
        yield WATCH
    finally:
        WATCH.active = False


# Module code (tracebacks read source lines): never a data source, whose types are data formats.
_CODE_SUFFIXES = (".py", ".pyc", ".so")


def outside_opens(watch: OpenWatch, data_dir: Path) -> list[tuple[str, str]]:
    """Opened paths outside the data directory, other than Python's own files and the
    temporary files the multipart parser may spool to."""
    root = os.path.realpath(data_dir)
    temp_root = os.path.realpath(tempfile.gettempdir())
    return [
        (path, how)
        for path, how in watch.seen
        if not (path == root or path.startswith(root + os.sep))
        and not path.startswith(_IGNORED_ROOTS)
        and not path.endswith(_CODE_SUFFIXES)
        and os.path.dirname(path) != temp_root
    ]


# --------------------------------------------------------------------------- the hostile tree


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the data directory holding a readable, valid CSV."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_text(SECRET)
    return folder


@pytest.fixture
def hostile_tree(data_dir: Path, outside: Path) -> Path:
    """Links out, device links, a FIFO, a huge folder and a sparse 1 GB file, in the data dir."""
    (data_dir / "sub").mkdir()
    (data_dir / "link_out.csv").symlink_to(outside / "secret.csv")
    (data_dir / "link_dir").symlink_to(outside, target_is_directory=True)
    escape = data_dir / "escape_folder"
    escape.mkdir()
    (escape / "fine.csv").write_text("id,text\nP1,inside\n")
    (escape / "zz_link.csv").symlink_to(outside / "secret.csv")
    (data_dir / "zero.csv").symlink_to("/dev/zero")
    (data_dir / "random.csv").symlink_to("/dev/random")
    os.mkfifo(data_dir / "fifo.csv")
    with open(data_dir / "sparse.csv", "wb") as sparse:
        sparse.truncate(SPARSE_BYTES)  # a hole: nothing is written
    return data_dir


def make_big_folder(folder: Path) -> None:
    """A folder of FOLDER_FILES data files; made only where needed (it takes a second)."""
    folder.mkdir()
    for number in range(FOLDER_FILES):
        (folder / f"{number:05d}.txt").write_bytes(b"x\n")


def hostile_paths(data_dir: Path, outside: Path) -> dict[str, tuple[str, str]]:
    """name -> (data source, a fragment the error must contain)."""
    secret = str(outside / "secret.csv")
    return {
        "dot-dot chain": ("../outside/secret.csv", "outside the data directory"),
        "deep dot-dot chain": ("../" * 40 + "etc/passwd", "outside the data directory"),
        "dot-dot after a file": ("interviews.csv/../../outside/secret.csv", "outside"),
        "dot-dot after a folder": ("sub/../../outside/secret.csv", "outside the data directory"),
        "dot-slash dot-dot": ("./../outside/secret.csv", "outside the data directory"),
        "absolute /etc/passwd": ("/etc/passwd", "outside the data directory"),
        "absolute double slash": ("//etc//passwd", "outside the data directory"),
        "absolute path outside": (secret, "outside the data directory"),
        "absolute /proc": ("/proc/self/environ", "outside the data directory"),
        "percent-encoded dot-dot": ("%2e%2e/outside/secret.csv", "does not exist"),
        "percent-encoded slashes": ("%2e%2e%2foutside%2fsecret.csv", "does not exist"),
        "double percent-encoding": ("%252e%252e%252fsecret.csv", "does not exist"),
        "backslash traversal": ("..\\outside\\secret.csv", "does not exist"),
        "fullwidth dots": ("\uff0e\uff0e/outside/secret.csv", "does not exist"),
        "home directory": ("~/.ssh/id_rsa", "does not exist"),
        "symlink to a file outside": ("link_out.csv", "symbolic link"),
        "through a symlinked folder": ("link_dir/secret.csv", "symbolic link"),
        "symlinked folder": ("link_dir", "symbolic link"),
        "folder holding a link out": ("escape_folder", "symbolic link"),
        "NUL byte": ("interviews.csv\x00.txt", "NUL byte"),
        "only a NUL byte": ("\x00", "NUL byte"),
        "http URL": ("http://127.0.0.1:9/data.csv", "URL"),
        "https URL": ("https://example.com/data.csv", "URL"),
        "file URL": ("file:///etc/passwd", "URL"),
        "file URL without slashes": ("file:interviews.csv", "URL"),
        "ftp URL": ("ftp://example.com/data.csv", "URL"),
        "/dev/zero": ("/dev/zero", "outside the data directory"),
        "/dev/random": ("/dev/random", "outside the data directory"),
        "symlink to /dev/zero": ("zero.csv", "symbolic link"),
        "symlink to /dev/random": ("random.csv", "symbolic link"),
        "FIFO": ("fifo.csv", "not a regular file"),
        "folder of 10k files": ("many", "more than"),
        "1 GB sparse file": ("sparse.csv", "limit"),
        "the database": (".persona/persona.db", "unsupported file extension"),
        "blank": ("   ", "empty"),
    }


HOSTILE_CASES = list(hostile_paths(Path("/"), Path("/")))


@pytest.mark.parametrize("case", HOSTILE_CASES)
async def test_a_hostile_source_is_refused_without_opening_anything_outside(
    api: httpx.AsyncClient, hostile_tree: Path, outside: Path, watch_opens: OpenWatch, case: str
) -> None:
    source, fragment = hostile_paths(hostile_tree, outside)[case]
    if source == "many":
        WATCH.active = False
        make_big_folder(hostile_tree / "many")
        WATCH.active = True
    body = {"name": "Hostile", "data_sources": ["interviews.csv", source]}
    response = await api.post("/experiments", json=body)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body", "data_sources", 1], problem
    assert fragment in problem["detail"], problem["detail"]
    shown = source.replace("\x00", "\\x00")[:40]
    assert shown.strip() in problem["detail"] or shown.strip() == "", problem["detail"]
    assert outside_opens(watch_opens, hostile_tree) == []
    listed = await api.get("/experiments")
    assert listed.json()["items"] == []


def test_the_list_holds_at_least_twenty_hostile_paths() -> None:
    assert len(HOSTILE_CASES) >= 20


# --------------------------------------------------------------------------- inline sources

HOSTILE_INLINE_NAMES = {
    "dot-dot path": ("../../evil.md", "path separator"),
    "absolute path": ("/tmp/evil.md", "path separator"),
    "nested path": ("a/b.md", "path separator"),
    "backslash path": ("..\\evil.md", "path separator"),
    "dot-dot": ("..", "not a file name"),
    "hidden": (".evil.md", "hidden"),
    "NUL byte": ("evil.md\x00.txt", "NUL byte"),
    "newline": ("evil\n.md", "control characters"),
    "over 255 bytes": ("\u00e9" * 130 + ".md", "255 bytes"),
    "unsupported type": ("evil.sh", "unsupported file type"),
    "blank": ("   ", "empty"),
}


@pytest.mark.parametrize("case", list(HOSTILE_INLINE_NAMES))
async def test_a_hostile_inline_source_name_is_refused(
    api: httpx.AsyncClient, data_dir: Path, watch_opens: OpenWatch, case: str
) -> None:
    name, fragment = HOSTILE_INLINE_NAMES[case]
    inline = {"name": name, "content": "- P1: I gave up at the pricing page."}
    body = {"name": "Hostile", "data_sources": ["interviews.csv", inline]}
    response = await api.post("/experiments", json=body)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body", "data_sources", 1, "name"], problem
    assert fragment in problem["detail"], problem["detail"]
    assert outside_opens(watch_opens, data_dir) == []
    assert not list((data_dir / ".persona" / "experiments").glob("*/*"))


async def test_percent_encoding_in_an_inline_name_stays_a_plain_name(
    api: httpx.AsyncClient, data_dir: Path, watch_opens: OpenWatch
) -> None:
    inline = {"name": "%2e%2e%2fevil.md", "content": "- P1: I gave up at the pricing page."}
    response = await api.post("/experiments", json={"name": "Plain", "data_sources": [inline]})

    assert response.status_code == 201, response.text
    [stored] = response.json()["data_sources"]
    path = data_dir / stored
    assert path.parent.parent.parent == data_dir / ".persona" / "experiments"
    assert path.parent.name == "inline"
    assert path.name == "%2e%2e%2fevil.md"
    assert outside_opens(watch_opens, data_dir) == []


# --------------------------------------------------------------------------- uploads


async def create_experiment(api: httpx.AsyncClient) -> dict[str, Any]:
    created = await api.post(
        "/experiments", json={"name": "Up", "data_sources": ["interviews.csv"]}
    )
    assert created.status_code == 201, created.text
    experiment: dict[str, Any] = created.json()
    return experiment


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def upload(
    api: httpx.AsyncClient, experiment_id: str, filename: str, content: bytes = b"id,text\nP1,hi\n"
) -> httpx.Response:
    """Upload one file, its name sent byte for byte (httpx would percent-encode NUL and
    control characters, so the multipart body is written here)."""
    body = (
        b"--bound\r\n"
        b'Content-Disposition: form-data; name="files"; filename="'
        + filename.encode()
        + b'"\r\nContent-Type: text/csv\r\n\r\n'
        + content
        + b"\r\n--bound--\r\n"
    )
    return await api.post(
        f"/experiments/{experiment_id}/sources",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=bound"},
    )


REFUSED_UPLOAD_NAMES = {
    "dot-dot": ("..", "not a file name"),
    "only slashes": ("///", "empty"),
    "hidden": (".evil.csv", "hidden"),
    "hidden after a path": ("../../.evil.csv", "hidden"),
    "NUL byte": ("evil.csv\x00.txt", "NUL byte"),
    "control character": ("evil\x07.csv", "control characters"),
    "unsupported type": ("evil.sh", "unsupported file type"),
}


@pytest.mark.parametrize("case", list(REFUSED_UPLOAD_NAMES))
async def test_a_hostile_upload_name_is_refused(
    api: httpx.AsyncClient, data_dir: Path, outside: Path, watch_opens: OpenWatch, case: str
) -> None:
    created = await api.post(
        "/experiments", json={"name": "Up", "data_sources": ["interviews.csv"]}
    )
    experiment = created.json()
    filename, fragment = REFUSED_UPLOAD_NAMES[case]

    response = await upload(api, experiment["id"], filename)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body", "files", 0], problem
    assert fragment in problem["detail"], problem["detail"]
    after = await api.get(f"/experiments/{experiment['id']}")
    assert after.json()["data_sources"] == experiment["data_sources"]
    assert outside_opens(watch_opens, data_dir) == []
    assert names_in(outside) == ["secret.csv"]


@pytest.mark.parametrize(
    "filename",
    ["../../evil.csv", "/etc/evil.csv", "..\\..\\evil.csv", "C:\\Windows\\evil.csv"],
)
async def test_a_path_in_an_upload_name_is_cut_to_its_last_part(
    api: httpx.AsyncClient, data_dir: Path, outside: Path, watch_opens: OpenWatch, filename: str
) -> None:
    """Browsers may send a full path as the file name: only its last part is kept."""
    created = await api.post(
        "/experiments", json={"name": "Up", "data_sources": ["interviews.csv"]}
    )
    experiment_id = created.json()["id"]

    response = await upload(api, experiment_id, filename)

    assert response.status_code == 200, response.text
    stored = response.json()["data_sources"][-1]
    assert stored == f".persona/experiments/{experiment_id}/uploads/evil.csv"
    assert (data_dir / stored).read_text() == "id,text\nP1,hi\n"
    assert outside_opens(watch_opens, data_dir) == []
    assert names_in(outside) == ["secret.csv"]


async def test_a_source_swapped_for_a_link_after_creation_is_not_followed(
    api: httpx.AsyncClient, data_dir: Path, outside: Path, watch_opens: OpenWatch
) -> None:
    """The check at creation is not trusted at run time: the run refuses the link it finds."""
    source = data_dir / "sub" / "notes.csv"
    source.parent.mkdir()
    source.write_text("id,text\nP1,I gave up at the pricing page.\nP2,Shipping surprised me.\n")
    body = {"name": "Swap", "data_sources": ["sub/notes.csv"], "config": {"provider": "local"}}
    created = await api.post("/experiments", json=body)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["id"]
    source.unlink()
    source.symlink_to(outside / "secret.csv")

    started = await api.post(f"/experiments/{experiment_id}/generate", json={})
    assert started.status_code == 202, started.text
    run = await finished_run(api, experiment_id, started.json()["id"])

    assert run["status"] == "failed", run
    assert "sub/notes.csv" in run["error"]["message"], run["error"]
    assert outside_opens(watch_opens, data_dir) == []
    personas = await api.get(f"/experiments/{experiment_id}/personas")
    assert personas.json()["items"] == []


async def finished_run(api: httpx.AsyncClient, experiment_id: str, run_id: str) -> dict[str, Any]:
    for _ in range(500):
        response = await api.get(f"/experiments/{experiment_id}/runs/{run_id}")
        run: dict[str, Any] = response.json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def test_the_watch_sees_an_open_outside_the_data_dir(
    data_dir: Path, outside: Path, watch_opens: OpenWatch
) -> None:
    """The guard itself works: builtins.open, os.open and openat outside are all noticed."""
    (outside / "secret.csv").read_text()
    os.close(os.open(outside / "secret.csv", os.O_RDONLY))
    folder = os.open(outside, os.O_RDONLY)
    try:
        os.close(os.open("secret.csv", os.O_RDONLY, dir_fd=folder))
    finally:
        os.close(folder)
    (data_dir / "interviews.csv").read_bytes()

    found = outside_opens(watch_opens, data_dir)
    secret = os.path.realpath(outside / "secret.csv")
    assert [how for path, how in found if path == secret] == ["open", "open", "openat"]
