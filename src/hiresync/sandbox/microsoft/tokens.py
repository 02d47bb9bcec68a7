"""Access tokens: HS256 JWTs shaped like Entra ID v1 tokens for Microsoft Graph.

App-only tokens carry ``roles`` from the tenant's consent grant; delegated tokens carry
``scp``. Graph checks signature, expiry and the tenant's *current* grant on every call.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from .model import GRAPH_RESOURCE

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
