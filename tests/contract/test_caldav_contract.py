"""The CalDAV adapter's contract, held against real servers: Radicale and Xandikos.

One test class; every test runs once per server (a parametrized, module-scoped fixture
starts each server as a subprocess with a user and an app password, as vdirsyncer's storage
tests do). Each test works in a calendar of its own, made with MKCALENDAR and deleted after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest

from hiresync.providers.caldav import (
    CalDavCalendars,
    CalDavClient,
    CalendarInfo,
    CalendarItem,
    discover,
    expand,
)
from hiresync.providers.errors import AuthRevoked, Conflict, SyncTokenExpired
from tests.dav_servers import KINDS, DavServer, running

BERLIN = ZoneInfo("Europe/Berlin")
VTIMEZONE_BERLIN = (
    "BEGIN:VTIMEZONE\nTZID:Europe/Berlin\nBEGIN:DAYLIGHT\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n"
    "TZNAME:CEST\nDTSTART:19700329T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:DAYLIGHT\n"
    "BEGIN:STANDARD\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET\nDTSTART:19701025T030000\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nEND:STANDARD\nEND:VTIMEZONE\n"
)


def ics(*vevents: str, zones: str = "") -> str:
    """A calendar object resource with these VEVENT bodies (CRLF, as clients send it)."""
    text = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//hiresync//contract//EN\n" + zones
    for body in vevents:
        text += f"BEGIN:VEVENT\nDTSTAMP:20260101T000000Z\n{body.strip()}\nEND:VEVENT\n"
    return (text + "END:VCALENDAR\n").replace("\n", "\r\n")


def meeting(uid: str, summary: str = "Interview", partstat: str = "NEEDS-ACTION") -> str:
    return ics(
        f"UID:{uid}\nDTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nSUMMARY:{summary}\n"
        "ORGANIZER;CN=Rita:mailto:rita@example.com\n"
        f'ATTENDEE;CN="Doe, Jane";PARTSTAT={partstat}:mailto:jane@example.com'
    )


class Counting(httpx.AsyncBaseTransport):
    """The real transport, recording (method, Depth, number of hrefs in the body)."""

    def __init__(self, verify: object) -> None:
        self.inner = httpx.AsyncHTTPTransport(verify=verify)  # type: ignore[arg-type]
        self.seen: list[tuple[str, str | None, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        hrefs = request.content.count(b"<d:href>")
        self.seen.append((request.method, request.headers.get("Depth"), hrefs))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(scope="module", params=KINDS)
def dav_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DavServer]:
    with running(request.param, tmp_path_factory.mktemp(request.param)) as server:
        yield server


@pytest.fixture
async def client(dav_server: DavServer) -> AsyncIterator[CalDavClient]:
    async with dav_server.client() as client:
        yield client


@pytest.fixture
async def adapter(client: CalDavClient) -> CalDavCalendars:
    return CalDavCalendars(client)


@pytest.fixture
async def calendar(adapter: CalDavCalendars) -> AsyncIterator[CalendarInfo]:
    info = await adapter.create_calendar(
        f"contract-{uuid4().hex[:8]}", "Contract test", color="#3366CCFF"
    )
    yield info
    await adapter.delete_calendar(info.href)


def by_uid(items: list[CalendarItem]) -> dict[str, CalendarItem]:
    return {item.uid or "": item for item in items}


class TestCalDavContract:
    async def test_discovery_from_the_well_known_url(
        self, dav_server: DavServer, calendar: CalendarInfo
    ) -> None:
        async with dav_server.client() as fresh:
            account = await discover(fresh, dav_server.url + ".well-known/caldav")
        assert account.principal_url.endswith(f"/{dav_server.username}/")
        assert account.home_url.startswith(dav_server.url)
        found = {info.href: info for info in account.calendars}[calendar.href]
        assert found.display_name == "Contract test"
        assert found.ctag and found.sync_token and found.supports_sync
        assert "VEVENT" in found.components
        assert (found.color or "").upper().startswith("#3366CC")

    async def test_discovery_from_an_email_address(
        self, dav_server: DavServer, calendar: CalendarInfo
    ) -> None:
        if not dav_server.url.startswith("https://"):
            pytest.skip(
                "an address leads to https://{domain}/.well-known/caldav; this server is plain HTTP"
            )
        domain = dav_server.url.split("://", 1)[1].rstrip("/")  # localhost:{port}
        async with dav_server.client() as fresh:
            account = await discover(fresh, f"{dav_server.username}@{domain}")
        assert calendar.href in {info.href for info in account.calendars}

    async def test_a_wrong_app_password_is_auth_revoked(self, dav_server: DavServer) -> None:
        async with CalDavClient(
            dav_server.url, username=dav_server.username, password="wrong", verify=dav_server.verify
        ) as wrong:
            with pytest.raises(AuthRevoked):
                await discover(wrong)

    async def test_deleted_calendars_are_no_longer_listed(self, adapter: CalDavCalendars) -> None:
        info = await adapter.create_calendar("to-delete", "Dedicated hiring calendar")
        assert info.href in {c.href for c in await adapter.list_calendars()}
        await adapter.delete_calendar(info.href)
        await adapter.delete_calendar(info.href)  # already gone: fine
        assert info.href not in {c.href for c in await adapter.list_calendars()}

    async def test_create_update_delete_with_etags(
        self, adapter: CalDavCalendars, calendar: CalendarInfo
    ) -> None:
        created = await adapter.create(calendar.href, "evt-1", meeting("evt-1", "First"))
        assert created.etag and not created.existed
        stored = await adapter.get(created.href)
        assert stored is not None and stored.etag == created.etag
        assert stored.events[0].summary == "First"
        updated = await adapter.update(created.href, meeting("evt-1", "Second"), created.etag)
        assert updated.etag and updated.etag != created.etag
        with pytest.raises(Conflict):  # 412 on a stale If-Match
            await adapter.update(created.href, meeting("evt-1", "Third"), created.etag)
        with pytest.raises(Conflict):
            await adapter.delete(created.href, created.etag)
        await adapter.delete(created.href, updated.etag)
        assert await adapter.get(created.href) is None
        await adapter.delete(created.href, updated.etag)  # already gone: fine

    async def test_if_none_match_refuses_an_existing_resource(
        self, client: CalDavClient, adapter: CalDavCalendars, calendar: CalendarInfo
    ) -> None:
        first = await adapter.create(calendar.href, "evt-2", meeting("evt-2"))
        with pytest.raises(Conflict):
            await client.put(first.href, meeting("evt-2", "Overwrite"), create=True)
        again = await adapter.create(calendar.href, "evt-2", meeting("evt-2"))  # a retried create
        assert (again.href, again.etag, again.existed) == (first.href, first.etag, True)
        with pytest.raises(Conflict):  # a different event under our name is not ours
            await adapter.create(calendar.href, "evt-2", meeting("someone-else"))

    async def test_sync_collection_sees_creates_changes_and_deletes(
        self, adapter: CalDavCalendars, calendar: CalendarInfo
    ) -> None:
        written = {uid: await adapter.create(calendar.href, uid, meeting(uid)) for uid in "abc"}
        initial = await adapter.read_all(calendar.href)
        assert set(by_uid(initial.items)) == {"a", "b", "c"}
        assert initial.cursor.startswith("sync-token:") and initial.removed == []
        await adapter.create(calendar.href, "d", meeting("d"))
        await adapter.update(
            written["b"].href, meeting("b", partstat="DECLINED"), written["b"].etag or ""
        )
        await adapter.delete(written["c"].href, written["c"].etag)
        changes = await adapter.read_changes(calendar.href, initial.cursor)
        assert set(by_uid(changes.items)) == {"b", "d"}
        assert by_uid(changes.items)["b"].events[0].attendees[0].partstat == "DECLINED"
        assert changes.removed == [written["c"].href]
        quiet = await adapter.read_changes(calendar.href, changes.cursor)
        assert (quiet.items, quiet.removed) == ([], [])

    @pytest.mark.parametrize(
        "token",
        [
            "http://radicale.org/ns/sync/" + "0" * 64,
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "garbage",
        ],
    )
    async def test_an_invalid_sync_token_raises_sync_token_expired(
        self, adapter: CalDavCalendars, calendar: CalendarInfo, token: str
    ) -> None:
        await adapter.create(calendar.href, "x", meeting("x"))
        with pytest.raises(SyncTokenExpired):
            await adapter.read_changes(calendar.href, "sync-token:" + token)

    async def test_the_ctag_etag_scan_finds_the_same_changes(
        self, client: CalDavClient, adapter: CalDavCalendars, calendar: CalendarInfo
    ) -> None:
        scan = CalDavCalendars(client, use_sync_collection=False)
        written = {uid: await adapter.create(calendar.href, uid, meeting(uid)) for uid in "abc"}
        by_sync, by_scan = await adapter.read_all(calendar.href), await scan.read_all(calendar.href)
        assert by_scan.cursor.startswith("ctag:")
        assert {i.href: i.etag for i in by_scan.items} == {i.href: i.etag for i in by_sync.items}
        known = {i.href: i.etag or "" for i in by_scan.items}
        unchanged = await scan.read_changes(calendar.href, by_scan.cursor, known)
        assert (unchanged.items, unchanged.removed, unchanged.cursor) == ([], [], by_scan.cursor)
        await adapter.create(calendar.href, "d", meeting("d"))
        await adapter.update(written["b"].href, meeting("b", "Moved"), written["b"].etag or "")
        await adapter.delete(written["c"].href, written["c"].etag)
        sync_changes = await adapter.read_changes(calendar.href, by_sync.cursor)
        scan_changes = await scan.read_changes(calendar.href, by_scan.cursor, known)
        assert {i.href: i.etag for i in scan_changes.items} == {
            i.href: i.etag for i in sync_changes.items
        }
        assert scan_changes.removed == sync_changes.removed == [written["c"].href]
        assert scan_changes.cursor != by_scan.cursor

    @pytest.mark.parametrize("inline", [True, False])
    async def test_bodies_come_in_multiget_batches_never_one_get_each(
        self, dav_server: DavServer, adapter: CalDavCalendars, calendar: CalendarInfo, inline: bool
    ) -> None:
        for n in range(7):
            await adapter.create(calendar.href, f"m{n}", meeting(f"m{n}"))
        transport = Counting(dav_server.verify)
        async with dav_server.client(transport=transport) as counted:
            reader = CalDavCalendars(counted, batch_size=3, concurrency=2, inline_data=inline)
            pages = [page async for page in reader.iter_all(calendar.href)]
        items = [item for page in pages for item in page.items]
        assert sorted(item.uid or "" for item in items) == [f"m{n}" for n in range(7)]
        assert pages[-1].cursor and (pages[-1].done, pages[-1].total) == (7, 7)
        assert not any(method == "GET" for method, _, _ in transport.seen)
        multigets = sorted(
            n for method, depth, n in transport.seen if method == "REPORT" and depth == "1"
        )
        assert multigets in ([], [1, 3, 3])  # [] when the server sent the text with the listing
        assert inline or multigets == [1, 3, 3]

    async def test_recurring_series_with_an_exception(
        self, adapter: CalDavCalendars, calendar: CalendarInfo
    ) -> None:
        series = ics(
            "UID:series\nDTSTART;TZID=Europe/Berlin:20260302T090000\n"
            "DTEND;TZID=Europe/Berlin:20260302T094500\nRRULE:FREQ=WEEKLY;COUNT=6\n"
            "EXDATE;TZID=Europe/Berlin:20260316T090000\nSUMMARY:Weekly sync\nSEQUENCE:1",
            "UID:series\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\n"
            "DTSTART;TZID=Europe/Berlin:20260323T140000\nDTEND;TZID=Europe/Berlin:20260323T144500\n"
            "SUMMARY:Weekly sync (moved)\nSEQUENCE:2",
            zones=VTIMEZONE_BERLIN,
        )
        await adapter.create(calendar.href, "series", series)
        (item,) = (await adapter.read_all(calendar.href)).items
        assert item.quarantined is None and item.master is not None
        assert item.master.rrule == "FREQ=WEEKLY;COUNT=6"
        assert item.master.exdates == (datetime(2026, 3, 16, 9, tzinfo=BERLIN),)
        (moved,) = item.overrides
        assert moved.recurrence_id == datetime(2026, 3, 23, 9, tzinfo=BERLIN)
        window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
        assert [e.start.day for e in expand(item, *window)] == [2, 9, 23, 30, 6]

    async def test_all_day_and_multi_day_events(
        self, adapter: CalDavCalendars, calendar: CalendarInfo
    ) -> None:
        await adapter.create(
            calendar.href,
            "offsite",
            ics(
                "UID:offsite\nDTSTART;VALUE=DATE:20260302\nDTEND;VALUE=DATE:20260305\nSUMMARY:Offsite"
            ),
        )
        await adapter.create(
            calendar.href,
            "holiday",
            ics("UID:holiday\nDTSTART;VALUE=DATE:20260406\nSUMMARY:Holiday"),
        )
        items = by_uid((await adapter.read_all(calendar.href)).items)
        offsite, holiday = items["offsite"].events[0], items["holiday"].events[0]
        assert offsite.all_day and (offsite.start, offsite.effective_end()) == (
            date(2026, 3, 2),
            date(2026, 3, 5),
        )
        assert holiday.all_day and holiday.effective_end() - holiday.start == timedelta(days=1)

    @pytest.mark.parametrize("zone", ["Europe/Berlin", "Hiring Team Standard Time"])
    async def test_a_dst_crossing_event_with_tzid(
        self, adapter: CalDavCalendars, calendar: CalendarInfo, zone: str
    ) -> None:
        # The second zone is unknown to zoneinfo: only the resource's VTIMEZONE defines it.
        night = ics(
            f"UID:night\nDTSTART;TZID={zone}:20260328T220000\n"
            f"DTEND;TZID={zone}:20260329T100000\nSUMMARY:Night shift",
            zones=VTIMEZONE_BERLIN.replace("TZID:Europe/Berlin", f"TZID:{zone}"),
        )
        await adapter.create(calendar.href, "night", night)
        (item,) = (await adapter.read_all(calendar.href)).items
        assert item.quarantined is None, item.quarantined
        event = item.events[0]
        assert event.tzid == zone
        assert (event.start.utcoffset(), event.effective_end().utcoffset()) == (
            timedelta(hours=1),
            timedelta(hours=2),
        )  # type: ignore[union-attr]
        end, start = event.effective_end(), event.start
        assert isinstance(end, datetime) and isinstance(start, datetime)
        # Same tzinfo: Python subtracts wall times (12 h); the real span is 11 h.
        assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=11)
