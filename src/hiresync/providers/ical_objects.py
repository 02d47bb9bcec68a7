"""iCalendar objects for a calendar store: the text of an event hiresync keeps in a person's
calendar (a CalDAV resource, RFC 4791), as opposed to an invitation sent by e-mail.

A stored object differs from an invitation (``providers.email.ical``) in three ways that
matter to servers: it has no ``METHOD`` (RFC 4791 §4.1 forbids one in a calendar object
resource), it may be all-day (``DTSTART;VALUE=DATE``), and it carries no ``ORGANIZER`` or
``ATTENDEE`` unless the event really is a meeting the person organizes, because a server
with implicit scheduling (RFC 6638) would otherwise send its own invitations on top of the
ones the company calendar already sent. Times and the embedded ``VTIMEZONE`` are written
exactly as for invitations (that module explains why the VTIMEZONE is built by hand).

Pure: a frozen ``StoredEvent`` in, text out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from icalendar import Calendar, Event

from hiresync.providers.email.ical import local_time, vtimezone, zone_info

PRODID = "-//hiresync//Calendar events//EN"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as hiresync writes it into a calendar.

    ``start``/``end`` are aware datetimes, written in ``time_zone``; an all-day event uses
    their dates in that zone (``end`` exclusive, as iCalendar and Outlook count days)."""

    uid: str
    sequence: int
    summary: str
    start: datetime
    end: datetime
    time_zone: str
    all_day: bool = False
    description: str | None = None
    location: str | None = None
    url: str | None = None
    busy: bool = True
    cancelled: bool = False
    stamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must be aware datetimes (with a UTC offset).")
        if self.end <= self.start:
            raise ValueError("An event's end must come after its start.")
        zone_info(self.time_zone)


def _day(moment: datetime, zone_name: str) -> date:
    return moment.astimezone(zone_info(zone_name)).date()


def to_ics(event: StoredEvent) -> str:
    """The event as the text of a calendar object resource (CRLF lines, folded)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    component = Event()
    component.add("uid", event.uid)
    component.add("sequence", event.sequence)
    component.add("dtstamp", (event.stamp or datetime.now(UTC)).astimezone(UTC))
    if event.all_day:
        first = _day(event.start, event.time_zone)
        last = max(_day(event.end, event.time_zone), first.fromordinal(first.toordinal() + 1))
        component.add("dtstart", first)
        component.add("dtend", last)
    else:
        zone = zone_info(event.time_zone)
        component.add("dtstart", local_time(event.start, zone))
        component.add("dtend", local_time(event.end, zone))
    component.add("summary", event.summary)
    for name, value in (
        ("description", event.description),
        ("location", event.location),
        ("url", event.url),
    ):
        if value:
            component.add(name, value)
    component.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    component.add("transp", "OPAQUE" if event.busy and not event.cancelled else "TRANSPARENT")
    if not event.all_day and event.time_zone != "UTC":
        first_year = datetime(event.start.year - 1, 12, 1, tzinfo=UTC)
        last_year = datetime(event.end.year + 2, 1, 1, tzinfo=UTC)
        calendar.add_component(vtimezone(event.time_zone, first_year, last_year))
    calendar.add_component(component)
    return calendar.to_ical().decode()
