"""Fixtures the integration modules share: a second process's view of the stack's
database (``db``) and a runtime like the server's (``runtime``: same database and keys),
for tests that drive services directly beside the running server and worker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hiresync.runtime import Runtime
from hiresync.store.db import Database
from tests.conftest import Stack


@pytest.fixture
async def runtime(stack: Stack) -> AsyncIterator[Runtime]:
    rt = Runtime.build(stack.settings, uri=stack.database_uri)
    await rt.start()
    yield rt
    await rt.close()


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database.connect(stack.database_uri, pool_size=2)
    yield database
    await database.dispose()
