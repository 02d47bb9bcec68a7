"""Pure mapping from Graph wire JSON to hiresync domain values.

Nothing here does I/O, so every quirk of Graph's JSON (seven-digit fractions,
Windows zone names, custom zones with only a bias, private items) is pinned down
by unit tests without a server.

Free/busy for a whole hiring team is tens of thousands of schedule items, and most
of them repeat: meetings start on the hour or half hour and recurring series share
their subject and room. Parsing therefore shares equal values (one ``datetime`` per
distinct instant, one string per distinct subject within an answer), which halves
the memory an answer takes and most of the time spent reading it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from hiresync.domain.freebusy import (
    BusyBlock,
    BusyStatus,
    DirectoryUser,
    Schedule,
    ScheduleError,
    ScheduleErrorCode,
    Weekday,
    WorkingHours,
)
from hiresync.domain.timezones import to_iana

from .wire import (
    DateTimeTimeZone,
    DeltaItemWire,
    DeltaPageWire,
    EventWire,
    FreeBusyErrorWire,
    ScheduleInformationWire,
    ScheduleItemWire,
    SubscriptionWire,
    TimeZoneBase,
    UserWire,
    WorkingHoursWire,
)

# Per-schedule ``responseCode`` values that mean "no such mailbox", as opposed to a
# mailbox we may not read or a server-side failure.
MAILBOX_NOT_FOUND_CODES = frozenset(
    {
        "ErrorMailRecipientNotFound",
        "ErrorInvalidSmtpAddress",
        "ErrorNonExistentMailbox",
        "ErrorRecipientNotFound",
        "ErrorInvalidUser",
    }
)
# Exchange's MailRecipientNotFoundException text, whatever code accompanies it.
UNRESOLVED_PREFIX = "Unable to resolve e-mail address"


def _moment(value: DateTimeTimeZone) -> tuple[datetime, int, int]:
    """The instant, and it in whole seconds (floored, ceiled): one shared value per
    distinct (wall time, zone), see the module docstring."""
    return _seconds(value["dateTime"], value.get("timeZone") or "UTC")


@lru_cache(maxsize=8192)
def _seconds(text: str, zone: str) -> tuple[datetime, int, int]:
    moment = _instant(text, zone)
    stamp = moment.timestamp()
    return moment, math.floor(stamp), math.ceil(stamp)


def parse_datetime(value: DateTimeTimeZone) -> datetime:
    """A Graph ``dateTimeTimeZone`` as an aware UTC datetime.

    The zone may be ``UTC`` (what we ask for with ``Prefer: outlook.timezone``), a
    Windows name or an IANA name; an unknown zone is read as UTC, which is what
    Graph uses when no preference applies.
    """
    return _moment(value)[0]


def _instant(text: str, zone: str) -> datetime:
    naive = datetime.fromisoformat(text.removesuffix("Z"))
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    if zone == "UTC":  # what we ask for: the hot path needs no zone lookup
        return naive.replace(tzinfo=UTC)
    return naive.replace(tzinfo=_zone(zone)).astimezone(UTC)


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    """A zone by Windows or IANA name, looked up once (unknown names read as UTC)."""
    iana = to_iana(name)
    return ZoneInfo(iana) if iana else UTC


def to_datetime_time_zone(moment: datetime) -> DateTimeTimeZone:
    """An aware datetime as a UTC ``dateTimeTimeZone`` for request bodies."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return {"dateTime": utc.isoformat(timespec="seconds"), "timeZone": "UTC"}


def parse_user(wire: UserWire) -> DirectoryUser:
    """A Graph ``user`` as a ``DirectoryUser``; a missing ``accountEnabled`` counts as enabled."""
    enabled = wire.get("accountEnabled")
    return DirectoryUser(
        id=wire["id"],
        display_name=wire.get("displayName"),
        mail=wire.get("mail"),
        user_principal_name=wire.get("userPrincipalName"),
        proxy_addresses=tuple(wire.get("proxyAddresses") or ()),
        account_enabled=enabled is not False,
    )


_STATUSES = {status.value: status for status in BusyStatus}


def parse_status(value: str | None) -> BusyStatus:
    """Graph's ``freeBusyStatus``; a value this version does not know reads as unknown."""
    return _STATUSES.get(value or "busy", BusyStatus.UNKNOWN)


def parse_schedule_item(
    wire: ScheduleItemWire, strings: dict[str, str] | None = None
) -> BusyBlock | None:
    """One schedule item as a ``BusyBlock``; None for items shown as free.

    A private item never carries its subject or location past this point, even
    if a server sent them: recruiters must not see what a private meeting is.
    ``strings`` shares equal subjects and locations within one answer.
    """
    status = parse_status(wire.get("status"))
    if status is BusyStatus.FREE:
        return None
    private = bool(wire.get("isPrivate"))
    subject = None if private else (wire.get("subject") or None)
    location = None if private else (wire.get("location") or None)
    if strings is not None:
        subject = subject and strings.setdefault(subject, subject)
        location = location and strings.setdefault(location, location)
    start, start_s, _ = _moment(wire["start"])
    end, _, end_s = _moment(wire["end"])
    return BusyBlock(
        start=start,
        end=end,
        status=status,
        is_private=private,
        subject=subject,
        location=location,
        start_s=start_s,
        end_s=end_s,
    )


def parse_zone_name(zone: TimeZoneBase | None) -> str | None:
    """IANA name for a Graph ``timeZoneBase``.

    Windows names go through CLDR's table. A ``customTimeZone`` ("Customized Time
    Zone") has only a ``bias`` (minutes to add to local time for UTC); whole hours
    map to the matching fixed ``Etc/GMT±N`` zone, which ignores daylight saving —
    the best that can be said without the rules.
    """
    if not zone:
        return None
    iana = to_iana(zone.get("name"))
    if iana:
        return iana
    bias = zone.get("bias")
    if isinstance(bias, int) and bias % 60 == 0 and abs(bias) <= 14 * 60:
        hours = bias // 60
        return "Etc/GMT" if hours == 0 else f"Etc/GMT{hours:+d}"
    return None


def parse_time(value: str) -> time:
    """``08:00:00.0000000`` as a ``time``."""
    return time.fromisoformat(value)


def parse_working_hours(wire: WorkingHoursWire | None) -> WorkingHours | None:
    """Working hours with an IANA zone; None when absent or the zone is unknowable."""
    if not wire or "startTime" not in wire or "endTime" not in wire:
        return None
    zone = parse_zone_name(wire.get("timeZone"))
    if zone is None:
        return None
    days = tuple(
        Weekday(day.lower())
        for day in wire.get("daysOfWeek") or ()
        if day.lower() in Weekday._value2member_map_
    )
    return WorkingHours(
        days=days,
        start=parse_time(wire["startTime"]),
        end=parse_time(wire["endTime"]),
        time_zone=zone,
    )


def parse_schedule_error(wire: FreeBusyErrorWire) -> ScheduleError:
    """Exchange's availability error; "cannot resolve the address" is told apart by code or text."""
    code = wire.get("responseCode") or ""
    message = wire.get("message") or code or "free/busy unavailable"
    if code in MAILBOX_NOT_FOUND_CODES or message.startswith(UNRESOLVED_PREFIX):
        return ScheduleError(ScheduleErrorCode.MAILBOX_NOT_FOUND, message)
    return ScheduleError(ScheduleErrorCode.PROVIDER_ERROR, message)


def parse_schedule(
    wire: ScheduleInformationWire, email: str, strings: dict[str, str] | None = None
) -> Schedule:
    """One ``scheduleInformation`` as a ``Schedule`` for ``email`` (the address we asked for)."""
    error = wire.get("error")
    if error:
        return Schedule(email=email, error=parse_schedule_error(error))
    strings = {} if strings is None else strings
    items = wire.get("scheduleItems") or ()
    blocks = [b for b in (parse_schedule_item(item, strings) for item in items) if b]
    hours = parse_working_hours(wire.get("workingHours"))
    return Schedule(
        email=email,
        blocks=tuple(sorted(blocks, key=_block_key)),
        working_hours=hours,
        time_zone=hours.time_zone if hours else None,
    )


def match_schedules(
    emails: Sequence[str], values: Sequence[ScheduleInformationWire]
) -> list[Schedule]:
    """Pair a getSchedule answer with the addresses asked for.

    Graph echoes each address as ``scheduleId``, in request order; we match by
    address (case-insensitively) and fall back to position, and an address Graph
    left out gets an error entry instead of silently looking free.
    """
    by_id = {v.get("scheduleId", "").lower(): v for v in values}
    strings: dict[str, str] = {}
    result: list[Schedule] = []
    for index, email in enumerate(emails):
        wire = by_id.get(email.lower())
        if wire is None and index < len(values) and not values[index].get("scheduleId"):
            wire = values[index]
        if wire is None:
            missing = ScheduleError(ScheduleErrorCode.PROVIDER_ERROR, "no answer for this mailbox")
            result.append(Schedule(email=email, error=missing))
        else:
            result.append(parse_schedule(wire, email, strings))
    return result


def merge_schedules(email: str, parts: Iterable[Schedule]) -> Schedule:
    """Join the answers for consecutive windows of one mailbox.

    An item that spans a window boundary comes back in both windows, so equal
    blocks are kept once. If any window failed the whole answer is that error:
    half a calendar would look like free time.
    """
    parts = list(parts)
    for part in parts:
        if part.error:
            return Schedule(email=email, error=part.error)
    if len(parts) == 1:  # one window (≤ 62 days, the usual case): nothing to join
        return replace(parts[0], email=email)
    blocks = {block: None for part in parts for block in part.blocks}
    hours = next((p.working_hours for p in parts if p.working_hours), None)
    return Schedule(
        email=email,
        blocks=tuple(sorted(blocks, key=_block_key)),
        working_hours=hours,
        time_zone=hours.time_zone if hours else None,
    )


def _block_key(block: BusyBlock) -> tuple[datetime, datetime, str]:
    return (block.start, block.end, block.status.value)


# -- calendarView delta ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeltaPage:
    """One page of a delta round: events to upsert, ids to drop, and — on the round's last
    page — the ``@odata.deltaLink`` to start the next round from."""

    events: tuple[EventWire, ...]
    removed: tuple[str, ...]
    next_link: str | None
    delta_link: str | None


@dataclass(frozen=True)
class CalendarDelta:
    """A whole round: the last state of every item it mentioned (an id can come back more
    than once in a round — delta-query-overview.md, "Replays"), and the next deltaLink."""

    events: tuple[EventWire, ...]
    removed: tuple[str, ...]
    delta_link: str
    pages: int


def parse_delta_page(body: DeltaPageWire) -> DeltaPage:
    """Split a page into events and ``@removed`` ids (reason ``deleted`` or anything else)."""
    events: list[EventWire] = []
    removed: list[str] = []
    for item in body.get("value") or ():
        if "@removed" in item:
            removed.append(item["id"])
        else:
            events.append(_as_event(item))
    return DeltaPage(
        tuple(events), tuple(removed), body.get("@odata.nextLink"), body.get("@odata.deltaLink")
    )


def _as_event(item: DeltaItemWire) -> EventWire:
    return item  # type: ignore[return-value]  # an item without @removed is an event


def merge_delta_pages(pages: Sequence[DeltaPage]) -> CalendarDelta:
    """The round as one change set: for each id, whatever the round said about it last."""
    last: dict[str, EventWire | None] = {}
    for page in pages:
        for event_id in page.removed:
            last.pop(event_id, None)
            last[event_id] = None
        for event in page.events:
            last.pop(event["id"], None)
            last[event["id"]] = event
    link = pages[-1].delta_link if pages else None
    if not link:
        raise ValueError("a delta round ends with an @odata.deltaLink")
    events = tuple(e for e in last.values() if e is not None)
    removed = tuple(k for k, v in last.items() if v is None)
    return CalendarDelta(events, removed, link, len(pages))


def is_occurrence_stub(event: EventWire) -> bool:
    """Delta sends occurrences of a series as stubs (id, type, seriesMasterId, start, end):
    their subject, attendees… are the series master's."""
    return event.get("type") == "occurrence" and "subject" not in event


# -- subscriptions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionInfo:
    """What we keep of a Graph subscription."""

    id: str
    resource: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    expires: datetime
    client_state: str | None


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_graph_timestamp(text: str) -> datetime:
    """A Graph ``DateTimeOffset`` (``Z`` or an offset, up to 7 fractional digits) in UTC;
    a value without zone is UTC."""
    cleaned = _FRACTION.sub(r"\1", text.strip())
    if cleaned[-1:] in ("Z", "z"):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_subscription(wire: SubscriptionWire) -> SubscriptionInfo:
    return SubscriptionInfo(
        id=wire["id"],
        resource=wire["resource"],
        change_types=tuple(p.strip() for p in wire["changeType"].split(",") if p.strip()),
        notification_url=wire["notificationUrl"],
        lifecycle_url=wire.get("lifecycleNotificationUrl") or None,
        expires=parse_graph_timestamp(wire["expirationDateTime"]),
        client_state=wire.get("clientState"),
    )
