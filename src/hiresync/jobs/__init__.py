"""Background jobs on Procrastinate, in the application's own PostgreSQL database.

Jobs are triggers, not the source of truth: each task re-reads what it needs from the
database, so a lost, repeated or retried job can never lose or double a change.
"""
