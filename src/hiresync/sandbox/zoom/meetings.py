"""Meetings: request parsing and validation, changes, and the JSON Zoom answers with.

Rules (developers.zoom.us "Create a meeting", PROVIDERS.md "create meeting"):

* ``start_time`` ``…Z`` is GMT, without ``Z`` local in ``timezone`` (default: the host's);
  answers always carry GMT. A scheduled meeting without ``start_time`` becomes an instant
  meeting (type 1) starting now.
* ``password`` ≤ 10 of ``[A-Za-z0-9@-_*]``, else 400 code 300 with Zoom's sentence; when absent
  Zoom generates one (passcodes are required by default) and ``join_url`` embeds it as ``pwd``.
* ``agenda`` ≤ 2000 characters, ``settings.jbh_time`` 0/5/10, enums and types are checked:
  400 code 300 "Validation Failed." with ``errors[{field, message}]`` (docs: Error Codes).
* With a waiting room, ``join_before_host`` is off (PROVIDERS.md; ``limits``).
* Recurring meetings (type 8, ``recurrence``) are not emulated: hiresync schedules one
  meeting per interview; asking for them is answered 400 so the gap is never silent.
"""

from __future__ import annotations

import base64
import json
import secrets
from copy import deepcopy
from typing import TYPE_CHECKING, Any

from .model import Meeting, User
from .wire import (
    PASSWORD_MESSAGE,
    REQUIREMENT_MESSAGE,
    breaks_requirement,
    encrypt_password,
    generate_password,
    parse_start_time,
    password_problem,
    zone_or_none,
    zoom_datetime,
)

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox

AGENDA_MAX = 2000
LISTED_AGENDA_MAX = 250
TOPIC_MAX = 200
BOOLEAN_SETTINGS = (
    "host_video",
    "participant_video",
    "cn_meeting",
    "in_meeting",
    "join_before_host",
    "mute_upon_entry",
    "watermark",
    "use_pmi",
    "waiting_room",
    "meeting_authentication",
    "private_meeting",
    "email_notification",
    "alternative_hosts_email_notification",
    "alternative_host_update_polls",
    "close_registration",
    "show_share_button",
    "allow_multiple_devices",
    "registrants_confirmation_email",
    "registrants_email_notification",
    "focus_mode",
    "host_save_video_order",
)
ENUM_SETTINGS: dict[str, tuple[Any, ...]] = {
    "jbh_time": (0, 5, 10),
    "approval_type": (0, 1, 2),
    "audio": ("both", "telephony", "voip"),
    "auto_recording": ("local", "cloud", "none"),
    "encryption_type": ("enhanced_encryption", "e2ee"),
}
STRING_SETTINGS = ("alternative_hosts",)
DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "both",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "alternative_hosts_email_notification": True,
    "alternative_host_update_polls": False,
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "registrants_confirmation_email": True,
    "registrants_email_notification": True,
    "waiting_room": False,
    "meeting_authentication": False,
    "encryption_type": "enhanced_encryption",
    "approved_or_denied_countries_or_regions": {"enable": False},
    "breakout_room": {"enable": False},
    "email_notification": True,
    "focus_mode": False,
    "private_meeting": False,
    "host_save_video_order": False,
}


class MeetingInputError(Exception):
    """A request Zoom refuses: 400 with ``code``, ``message`` and the offending ``fields``."""

    def __init__(self, code: int, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body; anything but a JSON object is Zoom's code 300."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise MeetingInputError(300, "Request Body should be a valid JSON object.")
    return body


def _setting_ok(key: str, value: Any) -> bool:
    if key in BOOLEAN_SETTINGS:
        return isinstance(value, bool)
    if key in ENUM_SETTINGS:
        return value in ENUM_SETTINGS[key] and not isinstance(value, bool)
    return isinstance(value, str)


def _settings(raw: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Known settings merged over ``base`` (Zoom ignores settings it does not know)."""
    known = (*BOOLEAN_SETTINGS, *ENUM_SETTINGS, *STRING_SETTINGS)
    return base | {k: v for k, v in raw.items() if k in known}


def _invalid_fields(body: dict[str, Any]) -> list[str]:
    bad = []
    if "topic" in body and (not isinstance(body["topic"], str) or len(body["topic"]) > TOPIC_MAX):
        bad.append("topic")
    if "agenda" in body and (
        not isinstance(body["agenda"], str) or len(body["agenda"]) > AGENDA_MAX
    ):
        bad.append("agenda")
    duration = body.get("duration", 0)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
        bad.append("duration")
    if "type" in body and body["type"] not in (1, 2, 3, 8):
        bad.append("type")
    if "timezone" in body and zone_or_none(str(body["timezone"])) is None:
        bad.append("timezone")
    settings = body.get("settings", {})
    if not isinstance(settings, dict):
        return [*bad, "settings"]
    known = (*BOOLEAN_SETTINGS, *ENUM_SETTINGS, *STRING_SETTINGS)
    return bad + [
        f"settings.{k}" for k, v in settings.items() if k in known and not _setting_ok(k, v)
    ]


def _check_scalars(body: dict[str, Any]) -> None:
    """Every invalid field at once ("Validation Failed."), then the passcode rule."""
    bad = _invalid_fields(body)
    if bad:
        raise MeetingInputError(300, "Validation Failed.", tuple(bad))
    if body.get("type") == 8 or "recurrence" in body:
        raise MeetingInputError(
            300, "Recurring meetings with a fixed time are not emulated by the sandbox.", ("type",)
        )
    if "password" in body and password_problem(body["password"]):
        raise MeetingInputError(300, PASSWORD_MESSAGE, ("password",))


def _check_requirement(sandbox: ZoomSandbox, body: dict[str, Any], host: User) -> None:
    """A passcode given must also meet the host account's passcode requirements."""
    requirement = sandbox.accounts[host.account_id].passcode_requirement
    if body.get("password") and breaks_requirement(str(body["password"]), requirement):
        raise MeetingInputError(300, REQUIREMENT_MESSAGE, ("password",))


def _check_schedule_for(body: dict[str, Any], host: User) -> None:
    target = body.get("schedule_for")
    if target is not None and str(target).lower() not in (host.email.lower(), host.id.lower()):
        raise MeetingInputError(
            300,
            "The value that you entered for the schedule_for field is invalid. "
            "Enter a valid value and try again.",
            ("schedule_for",),
        )


def _normalise(sandbox: ZoomSandbox, settings: dict[str, Any]) -> dict[str, Any]:
    if sandbox.limits.waiting_room_disables_jbh and settings.get("waiting_room"):
        settings["join_before_host"] = False
    return settings


def create_meeting(sandbox: ZoomSandbox, host: User, body: dict[str, Any]) -> Meeting:
    """Validate a create body and store the meeting; raises MeetingInputError."""
    _check_scalars(body)
    _check_schedule_for(body, host)
    _check_requirement(sandbox, body, host)
    timezone = str(body.get("timezone") or host.timezone)
    meeting_type = int(body.get("type", 2))
    now = sandbox.now().replace(microsecond=0)
    if meeting_type in (2, 3) and body.get("start_time"):
        try:
            start = parse_start_time(body["start_time"], timezone)
        except ValueError as exc:
            raise MeetingInputError(300, "Validation Failed.", ("start_time",)) from exc
    else:
        start = now
        meeting_type = 1 if meeting_type == 2 else meeting_type  # no start_time: instant
    settings = _normalise(sandbox, _settings(body.get("settings", {}), DEFAULT_SETTINGS))
    meeting_id = sandbox.new_meeting_id()
    requirement = sandbox.accounts[host.account_id].passcode_requirement
    password = body.get("password") or generate_password(sandbox.random, requirement)
    meeting = Meeting(
        id=meeting_id,
        uuid=base64.b64encode(secrets.token_bytes(16)).decode(),
        host_id=host.id,
        topic=str(body.get("topic") or "Zoom meeting"),
        type=meeting_type,
        start_time=start,
        duration=int(body.get("duration", 60)),
        timezone=timezone,
        agenda=str(body.get("agenda", "")),
        password=password,
        encrypted_password=encrypt_password(password, meeting_id),
        created_at=now,
        settings=settings,
    )
    sandbox.meetings[meeting.id] = meeting
    return meeting


def _view(meeting: Meeting) -> dict[str, Any]:
    return {
        "topic": meeting.topic,
        "type": meeting.type,
        "start_time": zoom_datetime(meeting.start_time) if meeting.start_time else "",
        "duration": meeting.duration,
        "timezone": meeting.timezone,
        "agenda": meeting.agenda,
        "password": meeting.password,
        "settings": deepcopy(meeting.settings),
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key, value in after.items():
        if key == "settings":
            changed = [k for k, v in value.items() if before["settings"].get(k) != v]
            if changed:
                old["settings"] = {k: before["settings"].get(k) for k in changed}
                new["settings"] = {k: value[k] for k in changed}
        elif before[key] != value:
            old[key], new[key] = before[key], value
    return old, new


def apply_changes(
    sandbox: ZoomSandbox, meeting: Meeting, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply a PATCH body (or a change made in Zoom); returns ``(old, new)`` of what changed,
    in wire form, for ``meeting.updated``. Raises MeetingInputError and changes nothing then."""
    _check_scalars(body)
    _check_schedule_for(body, sandbox.users[meeting.host_id])
    _check_requirement(sandbox, body, sandbox.users[meeting.host_id])
    before = _view(meeting)
    timezone = str(body.get("timezone") or meeting.timezone)
    start = meeting.start_time
    if body.get("start_time"):
        try:
            start = parse_start_time(body["start_time"], timezone)
        except ValueError as exc:
            raise MeetingInputError(300, "Validation Failed.", ("start_time",)) from exc
    settings = meeting.settings
    if "settings" in body:
        settings = _normalise(sandbox, _settings(body["settings"], meeting.settings))
    meeting.start_time, meeting.timezone, meeting.settings = start, timezone, settings
    meeting.topic = str(body.get("topic", meeting.topic))
    meeting.agenda = str(body.get("agenda", meeting.agenda))
    meeting.duration = int(body.get("duration", meeting.duration))
    if body.get("type") in (1, 2, 3):
        meeting.type = int(body["type"])
    if body.get("password"):
        meeting.password = str(body["password"])
        meeting.encrypted_password = encrypt_password(meeting.password, meeting.id)
    return _diff(before, _view(meeting))


# -- answers --------------------------------------------------------------------------------------


def _start_url(sandbox: ZoomSandbox, meeting: Meeting, base: str) -> str:
    """A fresh ``zak`` on every read; it expires after ``limits.start_url_lifetime``."""
    zak = secrets.token_urlsafe(32)
    sandbox.zaks[zak] = (meeting.id, sandbox.clock() + sandbox.limits.start_url_lifetime)
    return f"{base}/s/{meeting.id}?zak={zak}"


def join_url(meeting: Meeting, base: str) -> str:
    return f"{base}/j/{meeting.id}?pwd={meeting.encrypted_password}"


def meeting_json(sandbox: ZoomSandbox, meeting: Meeting, base: str) -> dict[str, Any]:
    """The meeting as ``POST …/meetings`` (201) and ``GET /meetings/{id}`` return it.
    ``uuid``, ``host_id``, ``status`` and ``encrypted_password`` are in the live 201 answer
    although the 2023 spec omits them there (see tests/contract/zoom_spec.py)."""
    host = sandbox.users[meeting.host_id]
    body: dict[str, Any] = {
        "uuid": meeting.uuid,
        "id": meeting.id,
        "host_id": meeting.host_id,
        "host_email": host.email,
        "topic": meeting.topic,
        "type": meeting.type,
        "status": meeting.status,
        "start_time": zoom_datetime(meeting.start_time) if meeting.start_time else "",
        "duration": meeting.duration,
        "timezone": meeting.timezone,
        "created_at": zoom_datetime(meeting.created_at),
        "start_url": _start_url(sandbox, meeting, base),
        "join_url": join_url(meeting, base),
        "password": meeting.password,
        "h323_password": meeting.password,
        "encrypted_password": meeting.encrypted_password,
        "settings": deepcopy(meeting.settings),
        "pre_schedule": False,
    }
    if meeting.agenda:
        body["agenda"] = meeting.agenda
    return body


def list_item_json(meeting: Meeting, base: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "uuid": meeting.uuid,
        "id": meeting.id,
        "host_id": meeting.host_id,
        "topic": meeting.topic,
        "type": meeting.type,
        "start_time": zoom_datetime(meeting.start_time) if meeting.start_time else "",
        "duration": meeting.duration,
        "timezone": meeting.timezone,
        "created_at": zoom_datetime(meeting.created_at),
        "join_url": join_url(meeting, base),
    }
    if meeting.agenda:
        # The spec: "The length of agenda gets truncated to 250 characters when you list
        # all meetings for a user"; GET /meetings/{id} has the whole of it.
        item["agenda"] = meeting.agenda[:LISTED_AGENDA_MAX]
    return item


def select_meetings(sandbox: ZoomSandbox, host: User, kind: str) -> list[Meeting]:
    """``GET /users/{id}/meetings?type=``: scheduled (default), live, upcoming,
    upcoming_meetings, previous_meetings."""
    now = sandbox.now()
    found = []
    for meeting in sandbox.meetings_of(host):
        start = meeting.start_time or meeting.created_at
        ended = start.timestamp() + meeting.duration * 60 < now.timestamp()
        if kind == "scheduled":
            keep = meeting.type != 1
        elif kind == "live":
            keep = meeting.status == "started"
        elif kind in ("upcoming", "upcoming_meetings"):
            keep = meeting.status == "started" or start >= now
        else:  # previous_meetings
            keep = ended and meeting.status != "started"
        if keep:
            found.append(meeting)
    return found


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def page_offset(token: str) -> int:
    """The offset behind a ``next_page_token``; ValueError for one the sandbox never issued."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    if not raw.startswith("o:"):
        raise ValueError("not a page token")
    return int(raw[2:])
