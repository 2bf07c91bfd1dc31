from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from persona.api import launch, serve_lock
from persona.settings import Settings

from tests.ports import free_port


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """serve() writes PERSONA_* variables for its workers: keep them out of other tests."""
    copy = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    monkeypatch.setattr(os, "environ", copy)
    return copy


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What serve() would hand to uvicorn: the config and the address of the bound socket."""
    calls: list[dict[str, Any]] = []

    def record(config: uvicorn.Config, sock: socket.socket) -> None:
        calls.append({"config": config, "address": sock.getsockname()[:2]})
        sock.close()

    monkeypatch.setattr(launch, "run_uvicorn", record)
    return calls


def serve_args(**overrides: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": 0,  # any free port: serve() binds it for real
        "auth_token": None,
        "no_auth": False,
        "data_dir": None,
        "database_url": None,
        "workers": 1,
        "log_level": "info",
        **overrides,
    }


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert launch.is_loopback(host) is expected


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "myhost.local"])
def test_refuses_non_loopback_without_token(
    host: str,
    environ: dict[str, str],
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        launch.serve(**serve_args(host=host))

    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "--auth-token" in err and "--no-auth" in err and host in err
    assert uvicorn_calls == []


def test_no_auth_allows_non_loopback_and_says_auth_is_off(
    environ: dict[str, str],
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    environ["PERSONA_API_TOKEN"] = "from-the-environment"

    launch.serve(**serve_args(host="0.0.0.0", no_auth=True, data_dir=tmp_path))

    assert Settings().api_tokens == []
    assert "Auth:             OFF" in capsys.readouterr().out
    assert len(uvicorn_calls) == 1


def test_serve_passes_options_to_uvicorn_and_workers_via_environment(
    environ: dict[str, str],
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/other.db"
    port = free_port()

    launch.serve(
        **serve_args(
            host="0.0.0.0",
            port=port,
            auth_token="tok-a,tok-b",
            data_dir=tmp_path,
            database_url=url,
            workers=2,
            log_level="WARNING",
        )
    )

    (call,) = uvicorn_calls
    config: uvicorn.Config = call["config"]
    assert config.app == "persona.api.main:server_app"
    assert config.factory is True
    assert (config.host, config.port, config.workers, config.log_level) == (
        "0.0.0.0",
        port,
        2,
        "warning",
    )
    assert call["address"] == ("0.0.0.0", port)
    settings = Settings()
    assert settings.data_dir == tmp_path.resolve()
    assert settings.database_url == url
    assert settings.api_tokens == ["tok-a", "tok-b"]
    out = capsys.readouterr().out
    # A browser cannot open 0.0.0.0: the banner shows where it can reach the server.
    assert f"URL:              http://127.0.0.1:{port}\n" in out
    assert f"Docs:             http://127.0.0.1:{port}/docs\n" in out
    assert f"Listening on:     0.0.0.0 (every interface), port {port}\n" in out
    assert "0.0.0.0:" not in out
    assert "on (2 tokens)" in out
    assert "tok-a" not in out
    assert "Default provider: local" in out


def test_contradictory_or_empty_token_is_refused(
    environ: dict[str, str], uvicorn_calls: list[dict[str, Any]]
) -> None:
    for args in (serve_args(auth_token="t", no_auth=True), serve_args(auth_token=" , ")):
        with pytest.raises(SystemExit) as exit_info:
            launch.serve(**args)
        assert exit_info.value.code == 1
    assert uvicorn_calls == []


def test_banner_hides_database_password(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://persona:pa55word@db.internal/persona",
        api_token="secret-token",
        _env_file=None,  # type: ignore[call-arg]
    )

    text = launch.banner(settings, host="::1", port=8000)

    assert "pa55word" not in text
    assert "secret-token" not in text
    assert "http://[::1]:8000" in text
    assert "Listening on" not in text
    assert "on (1 token)" in text


def test_the_banner_shows_a_browsable_url_for_every_interface_of_ipv6(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]

    text = launch.banner(settings, host="::", port=8001)

    assert "URL:              http://[::1]:8001\n" in text
    assert "Listening on:     :: (every interface), port 8001" in text


def test_importing_the_sdk_does_not_import_fastapi() -> None:
    code = (
        "import sys, persona, persona.service, persona.schemas, persona.settings\n"
        "try:\n    import persona.cli\nexcept ModuleNotFoundError as e:\n"
        "    assert e.name == 'persona.cli', e\n"
        "leaked = sorted(m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules)\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == ""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_port_in_use_is_one_error_before_the_banner(
    workers: int,
    environ: dict[str, str],
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(SystemExit) as exit_info:
            launch.serve(**serve_args(port=port, workers=workers, data_dir=tmp_path))

    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"persona serve: port {port} on 127.0.0.1 is already in use (is another server "
        "running?): stop it, or choose another port with --port.\n"
    )
    assert uvicorn_calls == []


def test_an_address_that_cannot_be_listened_on_names_host_and_port(
    environ: dict[str, str], uvicorn_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface of this machine.
    with pytest.raises(SystemExit) as exit_info:
        launch.serve(**serve_args(host="192.0.2.1", no_auth=True))

    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("persona serve: cannot listen on 192.0.2.1:0: ")
    assert "--host" in err and "--port" in err
    assert uvicorn_calls == []


def test_a_missing_data_dir_is_an_error_that_says_how_to_create_it(
    environ: dict[str, str],
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    missing = tmp_path / "research"

    with pytest.raises(SystemExit) as exit_info:
        launch.serve(**serve_args(data_dir=missing))

    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(missing) in captured.err
    assert "--create-data-dir" in captured.err
    assert not missing.exists()
    assert uvicorn_calls == []


def test_create_data_dir_creates_it(
    environ: dict[str, str], uvicorn_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    wanted = tmp_path / "new" / "research"

    launch.serve(**serve_args(data_dir=wanted, create_data_dir=True))

    assert wanted.is_dir()
    assert len(uvicorn_calls) == 1


def test_a_data_dir_that_is_a_file_is_an_error(
    environ: dict[str, str], uvicorn_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")

    with pytest.raises(SystemExit) as exit_info:
        launch.serve(**serve_args(data_dir=a_file, create_data_dir=True))

    assert exit_info.value.code == 1
    assert uvicorn_calls == []


def test_a_second_server_on_the_same_sqlite_database_refuses_to_start(
    environ: dict[str, str],
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    first = serve_lock.claim_database(settings, "http://127.0.0.1:8000")
    assert first is not None

    with pytest.raises(SystemExit) as exit_info:
        launch.serve(**serve_args(data_dir=tmp_path))

    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert f"another persona serve (pid {os.getpid()}, http://127.0.0.1:8000)" in error
    assert str(tmp_path.resolve() / ".persona" / "persona.db") in error
    assert uvicorn_calls == []
    first.release()
    launch.serve(**serve_args(data_dir=tmp_path))  # once the first has stopped
    assert len(uvicorn_calls) == 1


def test_servers_on_postgresql_share_their_database(tmp_path: Path) -> None:
    """Replicas on one PostgreSQL database are the point of it: nothing to lock."""
    settings = Settings(
        data_dir=tmp_path, database_url="postgresql+psycopg://db/persona", _env_file=None
    )  # type: ignore[call-arg]

    assert serve_lock.claim_database(settings, "http://127.0.0.1:8000") is None


def test_keys_in_the_database_allow_non_loopback_without_a_token(
    environ: dict[str, str],
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from persona.access.operations import new_key
    from persona.access.schemas import ApiKeyCreate
    from persona.storage import Database, Repository

    database = Database(f"sqlite:///{tmp_path}/.persona/persona.db")
    database.migrate()
    Repository(database).create_key(**new_key(ApiKeyCreate(name="ops", scope="admin")))
    database.dispose()

    launch.serve(**serve_args(host="0.0.0.0", data_dir=tmp_path))

    assert "Auth:             on (API keys)" in capsys.readouterr().out
    assert len(uvicorn_calls) == 1
