"""TypedDicts of the Zoom JSON we send and read (OAuth token endpoint and REST ``/v2``).

Only the fields hiresync uses are declared; Zoom adds properties over time and TypedDicts do
not reject extra keys, so new fields never break parsing. Names are Zoom's own (snake_case) so
a reader can check them against developers.zoom.us and ``shared/specs/zoom-*.json``.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

ConcurrentMeetingWire = Literal["Basic", "Plus", "None"]
ListTypeWire = Literal["scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"]


# -- OAuth ------------------------------------------------------------------------------------


class TokenWire(TypedDict):
    """``POST /oauth/token`` → 200 (authorization_code and refresh_token grants)."""

    access_token: str
    token_type: str
    refresh_token: str
    expires_in: int
    scope: NotRequired[str]
    api_url: NotRequired[str]


class OAuthErrorWire(TypedDict):
    """The token and revoke endpoints' error body: ``{"reason": "Invalid Token!",
    "error": "invalid_grant"}`` (Zoom writes ``reason`` where RFC 6749 has
    ``error_description``)."""

    error: str
    reason: NotRequired[str]
    error_description: NotRequired[str]


# -- REST errors --------------------------------------------------------------------------------


class FieldErrorWire(TypedDict):
    field: str
    message: str


class ZoomErrorWire(TypedDict):
    """Every REST error: ``{"code": 3001, "message": "Meeting does not exist: 1."}``; code 300
    ("Validation Failed.") adds one ``errors`` entry per refused field."""

    code: int
    message: str
    errors: NotRequired[list[FieldErrorWire]]


# -- users ------------------------------------------------------------------------------------


class UserWire(TypedDict):
    """``GET /users/{userId}``. ``type``: 1 Basic, 2 Licensed, 3 On-prem, 99 None."""

    id: str
    account_id: str
    email: str
    type: int
    first_name: NotRequired[str]
    last_name: NotRequired[str]
    display_name: NotRequired[str]
    timezone: NotRequired[str]


class PasswordRequirementWire(TypedDict, total=False):
    """``schedule_meeting.meeting_password_requirement``: the account's passcode policy."""

    length: int
    have_letter: bool
    have_number: bool
    have_special_character: bool
    have_upper_and_lower_characters: bool
    only_allow_numeric: bool
    consecutive_characters_length: int  # 0, 4..8: no run of that many repeated/sequential
    weak_enhance_detection: bool


class ScheduleMeetingSettingsWire(TypedDict, total=False):
    join_before_host: bool
    require_password_for_scheduling_new_meetings: bool
    meeting_password_requirement: PasswordRequirementWire


class FeatureSettingsWire(TypedDict, total=False):
    meeting_capacity: int
    concurrent_meeting: ConcurrentMeetingWire


class UserSettingsWire(TypedDict, total=False):
    """``GET /users/{userId}/settings`` (the parts a scheduler reads)."""

    schedule_meeting: ScheduleMeetingSettingsWire
    feature: FeatureSettingsWire


# -- meetings -------------------------------------------------------------------------------


class MeetingSettingsWire(TypedDict, total=False):
    join_before_host: bool
    jbh_time: Literal[0, 5, 10]
    waiting_room: bool
    mute_upon_entry: bool
    approval_type: Literal[0, 1, 2]
    meeting_authentication: bool


class MeetingCreateWire(TypedDict):
    """``POST /users/{userId}/meetings`` body. ``start_time`` is GMT (``yyyy-MM-ddTHH:mm:ssZ``);
    ``timezone`` only decides how Zoom shows it."""

    topic: str
    type: Literal[2]
    start_time: str
    duration: int
    timezone: str
    agenda: str
    password: NotRequired[str]
    settings: MeetingSettingsWire


class MeetingUpdateWire(TypedDict):
    """``PATCH /meetings/{meetingId}`` body (204, no content)."""

    topic: str
    type: Literal[2]
    start_time: str
    duration: int
    timezone: str
    agenda: str


class MeetingWire(TypedDict):
    """A meeting as ``POST …/meetings`` (201) and ``GET /meetings/{id}`` return it."""

    id: int
    join_url: str
    uuid: NotRequired[str]
    host_id: NotRequired[str]
    host_email: NotRequired[str]
    topic: NotRequired[str]
    type: NotRequired[int]
    start_time: NotRequired[str]
    duration: NotRequired[int]
    timezone: NotRequired[str]
    agenda: NotRequired[str]
    password: NotRequired[str]
    settings: NotRequired[dict[str, object]]


class MeetingListItemWire(TypedDict):
    """One entry of ``GET /users/{userId}/meetings``; ⚠ its ``agenda`` is cut to 250
    characters (the spec's description of the field)."""

    id: int
    join_url: NotRequired[str]
    topic: NotRequired[str]
    start_time: NotRequired[str]
    duration: NotRequired[int]
    agenda: NotRequired[str]


class MeetingListWire(TypedDict):
    meetings: list[MeetingListItemWire]
    next_page_token: NotRequired[str]
    page_size: NotRequired[int]
    total_records: NotRequired[int]
