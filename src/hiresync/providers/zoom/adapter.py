"""``MeetingProvider`` for Zoom: one scheduled meeting per interview on the connected user's
account (``me``), created exactly once.

Exactly once without an idempotency key (Zoom has none for ``POST …/meetings``): our key is
the last line of the meeting's agenda (see :mod:`.parse`), and

* a create whose answer was lost (:class:`~.client.OutcomeUnknown`: a dropped connection or a
  5xx after the request left) is never repeated blindly — the upcoming meetings are searched
  for the key, and the meeting found is returned;
* a caller resuming after a crash asks ``find(key)`` before creating.

``find`` reads ``GET /users/me/meetings?type=upcoming`` page by page (300 a page). Zoom cuts
listed agendas to 250 characters, so a listed meeting whose agenda was long enough to be cut
and shows no key is read in full (``GET /meetings/{id}``) before it is ruled out.

Updates are ``PATCH`` (204, no body) followed by a ``GET`` so the caller gets the meeting as it
now stands; the join URL and passcode do not change. Deleting a meeting that is already gone
(404 code 3001) is success.
"""

from __future__ import annotations

import structlog

from hiresync.providers.base import MeetingDetails, MeetingHost, MeetingRequest
from hiresync.providers.errors import NotFound

from . import parse
from .client import OutcomeUnknown, ZoomClient
from .wire import MeetingWire, UserSettingsWire

log = structlog.get_logger(__name__)


class ZoomMeetings:
    """``MeetingProvider`` over Zoom REST on behalf of the token's user; see the module docstring."""

    def __init__(self, client: ZoomClient) -> None:
        self._client = client
        self._settings: UserSettingsWire | None = None

    async def _user_settings(self) -> UserSettingsWire:
        """The user's settings, read once per adapter (passcode policy, concurrent meetings)."""
        if self._settings is None:
            self._settings = await self._client.get_user_settings()
        return self._settings

    async def host(self) -> MeetingHost:
        user = await self._client.get_user()
        settings = await self._user_settings() if parse.is_licensed(user) else None
        return parse.meeting_host(user, settings)

    async def find(self, key: str) -> MeetingDetails | None:
        parse.key_line(key)  # refuse a key we could never have written
        async for page in self._client.iter_meetings(kind="upcoming"):
            for item in page:
                listed = item.get("agenda")
                if key in parse.keys_in(listed):
                    return await self.get(str(item["id"]))
                if parse.may_hide_key(listed):  # cut at 250: read the whole agenda
                    wire = await self._meeting(str(item["id"]))
                    if wire is not None and key in parse.keys_in(wire.get("agenda")):
                        return parse.meeting_details(wire)
        return None

    async def get(self, meeting_id: str) -> MeetingDetails | None:
        wire = await self._meeting(meeting_id)
        return None if wire is None else parse.meeting_details(wire)

    async def _meeting(self, meeting_id: str) -> MeetingWire | None:
        """The meeting as Zoom holds it, or None if it was deleted."""
        try:
            return await self._client.get_meeting(meeting_id)
        except NotFound:
            return None

    async def create(self, request: MeetingRequest) -> MeetingDetails:
        passcode = parse.make_passcode(parse.passcode_rule(await self._user_settings()))
        body = parse.create_body(request, passcode)
        try:
            return parse.meeting_details(await self._client.create_meeting(body))
        except OutcomeUnknown:
            found = await self.find(request.key)
            log.warning("zoom.create_answer_lost", key=request.key, recovered=found is not None)
            if found is None:
                raise
            return found

    async def update(self, meeting_id: str, request: MeetingRequest) -> MeetingDetails:
        await self._client.update_meeting(meeting_id, parse.update_body(request))
        details = await self.get(meeting_id)
        if details is None:  # deleted in Zoom between our PATCH and GET
            raise NotFound(f"Zoom meeting {meeting_id} was deleted", provider="zoom", code="3001")
        return details

    async def delete(self, meeting_id: str) -> None:
        try:
            await self._client.delete_meeting(meeting_id)
        except NotFound:
            return  # already deleted (in Zoom, or by an earlier attempt whose answer was lost)
