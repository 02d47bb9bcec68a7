"""When can this panel meet? Slots or periods from live calendars, and why not at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response

from hiresync.api.deps import OrgDep, RuntimeDep, SessionDep
from hiresync.api.v1.clock import RequestClock
from hiresync.api.v1.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    AvailabilityPolicyBody,
    ExplainIn,
    ExplainOut,
    LoopsIn,
    LoopsOut,
    MemberIn,
    PeriodIn,
    PersonIn,
    TimingIn,
)
from hiresync.availability import Mode, Period
from hiresync.services import availability, scheduling_settings, validation
from hiresync.services.errors import InvalidInput
from hiresync.services.freebusy import PersonRef

router = APIRouter(tags=["availability"])


def _periods(periods: list[PeriodIn], clock: RequestClock) -> tuple[Period, ...]:
    return tuple(
        Period(
            clock.read(p.start, f"query_periods.{i}.start"),
            clock.read(p.end, f"query_periods.{i}.end"),
        )
        for i, p in enumerate(periods)
    )


def _member(item: MemberIn) -> availability.MemberSpec:
    return availability.MemberSpec(
        PersonRef(user_id=item.user_id, email=item.email),
        item.max_interviews_per_day,
        item.max_interviews_per_week,
    )


def _overrides(body: TimingIn) -> availability.Overrides:
    buffer = body.buffer
    return availability.Overrides(
        buffer_before=buffer.before.total() if buffer and buffer.before else None,
        buffer_after=buffer.after.total() if buffer and buffer.after else None,
        min_notice=body.minimum_notice.total() if body.minimum_notice else None,
        horizon=body.booking_horizon.total() if body.booking_horizon else None,
        policy=body.policy.model_dump(exclude_none=True) if body.policy else {},
    )


def _ref(item: PersonIn | None) -> PersonRef | None:
    return None if item is None else PersonRef(user_id=item.user_id, email=item.email)


def _host_out(host: availability.ZoomHost) -> dict[str, Any]:
    return {
        "user_id": host.user_id,
        "email": host.email,
        "name": host.name,
        "plan": host.plan,
        "concurrent_meetings": host.concurrent_meetings,
        "max_minutes": host.max_minutes,
    }


def _group(index: int, members: list[MemberIn], required: str | int) -> availability.GroupSpec:
    if isinstance(required, int) and not 1 <= required <= len(members):
        raise InvalidInput(
            f"Group {index} requires {required} of its {len(members)} member(s) to be free.",
            hint=f'Use a number from 1 to {len(members)}, or "all".',
            field=f"participants.{index}.required",
        )
    return availability.GroupSpec(
        tuple(_member(m) for m in members), None if required == "all" else int(required)
    )


def person_out(p: availability.Participant) -> dict[str, Any]:
    return {
        "user_id": p.user_id,
        "email": p.email,
        "name": p.name,
        "time_zone": p.time_zone,
        "working_hours_from": p.hours_source,
        "error": {"code": p.error.code.value, "message": p.error.message} if p.error else None,
    }


def _slots(answer: availability.AvailabilityAnswer, write: Callable[[datetime], datetime]) -> list:
    people = answer.participants
    return [
        {
            "start": write(slot.start),
            "end": write(slot.end),
            "participants": [
                {"user_id": people[key].user_id, "email": people[key].email, "group": index}
                for index, free in enumerate(slot.free)
                for key in free
            ],
        }
        for slot in answer.slots
    ]


@router.post("/availability", response_model=AvailabilityOut)
async def find_availability(
    body: AvailabilityIn, org: OrgDep, runtime: RuntimeDep, response: Response
) -> Any:
    """Times when the participants can meet, read live from their calendars.

    Each group is either all required or "at least k of these"; buffers, minimum
    notice, booking horizon and what blocks time default to the organization's policy.
    People whose calendar cannot be read count as never free and are listed with the
    reason. Slots start on the ``start_interval`` grid (from the top of the UTC hour);
    in ``periods`` format the answer is maximal free stretches instead. The
    ``Server-Timing`` header says how long reading the calendars and solving took.
    With ``zoom_host``, times when that host already runs as many live Zoom interviews
    as their plan allows at once are left out, and a Basic plan's time limit is a
    warning."""
    clock = RequestClock(body.time_zone)
    request = availability.AvailabilityRequest(
        groups=tuple(_group(i, g.members, g.required) for i, g in enumerate(body.participants)),
        periods=_periods(body.query_periods, clock),
        duration=body.required_duration.total(),
        interval=body.start_interval.total(),
        mode=Mode(body.response_format),
        max_results=body.max_results,
        overrides=_overrides(body),
        zoom_host=_ref(body.zoom_host),
    )
    answer = await availability.find(runtime, org, request, datetime.now(UTC))
    timings = answer.timings
    response.headers["Server-Timing"] = (
        f'read;dur={timings.resolve_and_read_ms:.1f};desc="team and calendars", '
        f"engine;dur={timings.engine_ms:.1f}"
    )
    key = "available_periods" if request.mode == Mode.PERIODS else "available_slots"
    return {
        "time_zone": clock.name,
        key: _slots(answer, clock.write),
        "people": [person_out(p) for p in answer.participants.values()],
        "zoom_host": _host_out(answer.zoom_host) if answer.zoom_host else None,
        "warnings": list(answer.warnings),
    }


def _reason(conflict: Any, write: Callable[[datetime], datetime]) -> dict[str, Any]:
    block = conflict.block
    start = getattr(block, "start", None)
    end = getattr(block, "end", None)
    timed = isinstance(start, datetime) and isinstance(end, datetime)
    return {
        "reason": conflict.reason.value,
        "message": conflict.message,
        "start": write(start) if timed else None,
        "end": write(end) if timed else None,
        "status": conflict.status,
        "subject": conflict.subject,
    }


def _explained(item: availability.Explained, write: Callable[[datetime], datetime]) -> dict:
    reasons = [_reason(c, write) for c in item.conflicts]
    if item.unreadable and item.participant.error is not None:
        reasons = [{"reason": "calendar_unreadable", "message": item.participant.error.message}]
    return {**person_out(item.participant), "available": item.available, "reasons": reasons}


@router.post("/availability/explain", response_model=ExplainOut)
async def explain_availability(body: ExplainIn, org: OrgDep, runtime: RuntimeDep) -> Any:
    """For one candidate time, whether each person can make it and every reason why not:
    the busy event (its subject unless private), a buffer, working hours, a daily or
    weekly interview cap, minimum notice or booking horizon; with ``zoom_host``, whether
    that host's Zoom account has a place then (and which meetings fill it)."""
    clock = RequestClock(body.time_zone)
    start = clock.read(body.start, "start")
    duration: timedelta = body.required_duration.total()
    host_ref = _ref(body.zoom_host)
    host = None
    if host_ref is not None:  # refused before any calendar is read
        host = await availability.explain_zoom_host(runtime, org, host_ref, start, duration)
    found = await availability.explain(
        runtime,
        org,
        [_member(m) for m in body.participants],
        start,
        duration,
        datetime.now(UTC),
        _overrides(body),
    )
    return {
        "start": clock.write(start),
        "end": clock.write(start + duration),
        "time_zone": clock.name,
        "people": [_explained(item, clock.write) for item in found],
        "zoom_host": _host_explained(host, duration, clock.write) if host else None,
    }


def _host_explained(
    found: tuple[availability.ZoomHost, tuple[Any, ...]],
    duration: timedelta,
    write: Callable[[datetime], datetime],
) -> dict[str, Any]:
    host, conflicts = found
    return {
        **_host_out(host),
        "available": not conflicts,
        "reasons": [_reason(c, write) for c in conflicts],
        "warnings": list(host.warnings(duration)),
    }


def _loop_request(body: LoopsIn, clock: RequestClock) -> availability.LoopRequest:
    gap = body.gap
    return availability.LoopRequest(
        sessions=tuple(
            availability.SessionSpec(
                s.name,
                s.required_duration.total(),
                tuple(_group(i, g.members, g.required) for i, g in enumerate(s.participants)),
            )
            for s in body.sessions
        ),
        periods=_periods(body.query_periods, clock),
        candidate_time_zone=validation.time_zone(
            body.candidate_time_zone, field="candidate_time_zone"
        ),
        interval=body.start_interval.total(),
        any_order=body.any_order,
        min_gap=gap.min.total() if gap.min else timedelta(0),
        max_gap=None if gap.any_gap else (gap.max.total() if gap.max else timedelta(minutes=30)),
        max_results=body.max_results,
        overrides=_overrides(body),
    )


@router.post("/availability/loops", response_model=LoopsOut)
async def find_loops(body: LoopsIn, org: OrgDep, runtime: RuntimeDep) -> Any:
    """Interview loops: a sequence of sessions (each with its own length and panel),
    in the given order or any order, with a minimum and maximum gap between them, all
    within one of the candidate's local days. The first loops use as few days as
    possible and spread the interviews across the panel (lowest load first)."""
    validation.time_zone(body.candidate_time_zone, field="candidate_time_zone")
    clock = RequestClock(body.time_zone or body.candidate_time_zone)
    answer = await availability.loops(runtime, org, _loop_request(body, clock), datetime.now(UTC))
    people = answer.participants

    def seat(key: str) -> dict[str, Any]:
        return {"user_id": people[key].user_id, "email": people[key].email}

    return {
        "time_zone": clock.name,
        "loops": [
            {
                "day": loop.day.isoformat(),
                "load": loop.load,
                "sessions": [
                    {
                        "name": s.name,
                        "start": clock.write(s.start),
                        "end": clock.write(s.end),
                        "interviewers": [seat(k) for k in s.interviewers],
                    }
                    for s in loop.sessions
                ],
            }
            for loop in answer.result.loops
        ],
        "complete": answer.result.complete,
        "people": [person_out(p) for p in people.values()],
    }


@router.get("/availability/policy", response_model=AvailabilityPolicyBody)
async def get_policy(org: OrgDep, session: SessionDep) -> Any:
    """What blocks time in this organization, and its default buffers, notice and hours."""
    return (await scheduling_settings.load_policy(session, org)).as_json()


@router.patch("/availability/policy", response_model=AvailabilityPolicyBody)
async def update_policy(body: AvailabilityPolicyBody, org: OrgDep, session: SessionDep) -> Any:
    """Change some settings of the policy; the others are kept."""
    changes = body.model_dump(exclude_unset=True)
    return (await scheduling_settings.update_policy(session, org, changes)).as_json()
