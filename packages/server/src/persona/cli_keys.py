"""``persona keys``: create, list, update and revoke API keys in the configured database.

Works on the database directly (no server needed); a running server sees the change at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from persona.access.schemas import ApiKey
    from persona.storage import Repository

keys_app = typer.Typer(
    name="keys",
    help="Create, list, update and revoke API keys (in the configured database).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DataDir = Annotated[
    Path | None,
    typer.Option(file_okay=False, metavar="DIR", help="Data directory; default: PERSONA_DATA_DIR."),
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="SQLAlchemy URL; default: PERSONA_DATABASE_URL.")
]
DURATION = re.compile(r"(\d+)([dhm])")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def _option(location: tuple[int | str, ...]) -> str:
    """The command-line option of a field: ``max_cost_usd`` → ``max-cost-usd``."""
    return "-".join(str(part).replace("_", "-") for part in location)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def parse_expiry(text: str, now: datetime) -> datetime:
    """``90d``, ``12h``, ``30m`` from now, or an ISO 8601 date or time (UTC unless given)."""
    from datetime import UTC

    if match := DURATION.fullmatch(text.strip()):
        amount, unit = match.groups()
        return now + timedelta(**{UNITS[unit]: int(amount)})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: give a duration (90d, 12h, 30m) or a date (2027-03-31)",
            param_hint="--expires",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@contextmanager
def _repository(data_dir: Path | None, database_url: str | None) -> Iterator[Repository]:
    from persona.settings import Settings
    from persona.storage import Database, Repository

    values: dict[str, object] = {}
    if data_dir is not None:
        values["data_dir"] = data_dir
    if database_url is not None:
        values["database_url"] = database_url
    settings = Settings(**values)  # type: ignore[arg-type]
    if not settings.data_dir.is_dir():
        _fail(f"the data directory {settings.data_dir} does not exist")
    settings.state_dir.mkdir(exist_ok=True)
    database = Database(settings.effective_database_url, pool_size=1)
    try:
        database.migrate()
        yield Repository(database)
    finally:
        database.dispose()


def _describe(key: ApiKey) -> str:
    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    cap = f"{key.max_cost_usd:.2f}" if key.max_cost_usd is not None else "-"
    state = "revoked" if key.revoked_at else "active"
    return (
        f"{key.id}  {key.name}  {key.scope}  {key.prefix}…  {state}  created {when(key.created_at)}"
        f"  last used {when(key.last_used_at)}  expires {when(key.expires_at)}"
        f"  spent {key.spent_usd:.2f} / cap {cap} USD"
    )


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what the key is for (e.g. ci, alice).")],
    scope: Annotated[str, typer.Option(help="read, write or admin.")] = "read",
    expires: Annotated[
        str | None, typer.Option(help="90d, 12h, 30m, or a date; default: never.")
    ] = None,
    max_cost_usd: Annotated[
        float | None, typer.Option(help="Most the key's runs may spend, in USD.")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key and print its secret (shown only now) on stdout."""
    from pydantic import ValidationError

    from persona.access.operations import new_key
    from persona.access.schemas import ApiKeyCreate
    from persona.errors import PersonaError
    from persona.ids import utcnow

    try:
        body = ApiKeyCreate(
            name=name,
            scope=scope,
            expires_at=parse_expiry(expires, utcnow()) if expires else None,
            max_cost_usd=max_cost_usd,
        )
        with _repository(data_dir, database_url) as repository:
            created = repository.create_key(**new_key(body))
    except ValidationError as exc:
        _fail("; ".join(f"--{_option(e['loc'])}: {e['msg']}" for e in exc.errors()))
    except PersonaError as exc:
        _fail(exc.message)
    typer.echo(_describe(created), err=True)
    typer.echo("The secret below is shown only now; store it safely:", err=True)
    typer.echo(created.secret)


@keys_app.command("list")
def list_keys(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Every key, revoked ones too, oldest first (never a secret)."""
    with _repository(data_dir, database_url) as repository:
        keys = repository.list_keys()
    if not keys:
        typer.echo("no keys", err=True)
    for key in keys:
        typer.echo(_describe(key))


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (key-…).")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: every server on the database refuses it from now on."""
    from persona.errors import PersonaError
    from persona.ids import utcnow

    try:
        with _repository(data_dir, database_url) as repository:
            repository.revoke_key(key_id, utcnow())
    except PersonaError as exc:
        _fail(exc.message)
    typer.echo(f"revoked {key_id}", err=True)


@keys_app.command("update")
def update(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (key-…).")],
    max_cost_usd: Annotated[
        float | None, typer.Option(help="Most the key's runs may spend, in USD.")
    ] = None,
    no_max_cost: Annotated[bool, typer.Option(help="Remove the key's spend cap.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set (--max-cost-usd) or remove (--no-max-cost) a key's spend cap."""
    from pydantic import ValidationError

    from persona.access.schemas import ApiKeyUpdate
    from persona.errors import PersonaError

    if (max_cost_usd is None) == (not no_max_cost):
        _fail("give --max-cost-usd N or --no-max-cost")
    try:
        body = ApiKeyUpdate(max_cost_usd=max_cost_usd)
        with _repository(data_dir, database_url) as repository:
            updated = repository.update_key_budget(key_id, body.max_cost_usd)
    except ValidationError as exc:
        _fail("; ".join(f"--max-cost-usd: {e['msg']}" for e in exc.errors()))
    except PersonaError as exc:
        _fail(exc.message)
    typer.echo(_describe(updated))
