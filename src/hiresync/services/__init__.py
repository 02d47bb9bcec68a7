"""Use cases. Each takes what it needs (a session, an organization id, adapters) and runs
inside the caller's transaction; none holds a transaction open across a provider call."""
