"""All SQL of Persona: experiments, runs, personas, idempotency keys and evidence, as schemas.

``Repository`` gathers the repositories of each concern; their statements are named in
``persona.storage.queries``. Every method is synchronous and opens its own transaction (or
joins the group commit of ``Database.write_together``); callers on an event loop run them
in a worker thread. Run state changes are guarded (``WHERE status = ... AND attempts =
...``) so a stale worker can never overwrite a newer state or write personas twice.
"""

from __future__ import annotations

from persona.storage.audit import AuditStore
from persona.storage.experiments import ExperimentStore
from persona.storage.keys import KeyStore
from persona.storage.personas import PersonaStore
from persona.storage.privacy import PrivacyStore
from persona.storage.queries import CLAIMED_STAGE
from persona.storage.rate_limits import RateLimitStore
from persona.storage.rows import MAX_PAGE_SIZE, ClaimedRun, check_limit
from persona.storage.run_events import RunEventStore
from persona.storage.run_evidence import EvidenceStore
from persona.storage.runs import RunStore
from persona.storage.webhooks import WebhookStore


class Repository(
    ExperimentStore,
    RunStore,
    RunEventStore,
    EvidenceStore,
    PersonaStore,
    WebhookStore,
    PrivacyStore,
    KeyStore,
    AuditStore,
    RateLimitStore,
):
    """Every repository of one database: ``Repository(database).create_run(...)``."""


__all__ = ["CLAIMED_STAGE", "MAX_PAGE_SIZE", "ClaimedRun", "Repository", "check_limit"]
