"""The ``hiresync`` command as an operator runs it: a real process on the test database.

Every expected failure (unknown organization, bad role, unreachable database, malformed
keys or settings) ends with an ``error:`` line, a ``fix:`` line and a non-zero exit
code, never a traceback."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import Stack

HIRESYNC = str(Path(sys.executable).with_name("hiresync"))

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(stack: Stack, tmp_path: Path) -> Run:
    """``hiresync …`` against the suite's database, with the running server's keys."""
    env = {
        **os.environ,
        "HIRESYNC_DATABASE_URL": stack.database_uri,
        "HIRESYNC_DATA_DIR": str(tmp_path),
        "HIRESYNC_ENCRYPTION_KEYS": stack.settings.encryption_keys,
        "HIRESYNC_LOG_LEVEL": "WARNING",
    }

    def run(*args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HIRESYNC, *args],
            env={**env, **overrides},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def assert_explained(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Failed, said what and how to fix it, and showed no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "error:" in result.stderr and "fix:" in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_an_operator_sets_up_an_organization_and_its_key_works_until_revoked(
    cli: Run, stack: Stack
) -> None:
    slug = f"acme-{secrets.token_hex(3)}"
    assert cli("org", "create", "Acme Hiring", "--slug", slug).returncode == 0
    added = cli(
        "user", "add", "--org", slug, "--email", "Ada@Acme.example", "--name", "Ada",
        "--role", "recruiter", "--tz", "Europe/Paris",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    created = cli("apikey", "create", "--org", slug, "--name", "ats")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("hs_")

    users = httpx.get(f"{stack.url}/v1/users", headers={"Authorization": f"Bearer {key}"})
    assert users.status_code == 200
    assert [u["email"] for u in users.json()] == ["Ada@Acme.example"]

    listed = cli("apikey", "list", "--org", slug)
    prefix = key.split("_")[1]
    assert prefix in listed.stdout and "ats" in listed.stdout
    assert cli("apikey", "revoke", prefix, "--org", slug).returncode == 0
    refused = httpx.get(f"{stack.url}/v1/users", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401


def test_unknown_organization_and_bad_member_details_are_explained(cli: Run) -> None:
    assert_explained(cli("apikey", "create", "--org", "no-such-org"), "no-such-org", "org list")
    slug = f"beta-{secrets.token_hex(3)}"
    cli("org", "create", "Beta", "--slug", slug)
    bad_role = cli("user", "add", "--org", slug, "--email", "a@b.example", "--name", "A",
                   "--role", "boss")  # fmt: skip
    assert_explained(bad_role, "boss")
    bad_zone = cli("user", "add", "--org", slug, "--email", "a@b.example", "--name", "A",
                   "--tz", "Mars/Olympus")  # fmt: skip
    assert_explained(bad_zone, "Mars/Olympus")
    bad_email = cli("user", "add", "--org", slug, "--email", "not-an-address", "--name", "A")
    assert_explained(bad_email)


def test_an_unreachable_or_malformed_database_url_is_explained(cli: Run) -> None:
    for url in ("postgresql://nobody@127.0.0.1:1/none", "not a url"):
        for command in (("migrate",), ("org", "list"), ("serve", "--port", "1")):
            result = cli(*command, HIRESYNC_DATABASE_URL=url)
            assert_explained(result, "HIRESYNC_DATABASE_URL")
            assert result.returncode == 2


def test_malformed_keys_and_settings_are_explained(cli: Run) -> None:
    assert_explained(cli("org", "list", HIRESYNC_ENCRYPTION_KEYS="k1:short"), "32 bytes")
    assert_explained(cli("org", "list", HIRESYNC_RUN_WORKER="maybe"), "HIRESYNC_RUN_WORKER")


def test_reseal_moves_every_secret_to_the_new_key_and_old_keys_can_go(
    cli: Run, stack: Stack
) -> None:
    new = "k" + secrets.token_hex(3) + ":" + base64.b64encode(os.urandom(32)).decode()
    both = f"{new},{stack.settings.encryption_keys}"
    refused = cli("rotate-key")
    assert_explained(refused, "HIRESYNC_ENCRYPTION_KEYS", "--reseal-only")
    resealed = cli("rotate-key", "--reseal-only", HIRESYNC_ENCRYPTION_KEYS=both)
    assert resealed.returncode == 0, resealed.stderr
    # Everything now opens with the new key alone; put the old one back first for the
    # server still running with it.
    assert cli("rotate-key", "--reseal-only", HIRESYNC_ENCRYPTION_KEYS=new).returncode == 0
    back = f"{stack.settings.encryption_keys},{new}"
    assert cli("rotate-key", "--reseal-only", HIRESYNC_ENCRYPTION_KEYS=back).returncode == 0


def test_migrate_on_a_current_database_changes_nothing(cli: Run) -> None:
    result = cli("migrate")
    assert result.returncode == 0, result.stderr
    assert "0 migration(s) applied" in result.stdout
