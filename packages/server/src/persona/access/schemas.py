"""Keys and audit entries as the API shows them."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from persona.access.scopes import Scope
from persona.schemas import InputModel, OutputModel

KEY_NAME = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
MAX_COST = Field(
    default=None,
    gt=0,
    le=1_000_000,
    description="Most the key's runs may spend in all, in US dollars; null for no cap.",
)


class ApiKeyCreate(InputModel):
    name: str = KEY_NAME
    scope: Scope = Field(description="`read`, `write` (includes read) or `admin` (includes all).")
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working; null for never."
    )
    max_cost_usd: float | None = MAX_COST


class ApiKeyUpdate(InputModel):
    max_cost_usd: float | None = Field(
        gt=0,
        le=1_000_000,
        description="The key's new spend cap in US dollars; null removes the cap.",
    )


class ApiKey(OutputModel):
    id: str
    name: str
    scope: Scope
    prefix: str = Field(description="The secret's first characters, to tell keys apart.")
    created_at: AwareDatetime
    last_used_at: AwareDatetime | None = Field(
        default=None, description="Last authenticated request, to the minute."
    )
    expires_at: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None
    max_cost_usd: float | None = None
    spent_usd: float = Field(
        default=0.0, description="What the runs this key started have cost so far."
    )


class ApiKeyWithSecret(ApiKey):
    secret: str = Field(
        description="The key (`psk_…`), shown only now: send it as `Authorization: Bearer`."
    )


class ApiKeyList(OutputModel):
    items: list[ApiKey]


class AuditEntry(OutputModel):
    id: str
    created_at: AwareDatetime
    key_id: str | None = Field(
        description="The key used; null for the bootstrap token or an open server."
    )
    key_name: str | None
    operation_id: str = Field(description="The operation, as the OpenAPI document names it.")
    target_ids: dict[str, str] = Field(description="The ids the request's path named.")
    status: int = Field(description="The HTTP status it was answered with.")
    request_id: str | None


class AuditPage(OutputModel):
    items: list[AuditEntry]
    next_cursor: str | None = None
