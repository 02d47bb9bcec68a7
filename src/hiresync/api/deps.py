"""FastAPI dependencies that load *and authorize*, so handlers stay a few lines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.runtime import Runtime
from hiresync.services import apikeys
from hiresync.services.errors import ServiceError

_bearer = HTTPBearer(auto_error=False, description="An API key from `hiresync apikey create`.")


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session in one transaction for the whole request: committed when the handler returns."""
    async with runtime.db.transaction() as session:
        yield session


# scope="function": commit before the response is sent. FastAPI's default runs this exit
# after sending, so a client could read its own write before it is committed, or be told
# "created" about a transaction that then fails.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def api_organization(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> uuid.UUID:
    """The organization whose API key made this request."""
    if credentials is None:
        raise Unauthorized(
            "This endpoint needs an API key.",
            hint="Send 'Authorization: Bearer hs_…'; create one with `hiresync apikey create`.",
        )
    async with runtime.db.transaction() as session:
        key = await apikeys.authenticate(session, credentials.credentials)
    if key is None:
        raise Unauthorized(
            "This API key is not valid (unknown, malformed or revoked).",
            hint="Create a new one with `hiresync apikey create`.",
        )
    return key.organization_id


OrgDep = Annotated[uuid.UUID, Depends(api_organization)]
