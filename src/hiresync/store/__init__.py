"""Persistence: SQLAlchemy tables, repositories returning domain values, migrations,
and encryption of secrets at rest. Only services and jobs import from here."""
