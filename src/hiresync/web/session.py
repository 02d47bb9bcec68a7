"""Browser sessions: who is logged in, a per-browser id (binds OAuth state), CSRF tokens,
and one-shot flash messages. The cookie is signed by Starlette's SessionMiddleware."""

from __future__ import annotations

import hmac
import secrets
import uuid
from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.services.errors import ServiceError
from hiresync.store.tables import Organization, User


class LoginRequired(Exception):
    """Raised for pages that need a logged-in user; answered with a redirect to /login."""


class CsrfFailed(ServiceError):
    status = 403
    code = "csrf_failed"


def browser_id(request: Request) -> str:
    if "browser" not in request.session:
        request.session["browser"] = secrets.token_urlsafe(24)
    return request.session["browser"]


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return request.session["csrf"]


async def check_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    expected = request.session.get("csrf", "")
    if not expected or not hmac.compare_digest(expected, csrf):
        raise CsrfFailed(
            "This form expired or did not come from this site.",
            hint="Reload the page and try again.",
        )


CsrfChecked = Depends(check_csrf)


def flash(request: Request, kind: str, text: str) -> None:
    request.session.setdefault("flashes", []).append([kind, text])


def take_flashes(request: Request) -> list[list[str]]:
    return request.session.pop("flashes", [])


async def current_user(request: Request, session: AsyncSession) -> tuple[User, Organization] | None:
    raw = request.session.get("user_id")
    if not raw:
        return None
    user = await session.get(User, uuid.UUID(raw))
    if user is None:
        request.session.pop("user_id", None)
        return None
    org = await session.get(Organization, user.organization_id)
    assert org is not None
    return user, org
