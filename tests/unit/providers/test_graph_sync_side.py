"""A Graph calendar as the sync engine's remote side (providers/microsoft/sync_side.py).

Pure mapping first: the digest ignores everything but content (etags, change keys, fraction
digits, attendee order), series come as one item per instance with uids that survive a
resync, all-day events land on their dates. Then the wire (httpx.MockTransport): the cursor,
what a delta round becomes, instances Graph no longer shows, and the writes' bodies, headers
and error mapping, with bodies checked against the Graph spec.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hiresync.domain.calendar_copies import EventCopy
from hiresync.providers.errors import SyncTokenExpired
from hiresync.providers.microsoft.client import GraphClient, RetryPolicy
from hiresync.providers.microsoft.parse import DeltaPage
from hiresync.providers.microsoft.sync_side import (
    FRESH,
    TX_PREFIX,
    UID_PROPERTY,
    WRITTEN_PROPERTY,
    GraphRemote,
    Round,
    Window,
    copy_of,
    digest_of,
    event_body,
    graph_etag,
    items_of,
    uid_of,
)
from hiresync.sync import Item
from hiresync.sync.model import PreconditionFailed
from tests.contract.graph_spec import validate_request_body

GRAPH = "https://graph.example.test"
ROOT = f"{GRAPH}/v1.0"
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
OWNER = "pat@contoso.com"
Handler = Callable[[httpx.Request], httpx.Response]


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "@odata.etag": f'W/"{event_id}-1"',
        "id": event_id,
        "type": "singleInstance",
        "iCalUId": f"ical-{event_id}",
        "subject": "Design review",
        "start": {"dateTime": "2026-03-16T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-16T10:00:00.0000000", "timeZone": "UTC"},
        "isAllDay": False,
        "showAs": "busy",
        "isCancelled": False,
        "isOrganizer": True,
        "originalStartTimeZone": "W. Europe Standard Time",
        "location": {"displayName": "Room 1"},
        "organizer": {"emailAddress": {"address": "Pat@contoso.com", "name": "Pat"}},
        "attendees": [
            {
                "type": "required",
                "status": {"response": "accepted", "time": "2026-03-01T10:00:00Z"},
                "emailAddress": {"address": "ann@contoso.com", "name": "Ann"},
            },
            {
                "type": "required",
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                "emailAddress": {"address": "bo@example.org", "name": "Bo"},
            },
        ],
        "lastModifiedDateTime": "2026-03-01T10:00:00.1234567Z",
    }
    return base | fields


def series(master_id: str = "m") -> list[dict[str, Any]]:
    """A weekly series as delta sends it: the master, two stubs and a moved exception."""
    master = event(
        master_id,
        type="seriesMaster",
        subject="Weekly 1:1",
        recurrence={"pattern": {"type": "weekly"}, "range": {"type": "noEnd"}},
    )
    stubs = [
        {
            "@odata.etag": master["@odata.etag"],
            "id": f"{master_id}_2026031{day}",
            "seriesMasterId": master_id,
            "type": "occurrence",
            "start": {"dateTime": f"2026-03-1{day}T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": f"2026-03-1{day}T09:30:00.0000000", "timeZone": "UTC"},
        }
        for day in (6, 9)  # two instances, Monday and Thursday
    ]
    moved = event(
        f"{master_id}_20260323",
        type="exception",
        seriesMasterId=master_id,
        subject="1:1 (moved)",
        originalStart="2026-03-23T09:00:00Z",
        start={"dateTime": "2026-03-23T15:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2026-03-23T15:30:00.0000000", "timeZone": "UTC"},
    )
    return [master, *stubs, moved]


# -- the digest -----------------------------------------------------------------------------------


def test_the_digest_ignores_etags_change_keys_fractions_and_attendee_order() -> None:
    one = event("a")
    start, end = datetime(2026, 3, 16, 9, tzinfo=UTC), datetime(2026, 3, 16, 10, tzinfo=UTC)
    other = one | {
        "@odata.etag": 'W/"other"',
        "changeKey": "other",
        "lastModifiedDateTime": "2026-03-09T00:00:00Z",
        "body": {"contentType": "html", "content": "<p>changed</p>"},
        "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "UTC"},
        "attendees": list(reversed(one["attendees"])),
        "organizer": {"emailAddress": {"address": "PAT@CONTOSO.COM"}},
    }
    assert copy_of(one, OWNER).digest == copy_of(other, OWNER).digest
    assert copy_of(one, OWNER).digest == digest_of(one, start, end)


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "Design review (v2)"},
        {"showAs": "free"},
        {"isCancelled": True},
        {"location": {"displayName": "Room 2"}},
        {"end": {"dateTime": "2026-03-16T10:30:00", "timeZone": "UTC"}},
        {"isAllDay": True},
    ],
)
def test_the_digest_moves_with_content(change: dict[str, Any]) -> None:
    assert copy_of(event("a"), OWNER).digest != copy_of(event("a", **change), OWNER).digest


def test_an_attendee_answer_is_a_change() -> None:
    before = event("a")
    after = json.loads(json.dumps(before))
    after["attendees"][1]["status"]["response"] = "declined"
    assert copy_of(before, OWNER).digest != copy_of(after, OWNER).digest
    answers = {a["email"]: a["response"] for a in copy_of(after, OWNER).data["attendees"]}
    assert answers == {"ann@contoso.com": "accepted", "bo@example.org": "declined"}


# -- what an event becomes -------------------------------------------------------------------------


def test_a_single_event_is_copied_in_utc_and_owned_by_its_organizer() -> None:
    copy = copy_of(event("a"), OWNER)
    assert copy.uid == "ical-a" and copy.summary == "Design review"
    assert copy.starts_at == datetime(2026, 3, 16, 9, tzinfo=UTC)
    assert copy.time_zone == "Europe/Berlin" and copy.busy and copy.owned
    assert copy.modified == datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    invited = copy_of(event("b", isOrganizer=False), OWNER)
    assert not invited.owned, "an invitation does not sync out"
    free = copy_of(event("c", showAs="free"), OWNER)
    cancelled = copy_of(event("d", isCancelled=True), OWNER)
    assert not free.busy and not cancelled.busy and cancelled.status == "cancelled"


def test_an_event_hiresync_wrote_is_known_by_its_transaction_id() -> None:
    ours = event("a", transactionId=f"{TX_PREFIX}interview-1@hiresync")
    assert uid_of(ours) == "interview-1@hiresync"
    assert uid_of(event("b", transactionId="someone-elses")) == "ical-b"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (("2026-04-01T00:00:00", "UTC"), ("2026-04-04T00:00:00", "UTC")),  # as written
        (("2026-03-31T22:00:00", "UTC"), ("2026-04-03T22:00:00", "UTC")),  # Berlin's midnights
    ],
)
def test_an_all_day_event_keeps_its_dates(start: tuple[str, str], end: tuple[str, str]) -> None:
    wire = event(
        "a",
        isAllDay=True,
        start={"dateTime": start[0], "timeZone": start[1]},
        end={"dateTime": end[0], "timeZone": end[1]},
    )
    copy = copy_of(wire, OWNER)
    assert copy.all_day
    assert (copy.starts_at, copy.ends_at) == (
        datetime(2026, 4, 1, tzinfo=UTC),
        datetime(2026, 4, 4, tzinfo=UTC),
    )


def test_a_series_comes_as_one_item_per_instance() -> None:
    wire = {e["id"]: e for e in series()}
    items, quarantined = items_of(wire, {"m": wire["m"]}, OWNER)
    assert quarantined == []
    by_ident = {i.ident: i for i in items}
    assert set(by_ident) == {"m_20260316", "m_20260319", "m_20260323"}, "no item for the master"
    stub = by_ident["m_20260316"].payload
    assert stub.summary == "Weekly 1:1" and stub.owned and not stub.recurring
    assert stub.data["series"] == "m" and stub.data["location"] == "Room 1"
    assert stub.ends_at - stub.starts_at == timedelta(minutes=30)
    moved = by_ident["m_20260323"]
    assert moved.payload.summary == "1:1 (moved)"
    assert moved.uid == "ical-m#20260323T090000Z", "its original start, not where it moved"
    assert by_ident["m_20260316"].uid == "ical-m#20260316T090000Z"
    assert len({i.uid for i in items}) == 3


def test_instance_uids_survive_a_resync_and_a_move() -> None:
    wire = {e["id"]: e for e in series()}
    first = {i.ident: i.uid for i in items_of(wire, {"m": wire["m"]}, OWNER)[0]}
    moved = dict(wire)
    moved["m_20260316"] = event(
        "m_20260316",
        type="exception",
        seriesMasterId="m",
        originalStart="2026-03-16T09:00:00.0000000Z",
        start={"dateTime": "2026-03-16T11:00:00", "timeZone": "UTC"},
        end={"dateTime": "2026-03-16T11:30:00", "timeZone": "UTC"},
    )
    again = {i.ident: i.uid for i in items_of(moved, {"m": wire["m"]}, OWNER)[0]}
    assert again == first


def test_an_instance_whose_etag_stays_still_changes_version_when_it_moves() -> None:
    wire = {e["id"]: e for e in series()}
    before = {i.ident: i for i in items_of(wire, {"m": wire["m"]}, OWNER)[0]}
    wire["m_20260319"] = wire["m_20260319"] | {
        "start": {"dateTime": "2026-03-19T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-19T10:30:00", "timeZone": "UTC"},
    }
    after = {i.ident: i for i in items_of(wire, {"m": wire["m"]}, OWNER)[0]}
    assert after["m_20260319"].etag != before["m_20260319"].etag
    assert after["m_20260316"].etag == before["m_20260316"].etag
    assert graph_etag(after["m_20260319"].etag) == 'W/"m-1"'


def page(*events: dict[str, Any], removed: tuple[str, ...] = ()) -> DeltaPage:
    return DeltaPage(tuple(events), removed, None, "delta")  # type: ignore[arg-type]


def test_a_round_maps_instances_once_their_master_is_known_and_again_when_it_changes() -> None:
    master, first, second, moved = series()
    found = Round(OWNER)
    found.take(page(first, event("a")))  # an instance before its master
    assert set(found.mapped) == {"a"} and found.missing_masters() == {"m"}
    found.take(page(master, second, moved))
    assert set(found.mapped) == {"a", "m_20260316", "m_20260319", "m_20260323"}
    assert found.mapped["m_20260316"].payload.summary == "Weekly 1:1"
    found.take(page(master | {"subject": "Weekly 1:1 (renamed)"}))  # replayed, changed
    assert found.mapped["m_20260316"].payload.summary == "Weekly 1:1 (renamed)"
    assert found.mapped["m_20260323"].payload.summary == "1:1 (moved)", "its own subject"
    found.take(page(removed=("m_20260319", "a")))
    items, quarantined = found.results({})
    assert sorted(i.ident for i in items) == ["m_20260316", "m_20260323"] and not quarantined
    assert found.mentions("a") and not found.mentions("zzz")


def test_instances_of_a_master_the_round_never_sent_are_mapped_with_the_fetched_one() -> None:
    master, first, *_ = series()
    found = Round(OWNER)
    found.take(page(first))
    items, _ = found.results({})
    assert items == [], "no master: nothing yet"
    items, _ = found.results({"m": master})
    assert [i.uid for i in items] == ["ical-m#20260316T090000Z"]


def test_an_unreadable_event_is_quarantined_not_fatal() -> None:
    broken = event("a")
    del broken["start"]
    items, quarantined = items_of({"a": broken, "b": event("b")}, {}, OWNER)
    assert [i.ident for i in items] == ["b"]
    (bad,) = quarantined
    assert bad.ident == "a" and "cannot read" in bad.reason and bad.raw


# -- the wire -------------------------------------------------------------------------------------


def make_remote(
    handler: Handler, instances: Mapping[str, Sequence[str]] | None = None
) -> GraphRemote:
    async def token(force_refresh: bool) -> str:
        return "token"

    async def sleep(seconds: float) -> None:
        return None

    client = GraphClient(
        graph_url=GRAPH,
        get_token=token,
        retry=RetryPolicy(max_retries=1),
        transport=httpx.MockTransport(handler),
        sleep=sleep,
    )

    async def instances_of(ids: Sequence[str]) -> Mapping[str, Sequence[str]]:
        return {i: (instances or {}).get(i, ()) for i in ids}

    return GraphRemote(client, "pat", OWNER, instances_of=instances_of, now=lambda: NOW)


def answer(*bodies: Any, status: int = 200) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = bodies[min(len(seen), len(bodies)) - 1]
        if isinstance(body, int):
            return httpx.Response(body, json={"error": {"code": "x", "message": "no"}})
        return httpx.Response(status, json=body)

    return handler, seen


DELTA = f"{ROOT}/users/pat/calendarView/delta?$deltatoken=next"


async def test_a_first_read_covers_the_window_and_returns_a_cursor() -> None:
    handler, seen = answer({"@odata.deltaLink": DELTA, "value": [*series(), event("a")]})
    read = await make_remote(handler).read(None, {})
    assert read.full and len(read.items) == 4 and read.removed == []
    params = seen[0].url.params
    assert params["startDateTime"] == "2025-12-10T00:00:00Z", "90 days back, from midnight"
    assert params["endDateTime"].startswith("2027-03-1"), "a year ahead"
    assert read.cursor == f"2025-12-10T00:00:00Z|{DELTA}"


async def test_the_cursor_follows_its_delta_link_until_the_window_moves_on() -> None:
    handler, seen = answer({"@odata.deltaLink": DELTA, "value": []})
    cursor = f"2025-12-10T00:00:00Z|{ROOT}/users/pat/calendarView/delta?$deltatoken=old"
    read = await make_remote(handler).read(cursor, {})
    assert not read.full and seen[0].url.params["$deltatoken"] == "old"
    stale = f"{(NOW - Window().past - timedelta(days=31)):%Y-%m-%dT%H:%M:%SZ}|{DELTA}"
    for bad in (stale, "garbage", "2025-12-10T00:00:00Z|"):
        with pytest.raises(SyncTokenExpired):
            await make_remote(handler).read(bad, {})
    gone, _ = answer(410)
    with pytest.raises(SyncTokenExpired):
        await make_remote(gone).read(cursor, {})


async def test_a_series_sent_whole_drops_the_instances_it_no_longer_has() -> None:
    master, first, _, moved = series()
    handler, _ = answer({"@odata.deltaLink": DELTA, "value": [master, first, moved]})
    held = {"m": ["m_20260316", "m_20260319", "m_20260323"]}
    known = {ident: "etag" for ident in held["m"]}
    read = await make_remote(handler, held).read(f"2025-12-10T00:00:00Z|{DELTA}", known)
    assert read.removed == ["m_20260319"], "cancelled: Graph said nothing, the series did"


async def test_a_removed_master_takes_its_instances() -> None:
    handler, _ = answer(
        {"@odata.deltaLink": DELTA, "value": [{"id": "m", "@removed": {"reason": "deleted"}}]}
    )
    held = {"m": ["m_20260316"]}
    read = await make_remote(handler, held).read(
        f"2025-12-10T00:00:00Z|{DELTA}", {"m_20260316": "e"}
    )
    assert sorted(read.removed) == ["m", "m_20260316"]


async def test_stubs_without_their_master_get_it_fetched() -> None:
    master, first, *_ = series()
    handler, seen = answer({"@odata.deltaLink": DELTA, "value": [first]}, master)
    read = await make_remote(handler).read(None, {})
    (item,) = read.items
    assert item.payload.summary == "Weekly 1:1" and item.uid == "ical-m#20260316T090000Z"
    assert seen[1].url.path == "/v1.0/users/pat/events/m"


async def test_an_event_we_created_and_that_vanished_unseen_is_removed() -> None:
    handler, seen = answer({"@odata.deltaLink": DELTA, "value": []}, 404)
    known = {"ours": f'W/"x"#abc{FRESH}', "theirs": 'W/"y"#def'}
    read = await make_remote(handler).read(f"2025-12-10T00:00:00Z|{DELTA}", known)
    assert read.removed == ["ours"]
    assert [r.url.path for r in seen] == [
        "/v1.0/users/pat/calendarView/delta",
        "/v1.0/users/pat/events/ours",
    ]


def source(**fields: Any) -> Item:
    copy = EventCopy(
        uid="interview-1@hiresync",
        digest="d",
        summary="Interview: Alex",
        starts_at=datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
        ends_at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        time_zone="Europe/Berlin",
        data={
            "location": "Room 1",
            "attendees": [{"email": "ann@contoso.com", "name": "Ann", "response": "none"}],
        },
        **fields,
    )
    return Item("local-1", copy.uid, "1", "d", copy)


async def test_a_create_carries_its_transaction_id_and_our_key() -> None:
    handler, seen = answer(
        event("new", transactionId=f"{TX_PREFIX}interview-1@hiresync"), status=201
    )
    ident, etag, digest = await make_remote(handler).create(source())
    assert ident == "new" and etag and etag.endswith(FRESH)
    assert digest != source().digest, "Outlook's digest, as the next read will show it"
    request = seen[0]
    body = json.loads(request.content)
    assert request.method == "POST" and request.url.path == "/v1.0/users/pat/events"
    assert body["transactionId"] == "hiresync:interview-1@hiresync"
    assert body["singleValueExtendedProperties"] == [
        {"id": UID_PROPERTY, "value": "interview-1@hiresync"},
        {"id": WRITTEN_PROPERTY, "value": f"{source().etag}|{source().digest}"},
    ], "our key, and the version written (planner row 4 after a lost status)"
    assert body["start"] == {
        "dateTime": "2026-03-29T01:30:00",
        "timeZone": "W. Europe Standard Time",
    }
    assert body["end"] == {
        "dateTime": "2026-03-29T03:30:00",
        "timeZone": "W. Europe Standard Time",
    }, "after the DST change"
    assert 'IdType="ImmutableId"' in request.headers["Prefer"]
    validate_request_body("POST", "/users/{user-id}/events", body)


def test_an_all_day_body_is_on_its_date_and_a_series_is_not_written() -> None:
    day = datetime(2026, 4, 1, tzinfo=UTC)
    copy = EventCopy(
        uid="u", digest="d", starts_at=day, ends_at=day + timedelta(days=2), all_day=True
    )
    body = event_body(copy)
    assert body["isAllDay"] and body["start"] == {
        "dateTime": "2026-04-01T00:00:00",
        "timeZone": "UTC",
    }
    assert body["end"]["dateTime"] == "2026-04-03T00:00:00"
    validate_request_body("PATCH", "/users/{user-id}/events/{event-id}", body)
    with pytest.raises(ValueError, match="series"):
        event_body(EventCopy(uid="s", digest="d", starts_at=day, recurring=True))


async def test_an_update_sends_graphs_etag_and_a_changed_event_is_a_precondition() -> None:
    handler, seen = answer(event("a"))
    version, digest = await make_remote(handler).update("a", f'W/"a-0"#0123{FRESH}', source())
    assert seen[0].method == "PATCH" and seen[0].headers["If-Match"] == 'W/"a-0"'
    assert graph_etag(version) == 'W/"a-1"' and digest
    refused, _ = answer(412)
    with pytest.raises(PreconditionFailed):
        await make_remote(refused).update("a", 'W/"a-0"#0123', source())


async def test_a_delete_of_nothing_is_done_and_of_a_changed_event_refused() -> None:
    handler, seen = answer(404)
    await make_remote(handler).delete("a", 'W/"a-0"#0123')
    assert seen[0].method == "DELETE" and seen[0].headers["If-Match"] == 'W/"a-0"'
    refused, _ = answer(412)
    with pytest.raises(PreconditionFailed):
        await make_remote(refused).delete("a", 'W/"a-0"#0123')
