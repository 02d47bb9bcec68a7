"""Pure: a calendar object resource's iCalendar text → a light event record.

Why a hand-written scanner rather than ``icalendar.Calendar.from_ical``: an initial sync
reads thousands of resources, and icalendar builds a full object model for each (a
component tree, one typed property object per line, a parsed ``Parameters`` per line,
VTIMEZONE definitions turned into tzinfos) — several times the time Radicale takes to
serve them, and most of the memory of a sync. Sync needs a dozen properties, so the hot
path is a line scanner: normalise line ends, unfold (RFC 5545 §3.1: a line break followed
by one space or tab is removed), split each content line at the first colon outside
quotes, and keep only the properties listed on :class:`IcsEvent`; any other line costs a
``str.find`` and a dict look-up. VTIMEZONE blocks are cut out with ``str.find`` and read
only when a TZID is unknown to zoneinfo. For the benchmark's events (1.3 KB, a VTIMEZONE,
3 attendees) that is about twenty times less time than ``Calendar.from_ical``: ≈80 µs
against ≈2 ms on this project's 2-core machine.

``icalendar`` is still used, lazily, for the rare hard cases where reimplementing it would
be a second, worse icalendar: turning a custom VTIMEZONE definition (a TZID that neither
zoneinfo nor the Windows zone table knows) into a tzinfo; recurrence expansion, also off
the hot path, is in ``recurrence``. The unit tests hold the scanner to icalendar's reading
with Hypothesis.

Bad input never raises out of :func:`parse_item`: the resource comes back quarantined,
with the reason, so one malformed event cannot stop a sync.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EventTime = date | datetime
KEY_PROPERTY = "X-HIRESYNC-KEY"  # our id, written into each event we create (re-linking)

# Properties whose last value is kept; other single-valued ones are only digested.
_SINGLE = frozenset(
    {
        "UID",
        "SEQUENCE",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RECURRENCE-ID",
        "SUMMARY",
        "LOCATION",
        "STATUS",
        "TRANSP",
        "ORGANIZER",
        "LAST-MODIFIED",
        KEY_PROPERTY,
    }
)
# What the scanner keeps of a VEVENT's lines: the last value, or every value (a list).
_ONE = "single"
_KINDS = {name: _ONE for name in _SINGLE} | {
    "ATTENDEE": "attendees",
    "EXDATE": "exdates",
    "RDATE": "rdates",
}
# Lines left out of the digest (they change when the same event is merely re-serialised),
# by their first six letters upper-cased, with the whole name.
_VOLATILE = {"DTSTAM": "DTSTAMP", "PRODID": "PRODID"}
_VOLATILE_NAMES = frozenset(_VOLATILE.values())
_UID_LINE = re.compile(r"^UID(?:;[^\n:]*)?:([^\n]*)$", re.MULTILINE | re.IGNORECASE)
_TZID_LINE = re.compile(r"^TZID(?:;[^\n:]*)?:([^\n]*)$", re.MULTILINE | re.IGNORECASE)
_PARAM = re.compile(r'([A-Za-z0-9-]+)=((?:"[^"]*"|[^";]*)(?:,(?:"[^"]*"|[^";]*))*)')
_TEXT_ESCAPE = re.compile(r"\\([\\;,nN])")
_DURATION = re.compile(
    r"([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", re.IGNORECASE
)


class IcsError(ValueError):
    """Why a resource cannot be read (the quarantine reason)."""


@dataclass(frozen=True, slots=True)
class Party:
    """An ORGANIZER or ATTENDEE: address without ``mailto:``; ``partstat`` upper-case
    (attendees default to NEEDS-ACTION, as RFC 5545 says; None for an organizer)."""

    email: str
    name: str | None = None
    partstat: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class IcsEvent:
    """One VEVENT: a series' master, a single event, or an override (``recurrence_id``).

    Times are what the text says: an aware datetime (zoneinfo, UTC for ``Z``, or a tzinfo
    built from the resource's VTIMEZONE), a naive one for floating time, a ``date`` for
    ``VALUE=DATE``. ``end`` and ``duration`` are as written (either, or neither);
    :meth:`effective_end` applies RFC 5545's defaults."""

    uid: str
    start: EventTime
    end: EventTime | None = None
    duration: timedelta | None = None
    tzid: str | None = None
    recurrence_id: EventTime | None = None
    sequence: int = 0
    rrule: str | None = None
    rdates: tuple[EventTime, ...] = ()
    exdates: tuple[EventTime, ...] = ()
    summary: str = ""
    location: str = ""
    status: str | None = None
    transp: str | None = None
    organizer: Party | None = None
    attendees: tuple[Party, ...] = ()
    last_modified: datetime | None = None
    key: str | None = None

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def recurring(self) -> bool:
        return self.rrule is not None or bool(self.rdates)

    def effective_end(self) -> EventTime:
        """DTEND, else DTSTART + DURATION, else one day for a date and zero for a time."""
        if self.end is not None:
            return self.end
        if self.duration is not None:
            return self.start + self.duration
        return self.start + timedelta(days=1) if self.all_day else self.start


@dataclass(frozen=True, slots=True)
class CalendarItem:
    """A calendar object resource: its VEVENTs (master first, then overrides), the text as
    the server sent it, and a digest of its normalised text (line ends, folding, DTSTAMP,
    PRODID and the order of properties and components do not count: ``content_digest``) to
    tell a real change from a new etag on the same content, or from the server's own
    re-serialisation of what hiresync wrote.

    ``component`` is the resource's kind (VEVENT, VTODO, …): only VEVENT resources carry
    events. ``quarantined`` holds the reason when the text could not be read; such an item
    has no events (``uid`` is still read when the text has one) and must be neither applied
    nor deleted by a sync."""

    href: str
    etag: str | None
    uid: str | None
    events: tuple[IcsEvent, ...]
    digest: str
    ics: str
    component: str = "VEVENT"
    quarantined: str | None = None

    @property
    def master(self) -> IcsEvent | None:
        first = self.events[0] if self.events else None
        return first if first is not None and first.recurrence_id is None else None

    @property
    def overrides(self) -> tuple[IcsEvent, ...]:
        return tuple(e for e in self.events if e.recurrence_id is not None)

    @property
    def key(self) -> str | None:
        return next((e.key for e in self.events if e.key), None)


@dataclass(slots=True)
class _RawEvent:
    """The lines of one VEVENT, kept raw until the whole resource has been read (its
    VTIMEZONEs may come after it)."""

    single: dict[str, tuple[str, str]] = field(default_factory=dict)
    attendees: list[tuple[str, str]] = field(default_factory=list)
    rdates: list[tuple[str, str]] = field(default_factory=list)
    exdates: list[tuple[str, str]] = field(default_factory=list)


# -- the scanner -------------------------------------------------------------------------


def parse_item(ics: str, href: str = "", etag: str | None = None) -> CalendarItem:
    """Read one resource; never raises for bad input (the item comes back quarantined)."""
    text = _unfold(ics)
    try:
        body, zones = _cut_timezones(text)
    except IcsError as exc:
        return CalendarItem(href, etag, _uid_of(text), (), content_digest(text), ics, "", str(exc))
    lines = body.split("\n")
    try:
        component, raws, canonical = _scan(lines)
        events = _build(raws, _Zones(zones))
    except IcsError as exc:
        digest = _digest(_canonical(lines), zones)
        return CalendarItem(href, etag, _uid_of(text), (), digest, ics, "", str(exc))
    except (ValueError, TypeError, OverflowError, IndexError) as exc:  # defence in depth
        digest, reason = _digest(_canonical(lines), zones), f"unreadable: {exc}"
        return CalendarItem(href, etag, _uid_of(text), (), digest, ics, "", reason)
    uid = events[0].uid if events else None
    return CalendarItem(href, etag, uid, events, _digest(canonical, zones), ics, component)


def _uid_of(text: str) -> str | None:
    """The first UID in unfolded text, best effort: a quarantined item keeps its identity,
    so a sync neither doubles it nor takes it for deleted."""
    found = _UID_LINE.search(text)
    if found is None:
        return None
    return found.group(1).strip() or None


def _unfold(ics: str) -> str:
    """CRLF, CR and LF all become LF; folded lines are joined (RFC 5545 §3.1)."""
    if "\r" in ics:
        ics = ics.replace("\r\n", "\n").replace("\r", "\n")
    return ics.replace("\n ", "").replace("\n\t", "")


def content_digest(text: str) -> str:
    """A digest of unfolded LF text in a canonical form: DTSTAMP and PRODID lines left out,
    and the order of properties and of subcomponents within each component ignored (RFC
    5545 gives it no meaning, and servers re-serialise what they are sent: Xandikos writes
    SUMMARY first and UID last, Radicale moves DTSTAMP). Without that, every event hiresync
    writes would read back as changed, and be written into the copy once more."""
    try:
        body, zones = _cut_timezones(text)
    except IcsError:
        body, zones = text, {}
    return _digest(_canonical(body.split("\n")), zones)


def _digest(canonical: str, zones: dict[str, str]) -> str:
    """The digest of a text cut by ``_cut_timezones``, from its canonical body (made by
    ``_canonical``, or by ``_scan`` on the way) and its VTIMEZONE blocks, canonicalised on
    their own (cached: the same few recur on every event)."""
    if zones:
        canonical += "\n" + "\n".join(sorted(_canonical_zone(z) for z in zones.values()))
    data = canonical.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@lru_cache(maxsize=256)
def _canonical_zone(block: str) -> str:
    return _canonical(block.split("\n"))


def _canonical(lines: list[str]) -> str:
    """Each component as its BEGIN line, its sorted properties and subcomponents, its END
    line; volatile and empty lines left out; unclosed text kept as it is, in order.
    (``_scan`` builds the same on its way through a readable text.)"""
    stack: list[list[str]] = [[]]
    for line in lines:
        if not line:
            continue
        head = line[:6].upper()
        if head == "BEGIN:":
            stack.append([line.upper()])
        elif head[:4] == "END:" and len(stack) > 1:
            block = stack.pop()
            block[1:] = sorted(block[1:])
            block.append(line.upper())
            stack[-1].append("\n".join(block))
        elif head not in _VOLATILE or not _is_volatile(line, _VOLATILE[head]):
            stack[-1].append(line)
    while len(stack) > 1:
        block = stack.pop()
        stack[-1].append("\n".join(block))
    return "\n".join(stack[0])


def _is_volatile(line: str, name: str) -> bool:
    size = len(name)
    return line[:size].upper() == name and line[size : size + 1] in (":", ";")


def _cut_timezones(text: str) -> tuple[str, dict[str, str]]:
    """The text without its VTIMEZONE blocks, and the blocks by TZID."""
    start = text.find("\nBEGIN:VTIMEZONE\n")
    if start < 0:
        return text, {}
    blocks: dict[str, str] = {}
    kept: list[str] = []
    done = 0
    while start >= 0:
        end = text.find("\nEND:VTIMEZONE", start)
        if end < 0:
            raise IcsError("BEGIN:VTIMEZONE is never closed")
        end += len("\nEND:VTIMEZONE")
        block = text[start + 1 : end]
        blocks[_block_tzid(block)] = block
        kept.append(text[done:start])
        done = end
        start = text.find("\nBEGIN:VTIMEZONE\n", end)
    kept.append(text[done:])
    return "".join(kept), blocks


def _block_tzid(block: str) -> str:
    """The TZID of a VTIMEZONE block (its first TZID line: its subcomponents have none)."""
    at = block.find("\nTZID")
    if at < 0:
        found = _TZID_LINE.search(block)  # a lower-case "tzid"
        if found is None:
            raise IcsError("VTIMEZONE without TZID")
        return _clean_tzid(found.group(1))
    stop = block.find("\n", at + 1)
    return _clean_tzid(block[at + 1 : stop].partition(":")[2])


def _scan(lines: list[str]) -> tuple[str, list[_RawEvent], str]:
    """Walk the content lines: check BEGIN/END nesting, collect VEVENT properties, and
    build the canonical text of the digest (as ``_canonical`` does, in the same pass).

    The loop is the hot path of a sync (≈25 lines an event): the common line, a property
    of a VEVENT with no parameters, costs one ``find``, two slices, a dict look-up and an
    append."""
    stack: list[str] = []
    raws: list[_RawEvent] = []
    raw = _RawEvent()
    in_event = False  # directly inside a VEVENT (not in its VALARMs)
    kinds: list[str] = []
    calendars = 0
    parts: list[list[str]] = [[]]  # the canonical text: one list per open component
    part = parts[0]
    for number, line in enumerate(lines, 1):
        colon = line.find(":")
        head = line[:colon]
        if colon < 0 or ";" in head:
            if not line:
                continue
            name, params, value = _split(line, number)
        else:
            name, params, value = head.upper(), "", ""
        if in_event:
            kind = _KINDS.get(name)
            if kind is not None:
                if not params:
                    value = line[colon + 1 :]
                if kind == _ONE:
                    raw.single[name] = (params, value)
                else:
                    getattr(raw, kind).append((params, value))
                part.append(line)
                continue
        if name == "BEGIN":
            if not stack and calendars:
                raise IcsError("several VCALENDAR objects in one resource")
            _begin(stack, (value or line[colon + 1 :]).upper(), kinds)
            calendars += len(stack) == 1
            if len(stack) == 2 and stack[1] == "VEVENT":
                raw = _RawEvent()
                raws.append(raw)
            part = [line.upper()]
            parts.append(part)
        elif name == "END":
            _end(stack, (value or line[colon + 1 :]).upper())
            block = parts.pop()
            block[1:] = sorted(block[1:])
            block.append(line.upper())
            part = parts[-1]
            part.append("\n".join(block))
        elif not stack:
            raise IcsError(f"content line {number} is outside BEGIN:VCALENDAR … END:VCALENDAR")
        else:
            if name not in _VOLATILE_NAMES:
                part.append(line)
            continue
        in_event = len(stack) == 2 and stack[1] == "VEVENT"
    if stack:
        raise IcsError(f"BEGIN:{stack[-1]} is never closed (truncated text?)")
    if not calendars:
        raise IcsError("not iCalendar text (no BEGIN:VCALENDAR)")
    if not kinds:
        raise IcsError("VCALENDAR holds no component")
    return ("VEVENT" if raws else kinds[0]), raws, "\n".join(parts[0])


def _split(line: str, number: int) -> tuple[str, str, str]:
    """(NAME, params, value) of a content line; the colon may hide in a quoted parameter."""
    colon = line.find(":")
    if colon < 0:
        raise IcsError(f"content line {number} has no ':' ({line[:40]!r})")
    head = line[:colon]
    semi = head.find(";")
    if semi < 0:
        return head.upper(), "", line[colon + 1 :]
    if head.count('"') % 2:
        colon = _colon_outside_quotes(line, semi, number)
        head = line[:colon]
    return head[:semi].upper(), head[semi + 1 :], line[colon + 1 :]


def _colon_outside_quotes(line: str, start: int, number: int) -> int:
    quoted = False
    for index in range(start, len(line)):
        char = line[index]
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return index
    raise IcsError(f"content line {number} has an unterminated quoted parameter")


def _begin(stack: list[str], kind: str, kinds: list[str]) -> None:
    if not stack and kind != "VCALENDAR":
        raise IcsError(f"BEGIN:{kind} outside a VCALENDAR" if kind else "BEGIN without a name")
    if stack and kind == "VCALENDAR":
        raise IcsError("a VCALENDAR inside a VCALENDAR")
    if len(stack) == 1 and kind != "VTIMEZONE":
        kinds.append(kind)
    stack.append(kind)


def _end(stack: list[str], kind: str) -> None:
    if not stack or stack[-1] != kind:
        open_ = f"BEGIN:{stack[-1]}" if stack else "nothing"
        raise IcsError(f"END:{kind} does not close {open_}")
    stack.pop()


# -- from raw lines to records -----------------------------------------------------------


def _build(raws: list[_RawEvent], zones: _Zones) -> tuple[IcsEvent, ...]:
    """Records for a resource's VEVENTs, master first; one UID, at most one master."""
    events = [_event(raw, zones) for raw in raws]
    masters = [e for e in events if e.recurrence_id is None]
    if len(masters) > 1:
        raise IcsError("several VEVENTs without RECURRENCE-ID in one resource")
    if len({e.uid for e in events}) > 1:
        raise IcsError("VEVENTs with different UIDs in one resource")
    return tuple(masters + [e for e in events if e.recurrence_id is not None])


def _event(raw: _RawEvent, zones: _Zones) -> IcsEvent:
    single = raw.single
    uid = single.get("UID", ("", ""))[1].strip()
    if not uid:
        raise IcsError("VEVENT without UID")
    if "DTSTART" not in single:
        raise IcsError(f"VEVENT {uid} has no DTSTART")
    start, tzid = _time_prop(single["DTSTART"], zones, "DTSTART")
    end = _time_prop(single["DTEND"], zones, "DTEND")[0] if "DTEND" in single else None
    if end is not None:
        _check_end(uid, start, end)
    return IcsEvent(
        uid=uid,
        start=start,
        end=end,
        duration=_duration(single["DURATION"][1]) if "DURATION" in single else None,
        tzid=tzid,
        recurrence_id=_optional_time(single, "RECURRENCE-ID", zones),
        sequence=_integer(single.get("SEQUENCE")),
        rrule=single["RRULE"][1] if "RRULE" in single else None,
        rdates=_time_list(raw.rdates, zones, "RDATE"),
        exdates=_time_list(raw.exdates, zones, "EXDATE"),
        summary=_text(single["SUMMARY"][1]) if "SUMMARY" in single else "",
        location=_text(single["LOCATION"][1]) if "LOCATION" in single else "",
        status=single["STATUS"][1].strip().upper() if "STATUS" in single else None,
        transp=single["TRANSP"][1].strip().upper() if "TRANSP" in single else None,
        organizer=_party(*single["ORGANIZER"], False) if "ORGANIZER" in single else None,
        attendees=tuple(_party(params, value) for params, value in raw.attendees),
        last_modified=_last_modified(single.get("LAST-MODIFIED")),
        key=_text(single[KEY_PROPERTY][1]) if KEY_PROPERTY in single else None,
    )


def _check_end(uid: str, start: EventTime, end: EventTime) -> None:
    if isinstance(start, datetime) != isinstance(end, datetime):
        raise IcsError(f"VEVENT {uid}: DTSTART and DTEND are not both dates or both times")
    if (
        isinstance(start, datetime)
        and isinstance(end, datetime)
        and (start.tzinfo is None) != (end.tzinfo is None)
    ):
        raise IcsError(f"VEVENT {uid}: DTSTART and DTEND mix floating and zoned times")
    if end < start:  # type: ignore[operator]
        raise IcsError(f"VEVENT {uid}: DTEND is before DTSTART")


def _time_prop(prop: tuple[str, str], zones: _Zones, name: str) -> tuple[EventTime, str | None]:
    """A DATE or DATE-TIME property, and the TZID it names."""
    params, value = prop
    if not params:
        tzid = None
    elif params.startswith("TZID=") and ";" not in params and '"' not in params:
        tzid = params[5:]
    else:
        tzid = _clean_tzid(_params(params).get("TZID", "")) or None
    try:
        return _time(value, tzid, zones), tzid
    except IcsError:
        raise
    except ValueError as exc:
        if value != value.strip():
            return _time_prop((params, value.strip()), zones, name)
        raise IcsError(f"bad {name} value {value[:40]!r}: {exc}") from None


def _time(value: str, tzid: str | None, zones: _Zones) -> EventTime:
    """``YYYYMMDD``, ``YYYYMMDDTHHMMSS`` (floating or with ``tzid``) or ``…Z`` (UTC).

    Python 3.11's ``fromisoformat`` reads ISO 8601's basic format, in C."""
    size = len(value)
    if not value[:8].isdigit():  # fromisoformat would also take week dates ("2026W101")
        raise ValueError("not an iCalendar DATE or DATE-TIME")
    if size == 8:
        return date.fromisoformat(value)
    if size not in (15, 16) or value[8] != "T" or (size == 16 and value[15] != "Z"):
        raise ValueError("not an iCalendar DATE or DATE-TIME")
    moment = datetime.fromisoformat(value)
    if size == 15 and tzid:
        return moment.replace(tzinfo=zones.get(tzid))
    return moment


def _optional_time(
    single: dict[str, tuple[str, str]], name: str, zones: _Zones
) -> EventTime | None:
    return _time_prop(single[name], zones, name)[0] if name in single else None


def _time_list(props: list[tuple[str, str]], zones: _Zones, name: str) -> tuple[EventTime, ...]:
    """EXDATE/RDATE lines (each may hold a comma list); a PERIOD counts by its start."""
    times: list[EventTime] = []
    for params, value in props:
        for part in value.split(","):
            times.append(_time_prop((params, part.split("/", 1)[0]), zones, name)[0])
    return tuple(times)


def _last_modified(prop: tuple[str, str] | None) -> datetime | None:
    if prop is None:
        return None
    try:
        moment = _time(prop[1].strip(), None, _NO_ZONES)
    except ValueError:
        return None  # informational only: a bad stamp does not spoil the event
    return moment if isinstance(moment, datetime) else None


def _integer(prop: tuple[str, str] | None) -> int:
    if prop is None:
        return 0
    try:
        return int(prop[1].strip())
    except ValueError:
        return 0


def _duration(value: str) -> timedelta:
    found = _DURATION.fullmatch(value.strip())
    if found is None or not any(found.groups()[1:]):
        raise IcsError(f"bad DURATION value {value.strip()[:40]!r}")
    sign, weeks, days, hours, minutes, seconds = found.groups()
    span = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -span if sign == "-" else span


def _text(value: str) -> str:
    """A TEXT value with its backslash escapes undone (RFC 5545 §3.3.11)."""
    if "\\" not in value:
        return value
    return _TEXT_ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _params(text: str) -> dict[str, str]:
    """Parameters by upper-case name, surrounding quotes removed."""
    found: dict[str, str] = {}
    if '"' not in text:
        for part in text.split(";"):
            name, _, value = part.partition("=")
            found[name.upper()] = value
        return found
    for name, value in _PARAM.findall(text):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and value.count('"') == 2:
            value = value[1:-1]
        found[name.upper()] = value
    return found


@lru_cache(maxsize=1024)
def _party(params: str, value: str, attendee: bool = True) -> Party:
    """Cached: the same organizer and interviewers appear on event after event, and a
    shared ``Party`` is read once and stored once."""
    found = _params(params) if params else {}
    address = value.strip()
    if address[:7].lower() == "mailto:":
        address = address[7:]
    partstat = found.get("PARTSTAT", "NEEDS-ACTION").upper() if attendee else None
    role = found.get("ROLE")
    return Party(address, found.get("CN") or None, partstat, role.upper() if role else None)


# -- time zones --------------------------------------------------------------------------


def _clean_tzid(tzid: str) -> str:
    tzid = tzid.strip()
    if len(tzid) >= 2 and tzid[0] == '"' and tzid[-1] == '"':
        tzid = tzid[1:-1]
    return tzid


@lru_cache(maxsize=512)
def known_zone(tzid: str) -> tzinfo | None:
    """An IANA zone for a TZID: the name itself, a Windows name (Outlook's "W. Europe
    Standard Time"), or a prefixed name ("/mozilla.org/20050126_1/Europe/Berlin")."""
    from hiresync.domain.timezones import to_iana

    name = tzid.lstrip("/")
    while name:
        iana = to_iana(name)
        if iana is not None:
            try:
                return UTC if iana in ("UTC", "Etc/UTC") else ZoneInfo(iana)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                return None
        _, slash, name = name.partition("/")
        if not slash:
            break
    return None


@lru_cache(maxsize=64)
def _zone_from_definition(block: str) -> tzinfo | None:
    """A tzinfo built by icalendar from a VTIMEZONE block (the rare, slow path)."""
    import icalendar

    try:
        return icalendar.Timezone.from_ical(block).to_tz(lookup_tzid=False)
    except Exception:  # any failure of a third-party parse means "unusable"
        return None


class _Zones:
    """TZID → tzinfo for one resource: zoneinfo first, then the resource's VTIMEZONE."""

    __slots__ = ("_blocks", "_seen")

    def __init__(self, blocks: dict[str, str]) -> None:
        self._blocks = blocks
        self._seen: dict[str, tzinfo] = {}

    def get(self, tzid: str) -> tzinfo:
        zone = self._seen.get(tzid)
        if zone is not None:
            return zone
        zone = known_zone(tzid)
        if zone is None and tzid in self._blocks:
            zone = _zone_from_definition(self._blocks[tzid])
        if zone is None:
            known = "no VTIMEZONE for it" if tzid not in self._blocks else "unusable VTIMEZONE"
            raise IcsError(f"unknown time zone {tzid!r} ({known})")
        self._seen[tzid] = zone
        return zone


_NO_ZONES = _Zones({})
