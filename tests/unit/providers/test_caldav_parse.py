"""The CalDAV ICS scanner against tricky inputs, and held to icalendar's reading (Hypothesis).

Every case is iCalendar text as servers and clients really write it: folded lines, CRLF or
LF, quoted parameters holding colons, all-day and floating times, zones zoneinfo does not
know, series with overrides in one resource, and text that must be quarantined, not crash.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiresync.providers.caldav import parse as scanner
from hiresync.providers.caldav.parse import CalendarItem, content_digest, parse_item
from hiresync.providers.caldav.recurrence import expand

BERLIN = ZoneInfo("Europe/Berlin")
CUSTOM_ZONE = """BEGIN:VTIMEZONE
TZID:Hiring Team Standard Time
BEGIN:STANDARD
DTSTART:19701025T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
END:VTIMEZONE
"""


def calendar(*vevents: str, zones: str = "", newline: str = "\r\n") -> str:
    body = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//caldav//EN\n" + zones
    for lines in vevents:
        body += "BEGIN:VEVENT\n" + lines.strip("\n") + "\nEND:VEVENT\n"
    return (body + "END:VCALENDAR\n").replace("\n", newline)


def read(text: str) -> CalendarItem:
    item = parse_item(text, "/cal/x.ics", '"e1"')
    assert item.quarantined is None, item.quarantined
    return item


SIMPLE = "UID:one@test\nDTSTAMP:20260101T000000Z\nDTSTART:20260302T090000Z\nDTEND:20260302T100000Z\nSUMMARY:Interview"


# -- line structure -----------------------------------------------------------------------


def test_crlf_and_lf_texts_read_the_same_and_digest_the_same() -> None:
    crlf, lf = read(calendar(SIMPLE)), read(calendar(SIMPLE, newline="\n"))
    assert crlf.events == lf.events
    assert crlf.digest == lf.digest
    assert crlf.href == "/cal/x.ics" and crlf.etag == '"e1"' and crlf.uid == "one@test"


def test_folded_lines_are_unfolded_with_space_or_tab_and_text_escapes_undone() -> None:
    event = (
        "UID:fold@test\nDTSTART:20260302T090000Z\n"
        "SUMMARY:Interview with a very long title that a client folded at seventy-five\n"
        "  octets\\, and went on\\; with \\\\ and\\nnew line\n"
        "LOCATION:Room\n\t12"
    )
    first = read(calendar(event)).events[0]
    assert first.summary == (
        "Interview with a very long title that a client folded at seventy-five "
        "octets, and went on; with \\ and\nnew line"
    )
    assert first.location == "Room12"


def test_folding_and_dtstamp_do_not_change_the_digest_but_content_does() -> None:
    base = read(calendar(SIMPLE)).digest
    refolded = calendar(SIMPLE.replace("SUMMARY:Interview", "SUMMARY:Inter\n view"))
    restamped = calendar(SIMPLE.replace("DTSTAMP:20260101T000000Z", "DTSTAMP:20270101T000000Z"))
    assert read(refolded).digest == base
    assert read(restamped).digest == base
    assert read(calendar(SIMPLE.replace("Interview", "Lunch"))).digest != base
    assert content_digest("A\nDTSTAMP") == content_digest("A\nDTSTAMP")  # no crash at the end


def test_parameters_with_quoted_colons_and_semicolons() -> None:
    event = (
        "UID:q@test\nDTSTART:20260302T090000Z\n"
        'ORGANIZER;CN="Recruiting: EMEA; Team":mailto:recruiting@example.com\n'
        'ATTENDEE;CN="Doe, Jane";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:jane@example.com\n'
        'ATTENDEE;DELEGATED-FROM="mailto:a@example.com";CN=Bob:MAILTO:bob@example.com\n'
        "ATTENDEE;partstat=declined:mailto:carol@example.com"
    )
    first = read(calendar(event)).events[0]
    assert first.organizer is not None
    assert (first.organizer.email, first.organizer.name) == (
        "recruiting@example.com",
        "Recruiting: EMEA; Team",
    )
    found = [(a.email, a.name, a.partstat, a.role) for a in first.attendees]
    assert found == [
        ("jane@example.com", "Doe, Jane", "ACCEPTED", "REQ-PARTICIPANT"),
        ("bob@example.com", "Bob", "NEEDS-ACTION", None),
        ("carol@example.com", None, "DECLINED", None),
    ]


def test_valarm_properties_do_not_leak_into_the_event() -> None:
    event = (
        "UID:alarm@test\nDTSTART:20260302T090000Z\nSUMMARY:Interview\n"
        "BEGIN:VALARM\nACTION:EMAIL\nSUMMARY:Reminder\nDESCRIPTION:soon\nTRIGGER:-PT15M\n"
        "ATTENDEE:mailto:me@example.com\nDURATION:PT5M\nREPEAT:1\nEND:VALARM"
    )
    first = read(calendar(event)).events[0]
    assert (first.summary, first.attendees, first.duration) == ("Interview", (), None)


# -- times ---------------------------------------------------------------------------------


def test_utc_floating_and_zoned_times() -> None:
    event = (
        "UID:t@test\nDTSTART;TZID=Europe/Berlin:20260302T090000\n"
        "DTEND;TZID=Europe/Berlin:20260302T100000\nLAST-MODIFIED:20260228T120000Z"
    )
    first = read(calendar(event)).events[0]
    assert first.start == datetime(2026, 3, 2, 9, tzinfo=BERLIN)
    assert first.start.utcoffset() == timedelta(hours=1)
    assert first.tzid == "Europe/Berlin"
    assert first.last_modified == datetime(2026, 2, 28, 12, tzinfo=UTC)
    floating = read(calendar("UID:f@test\nDTSTART:20260302T090000\nDURATION:PT45M")).events[0]
    assert floating.start == datetime(2026, 3, 2, 9) and floating.start.tzinfo is None
    assert floating.effective_end() == datetime(2026, 3, 2, 9, 45)
    utc = read(calendar(SIMPLE)).events[0]
    assert utc.start.tzinfo is UTC and utc.end == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_all_day_and_multi_day_events_use_dates() -> None:
    multi = read(
        calendar("UID:d@test\nDTSTART;VALUE=DATE:20260302\nDTEND;VALUE=DATE:20260305")
    ).events[0]
    assert multi.all_day
    assert (multi.start, multi.end) == (date(2026, 3, 2), date(2026, 3, 5))
    single = read(calendar("UID:d1@test\nDTSTART;VALUE=DATE:20260302")).events[0]
    assert single.effective_end() == date(2026, 3, 3)  # RFC 5545: a date lasts one day


def test_dst_crossing_event_keeps_wall_times_and_real_duration() -> None:
    event = (
        "UID:dst@test\nDTSTART;TZID=Europe/Berlin:20260328T220000\n"
        "DTEND;TZID=Europe/Berlin:20260329T100000"
    )
    first = read(calendar(event)).events[0]
    assert (first.start.utcoffset(), first.end.utcoffset()) == (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert first.end.astimezone(UTC) - first.start.astimezone(UTC) == timedelta(hours=11)


def test_tzid_unknown_to_zoneinfo_is_read_from_the_resources_vtimezone() -> None:
    event = (
        "UID:z@test\nDTSTART;TZID=Hiring Team Standard Time:20260328T220000\n"
        "DTEND;TZID=Hiring Team Standard Time:20260329T100000"
    )
    first = read(calendar(event, zones=CUSTOM_ZONE)).events[0]
    assert first.tzid == "Hiring Team Standard Time"
    assert (first.start.utcoffset(), first.end.utcoffset()) == (
        timedelta(hours=1),
        timedelta(hours=2),
    )


def test_windows_and_prefixed_tzids_map_to_iana_without_icalendar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(block: str) -> None:
        raise AssertionError("icalendar used for a zone zoneinfo knows")

    monkeypatch.setattr(scanner, "_zone_from_definition", never)
    windows = read(calendar("UID:w@test\nDTSTART;TZID=W. Europe Standard Time:20260701T090000"))
    mozilla = read(
        calendar("UID:m@test\nDTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20260701T090000")
    )
    quoted = read(calendar('UID:q@test\nDTSTART;TZID="Europe/Berlin":20260701T090000'))
    for item in (windows, mozilla, quoted):
        assert item.events[0].start.utcoffset() == timedelta(hours=2)


def test_unknown_tzid_without_vtimezone_is_quarantined_with_the_name() -> None:
    item = parse_item(calendar("UID:u@test\nDTSTART;TZID=Mars/Olympus_Mons:20260302T090000"))
    assert item.quarantined is not None and "Mars/Olympus_Mons" in item.quarantined
    assert item.events == () and item.digest


# -- series and resources ------------------------------------------------------------------


SERIES = (
    "UID:series@test\nDTSTART;TZID=Europe/Berlin:20260302T090000\n"
    "DTEND;TZID=Europe/Berlin:20260302T094500\nRRULE:FREQ=WEEKLY;COUNT=6\n"
    "EXDATE;TZID=Europe/Berlin:20260316T090000\nSUMMARY:Weekly sync\nSEQUENCE:2",
    "UID:series@test\nRECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\n"
    "DTSTART;TZID=Europe/Berlin:20260323T140000\nDTEND;TZID=Europe/Berlin:20260323T144500\n"
    "SUMMARY:Weekly sync (moved)\nSEQUENCE:3",
)


def test_series_with_overrides_in_one_resource() -> None:
    # The override comes first in the text; the master still comes first in the record.
    item = read(calendar(SERIES[1], SERIES[0]))
    assert item.master is not None and item.master.recurring
    assert item.master.rrule == "FREQ=WEEKLY;COUNT=6"
    assert item.master.exdates == (datetime(2026, 3, 16, 9, tzinfo=BERLIN),)
    (moved,) = item.overrides
    assert moved.recurrence_id == datetime(2026, 3, 23, 9, tzinfo=BERLIN)
    assert (moved.summary, moved.sequence) == ("Weekly sync (moved)", 3)


def test_expand_applies_overrides_and_exdates_across_dst() -> None:
    item = read(calendar(*SERIES))
    window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    starts = [(e.start, e.summary) for e in expand(item, *window)]
    assert starts == [
        (datetime(2026, 3, 2, 9, tzinfo=BERLIN), "Weekly sync"),
        (datetime(2026, 3, 9, 9, tzinfo=BERLIN), "Weekly sync"),
        (datetime(2026, 3, 23, 14, tzinfo=BERLIN), "Weekly sync (moved)"),
        (datetime(2026, 3, 30, 9, tzinfo=BERLIN), "Weekly sync"),  # after DST: still 9:00
        (datetime(2026, 4, 6, 9, tzinfo=BERLIN), "Weekly sync"),
    ]
    assert starts[3][0].utcoffset() == timedelta(hours=2)


def test_vtodo_resources_are_not_events_and_not_quarantined() -> None:
    todo = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VTODO\nUID:t@test\nSUMMARY:Call back\nEND:VTODO\nEND:VCALENDAR\n"
    item = parse_item(todo)
    assert (item.component, item.events, item.quarantined) == ("VTODO", (), None)


def test_our_key_property_is_read() -> None:
    item = read(calendar(SIMPLE + "\nX-HIRESYNC-KEY:interview-42"))
    assert item.key == "interview-42"


# -- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no BEGIN:VCALENDAR"),
        ("<html>Service Unavailable</html>", "no ':'"),
        (calendar(SIMPLE).replace("END:VCALENDAR\r\n", ""), "BEGIN:VCALENDAR is never closed"),
        (calendar(SIMPLE).replace("END:VEVENT", "END:VTODO"), "END:VTODO does not close"),
        (calendar("DTSTART:20260302T090000Z\nSUMMARY:no uid"), "without UID"),
        (calendar("UID:x@test\nSUMMARY:no start"), "has no DTSTART"),
        (calendar("UID:x@test\nDTSTART:2026-03-02 09:00"), "bad DTSTART value"),
        (calendar("UID:x@test\nDTSTART:20260230T090000Z"), "bad DTSTART value"),
        (calendar("UID:x@test\nDTSTART:20260302T090000Z\nDTEND:20260301T090000Z"), "before"),
        (calendar("UID:x@test\nDTSTART;VALUE=DATE:20260302\nDTEND:20260303T090000Z"), "both dates"),
        (calendar("UID:x@test\nDTSTART:20260302T090000Z\nDURATION:1 hour"), "bad DURATION"),
        (calendar(SIMPLE, SIMPLE), "several VEVENTs without RECURRENCE-ID"),
        (calendar(SIMPLE, SERIES[1]), "different UIDs"),
        (calendar(SIMPLE) + calendar(SIMPLE), "several VCALENDAR"),
        (calendar('UID:x@test\nDTSTART:20260302T090000Z\nATTENDEE;CN="open:x'), "unterminated"),
        (calendar(SIMPLE, zones="BEGIN:VTIMEZONE\nTZID:X\n"), "never closed"),
        ("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n", "holds no component"),
    ],
)
def test_malformed_text_is_quarantined_with_a_reason(text: str, reason: str) -> None:
    item = parse_item(text, "/cal/bad.ics", '"e"')
    assert item.quarantined is not None and reason in item.quarantined
    assert (item.events, item.href, item.etag, item.ics) == ((), "/cal/bad.ics", '"e"', text)


def test_a_quarantined_item_keeps_its_uid_when_it_has_one() -> None:
    item = parse_item(calendar("UID:kept@test\nDTSTART:not-a-time"))
    assert (item.uid, item.quarantined is not None) == ("kept@test", True)
    assert parse_item("garbage").uid is None


def test_quarantine_never_raises_on_random_bytes() -> None:
    for blob in ("\x00\x01", "BEGIN:VCALENDAR\n" + "\ud800", "BEGIN:VCALENDAR\nBEGIN:\n", ":::"):
        assert parse_item(blob).quarantined is not None


# -- held to icalendar -----------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + " ,;:\\\"'\n-éß日本",
    max_size=120,
).map(str.strip)
NAMES = st.text(alphabet=string.ascii_letters + " ,;:-é", min_size=1, max_size=30).map(
    lambda s: s.strip() or "x"
)
MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)


@st.composite
def events(draw: st.DrawFn) -> tuple[str, dict]:
    """An event serialised by icalendar, and what was put into it."""
    kind = draw(st.sampled_from(["utc", "zoned", "floating", "date"]))
    moment = draw(MOMENTS)
    if kind == "utc":
        start: date | datetime = moment.replace(tzinfo=UTC)
    elif kind == "zoned":
        start = moment.replace(tzinfo=ZoneInfo(draw(st.sampled_from(ZONES))))
    elif kind == "floating":
        start = moment
    else:
        start = moment.date()
    length = (
        timedelta(days=draw(st.integers(1, 10)))
        if kind == "date"
        else timedelta(minutes=draw(st.integers(0, 4000)))
    )
    event = icalendar.Event()
    event.add("uid", draw(st.from_regex(r"[A-Za-z0-9@._-]{1,40}", fullmatch=True)))
    event.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
    event.add("dtstart", start)
    if draw(st.booleans()):
        event.add("duration", length)
    else:
        event.add("dtend", start + length)
    event.add("summary", draw(TEXT))
    event.add("sequence", draw(st.integers(0, 1000)))
    if draw(st.booleans()):
        event.add("rrule", {"freq": "weekly", "count": draw(st.integers(1, 20))})
    for email in draw(st.lists(st.emails(), max_size=3)):
        address = icalendar.vCalAddress(f"mailto:{email}")
        address.params["cn"] = draw(NAMES)
        address.params["partstat"] = draw(st.sampled_from(["ACCEPTED", "DECLINED", "TENTATIVE"]))
        event.add("attendee", address, encode=0)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//test//hypothesis//EN")
    cal.add("version", "2.0")
    cal.add_component(event)
    if kind == "zoned" and draw(st.booleans()):
        cal.add_missing_timezones()
    text = cal.to_ical().decode()
    return (text.replace("\r\n", "\n") if draw(st.booleans()) else text), {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_scanner_agrees_with_icalendar(case: tuple[str, dict]) -> None:
    text, _ = case
    theirs = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    ours = read(text).events[0]
    assert ours.uid == str(theirs["UID"])
    assert ours.summary == str(theirs.get("SUMMARY", ""))
    assert ours.sequence == int(theirs.decoded("SEQUENCE"))
    _same_time(ours.start, theirs.decoded("DTSTART"))
    if "DTEND" in theirs:
        assert ours.end is not None
        _same_time(ours.end, theirs.decoded("DTEND"))
    else:
        assert ours.duration == theirs.decoded("DURATION")
    assert (ours.rrule is not None) == ("RRULE" in theirs)
    attendees = theirs.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [(a.email, a.name, a.partstat) for a in ours.attendees] == [
        (str(a)[7:], a.params.get("CN"), a.params.get("PARTSTAT")) for a in attendees
    ]


def _same_time(ours: date | datetime, theirs: date | datetime) -> None:
    assert type(ours) is type(theirs)
    assert ours == theirs
    if isinstance(ours, datetime) and isinstance(theirs, datetime):
        assert (ours.tzinfo is None) == (theirs.tzinfo is None)
        if ours.tzinfo is not None:
            assert ours.utcoffset() == theirs.utcoffset()
