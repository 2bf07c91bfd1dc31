"""``persona keys``: create, list, update and revoke keys in the configured database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from persona.access.key_secrets import secret_hash
from persona.cli import app
from persona.cli_keys import parse_expiry
from persona.storage import Database, Repository
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def where(tmp_path: Path, database_url: str) -> list[str]:
    return ["--data-dir", str(tmp_path), "--database-url", database_url]


def keys(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["keys", *args])
    return result.exit_code, result.stdout, result.stderr


def repository(database_url: str) -> Repository:
    database = Database(database_url, pool_size=1)
    database.migrate()
    return Repository(database)


def test_create_prints_the_secret_once_and_stores_its_hash(
    where: list[str], database_url: str
) -> None:
    code, out, err = keys("create", "--name", "ci", "--scope", "write", "--expires", "90d",
                          "--max-cost-usd", "25", *where)  # fmt: skip

    secret = out.strip()
    (key,) = repository(database_url).list_keys()
    assert code == 0, err
    assert secret.startswith("psk_") and "\n" not in secret
    assert "shown only now" in err
    assert (key.name, key.scope, key.max_cost_usd) == ("ci", "write", 25.0)
    assert key.expires_at is not None
    assert timedelta(days=89) < key.expires_at - datetime.now(UTC) <= timedelta(days=90)
    stored = repository(database_url).keys_with_prefix(secret[:12])
    assert [k.secret_hash for k in stored] == [secret_hash(secret)]


def test_list_update_and_revoke(where: list[str], database_url: str) -> None:
    keys("create", "--name", "alice", "--scope", "read", *where)
    (key,) = repository(database_url).list_keys()

    updated = keys("update", key.id, "--max-cost-usd", "5", *where)
    revoked = keys("revoke", key.id, *where)
    listed = keys("list", *where)

    assert updated[0] == 0 and "cap 5.00 USD" in updated[1]
    assert revoked[0] == 0
    assert listed[0] == 0
    assert key.id in listed[1] and "revoked" in listed[1] and "psk_" in listed[1]
    assert repository(database_url).list_keys()[0].revoked_at is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--name", "x", "--scope", "root"], "--scope: Input should be"),
        (["create", "--name", "", "--scope", "read"], "--name: String should have"),
        (["create", "--name", "x", "--max-cost-usd", "-2"], "--max-cost-usd"),
        (["create", "--name", "x", "--expires", "soon"], "--expires"),
        (["create", "--name", "x", "--expires", "2001-01-01"], "expires_at is in the past"),
        (["revoke", "key-nope"], "key 'key-nope' not found"),
        (["update", "key-nope", "--max-cost-usd", "3"], "key 'key-nope' not found"),
        (["update", "key-nope"], "give --max-cost-usd N or --no-max-cost"),
    ],
)
def test_bad_input_is_one_line_naming_what_was_wrong(
    where: list[str], database_url: str, args: list[str], message: str
) -> None:
    code, _, err = keys(*args, *where)

    assert code != 0
    assert message in err, err
    assert "Traceback" not in err
    assert repository(database_url).list_keys() == []


def test_expiry_takes_durations_and_dates() -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    assert parse_expiry("90d", now) == now + timedelta(days=90)
    assert parse_expiry("12h", now) == now + timedelta(hours=12)
    assert parse_expiry("30m", now) == now + timedelta(minutes=30)
    assert parse_expiry("2027-03-31", now) == datetime(2027, 3, 31, tzinfo=UTC)
    with pytest.raises(typer.BadParameter):
        parse_expiry("next week", now)
