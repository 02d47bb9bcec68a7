"""Access tokens: HS256 JWTs shaped like Entra ID v1 tokens for Microsoft Graph; and the
revocation of a user's refresh tokens.

App-only tokens carry ``roles`` from the tenant's consent grant; delegated tokens carry
``scp``. Graph checks signature, expiry and the tenant's *current* grant on every call.

Refresh tokens are not revoked when used (a refresh returns a new one and the old keeps
working until it expires: learn.microsoft.com "Refresh tokens in the Microsoft identity
platform"), but all of a user's are when they or an admin revoke them
(``revokeSignInSessions``): every later refresh fails with ``invalid_grant`` AADSTS50173,
and access tokens already issued keep working until they expire.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from .model import GRAPH_RESOURCE, RefreshGrant

ALGORITHM = "HS256"


def issue(
    key: str,
    *,
    tenant_id: str,
    client_id: str,
    app_name: str,
    issued_at: float,
    lifetime: int,
    roles: tuple[str, ...] = (),
    scopes: tuple[str, ...] = (),
    user_id: str | None = None,
    upn: str | None = None,
) -> str:
    """Sign an access token; exactly one of ``roles`` (app) or ``user_id`` (delegated)."""
    claims: dict[str, Any] = {
        "aud": GRAPH_RESOURCE,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": int(issued_at),
        "nbf": int(issued_at),
        "exp": int(issued_at) + lifetime,
        "appid": client_id,
        "app_displayname": app_name,
        "tid": tenant_id,
        "ver": "1.0",
        "uti": uuid.uuid4().hex[:22],
        "idtyp": "user" if user_id else "app",
    }
    if user_id:
        claims.update(oid=user_id, sub=user_id, upn=upn, scp=" ".join(scopes))
    else:
        claims.update(oid=client_id, sub=client_id, roles=list(roles))
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"typ": "JWT"})


class TokenError(Exception):
    """Why a bearer token was refused; ``message`` is Graph's wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def verify(key: str, token: str, now: float) -> dict[str, Any]:
    """Decode and check a token at time ``now``; raises TokenError with Graph's messages."""
    if not token:
        raise TokenError("Access token is empty.")
    if token.count(".") != 2:
        raise TokenError(
            "IDX14100: JWT is not well formed, there are no dots (.).\n"
            "The token needs to be in JWS or JWE Compact Serialization Format."
        )
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=GRAPH_RESOURCE,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError("Access token validation failure. Invalid signature.") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("Access token validation failure. Invalid audience.") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("Access token validation failure.") from exc
    if claims.get("exp", 0) <= now or claims.get("nbf", 0) > now + 300:
        raise TokenError("Lifetime validation failed, the token is expired.")
    return claims


@dataclass
class RevokedGrant(RefreshGrant):
    """A refresh token revoked with all of its user's (kept to answer AADSTS50173)."""

    issued_at: float = 0.0
    revoked_at: float = 0.0

    def refusal(self) -> str:
        """Entra ID's AADSTS50173 wording, with the grant's and the revocation's dates."""
        return (
            "The provided grant has expired due to it being revoked, a fresh auth token is "
            "needed. The user might have changed or reset their password. The grant was "
            f"issued on '{_stamp(self.issued_at)}' and the TokensValidFrom date (before which "
            f"tokens are not valid) for this user is '{_stamp(self.revoked_at)}'."
        )


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def revoke_refresh_tokens(
    grants: dict[str, RefreshGrant],
    *,
    tenant_id: str,
    user_id: str,
    now: float,
    lifetime: int,
    client_id: str | None = None,
) -> int:
    """Revoke every refresh token of the user (of one app when ``client_id``); how many."""
    revoked = 0
    for token, grant in list(grants.items()):
        if isinstance(grant, RevokedGrant) or (grant.tenant_id, grant.user_id) != (
            tenant_id,
            user_id,
        ):
            continue
        if client_id is not None and grant.client_id != client_id:
            continue
        grants[token] = RevokedGrant(
            grant.token,
            grant.client_id,
            grant.tenant_id,
            grant.user_id,
            grant.scopes,
            grant.expires_at,
            issued_at=grant.expires_at - lifetime,
            revoked_at=now,
        )
        revoked += 1
    return revoked
