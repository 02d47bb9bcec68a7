"""REST ``/v2`` handlers: users, settings and meetings, as a user-managed app sees them.

A user-level token reaches only its own user (``me``, its id or its e-mail) and the meetings it
hosts: another user is 404 code 1001, another host's meeting 400 code 3000, an unknown meeting
404 code 3001 "Meeting does not exist: {id}." (codes from the spec's response descriptions).

Meeting creates and updates count against the host's 100-a-day quota (rate-limits doc, "User-level
rate limits"); answers carry ``X-RateLimit-Limit: 100`` and ``X-RateLimit-Remaining`` as Zoom's
do (devforum "Does meeting requests per day rate limits include DELETE meeting?"). The 101st is
refused with 429 and Zoom staff's message ("Zoom API Create Meeting API Rate Limit - Sample error"),
or, with ``limits.daily_limit_status = 300``, as the 2023 spec documents it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from . import meetings as mt
from .wire import JSON_TYPE, base_url, next_utc_midnight, tracking_id, zoom_datetime, zoom_error

if TYPE_CHECKING:
    from .api import ApiCall
    from .model import Meeting, User

ROLE_IDS = {"Owner": "0", "Admin": "1", "Member": "2"}


def _json(call: ApiCall, body: Any, status: int = 200, **headers: str) -> JSONResponse:
    merged = call.headers(**headers) | {"x-zm-trackingid": tracking_id()}
    return JSONResponse(body, status_code=status, headers=merged, media_type=JSON_TYPE)


def _no_content(call: ApiCall, **headers: str) -> Response:
    return Response(
        status_code=204, headers=call.headers(**headers) | {"x-zm-trackingid": tracking_id()}
    )


def _target_user(call: ApiCall) -> User | None:
    ref = call.params["uid"]
    if ref.lower() == "me":
        return call.me
    found = call.sandbox.find_user(ref)
    return found if found is call.me else None


def _meeting(call: ApiCall) -> Meeting | Response:
    raw = call.params["mid"]
    meeting = call.sandbox.meetings.get(int(raw)) if raw.isdigit() else None
    if meeting is None:
        return zoom_error(404, 3001, f"Meeting does not exist: {raw}.", headers=call.headers())
    if meeting.host_id != call.me.id:
        return zoom_error(400, 3000, "Cannot access meeting information.", headers=call.headers())
    return meeting


def _input_error(call: ApiCall, exc: mt.MeetingInputError, **headers: str) -> Response:
    errors = [{"field": f, "message": "Invalid field."} for f in exc.fields]
    if exc.message != "Validation Failed.":
        errors = []
    return zoom_error(400, exc.code, exc.message, errors=errors, headers=call.headers(**headers))


def _quota(call: ApiCall) -> dict[str, str] | Response:
    """Count a create/update for the host; the quota headers, or the refusal."""
    sandbox, limits = call.sandbox, call.sandbox.limits
    remaining = sandbox.take_meeting_write(call.me)
    if remaining is not None:
        return {
            "X-RateLimit-Limit": str(limits.meeting_writes_per_day),
            "X-RateLimit-Remaining": str(remaining),
        }
    sandbox.stats.daily_limited[call.me.id] += 1
    cap = limits.meeting_writes_per_day
    if limits.daily_limit_status == 300:
        return zoom_error(
            300,
            300,
            f"A maximum of {cap} meetings can be created/updated for a single user in one day.",
        )
    headers = {
        "X-RateLimit-Category": call.category,
        "X-RateLimit-Type": "Daily-limit",
        "X-RateLimit-Limit": str(cap),
        "X-RateLimit-Remaining": "0",
    }
    if limits.daily_limit_retry_after:
        headers["Retry-After"] = zoom_datetime(next_utc_midnight(sandbox.now()))
    return zoom_error(
        429,
        429,
        f"You have exceeded the daily rate limit ({cap}) of Meeting Create/Update API requests "
        "permitted for this particular user. You may resume these requests at GMT 00:00:00.",
        headers=headers,
    )


# -- users -------------------------------------------------------------------------------------


def user_json(call: ApiCall, user: User) -> dict[str, Any]:
    """``GET /users/{userId}``: ``type`` 1 Basic / 2 Licensed tells a client about the 40-minute
    cap; every field is one the spec defines."""
    account = call.sandbox.accounts[user.account_id]
    base = base_url(call.request)
    return {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "type": user.type,
        "role_name": user.role,
        "role_id": ROLE_IDS.get(user.role, "2"),
        "pmi": user.pmi,
        "use_pmi": False,
        "personal_meeting_url": f"{base}/j/{user.pmi}",
        "timezone": user.timezone,
        "verified": 1,
        "dept": user.dept,
        "job_title": user.job_title,
        "created_at": zoom_datetime(user.created_at) if user.created_at else "",
        "last_login_time": zoom_datetime(call.sandbox.now()),
        "language": user.language,
        "status": "active",
        "account_id": account.id,
        "account_number": account.number,
        "cluster": "us05",
        "login_types": [100],
        "jid": f"{user.id.lower()}@xmpp.zoom.us",
        "group_ids": [],
        "im_group_ids": [],
    }


async def get_user(call: ApiCall) -> Response:
    user = _target_user(call)
    if user is None:
        ref = call.params["uid"]
        return zoom_error(404, 1001, f"User does not exist: {ref}.", headers=call.headers())
    return _json(call, user_json(call, user))


async def get_settings(call: ApiCall) -> Response:
    """The settings a scheduler cares about: passcode requirements, join before host, waiting
    room and ``feature.concurrent_meeting`` ("None": one meeting at a time)."""
    user = _target_user(call)
    if user is None:
        ref = call.params["uid"]
        return zoom_error(404, 1001, f"User does not exist: {ref}.", headers=call.headers())
    account = call.sandbox.accounts[user.account_id]
    plan = account.plan_info
    required = (
        {"meeting_password_requirement": dict(account.passcode_requirement)}
        if account.passcode_requirement
        else {}
    )
    return _json(
        call,
        {
            "schedule_meeting": {
                **required,
                "host_video": False,
                "participants_video": False,
                "audio_type": "both",
                "join_before_host": False,
                "require_password_for_scheduling_new_meetings": True,
                "require_password_for_instant_meetings": True,
                "embed_password_in_join_link": True,
                "use_pmi_for_scheduled_meetings": False,
                "use_pmi_for_instant_meetings": False,
            },
            "in_meeting": {"waiting_room": False, "e2e_encryption": False, "co_host": True},
            "feature": {
                "meeting_capacity": plan.meeting_capacity,
                "large_meeting": False,
                "webinar": False,
                "cn_meeting": False,
                "in_meeting": False,
                "zoom_phone": False,
                "concurrent_meeting": plan.concurrent_meeting,
            },
        },
    )


# -- meetings ----------------------------------------------------------------------------------


async def list_meetings(call: ApiCall) -> Response:
    user = _target_user(call)
    ref, query = call.params["uid"], call.request.query_params
    if user is None:
        return zoom_error(
            404,
            1001,
            f"User {ref} not exist or not belong to this account.",
            headers=call.headers(),
        )
    kind = query.get("type", "scheduled")
    limits = call.sandbox.limits
    try:
        size = min(int(query.get("page_size", limits.list_page_size)), limits.list_max_page_size)
        offset = mt.page_offset(query["next_page_token"]) if query.get("next_page_token") else 0
    except ValueError:
        return zoom_error(
            400,
            300,
            "Validation Failed.",
            errors=[{"field": "page_size", "message": "Invalid field."}],
            headers=call.headers(),
        )
    if (
        kind not in ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
        or size < 1
    ):
        field = "type" if size >= 1 else "page_size"
        return zoom_error(
            400,
            300,
            "Validation Failed.",
            errors=[{"field": field, "message": "Invalid field."}],
            headers=call.headers(),
        )
    found = mt.select_meetings(call.sandbox, user, kind)
    page = found[offset : offset + size]
    more = offset + size < len(found)
    base = base_url(call.request)
    return _json(
        call,
        {
            "page_size": size,
            "total_records": len(found),
            "next_page_token": mt.page_token(offset + size) if more else "",
            "meetings": [mt.list_item_json(m, base) for m in page],
        },
    )


async def create_meeting(call: ApiCall) -> Response:
    user = _target_user(call)
    if user is None:
        ref = call.params["uid"]
        return zoom_error(
            404,
            1001,
            f"User {ref} not exist or not belong to this account.",
            headers=call.headers(),
        )
    quota = _quota(call)
    if isinstance(quota, Response):
        return quota
    try:
        body = mt.parse_json_object(await call.request.body())
        meeting = mt.create_meeting(call.sandbox, user, body)
    except mt.MeetingInputError as exc:
        return _input_error(call, exc, **quota)
    return _json(call, mt.meeting_json(call.sandbox, meeting, base_url(call.request)), 201, **quota)


async def get_meeting(call: ApiCall) -> Response:
    meeting = _meeting(call)
    if isinstance(meeting, Response):
        return meeting
    return _json(call, mt.meeting_json(call.sandbox, meeting, base_url(call.request)))


async def update_meeting(call: ApiCall) -> Response:
    """``PATCH /meetings/{id}`` → 204; a started meeting cannot be changed this way."""
    meeting = _meeting(call)
    if isinstance(meeting, Response):
        return meeting
    quota = _quota(call)
    if isinstance(quota, Response):
        return quota
    if meeting.status == "started":
        return zoom_error(
            400,
            3000,
            "You cannot update or delete meetings that have started using this method.",
            headers=call.headers(**quota),
        )
    try:
        body = mt.parse_json_object(await call.request.body())
        old, new = mt.apply_changes(call.sandbox, meeting, body)
    except mt.MeetingInputError as exc:
        return _input_error(call, exc, **quota)
    if new and call.sandbox.limits.api_changes_emit_events:
        call.sandbox.emit_meeting_event("meeting.updated", meeting, call.me.id, old, new)
    return _no_content(call, **quota)


async def delete_meeting(call: ApiCall) -> Response:
    """``DELETE /meetings/{id}`` → 204; not while it is in progress (code 3002)."""
    meeting = _meeting(call)
    if isinstance(meeting, Response):
        return meeting
    if meeting.status == "started":
        return zoom_error(
            400,
            3002,
            "Sorry, you cannot delete this meeting since it is in progress.",
            headers=call.headers(),
        )
    del call.sandbox.meetings[meeting.id]
    if call.sandbox.limits.api_changes_emit_events:
        call.sandbox.emit_meeting_event("meeting.deleted", meeting, call.me.id)
    return _no_content(call)
