"""Real CalDAV servers for tests and benchmarks: Radicale and Xandikos, each started as a
subprocess on a free loopback port with a temporary store and one user with a password.

Radicale takes HTTP Basic auth over plain HTTP from an htpasswd file. Xandikos accepts
Basic auth only over TLS (``--htpasswd`` requires ``--autocert``), so it serves HTTPS with
a self-signed certificate for ``localhost`` and clients trust exactly that certificate
(``DavServer.verify``; ``DavServer.ca_file`` is the same certificate as a file, for
hiresync's own ``caldav_ca_file`` setting): both servers are run with authentication.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from hiresync.providers.caldav import CalDavClient
from tests.servers import free_port

USERNAME = "alice"
PASSWORD = "app-password-1234"
KINDS = ("radicale", "xandikos")


@dataclass
class DavServer:
    """A running server: where it answers, who may log in, and where it keeps its data."""

    kind: str
    url: str
    username: str
    password: str
    verify: ssl.SSLContext | bool
    storage: Path
    process: subprocess.Popen[bytes]
    log: Path
    ca_file: str = ""  # the certificate to trust, for ``Settings.caldav_ca_file`` ("" for HTTP)

    def client(self, **kw: object) -> CalDavClient:
        """A client logged in as the server's user (keyword arguments go to the client)."""
        return CalDavClient(
            self.url,
            username=self.username,
            password=self.password,
            verify=self.verify,
            **kw,  # type: ignore[arg-type]
        )

    def http(self, **kw: object) -> httpx.AsyncClient:
        """A bare authenticated httpx client on the server (for raw requests)."""
        auth = httpx.BasicAuth(self.username, self.password)
        return httpx.AsyncClient(base_url=self.url, auth=auth, verify=self.verify, **kw)  # type: ignore[arg-type]


def _radicale_config(root: Path, port: int) -> Path:
    users = root / "users"
    users.write_text(f"{USERNAME}:{PASSWORD}\n")
    config = root / "config"
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\n"
        "type = htpasswd\n"
        f"htpasswd_filename = {users}\n"
        "htpasswd_encryption = plain\n"
        "delay = 0\n"
        "[rights]\n"
        "type = owner_only\n"
        "[storage]\n"
        f"filesystem_folder = {root / 'collections'}\n"
        "[web]\n"
        "type = none\n"
        "[logging]\n"
        "level = warning\n"
    )
    return config


def start_radicale(root: Path) -> DavServer:
    """Radicale on ``http://127.0.0.1:{port}/``; its store is ``root/collections``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = _radicale_config(root, port)
    log = root / "radicale.log"
    command = [sys.executable, "-m", "radicale", "--config", str(config)]
    process = _spawn(command, log)
    server = DavServer(
        "radicale",
        f"http://127.0.0.1:{port}/",
        USERNAME,
        PASSWORD,
        True,
        root / "collections",
        process,
        log,
    )
    _wait_until_answering(server)
    return server


def start_xandikos(root: Path) -> DavServer:
    """Xandikos on ``https://localhost:{port}/`` (self-signed), principal ``/alice/``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()  # noqa: S324 - Xandikos' {SHA} htpasswd format
    htpasswd = root / "htpasswd"
    htpasswd.write_text(f"{USERNAME}:{{SHA}}{digest}\n")
    state = root / "state"
    log = root / "xandikos.log"
    command = [
        sys.executable,
        "-m",
        "xandikos.web",
        "--defaults",
        "-d",
        str(root / "data"),
        "-p",
        str(port),
        "-l",
        "localhost",
        "--autocert",
        "--htpasswd",
        str(htpasswd),
        "--state-dir",
        str(state),
        "--current-user-principal",
        f"/{USERNAME}/",
    ]
    process = _spawn(command, log)
    server = DavServer(
        "xandikos",
        f"https://localhost:{port}/",
        USERNAME,
        PASSWORD,
        False,
        root / "data",
        process,
        log,
    )
    cert = state / "certs" / "selfsigned.crt"
    server.verify = _certificate_context(cert, server)
    server.ca_file = str(cert)
    _wait_until_answering(server)
    return server


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def _certificate_context(cert: Path, server: DavServer) -> ssl.SSLContext:
    """Trust the server's self-signed certificate, once it has written all of it."""
    deadline = time.monotonic() + 30
    while True:
        _check_alive(server)
        try:
            return ssl.create_default_context(cafile=str(cert))
        except (OSError, ssl.SSLError):  # not there yet, or half written
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{server.kind} wrote no certificate:\n{server.log.read_text()}"
                ) from None
            time.sleep(0.05)


def _check_alive(server: DavServer) -> None:
    if server.process.poll() is not None:
        raise RuntimeError(
            f"{server.kind} exited ({server.process.returncode}):\n{server.log.read_text()}"
        )


def _wait_until_answering(server: DavServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        _check_alive(server)
        try:
            httpx.request("OPTIONS", server.url, verify=server.verify, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                stop(server)
                raise RuntimeError(
                    f"{server.kind} did not answer:\n{server.log.read_text()}"
                ) from None
            time.sleep(0.05)


def stop(server: DavServer) -> None:
    """Terminate the server process (and wait for it)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


START = {"radicale": start_radicale, "xandikos": start_xandikos}


@contextmanager
def running(kind: str, root: Path) -> Iterator[DavServer]:
    """A server of ``kind`` ("radicale" or "xandikos") for the duration of the block."""
    server = START[kind](root)
    try:
        yield server
    finally:
        stop(server)
