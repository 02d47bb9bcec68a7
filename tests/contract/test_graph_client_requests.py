"""Every request our Graph client sends, checked against the vendored Graph specs.

The client talks to the live sandbox (so paging links, retries and token renewals
are real); an httpx request hook records each request on the way out, and
``graph_spec`` validates its path, query and body. A client that drifts from the
real API fails here even if the sandbox would have tolerated it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from hiresync.providers.microsoft import AppTokenProvider, GraphClient, RetryPolicy
from hiresync.providers.microsoft.adapter import MicrosoftDirectory, MicrosoftFreeBusy
from hiresync.sandbox.microsoft import CONTOSO_ID, MicrosoftSandbox
from tests.contract.graph_spec import (
    template_for,
    validate_query,
    validate_request_body,
)


class Recorder:
    """Collects the requests a client sends (an httpx ``request`` event hook)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def by_template(self, fragment: str) -> list[httpx.Request]:
        return [r for r in self.requests if fragment in template_for(r.url.path)]


@pytest.fixture
async def recorded(
    ms_sandbox: MicrosoftSandbox, ms_base_url: str
) -> AsyncIterator[tuple[GraphClient, Recorder]]:
    recorder = Recorder()
    tokens = AppTokenProvider(
        login_url=ms_base_url,
        tenant_id=CONTOSO_ID,
        client_id=ms_sandbox.demo_client_id,
        client_secret=ms_sandbox.demo_client_secret,
    )
    client = GraphClient(
        graph_url=ms_base_url + "/graph",
        get_token=tokens,
        retry=RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.1),
        event_hooks={"request": [recorder]},
    )
    yield client, recorder
    await client.aclose()
    tokens.close()


def assert_conforms(request: httpx.Request) -> None:
    """Path known to the spec, query parameters declared, JSON body matching the operation."""
    path = request.url.path
    validate_query(request.method, path, dict(request.url.params))
    body = json.loads(request.content) if request.content else None
    validate_request_body(request.method, path, body)


async def test_directory_listing_requests_match_the_spec(
    recorded: tuple[GraphClient, Recorder], ms_sandbox: MicrosoftSandbox
) -> None:
    client, recorder = recorded
    ms_sandbox.add_generated_users(CONTOSO_ID, 800)  # past one page of 999
    users = await MicrosoftDirectory(client).list_users()
    assert len(users) == len(ms_sandbox.tenant(CONTOSO_ID).users)
    pages = recorder.by_template("/users")
    assert len(pages) >= 2
    for request in pages:
        assert_conforms(request)
    first = pages[0].url.params
    assert 1 <= int(first["$top"]) <= 999


async def test_free_busy_requests_match_the_spec(
    recorded: tuple[GraphClient, Recorder], ms_sandbox: MicrosoftSandbox
) -> None:
    client, recorder = recorded
    people = [u.mail for u in ms_sandbox.tenant(CONTOSO_ID).users.values()][:150]
    start = ms_sandbox.now.replace(hour=0, minute=0, second=0, microsecond=0)
    await MicrosoftFreeBusy(client).get_schedules(people, start, start + timedelta(days=70))
    calls = recorder.by_template("getSchedule")
    assert len(calls) == 4  # 2 batches x 2 windows
    for request in calls:
        assert_conforms(request)
        body = json.loads(request.content)
        assert set(body) == {"schedules", "startTime", "endTime", "availabilityViewInterval"}
        assert body["startTime"]["timeZone"] == "UTC" and len(body["schedules"]) <= 100
        assert request.headers["Prefer"] == 'outlook.timezone="UTC"'


async def test_calendar_view_requests_match_the_spec(
    recorded: tuple[GraphClient, Recorder], ms_sandbox: MicrosoftSandbox
) -> None:
    client, recorder = recorded
    user = next(iter(ms_sandbox.tenant(CONTOSO_ID).users.values()))
    start = ms_sandbox.now - timedelta(days=7)
    events = await client.calendar_view(user.id, start, start + timedelta(days=14), page_size=5)
    assert events and all("id" in e for e in events)
    views = recorder.by_template("calendarView")
    assert len(views) >= 2  # the sandbox pages calendarView, so nextLinks were followed too
    for request in views:
        assert_conforms(request)
        assert 'IdType="ImmutableId"' in request.headers["Prefer"]
    assert {"startDateTime", "endDateTime"} <= set(views[0].url.params)
