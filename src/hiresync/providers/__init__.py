"""Provider packages: one per external service, each client / wire / parse / adapter.

Providers never open a database session and never import services.
"""
