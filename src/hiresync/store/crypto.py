"""Secrets at rest: AES-256-GCM with key ids, so keys can be rotated without downtime.

A sealed value reads ``v1.<kid>.<base64(nonce || ciphertext+tag)>``. The associated data
binds each value to where it is stored (e.g. ``connection:<id>:access_token``), so a
ciphertext copied into another row or column fails to open. ``cryptography``'s AESGCM does
the cryptography; this module only manages key ids and the envelope.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class SecretError(Exception):
    """A sealed value cannot be opened: unknown key id, tampering, or wrong context."""


@dataclass(frozen=True)
class Keyring:
    """Keys by id; ``active`` seals new values, every key can open old ones."""

    active: str
    keys: dict[str, bytes]

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        body = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}.{self.active}.{base64.urlsafe_b64encode(nonce + body).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        try:
            version, kid, payload = sealed.split(".", 2)
        except ValueError as exc:
            raise SecretError("not a sealed value") from exc
        if version != _VERSION:
            raise SecretError(f"unknown envelope version {version!r}")
        key = self.keys.get(kid)
        if key is None:
            raise SecretError(f"no key with id {kid!r}: was it removed before re-encrypting?")
        raw = base64.urlsafe_b64decode(payload)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise SecretError(
                "secret does not open: tampered or stored in the wrong place"
            ) from exc

    def key_id_of(self, sealed: str) -> str:
        return sealed.split(".", 2)[1]

    def with_new_active_key(self) -> Keyring:
        kid = new_key_id()
        return Keyring(active=kid, keys={**self.keys, kid: AESGCM.generate_key(bit_length=256)})

    def dumps(self) -> str:
        encoded = {kid: base64.b64encode(key).decode() for kid, key in self.keys.items()}
        return json.dumps({"active": self.active, "keys": encoded}, indent=2)


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def parse_keyring(spec: str) -> Keyring:
    """Parse ``kid:base64key[,kid:base64key…]``; the first key is the active one."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kid, _, encoded = item.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise SecretError(f"key {kid!r} is not base64 ({exc})") from exc
        if len(key) != 32:
            raise SecretError(f"key {kid!r} must be 32 bytes of base64, got {len(key)} bytes")
        keys[kid] = key
    if not keys:
        raise SecretError("HIRESYNC_ENCRYPTION_KEYS holds no key")
    return Keyring(active=next(iter(keys)), keys=keys)


def keyring_file(keys_dir: Path) -> Path:
    return keys_dir / "encryption.json"


def load_or_create_keyring(keys_dir: Path) -> Keyring:
    """The keyring kept in ``keys_dir`` (0600), created with one fresh key on first use."""
    path = keyring_file(keys_dir)
    if path.exists():
        data = json.loads(path.read_text())
        keys = {kid: base64.b64decode(v) for kid, v in data["keys"].items()}
        return Keyring(active=data["active"], keys=keys)
    kid = new_key_id()
    ring = Keyring(active=kid, keys={kid: AESGCM.generate_key(bit_length=256)})
    save_keyring(keys_dir, ring)
    return ring


def save_keyring(keys_dir: Path, ring: Keyring) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = keyring_file(keys_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(ring.dumps())
    tmp.replace(path)


def load_or_create_secret(keys_dir: Path, name: str) -> str:
    """A random secret kept in ``keys_dir/name`` (0600), for session signing."""
    path = keys_dir / name
    if path.exists():
        return path.read_text().strip()
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
