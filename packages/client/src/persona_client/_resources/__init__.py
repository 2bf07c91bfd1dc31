"""The API's resources, as attributes of a client: experiments, runs, personas, sources,
providers, webhooks, keys and the audit log.

Each sync class has an async twin of the same shape; both only pick an operation from
``_operations`` and hand it to their client's ``request`` (waiting through its ``sleep``),
so they cannot drift apart in what they send.
"""

from persona_client._resources.access import AsyncAudit, AsyncKeys, Audit, Keys
from persona_client._resources.experiments import AsyncExperiments, Experiments
from persona_client._resources.personas import AsyncPersonas, Personas
from persona_client._resources.providers import AsyncProviders, Providers
from persona_client._resources.runs import AsyncRuns, Runs
from persona_client._resources.sources import AsyncSources, Sources
from persona_client._resources.webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "AsyncAudit",
    "AsyncExperiments",
    "AsyncKeys",
    "AsyncPersonas",
    "AsyncProviders",
    "AsyncRuns",
    "AsyncSources",
    "AsyncWebhooks",
    "Audit",
    "Experiments",
    "Keys",
    "Personas",
    "Providers",
    "Runs",
    "Sources",
    "Webhooks",
]
