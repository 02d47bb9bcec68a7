"""iCalendar invitations (RFC 5545 objects, RFC 5546 iTIP methods) for e-mail.

When a calendar cannot invite the candidate itself, hiresync sends the invitation by
e-mail, the way Google Calendar and Outlook do: an iTIP ``REQUEST`` for a new or moved
interview and a ``CANCEL`` when it is called off. Mail clients recognise an update or a
cancellation of the event they already hold by two things only: the same ``UID`` and a
higher ``SEQUENCE``. So the UID is derived from the interview id (never random) and the
sequence is the interview's own, which ``services.interviews`` raises on every confirmed
change, cancellation included.

The ``icalendar`` library writes the objects; this module decides what goes in. Times
are written in the interview's zone (``DTSTART;TZID=Europe/London:...``) with the
matching ``VTIMEZONE`` embedded, so clients without that zone still place the event
right on either side of a DST change.

The ``VTIMEZONE`` is built here from the IANA database (``zoneinfo`` + ``tzdata``), not
with icalendar's ``Timezone.from_tzinfo``/``add_missing_timezones``: icalendar 7.3 writes
the onset of daylight time as the wall-clock time *after* the change (03:00 for New
York's 02:00 EST → 03:00 EDT) while RFC 5545 §3.6.5 reads an observance's DTSTART in
its TZOFFSETFROM, so every RFC reader, icalendar's own parser included, would start
summer time an hour late. We find the transitions with zoneinfo (a coarse scan, then
bisection to the second) and write each onset as the RFC wants: the instant of the
change, in the offset before it. The component covers the years around the event only:
enough for one non-recurring event, and it keeps the invitation small.

Everything here is pure: a frozen ``InvitationEvent`` in, bytes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress

PRODID = "-//hiresync//Interview invitations//EN"
UID_DOMAIN = "hiresync"


class Method(StrEnum):
    """The iTIP methods an organizer sends (RFC 5546 §1.4)."""

    REQUEST = "REQUEST"  # a new invitation, or an update of one (same UID, higher SEQUENCE)
    CANCEL = "CANCEL"


@dataclass(frozen=True, slots=True)
class Person:
    """An address on the invitation, with the name a calendar shows for it."""

    email: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class InvitationEvent:
    """Everything an invitation says, independent of the database.

    ``start``/``end`` are aware datetimes (any offset); they are written in
    ``time_zone``. ``stamp`` is DTSTAMP, when the invitation was made (now if None).
    """

    uid: str
    sequence: int
    method: Method
    summary: str
    start: datetime
    end: datetime
    time_zone: str
    organizer: Person
    attendees: tuple[Person, ...] = ()
    description: str | None = None
    location: str | None = None
    url: str | None = None
    stamp: datetime | None = field(default=None)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must be aware datetimes (with a UTC offset).")
        if self.end <= self.start:
            raise ValueError("An invitation's end must come after its start.")
        if self.sequence < 0:
            raise ValueError("SEQUENCE cannot be negative.")
        zone_info(self.time_zone)


def uid_for(interview_id: object) -> str:
    """The UID of an interview's invitation: the same for every update and the cancel."""
    return f"{interview_id}@{UID_DOMAIN}"


def zone_info(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError if the database does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone (like Europe/Berlin).") from exc


def _address(person: Person, **params: str | bool) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    if person.name:
        address.params["CN"] = person.name
    for key, value in params.items():
        address.params[key.upper().replace("_", "-")] = (
            ("TRUE" if value else "FALSE") if isinstance(value, bool) else value
        )
    return address


def _attendee(person: Person, method: Method) -> vCalAddress:
    if method is Method.CANCEL:
        # Nothing to answer: a cancellation asks for no reply (RFC 5546 §3.2.5).
        return _address(person, cutype="INDIVIDUAL", role="REQ-PARTICIPANT")
    return _address(
        person, cutype="INDIVIDUAL", role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=True
    )


def local_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` as it is written in the invitation: local time in ``zone``.

    A local time that happens twice (the hour repeated when DST ends) means its *first*
    occurrence in iCalendar (RFC 5545 §3.3.5), so the second one cannot be written with
    a TZID; it is written in UTC instead, which every client reads the same.
    """
    local = moment.astimezone(zone)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def _vevent(invitation: InvitationEvent) -> Event:
    zone = zone_info(invitation.time_zone)
    stamp = (invitation.stamp or datetime.now(UTC)).astimezone(UTC)
    event = Event()
    event.add("uid", invitation.uid)
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", local_time(invitation.start, zone))
    event.add("dtend", local_time(invitation.end, zone))
    event.add("summary", invitation.summary)
    event.add("organizer", _address(invitation.organizer))
    for person in invitation.attendees:
        event.add("attendee", _attendee(person, invitation.method))
    if invitation.description:
        event.add("description", invitation.description)
    if invitation.location:
        event.add("location", invitation.location)
    if invitation.url:
        event.add("url", invitation.url)
    cancelled = invitation.method is Method.CANCEL
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


# -- VTIMEZONE -------------------------------------------------------------------------------

_SCAN_STEP = timedelta(hours=6)  # no zone changes offset twice within six hours


def _state(moment: datetime, zone: tzinfo) -> tuple[timedelta | None, timedelta | None, str | None]:
    local = moment.astimezone(zone)
    return local.utcoffset(), local.dst(), local.tzname()


def _change_at(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The first second in (before, after] with ``after``'s offset (bisection)."""
    target = _state(after, zone)
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if _state(middle, zone) == target:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0)


def transitions(zone: tzinfo, first: datetime, last: datetime) -> list[datetime]:
    """The UTC instants in [first, last) at which ``zone`` changes offset or name."""
    found, moment = [], first
    while moment < last:
        following = min(moment + _SCAN_STEP, last)
        if _state(moment, zone) != _state(following, zone):
            found.append(_change_at(moment, following, zone))
        moment = following
    return found


def vtimezone(tzid: str, first: datetime, last: datetime) -> Timezone:
    """A VTIMEZONE for the IANA zone ``tzid``, right for every instant in [first, last).

    One observance per kind of change (e.g. GMT→BST), its onsets as DTSTART and RDATEs,
    each the local time of the change in the offset before it (RFC 5545 §3.6.5)."""
    zone = zone_info(tzid)
    initial = first.astimezone(zone)
    onsets: dict[tuple[timedelta, timedelta, str, bool], list[datetime]] = {}
    key = (initial.utcoffset(), initial.utcoffset(), initial.tzname(), bool(initial.dst()))
    onsets[key] = [initial.replace(tzinfo=None)]
    for instant in transitions(zone, first, last):
        before, after = (instant - timedelta(seconds=1)).astimezone(zone), instant.astimezone(zone)
        key = (before.utcoffset(), after.utcoffset(), after.tzname(), bool(after.dst()))
        onsets.setdefault(key, []).append((instant + before.utcoffset()).replace(tzinfo=None))
    component = Timezone()
    component.add("tzid", tzid)
    for (offset_from, offset_to, name, daylight), starts in onsets.items():
        observance = TimezoneDaylight() if daylight else TimezoneStandard()
        observance.add("dtstart", starts[0])
        if starts[1:]:
            observance.add("rdate", starts[1:])
        observance.add("tzoffsetfrom", offset_from)
        observance.add("tzoffsetto", offset_to)
        if name:
            observance.add("tzname", name)
        component.add_component(observance)
    return component


def build_calendar(invitation: InvitationEvent) -> Calendar:
    """The VCALENDAR of one invitation, with the VTIMEZONE its times refer to."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", invitation.method.value)
    event = _vevent(invitation)
    if any("TZID" in event[name].params for name in ("DTSTART", "DTEND")):
        # From a month before the event's year to the end of the year after it.
        first = datetime(invitation.start.year - 1, 12, 1, tzinfo=UTC)
        last = datetime(invitation.end.year + 2, 1, 1, tzinfo=UTC)
        calendar.add_component(vtimezone(invitation.time_zone, first, last))
    calendar.add_component(event)
    return calendar


def to_ics(invitation: InvitationEvent) -> bytes:
    """The invitation as an iCalendar stream (CRLF lines, folded at 75 octets)."""
    return build_calendar(invitation).to_ical()


def attendees_of(people: Sequence[tuple[str, str | None]]) -> tuple[Person, ...]:
    """``(email, name)`` pairs as attendees, first occurrence of an address kept."""
    seen: dict[str, Person] = {}
    for email, name in people:
        seen.setdefault(email.strip().lower(), Person(email.strip(), name))
    return tuple(seen.values())
