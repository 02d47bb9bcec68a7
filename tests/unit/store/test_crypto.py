"""Secrets at rest: sealed with AES-GCM, bound to where they are stored, rotatable."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from hiresync.store.crypto import (
    SecretError,
    load_or_create_keyring,
    parse_keyring,
    save_keyring,
)


def test_sealed_secret_opens_only_in_its_own_place(tmp_path: Path) -> None:
    ring = load_or_create_keyring(tmp_path)
    sealed = ring.seal("refresh-token-123", context="connection:1:token")
    assert "refresh-token-123" not in sealed
    assert ring.open(sealed, context="connection:1:token") == "refresh-token-123"
    with pytest.raises(SecretError, match="wrong place"):
        ring.open(sealed, context="connection:2:token")


def test_tampering_is_detected(tmp_path: Path) -> None:
    ring = load_or_create_keyring(tmp_path)
    sealed = ring.seal("s3cret", context="c")
    head, kid, body = sealed.split(".", 2)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(SecretError):
        ring.open(f"{head}.{kid}.{base64.urlsafe_b64encode(bytes(raw)).decode()}", context="c")


def test_rotation_keeps_old_secrets_readable_and_seals_with_the_new_key(tmp_path: Path) -> None:
    old = load_or_create_keyring(tmp_path)
    sealed_before = old.seal("a", context="c")
    new = old.with_new_active_key()
    save_keyring(tmp_path, new)
    reloaded = load_or_create_keyring(tmp_path)
    assert reloaded.active == new.active != old.active
    assert reloaded.open(sealed_before, context="c") == "a"
    assert reloaded.key_id_of(reloaded.seal("b", context="c")) == new.active


def test_key_file_is_private(tmp_path: Path) -> None:
    load_or_create_keyring(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "encryption.json").st_mode)
    assert mode == 0o600


def test_keys_from_the_environment() -> None:
    k1, k2 = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    ring = parse_keyring(f"new:{k1}, old:{k2}")
    assert ring.active == "new" and set(ring.keys) == {"new", "old"}
    with pytest.raises(SecretError, match="32 bytes"):
        parse_keyring("short:" + base64.b64encode(b"x" * 16).decode())
    with pytest.raises(SecretError, match="no key"):
        parse_keyring("")


def test_unknown_key_id_says_what_happened(tmp_path: Path) -> None:
    ring = load_or_create_keyring(tmp_path)
    other = load_or_create_keyring(tmp_path / "other")
    with pytest.raises(SecretError, match="no key with id"):
        ring.open(other.seal("x", context="c"), context="c")
