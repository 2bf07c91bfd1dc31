"""The one settings object: environment variables prefixed ``PERSONA_``, and a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from persona.schemas import ProviderName

KB = 1024
MB = 1024 * KB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PERSONA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("."), description="Root that data-source paths resolve in.")
    database_url: str | None = Field(
        default=None,
        description="Any SQLAlchemy URL; default sqlite:///<data_dir>/.persona/persona.db",
    )
    default_provider: ProviderName = "local"

    # Database (PostgreSQL): timeouts in seconds, 0 for none; see docs/deploy.md
    database_connect_timeout: float = Field(
        default=5.0, ge=0, description="Seconds for a new database connection to be made."
    )
    database_statement_timeout: float = Field(
        default=30.0,
        ge=0,
        description="Seconds one statement may run (PostgreSQL statement_timeout).",
    )
    database_lock_timeout: float = Field(
        default=5.0,
        ge=0,
        description=(
            "Seconds a statement may wait for a lock (PostgreSQL lock_timeout): a request "
            "blocked by a locked table answers 503 after this long."
        ),
    )
    database_pool_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for a pooled connection to come free."
    )
    database_retry_seconds: float = Field(
        default=120.0,
        ge=0,
        description=(
            "How long a run waits out a database that is unreachable or busy, retrying its "
            "writes with backoff, before its attempt ends as interrupted (database_unavailable)."
        ),
    )

    # Data sources
    max_source_bytes: int = Field(
        default=50 * MB, gt=0, description="Total size of one run's sources."
    )
    max_inline_source_bytes: int = Field(default=1 * MB, gt=0)
    max_upload_bytes: int = Field(default=50 * MB, gt=0, description="One upload request.")
    max_folder_files: int = Field(
        default=5_000, gt=0, description="Files one folder source may hold."
    )

    # Runs
    max_concurrent_runs: int = Field(default=4, ge=1)
    local_subprocess_min_bytes: int = Field(
        default=4 * MB,
        ge=0,
        description=(
            "A run of the local provider whose sources total this many bytes or more is read "
            "and synthesised in a child process: the server keeps answering meanwhile and "
            "gets the run's memory back when it ends (0: every local run)."
        ),
    )
    max_local_subprocesses: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Child processes synthesising at once in one process; more such runs wait for "
            "one to end (default: the CPUs this process may use; each child is CPU-bound and "
            "holds several times its sources' size in memory)."
        ),
    )
    max_run_attempts: int = Field(
        default=3, ge=1, description="Starts of a run before 'interrupted'."
    )
    run_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "How long a process's claim on a running run lasts unless renewed (every third of "
            "it); another process sharing the database takes over a run whose claim lapsed."
        ),
    )
    run_dispatch: Literal["local", "queue"] = Field(
        default="local",
        description=(
            "'local': runs execute as tasks of the process that starts them. 'queue' "
            "(PostgreSQL only): each run is a job of the procrastinate queue, executed by "
            "`persona worker` processes (or this one, with execute_runs)."
        ),
    )
    execute_runs: bool = Field(
        default=True,
        description="With run_dispatch='queue': this process also executes queued runs.",
    )

    # Webhooks
    webhook_allow_private: bool = Field(
        default=False,
        description=(
            "Deliver webhooks to loopback, private, link-local and metadata addresses too "
            "(for tests and closed networks: otherwise anyone who may create a webhook could "
            "make this server call into its own network)."
        ),
    )
    webhook_retry_delays: list[float] = Field(
        default=[5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0],
        min_length=1,
        description=(
            "Seconds before each retry of a failed delivery (with jitter), about a day in "
            "all; after the last one the delivery has failed. A receiver's Retry-After "
            "postpones a retry, up to the longest of these."
        ),
    )
    webhook_timeout: float = Field(
        default=15.0,
        gt=0,
        le=30,
        description="Seconds a webhook receiver has to answer a delivery.",
    )

    # Providers
    provider_timeout: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Seconds per provider request asking for up to 4,096 output tokens; a request "
            "asking for more gets proportionally longer."
        ),
    )
    provider_max_retries: int = Field(default=3, ge=0)
    provider_retry_base_delay: float = Field(
        default=1.0, ge=0, description="Seconds before the first retry; doubles on each retry."
    )
    provider_retry_max_delay: float = Field(
        default=30.0,
        ge=0,
        description="Longest wait between retries; a longer Retry-After fails the request.",
    )
    provider_context_tokens: int | None = Field(
        default=None,
        ge=2048,
        description="Context window of the model in tokens; null means the known size per model.",
    )

    # API
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token(s), comma-separated for rotation."
    )
    max_body_bytes: int = Field(default=2 * MB, gt=0, description="JSON request bodies.")

    # Keys, audit log and rate limits (persona.access); counters live in the database, so
    # the limits hold across every replica sharing it
    audit_retention_days: int = Field(
        default=90, ge=1, description="Days audit log entries are kept before being pruned."
    )
    rate_limit_window_seconds: int = Field(
        default=60, ge=1, le=86_400, description="The window of the request limits."
    )
    rate_limit_requests: int = Field(
        default=600, ge=0, description="Requests one key may make per window (0: no limit)."
    )
    rate_limit_auth_failures: int = Field(
        default=20,
        ge=0,
        description=(
            "Requests with a missing or wrong key one client address may make per window; "
            "past it, that address gets 429 even with a right key (0: no limit)."
        ),
    )
    rate_limit_run_starts: int = Field(
        default=30, ge=0, description="Runs one key may start per run window (0: no limit)."
    )
    rate_limit_run_window_seconds: int = Field(
        default=3600, ge=1, le=86_400, description="The window of the run-start limit."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call the API from, comma-separated; none by default.",
    )

    # MCP over HTTP (/mcp, persona.mcp.http): the Host and Origin headers it accepts
    host: str = Field(
        default="127.0.0.1",
        description="The address the server listens on (`persona serve --host` sets it).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Host names clients reach the server by, beyond its address and loopback, "
            "comma-separated: /mcp refuses other Host headers (DNS-rebinding protection)."
        ),
    )

    # HTTP connections (persona.api.protocol, in the server process)
    max_header_bytes: int = Field(
        default=64 * KB,
        ge=1 * KB,
        description="Request line and headers of one request; more gets 431 (414 for a URL).",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds for a request's line and headers to arrive, from a new connection's "
            "start or a request's first byte."
        ),
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="Longest pause, in seconds, inside a request body."
    )

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def state_dir(self) -> Path:
        """Where Persona keeps its own files inside the data directory."""
        return self.data_dir / ".persona"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'persona.db'}"

    @property
    def api_tokens(self) -> list[str]:
        if self.api_token is None:
            return []
        return [t.strip() for t in self.api_token.get_secret_value().split(",") if t.strip()]
