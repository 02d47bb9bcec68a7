"""``EventWriter`` for Microsoft 365: interviews as Outlook meetings, written exactly once.

One event goes into the organizer's calendar with the interviewers and the candidate
as attendees, so Exchange delivers the invitations (seed 003: "Google/Microsoft
automatically sends meeting requests to meeting participants").

Exactly once rests on two things Graph offers (PROVIDERS.md, "events"):

* ``transactionId`` on the POST: a create retried after a lost answer comes back with
  the event the first attempt made;
* our key in a single-value extended property (``String {GUID} Name hiresyncId``): a
  create whose answer was lost *and* whose job died is found again by
  ``find``, and re-linked instead of re-created.

Teams: ``isOnlineMeeting`` with ``teamsForBusiness`` is only asked for when the
calendar lists it in ``allowedOnlineMeetingProviders``; otherwise the caller learns it
from ``online_meetings_allowed`` and says why on the interview.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hiresync.domain.timezones import to_windows
from hiresync.providers.base import EventDraft, WrittenEvent
from hiresync.providers.errors import NotFound

from .client import GraphClient

# Our property set: a fixed GUID, so every hiresync deployment tags events the same way.
PROPERTY_SET = "{0c0b6d54-6b7a-4d0e-9a59-3f4c2a1e7b21}"
KEY_PROPERTY = f"String {PROPERTY_SET} Name hiresyncId"
TEAMS = "teamsForBusiness"
_RESPONSES = {
    "none": "none",
    "notResponded": "none",
    "organizer": "accepted",
    "accepted": "accepted",
    "tentativelyAccepted": "tentative",
    "declined": "declined",
}


def _when(moment: datetime, zone: str) -> dict[str, str]:
    """A ``dateTimeTimeZone`` in the interview's own zone (Windows name when it has one),
    so Outlook shows the organizer the time they chose, DST included."""
    local = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": to_windows(zone) or zone}


def event_body(draft: EventDraft, *, with_meeting: bool) -> dict[str, Any]:
    """The Graph ``event`` for a draft; ``with_meeting`` asks for a Teams meeting."""
    body: dict[str, Any] = {
        "subject": draft.subject,
        "body": {"contentType": "html", "content": draft.body_html},
        "start": _when(draft.start, draft.time_zone),
        "end": _when(draft.end, draft.time_zone),
        "attendees": [
            {
                "emailAddress": {"address": a.email, "name": a.name},
                "type": "required" if a.required else "optional",
            }
            for a in draft.attendees
        ],
        "allowNewTimeProposals": False,
        "responseRequested": True,
    }
    if draft.location:
        body["location"] = {"displayName": draft.location}
    if with_meeting:
        body["isOnlineMeeting"] = True
        body["onlineMeetingProvider"] = TEAMS
    return body


def written(wire: dict[str, Any]) -> WrittenEvent:
    """What we keep of an event Graph returned."""
    meeting = wire.get("onlineMeeting") or {}
    responses = tuple(
        (
            (a.get("emailAddress") or {}).get("address", "").lower(),
            _RESPONSES.get((a.get("status") or {}).get("response") or "none", "none"),
        )
        for a in wire.get("attendees") or ()
    )
    return WrittenEvent(
        event_id=wire["id"],
        ical_uid=wire.get("iCalUId"),
        join_url=meeting.get("joinUrl") or wire.get("onlineMeetingUrl"),
        responses=responses,
        cancelled=bool(wire.get("isCancelled")),
    )


class MicrosoftEvents:
    """``EventWriter`` over Graph events; see the module docstring."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def find(
        self, mailbox: str, key: str, calendar_id: str | None = None
    ) -> WrittenEvent | None:
        found = await self._client.find_events_by_property(
            mailbox, KEY_PROPERTY, key, calendar_id=calendar_id
        )
        live = [e for e in found if not e.get("isCancelled")]
        return written(live[0]) if live else None

    async def get(self, mailbox: str, event_id: str) -> WrittenEvent | None:
        try:
            return written(await self._client.get_event(mailbox, event_id))
        except NotFound:
            return None

    async def create(self, mailbox: str, draft: EventDraft) -> WrittenEvent:
        body = event_body(draft, with_meeting=draft.online_meeting)
        body["transactionId"] = draft.transaction_id
        body["singleValueExtendedProperties"] = [{"id": KEY_PROPERTY, "value": draft.key}]
        return written(
            await self._client.create_event(mailbox, body, calendar_id=draft.calendar_id)
        )

    async def update(self, mailbox: str, event_id: str, draft: EventDraft) -> WrittenEvent:
        body = event_body(draft, with_meeting=draft.online_meeting)
        return written(await self._client.update_event(mailbox, event_id, body))

    async def cancel(self, mailbox: str, event_id: str, comment: str) -> None:
        try:
            await self._client.cancel_event(mailbox, event_id, comment)
        except NotFound:
            return  # already cancelled or deleted: the goal is reached

    async def online_meetings_allowed(self, mailbox: str) -> bool:
        calendar = await self._client.default_calendar(mailbox)
        return TEAMS in (calendar.get("allowedOnlineMeetingProviders") or ())
