"""Who may do what: API keys and their scopes, the audit log, and rate limits.

Decided once, at the edge (``persona.api.auth``), before the service is called."""
