"""MicrosoftFreeBusy / MicrosoftDirectory over a fake Graph: batching, chunking, failures."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest

from hiresync.domain.freebusy import ScheduleErrorCode
from hiresync.providers.errors import AuthRevoked
from hiresync.providers.microsoft.adapter import MicrosoftDirectory, MicrosoftFreeBusy
from hiresync.providers.microsoft.client import GraphClient, RetryPolicy, mailbox_of

GRAPH = "https://graph.example.test"
START = datetime(2026, 3, 2, tzinfo=UTC)


class FakeGraph:
    """Just enough getSchedule: limits, unknown mailboxes, one busy hour per person per day."""

    def __init__(self, people: set[str], *, max_schedules: int = 100, max_days: int = 62) -> None:
        self.people = {p.lower() for p in people}
        self.max_schedules = max_schedules
        self.max_days = max_days
        self.calls: list[tuple[str, list[str], datetime, datetime]] = []
        self.fail_anchor: dict[str, httpx.Response] = {}
        self.in_flight = self.peak = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await anyio.sleep(0.005)
            return self.answer(request)
        finally:
            self.in_flight -= 1

    def answer(self, request: httpx.Request) -> httpx.Response:
        anchor = mailbox_of(str(request.url)) or ""
        body = json.loads(request.content)
        start = datetime.fromisoformat(body["startTime"]["dateTime"]).replace(tzinfo=UTC)
        end = datetime.fromisoformat(body["endTime"]["dateTime"]).replace(tzinfo=UTC)
        self.calls.append((anchor, body["schedules"], start, end))
        if anchor in self.fail_anchor:
            return self.fail_anchor[anchor]
        if anchor not in self.people:
            return error(404, "ErrorInvalidUser", f"The requested user '{anchor}' is invalid.")
        if len(body["schedules"]) > self.max_schedules:
            return error(400, "ErrorMailboxDataArrayTooBig", "too many")
        if end - start > timedelta(days=self.max_days):
            return error(400, "ErrorTimeIntervalTooBig", "too long")
        return httpx.Response(
            200, json={"value": [self.info(a, start, end) for a in body["schedules"]]}
        )

    def info(self, address: str, start: datetime, end: datetime) -> dict[str, object]:
        if address.lower() not in self.people:
            return {
                "scheduleId": address,
                "error": {"message": "not found", "responseCode": "ErrorMailRecipientNotFound"},
            }
        items = []
        day = start.replace(hour=0, minute=0)
        while day < end:
            s, e = day + timedelta(hours=10), day + timedelta(hours=11)
            if s < end and e > start:
                items.append(
                    {
                        "status": "busy",
                        "subject": address,
                        "start": {"dateTime": s.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                        "end": {"dateTime": e.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                    }
                )
            day += timedelta(days=1)
        return {"scheduleId": address, "scheduleItems": items}


def error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def people(n: int) -> list[str]:
    return [f"p{i:04d}@contoso.test" for i in range(n)]


def adapter(graph: FakeGraph, **kw: object) -> MicrosoftFreeBusy:
    async def token(force_refresh: bool) -> str:
        return "t"

    async def no_sleep(seconds: float) -> None:
        return None

    client = GraphClient(
        graph_url=GRAPH,
        get_token=token,
        transport=httpx.MockTransport(graph),
        retry=RetryPolicy(max_retries=1),
        sleep=no_sleep,
    )
    return MicrosoftFreeBusy(client, **kw)  # type: ignore[arg-type]


async def test_a_thousand_people_over_four_weeks_in_ten_concurrent_calls() -> None:
    emails = people(1000)
    graph = FakeGraph(set(emails))
    began = time.perf_counter()
    result = await adapter(graph).get_schedules(emails, START, START + timedelta(weeks=4))
    elapsed = time.perf_counter() - began
    assert [s.email for s in result] == emails
    assert all(s.error is None and len(s.blocks) == 28 for s in result)
    assert len(graph.calls) == 10 and all(len(c[1]) == 100 for c in graph.calls)
    # Each call is made on a mailbox of its own batch, so calls land on different mailboxes.
    assert all(anchor in [a.lower() for a in batch] for anchor, batch, _, _ in graph.calls)
    assert len({anchor for anchor, *_ in graph.calls}) == 10
    assert graph.peak > 1  # batches ran concurrently
    assert elapsed < 5


async def test_a_window_longer_than_62_days_is_split_and_merged() -> None:
    emails = people(3)
    graph = FakeGraph(set(emails))
    end = START + timedelta(days=100)
    result = await adapter(graph).get_schedules(emails, START, end)
    assert len(graph.calls) == 2
    assert all(e - s <= timedelta(days=62) for _, _, s, e in graph.calls)
    assert graph.calls[0][3] == graph.calls[1][2]  # consecutive, no gap
    assert all(len(s.blocks) == 100 for s in result)  # one per day, none lost or doubled


async def test_duplicates_are_asked_once_and_answered_at_every_position() -> None:
    graph = FakeGraph({"ann@contoso.test", "bo@contoso.test"})
    asked = ["ann@contoso.test", "bo@contoso.test", "ANN@contoso.test"]
    result = await adapter(graph).get_schedules(asked, START, START + timedelta(days=1))
    assert graph.calls[0][1] == ["ann@contoso.test", "bo@contoso.test"]
    assert [s.email for s in result] == asked
    assert result[0].blocks == result[2].blocks != ()


async def test_unknown_and_malformed_addresses_get_mailbox_not_found() -> None:
    graph = FakeGraph({"ann@contoso.test"})
    result = await adapter(graph).get_schedules(
        ["ann@contoso.test", "ghost@contoso.test", "not-an-address"],
        START,
        START + timedelta(days=1),
    )
    assert result[0].error is None
    assert result[1].error is not None
    assert result[1].error.code is ScheduleErrorCode.MAILBOX_NOT_FOUND
    assert result[2].error is not None
    assert result[2].error.code is ScheduleErrorCode.MAILBOX_NOT_FOUND


async def test_a_failing_batch_becomes_per_person_errors_and_the_rest_still_answers() -> None:
    emails = people(150)
    graph = FakeGraph(set(emails))
    for address in emails[:100]:
        graph.fail_anchor[address] = error(503, "ServiceUnavailable", "try later")
    result = await adapter(graph).get_schedules(emails, START, START + timedelta(days=1))
    assert all(s.error and s.error.code is ScheduleErrorCode.PROVIDER_ERROR for s in result[:100])
    assert all(s.error is None and s.blocks for s in result[100:])


async def test_a_revoked_connection_fails_the_whole_answer() -> None:
    emails = people(250)
    graph = FakeGraph(set(emails))
    graph.fail_anchor[emails[100]] = error(403, "ErrorAccessDenied", "Access is denied.")
    with pytest.raises(AuthRevoked, match="Access is denied"):
        await adapter(graph).get_schedules(emails, START, START + timedelta(days=1))


async def test_an_anchor_that_is_not_a_mailbox_moves_the_call_to_the_next_address() -> None:
    graph = FakeGraph({"bo@contoso.test"})
    result = await adapter(graph).get_schedules(
        ["room-typo@contoso.test", "bo@contoso.test"], START, START + timedelta(days=1)
    )
    assert [c[0] for c in graph.calls] == ["room-typo@contoso.test", "bo@contoso.test"]
    assert result[1].error is None and result[1].blocks
    assert result[0].error is not None
    assert result[0].error.code is ScheduleErrorCode.MAILBOX_NOT_FOUND


async def test_older_limits_are_discovered_by_halving_batches_and_windows() -> None:
    emails = people(50)
    graph = FakeGraph(set(emails), max_schedules=20, max_days=42)
    result = await adapter(graph).get_schedules(emails, START, START + timedelta(days=60))
    assert all(s.error is None and len(s.blocks) == 60 for s in result)
    ok = [c for c in graph.calls if len(c[1]) <= 20 and c[3] - c[2] <= timedelta(days=42)]
    assert {a for c in ok for a in c[1]} == set(emails)


async def test_naive_or_empty_windows_are_rejected() -> None:
    graph = FakeGraph(set())
    with pytest.raises(ValueError, match="aware"):
        await adapter(graph).get_schedules(["a@x.test"], datetime(2026, 3, 2), START)
    with pytest.raises(ValueError, match="after"):
        await adapter(graph).get_schedules(["a@x.test"], START, START)


async def test_directory_lists_every_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("$skiptoken") or 0)
        body: dict[str, object] = {
            "value": [{"id": f"u{page}-{i}", "mail": f"u{page}-{i}@x.test"} for i in range(3)]
        }
        if page < 3:
            body["@odata.nextLink"] = f"{GRAPH}/v1.0/users?$skiptoken={page + 1}"
        return httpx.Response(200, json=body)

    async def token(force_refresh: bool) -> str:
        return "t"

    client = GraphClient(graph_url=GRAPH, get_token=token, transport=httpx.MockTransport(handler))
    users = await MicrosoftDirectory(client).list_users()
    assert len(users) == 12 and users[-1].id == "u3-2"


async def test_a_known_user_id_anchors_the_call_when_the_address_is_not_a_upn() -> None:
    graph = FakeGraph({"morgan.lee@contoso.test", "id-123"})
    source = adapter(graph, anchors={"Morgan.Lee@contoso.test": "id-123"})
    result = await source.get_schedules(
        ["morgan.lee@contoso.test"], START, START + timedelta(days=1)
    )
    assert [c[0] for c in graph.calls] == ["id-123"]
    assert result[0].error is None
