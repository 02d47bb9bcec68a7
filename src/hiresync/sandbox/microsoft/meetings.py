"""Exchange's meeting semantics behind the events routes: copies, messages, responses.

An event with attendees in an organizer's calendar is a *meeting*. Exchange then:

* sends a meeting request to every attendee ("When an event is sent, the server sends
  invitations to all attendees", user-post-events.md); attendees in a mailbox of the same
  tenant get a copy on their calendar at once (same ``iCalUId``, ``responseStatus``
  notResponded, shown tentative). Every message, internal or external (a candidate's gmail
  address), is appended to the tenant's outbox log, which the sandbox page and
  ``/_control/tenants/{t}/invitations`` show;
* on an organizer's PATCH: "An event update that includes only the attendees property in
  the request body sends a meeting update to only the attendees that have changed"
  (event-update.md): added ones get a request, removed ones a cancellation. Any other
  meeting change (time, place, subject, body, Teams) sends an update to everyone and moves
  their copies; a new time resets responses (``Limits.reschedule_resets_responses``);
* ``DELETE`` by the organizer "sends a cancellation message to the meeting attendees"
  (event-delete.md); ``cancel`` does too, with the comment, is "available to only the
  organizer" (others get 400) and "moves the event to the Deleted Items folder"
  (event-cancel.md). Attendee copies are marked cancelled or removed
  (``Limits.cancelled_copies``);
* an attendee's response updates the organizer's ``attendees[].status``; a decline takes
  the copy off the attendee's calendar, as Outlook does by default.
"""

from __future__ import annotations

import base64
import copy
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .event_body import check_recurrence, check_times
from .event_wire import ICAL_PREFIX
from .graph_calendar import BadRequest
from .model import Attendee, Calendar, Event, SentMessage, Tenant, User
from .odata_query import property_key
from .sandbox import MicrosoftSandbox

RESPONSES = ("accepted", "declined", "tentativelyAccepted")
NOTIFYING = frozenset(
    [
        "subject",
        "body",
        "start",
        "end",
        "location",
        "is_online_meeting",
        "online_provider",
        "recurrence",
        "is_all_day",
        "sensitivity",
        "importance",
    ]
)
COPIED = [
    "subject",
    "start",
    "end",
    "time_zone",
    "zone_label",
    "location",
    "body",
    "body_type",
    "body_preview",
    "sensitivity",
    "importance",
    "organizer",
    "organizer_name",
    "ical_uid",
    "sequence",
    "is_online_meeting",
    "online_meeting",
    "online_provider",
    "is_all_day",
    "recurrence",
    "response_requested",
    "allow_new_time_proposals",
]
_TAGS = re.compile(r"<[^>]+>")


def utcnow(sandbox: MicrosoftSandbox) -> datetime:
    """The sandbox's wall clock (``sandbox.clock``, which tests may shift)."""
    return datetime.fromtimestamp(sandbox.clock(), UTC)


def mailbox_events(user: User) -> list[Event]:
    """Every event of the mailbox, the default calendar's first: event ids are unique across
    its calendars, and ``/events/{id}`` finds one in any of them (docs issue #391)."""
    return [*user.events, *(e for c in user.calendars for e in c.events)]


def find_event(user: User, event_id: str) -> Event | None:
    return next((e for e in mailbox_events(user) if e.id == event_id), None)


def _holding(user: User, event: Event) -> list[Event]:
    """The list of the calendar that holds ``event``."""
    calendar = next((c for c in user.calendars if c.id == event.calendar), None)
    return user.events if calendar is None else calendar.events


def allowed_providers(tenant: Tenant, user: User) -> tuple[str, ...]:
    """The calendar's ``allowedOnlineMeetingProviders`` (user setting, else the tenant's)."""
    if user.online_meeting_providers is not None:
        return user.online_meeting_providers
    return tenant.online_meeting_providers


def _random_key(sandbox: MicrosoftSandbox, size: int) -> str:
    return base64.b64encode(sandbox.random.getrandbits(8 * size).to_bytes(size, "big")).decode()


def _stamp(sandbox: MicrosoftSandbox, event: Event) -> None:
    """A write: new changeKey and lastModifiedDateTime."""
    event.change_key = _random_key(sandbox, 18)
    event.modified = utcnow(sandbox)


def _preview(body: str, body_type: str) -> str:
    text = _TAGS.sub(" ", body) if body_type == "html" else body
    return " ".join(text.split())[:255]


def _teams_meeting(sandbox: MicrosoftSandbox, tenant: Tenant, user: User) -> dict[str, Any]:
    thread = base64.b64encode(sandbox.random.getrandbits(288).to_bytes(36, "big")).decode()
    context = f"%7b%22Tid%22%3a%22{tenant.id}%22%2c%22Oid%22%3a%22{user.id}%22%7d"
    return {
        "joinUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
        f"{thread.rstrip('=').replace('/', '_').replace('+', '-')}%40thread.v2/0?context={context}",
        "conferenceId": str(sandbox.random.randrange(10**8, 10**9)),
        "tollNumber": "+1 323-555-0166",
    }


def _enable_online(
    sandbox: MicrosoftSandbox, tenant: Tenant, user: User, event: Event, changes: dict[str, Any]
) -> None:
    """isOnlineMeeting / onlineMeetingProvider: once online, an event stays online."""
    provider = changes.get("online_provider")
    wanted = changes.get("is_online_meeting") or provider not in (None, "unknown")
    if event.is_online_meeting or not wanted:
        return
    allowed = allowed_providers(tenant, user)
    provider = provider if provider not in (None, "unknown") else (allowed or ("unknown",))[0]
    if provider not in allowed:
        if sandbox.limits.online_meeting_not_allowed == "error":
            raise BadRequest(
                "ErrorOnlineMeetingProviderNotAllowed",
                f"The online meeting provider '{provider}' is not allowed for this calendar.",
            )
        return  # Graph creates the event without an online meeting
    event.is_online_meeting, event.online_provider = True, provider
    event.online_meeting = _teams_meeting(sandbox, tenant, user)


def _apply(event: Event, changes: dict[str, Any]) -> None:
    """Copy parsed body changes onto ``event`` (everything but meeting side effects)."""
    plain = "subject location show_as sensitivity importance categories response_requested "
    plain += "allow_new_time_proposals is_all_day reminder_minutes body body_type recurrence"
    for name in plain.split():
        if name in changes:
            setattr(event, name, changes[name])
    for edge in ("start", "end"):
        if edge in changes:
            instant, zone, label = changes[edge]
            setattr(event, edge, instant.astimezone(ZoneInfo(zone)))
            event.time_zone, event.zone_label = zone, label
    if "body" in changes:
        event.body_preview = _preview(event.body, event.body_type)
    for pid, value in changes.get("extended", ()):
        event.extended[property_key(pid)] = (pid, value)
    if "attendees" in changes:
        event.attendees = _merge_attendees(event.attendees, changes["attendees"])


def _merge_attendees(before: list[Attendee], after: list[Attendee]) -> list[Attendee]:
    """The new list, keeping the tracked response of attendees who stay."""
    known = {a.address.lower(): a for a in before}
    merged = []
    for attendee in after:
        kept = known.get(attendee.address.lower())
        merged.append(
            replace(attendee, response=kept.response, response_time=kept.response_time)
            if kept
            else attendee
        )
    return merged


def _replay(
    sandbox: MicrosoftSandbox, events: list[Event], changes: dict[str, Any], digest: str
) -> Event | None:
    """The event an earlier POST with this transactionId created in this calendar, if it is
    a retry (⚠ whether Outlook looks in the calendar or the whole mailbox is undocumented)."""
    transaction = changes.get("transaction_id")
    found = next((e for e in events if transaction and e.transaction_id == transaction), None)
    if found is None or found.fingerprint == digest:
        return found
    mode = sandbox.limits.transaction_id_mismatch
    if mode == "error":
        raise BadRequest(
            "ErrorDuplicateTransactionId",
            "An event with the same transactionId but different content already exists.",
        )
    return None if mode == "create" else found


def create(
    sandbox: MicrosoftSandbox,
    tenant: Tenant,
    user: User,
    changes: dict[str, Any],
    digest: str,
    calendar: Calendar | None = None,
) -> tuple[Event, bool]:
    """``POST /events`` (into ``calendar``; None: the default one): (event, created); a
    retried transactionId returns the first one."""
    events = user.events if calendar is None else calendar.events
    existing = _replay(sandbox, events, changes, digest)
    if existing is not None:
        return existing, False
    if "start" not in changes or "end" not in changes:
        raise BadRequest("ErrorInvalidRequest", "The event must have a start and an end time.")
    check_times(changes["start"][0], changes["end"][0])
    now = utcnow(sandbox)
    event = Event(
        id=sandbox.new_event_id(),
        subject="",
        start=now,
        end=now,
        time_zone="UTC",
        organizer=user.mail,
        organizer_name=user.display_name,
        created=now,
        ical_uid=ICAL_PREFIX + f"{sandbox.random.getrandbits(320):080X}",
        transaction_id=changes.get("transaction_id"),
        fingerprint=digest,
        calendar="" if calendar is None else calendar.id,
    )
    _apply(event, changes)
    check_recurrence(event)
    _enable_online(sandbox, tenant, user, event, changes)
    _stamp(sandbox, event)
    events.append(event)
    sandbox.event_owners[event.id] = user.id
    sandbox.touch(user, event)
    sandbox.event_changed(user, event, "created")
    for attendee in event.attendees:
        _send(sandbox, tenant, event, attendee, "request")
    return event, True


def update(
    sandbox: MicrosoftSandbox, tenant: Tenant, user: User, event: Event, changes: dict[str, Any]
) -> Event:
    """``PATCH``: apply, then tell attendees what changed (organizer's meetings only)."""
    transaction = changes.get("transaction_id")
    if transaction and event.transaction_id and transaction != event.transaction_id:
        raise BadRequest("ErrorInvalidRequest", "The transactionId of an event can't be changed.")
    before = {a.address.lower(): a for a in event.attendees}
    old_times = (event.start, event.end)
    _apply(event, changes)
    check_times(event.start, event.end)
    check_recurrence(event)
    _enable_online(sandbox, tenant, user, event, changes)
    _stamp(sandbox, event)
    sandbox.touch(user, event)
    sandbox.event_changed(user, event, "updated")
    if event.organizer.lower() == user.mail.lower() and (before or event.attendees):
        moved = (event.start, event.end) != old_times
        _notify(sandbox, tenant, event, before, bool(NOTIFYING & changes.keys()), moved)
    return event


def _notify(
    sandbox: MicrosoftSandbox,
    tenant: Tenant,
    event: Event,
    before: dict[str, Attendee],
    changed: bool,
    moved: bool,
) -> None:
    now_keys = {a.address.lower() for a in event.attendees}
    if changed:
        event.sequence += 1
    if moved and sandbox.limits.reschedule_resets_responses:
        for attendee in event.attendees:
            attendee.response, attendee.response_time = "none", None
    for key, attendee in before.items():
        if key not in now_keys:
            _send(sandbox, tenant, event, attendee, "cancellation")
    for attendee in event.attendees:
        if attendee.address.lower() not in before:
            _send(sandbox, tenant, event, attendee, "request")
        elif changed:
            _send(sandbox, tenant, event, attendee, "update", reset=moved)


def remove(
    sandbox: MicrosoftSandbox, tenant: Tenant, user: User, event: Event, comment: str = ""
) -> None:
    """DELETE / cancel: off the calendar; an organizer's attendees get a cancellation."""
    _holding(user, event).remove(event)
    sandbox.event_owners.pop(event.id, None)
    sandbox.touch(user, event)
    sandbox.event_changed(user, event, "deleted")
    if event.organizer.lower() != user.mail.lower() or not event.attendees:
        return
    event.sequence += 1
    for attendee in event.attendees:
        _send(sandbox, tenant, event, attendee, "cancellation", comment=comment)


def _send(
    sandbox: MicrosoftSandbox,
    tenant: Tenant,
    event: Event,
    attendee: Attendee,
    kind: str,
    *,
    comment: str = "",
    reset: bool = False,
) -> None:
    """Log one meeting message and apply it to the attendee's copy (same tenant only)."""
    mailbox = sandbox.find_mailbox(tenant, attendee.address)
    is_self = mailbox is not None and mailbox.mail.lower() == event.organizer.lower()
    if is_self:
        return
    tenant.outbox.append(
        SentMessage(
            to=attendee.address,
            kind=kind,
            subject=event.subject,
            event_id=event.id,
            ical_uid=event.ical_uid,
            sequence=event.sequence,
            time=utcnow(sandbox),
            organizer=event.organizer,
            start=event.start,
            end=event.end,
            internal=mailbox is not None,
            comment=comment,
        )
    )
    if mailbox is not None:
        _deliver(sandbox, mailbox, event, kind, reset)


def copy_of(user: User, ical: str) -> Event | None:
    """The attendee's copy of a meeting in ``user``'s calendar."""
    return next(
        (e for e in user.events if e.ical_uid == ical and e.organizer.lower() != user.mail.lower()),
        None,
    )


def _deliver(
    sandbox: MicrosoftSandbox, mailbox: User, event: Event, kind: str, reset: bool
) -> None:
    """What the Calendar Attendant does with a message in the attendee's mailbox."""
    mine = copy_of(mailbox, event.ical_uid)
    if kind == "cancellation":
        if mine is not None:
            _cancel_copy(sandbox, mailbox, mine)
        return
    change = "updated" if mine is not None else "created"
    if mine is None:
        mine = Event(
            id=sandbox.new_event_id(),
            subject="",
            start=event.start,
            end=event.end,
            time_zone=event.time_zone,
            created=utcnow(sandbox),
        )
        mine.show_as, mine.response = "tentative", "notResponded"
        mailbox.events.append(mine)
        sandbox.event_owners[mine.id] = mailbox.id
    for name in COPIED:
        setattr(mine, name, copy.deepcopy(getattr(event, name)))
    mine.attendees = [replace(a, response="none", response_time=None) for a in event.attendees]
    mine.is_cancelled = False
    if reset:
        mine.show_as, mine.response, mine.response_time = "tentative", "notResponded", None
    _stamp(sandbox, mine)
    sandbox.touch(mailbox)
    sandbox.event_changed(mailbox, mine, change)


def _cancel_copy(sandbox: MicrosoftSandbox, mailbox: User, mine: Event) -> None:
    removed = sandbox.limits.cancelled_copies == "remove"
    if removed:
        mailbox.events.remove(mine)
        sandbox.event_owners.pop(mine.id, None)
    else:
        mine.is_cancelled, mine.show_as = True, "free"
        if not mine.subject.startswith("Canceled: "):
            mine.subject = "Canceled: " + mine.subject
        _stamp(sandbox, mine)
    sandbox.touch(mailbox)
    sandbox.event_changed(mailbox, mine, "deleted" if removed else "updated")


def respond(
    sandbox: MicrosoftSandbox,
    tenant: Tenant,
    event_id: str,
    attendee: str,
    response: str,
    comment: str = "",
) -> Event:
    """Make ``attendee`` answer the meeting (organizer's or attendee's event id)."""
    if response not in RESPONSES:
        raise ValueError(f"response must be one of {', '.join(RESPONSES)}")
    organizer, event = _organizer_event(sandbox, tenant, event_id)
    tracked = next((a for a in event.attendees if a.address.lower() == attendee.lower()), None)
    if tracked is None:
        raise KeyError(f"{attendee} is not an attendee of {event_id}")
    tracked.response, tracked.response_time = response, utcnow(sandbox)
    _stamp(sandbox, event)
    sandbox.touch(organizer, event)
    sandbox.event_changed(organizer, event, "updated")
    mailbox = sandbox.find_mailbox(tenant, attendee)
    mine = copy_of(mailbox, event.ical_uid) if mailbox else None
    if mailbox is not None and mine is not None:
        _answer_copy(sandbox, mailbox, mine, event, response)
    return event


def _answer_copy(
    sandbox: MicrosoftSandbox, mailbox: User, mine: Event, event: Event, response: str
) -> None:
    if response == "declined":  # Outlook takes a declined meeting off the calendar
        mailbox.events.remove(mine)
        sandbox.event_owners.pop(mine.id, None)
    else:
        mine.response, mine.response_time = response, utcnow(sandbox)
        mine.show_as = event.show_as if response == "accepted" else "tentative"
        _stamp(sandbox, mine)
    sandbox.touch(mailbox)
    sandbox.event_changed(mailbox, mine, "deleted" if response == "declined" else "updated")


def _organizer_event(
    sandbox: MicrosoftSandbox, tenant: Tenant, event_id: str
) -> tuple[User, Event]:
    owner = tenant.users.get(sandbox.event_owners.get(event_id, ""))
    event = find_event(owner, event_id) if owner else None
    if owner is None or event is None:
        raise KeyError(f"unknown event {event_id}")
    if event.organizer.lower() == owner.mail.lower():
        return owner, event
    organizer = sandbox.find_mailbox(tenant, event.organizer)
    master = copy_of_organizer(organizer, event.ical_uid) if organizer else None
    if organizer is None or master is None:
        raise KeyError(f"the organizer's event for {event_id} is gone")
    return organizer, master


def copy_of_organizer(user: User, ical: str) -> Event | None:
    """The organizer's event, in whichever of their calendars it is."""
    mail = user.mail.lower()
    return next(
        (e for e in mailbox_events(user) if e.ical_uid == ical and e.organizer.lower() == mail),
        None,
    )
