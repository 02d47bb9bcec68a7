"""Availability for an interview panel, from live free/busy: the use case behind
``POST /v1/availability``, its explanation and the scheduling page.

The question is checked first (against the engine's own rules, with each person
standing in unread), so a bad request costs no provider call. Then everyone's
free/busy is read once for the window the question can reach (query periods cut to
notice and horizon, widened by the buffers), each person becomes an engine
``Person`` — time zone and working hours from their calendar when it reports them,
else from their hiresync settings, else the organization's default — and the pure
engine answers. A person whose calendar cannot be read is never shown as free: they
count as unavailable and the answer says why. Interviews already sent through hiresync
count toward each person's daily and weekly caps.

With a ``zoom_host`` (a team member with a live Zoom connection), the host's Zoom
account is a capacity of the engine: where the host already runs as many live Zoom
interviews as the plan allows at once (``concurrent_meetings``: Pro 1, Business 2),
no slot is offered. A Basic host's time limit (``max_minutes``, 40) does not remove
slots — every slot of a question has the same length, so it would empty the answer
without saying why; the answer carries a warning instead, worded as when the
interview is scheduled.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from hiresync.availability import (
    AvailabilityError,
    AvailabilityQuery,
    Booked,
    Capacity,
    Group,
    Mode,
    Period,
    Person,
    Rules,
    Slot,
    WorkingWeek,
    find_availability,
)
from hiresync.availability import explain as engine_explain
from hiresync.availability.loops import LoopQuery, LoopResult, Session, check_loop, find_loops
from hiresync.availability.validation import plan_query
from hiresync.domain.freebusy import ScheduleError
from hiresync.domain.interviews import LIVE_STATUSES
from hiresync.runtime import Runtime
from hiresync.services import freebusy, meeting_accounts, scheduling_settings
from hiresync.services.errors import InvalidInput
from hiresync.services.freebusy import PersonRef
from hiresync.services.meeting_push import SETTINGS, ZOOM, ZoomNotConnected
from hiresync.store.tables import Interview, InterviewAttendee, InterviewMeeting, User

MAX_PEOPLE = 1000
LONGEST_QUERY = timedelta(weeks=12)
HoursSource = Literal["calendar", "settings", "organization"]
NEVER = WorkingWeek(((),) * 7)


@dataclass(frozen=True)
class MemberSpec:
    """One person asked about, with optional per-request caps (else their settings)."""

    ref: PersonRef
    max_per_day: int | None = None
    max_per_week: int | None = None


@dataclass(frozen=True)
class GroupSpec:
    members: tuple[MemberSpec, ...]
    required: int | None = None  # None: all of them


@dataclass(frozen=True)
class Overrides:
    """Per-request values that replace the organization policy's defaults (None: keep)."""

    buffer_before: timedelta | None = None
    buffer_after: timedelta | None = None
    min_notice: timedelta | None = None
    horizon: timedelta | None = None
    policy: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class AvailabilityRequest:
    groups: tuple[GroupSpec, ...]
    periods: tuple[Period, ...]
    duration: timedelta
    interval: timedelta = timedelta(minutes=30)
    mode: Mode = Mode.SLOTS
    max_results: int | None = None
    overrides: Overrides = field(default_factory=Overrides)
    zoom_host: PersonRef | None = None


@dataclass(frozen=True)
class Participant:
    """A person of the answer, as resolved: who they are and how their time was read."""

    key: str
    user_id: uuid.UUID | None
    email: str
    name: str | None
    time_zone: str
    hours_source: HoursSource
    error: ScheduleError | None = None


@dataclass(frozen=True)
class Timings:
    """Where the time of one answer went, in milliseconds."""

    resolve_and_read_ms: float = 0.0
    engine_ms: float = 0.0


@dataclass(frozen=True)
class ZoomHost:
    """The host whose Zoom account the meeting will be made on, and what their plan allows."""

    user_id: uuid.UUID
    email: str
    name: str | None
    plan: str
    concurrent_meetings: int | None  # None: no limit known
    max_minutes: int | None  # Basic: meetings end after this many minutes
    booked: tuple[Booked, ...] = ()  # their live Zoom interviews over the window

    def capacity(self) -> Capacity | None:
        if self.concurrent_meetings is None:
            return None
        k = self.concurrent_meetings
        allows = "one at a time" if k == 1 else f"{k} at a time"
        return Capacity(f"Zoom: {self.email}", k, self.booked, f"{self.plan} plan: {allows}")

    def warnings(self, duration: timedelta) -> tuple[str, ...]:
        minutes = int(duration.total_seconds() // 60)
        if self.max_minutes is None or minutes <= self.max_minutes:
            return ()
        return (
            f"{self.name or self.email}'s Zoom account is Basic (free): meetings end at "
            f"{self.max_minutes} minutes, and these slots last {minutes}. Shorten the "
            "interview, pick a host with a licensed Zoom account, or upgrade the account.",
        )


def _plan_name(account: Any) -> str:
    if account.licensed is False or account.max_minutes:
        return "Basic"
    if account.concurrent_meetings == 1:
        return "Pro"
    if account.concurrent_meetings == 2:
        return "Business"
    return "Licensed"


async def zoom_host(
    runtime: Runtime,
    org_id: uuid.UUID,
    ref: PersonRef,
    window: tuple[datetime, datetime] | None,
    field_name: str = "zoom_host",
) -> ZoomHost:
    """The team member ``ref`` with their live Zoom connection and their live Zoom
    interviews over ``window``; refused (422) when unknown or not connected."""
    clause = (
        User.id == ref.user_id
        if ref.user_id
        else User.email_key == (ref.email or "").strip().lower()
    )
    async with runtime.db.sessions() as session:
        user = await session.scalar(select(User).where(User.organization_id == org_id, clause))
        if user is None:
            raise InvalidInput(
                f"{ref.user_id or ref.email} is not on this organization's hiring team, so "
                "cannot host the Zoom meeting.",
                hint="Use ids or addresses from GET /v1/users.",
                field=field_name,
            )
        account = await meeting_accounts.live_account(session, user)
        if account is None or account.status != "active":
            said = (
                "needs to renew their Zoom connection"
                if account is not None
                else "has not connected Zoom"
            )
            raise ZoomNotConnected(
                f"{user.name or user.email} {said}, so their Zoom capacity cannot be checked.",
                hint=f"Connect Zoom under {SETTINGS}, or leave zoom_host out.",
                field=field_name,
            )
        booked: tuple[Booked, ...] = ()
        if window is not None and account.concurrent_meetings is not None:
            rows = await session.execute(
                select(Interview.start, Interview.end)
                .join(InterviewMeeting, InterviewMeeting.interview_id == Interview.id)
                .where(
                    Interview.organization_id == org_id,
                    InterviewMeeting.host_user_id == user.id,
                    Interview.meeting_type == ZOOM,
                    Interview.status.in_([s.value for s in LIVE_STATUSES]),
                    Interview.start < window[1],
                    Interview.end > window[0],
                )
                .order_by(Interview.start)
            )
            booked = tuple(Booked(start, end) for start, end in rows)
        basic = account.licensed is False or bool(account.max_minutes)
        return ZoomHost(
            user_id=user.id,
            email=user.email,
            name=user.name,
            plan=_plan_name(account),
            concurrent_meetings=account.concurrent_meetings,
            max_minutes=(account.max_minutes or 40) if basic else None,
            booked=booked,
        )


@dataclass(frozen=True)
class AvailabilityAnswer:
    slots: tuple[Slot, ...]
    participants: dict[str, Participant]
    groups: tuple[tuple[str, ...], ...]
    timings: Timings
    zoom_host: ZoomHost | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Explained:
    participant: Participant
    available: bool
    conflicts: tuple[Any, ...]  # availability.explain.Conflict
    unreadable: bool = False


def _key(ref: PersonRef) -> str:
    return str(ref.user_id) if ref.user_id else (ref.email or "").strip().lower()


def rules_for(policy: scheduling_settings.AvailabilityPolicy, overrides: Overrides) -> Rules:
    """The organization's rules with this request's overrides on top."""
    rules = policy.rules()
    engine_policy = rules.policy
    if overrides.policy:
        merged = scheduling_settings.merge_policy(policy, overrides.policy)
        engine_policy = merged.engine_policy()
    return replace(
        rules,
        buffer_before=_pick(overrides.buffer_before, rules.buffer_before),
        buffer_after=_pick(overrides.buffer_after, rules.buffer_after),
        min_notice=_pick(overrides.min_notice, rules.min_notice),
        horizon=overrides.horizon if overrides.horizon is not None else rules.horizon,
        policy=engine_policy,
    )


async def _policy_and_rules(
    runtime: Runtime, org_id: uuid.UUID, overrides: Overrides
) -> tuple[scheduling_settings.AvailabilityPolicy, Rules]:
    async with runtime.db.sessions() as session:
        policy = await scheduling_settings.load_policy(session, org_id)
    return policy, rules_for(policy, overrides)


def _pick(value: timedelta | None, default: timedelta) -> timedelta:
    return default if value is None else value


def _engine_query(request: AvailabilityRequest, rules: Rules) -> AvailabilityQuery:
    groups = tuple(Group(tuple(_key(m.ref) for m in g.members), g.required) for g in request.groups)
    return AvailabilityQuery(
        groups=groups,
        periods=request.periods,
        duration=request.duration,
        interval=request.interval,
        rules=rules,
        mode=request.mode,
        max_results=request.max_results,
    )


def _invalid(exc: AvailabilityError) -> InvalidInput:
    return InvalidInput(str(exc), hint="See POST /v1/availability in /docs for the request shape.")


def _check_question(query: AvailabilityQuery, keys: list[str], now: datetime) -> None:
    """The engine's own checks, with every person standing in unread: a bad question is
    refused before any calendar is read."""
    if len(keys) > MAX_PEOPLE:
        raise InvalidInput(
            f"{len(keys)} people asked; the limit is {MAX_PEOPLE} a request.", field="participants"
        )
    try:
        plan_query(query, [Person(key) for key in dict.fromkeys(keys)], now)
    except AvailabilityError as exc:
        raise _invalid(exc) from exc


def read_window(
    periods: tuple[Period, ...], rules: Rules, now: datetime
) -> tuple[datetime, datetime] | None:
    """The stretch of calendar the question can reach, or None when nothing is bookable."""
    start = max(min(p.start for p in periods), now + rules.min_notice)
    end = max(p.end for p in periods)
    if rules.horizon is not None:
        end = min(end, now + rules.horizon)
    if end <= start:
        return None
    return start - rules.buffer_before, end + rules.buffer_after


async def _read(
    runtime: Runtime,
    org_id: uuid.UUID,
    members: list[MemberSpec],
    window: tuple[datetime, datetime] | None,
    default_week: WorkingWeek,
    now: datetime,
) -> tuple[dict[str, Person], dict[str, Participant]]:
    """Everyone's calendar over ``window`` as engine people, and who they turned out to be."""
    unique = list({_key(m.ref): m for m in members}.values())
    refs = [m.ref for m in unique]
    if window is None:  # nothing bookable: a minute's read, to say who everyone is
        window = (now, now + timedelta(minutes=1))
    results = await freebusy.query(
        runtime, org_id, refs, window[0], window[1], longest=LONGEST_QUERY + timedelta(days=2)
    )
    user_ids = [r.user.id for r in results if r.user is not None]
    booked = await _booked(runtime, org_id, user_ids, window)
    people: dict[str, Person] = {}
    participants: dict[str, Participant] = {}
    for spec, result in zip(unique, results, strict=True):
        person, participant = _person(spec, result, default_week)
        if result.user is not None and result.user.id in booked:
            person = replace(person, booked=tuple(booked[result.user.id]))
        people[person.id] = person
        participants[person.id] = participant
    return people, participants


async def _booked(
    runtime: Runtime,
    org_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    window: tuple[datetime, datetime],
) -> dict[uuid.UUID, list[Booked]]:
    """Interviews already sent to each person, a week either side of the window, so that
    daily and weekly caps count them (the calendar shows them only as busy time)."""
    if not user_ids:
        return {}
    margin = timedelta(days=8)
    async with runtime.db.sessions() as session:
        rows = await session.execute(
            select(InterviewAttendee.user_id, Interview.start, Interview.end)
            .join(Interview, Interview.id == InterviewAttendee.interview_id)
            .where(
                Interview.organization_id == org_id,
                Interview.status.in_([s.value for s in LIVE_STATUSES]),
                InterviewAttendee.user_id == any_(bindparam("ids", user_ids, type_=ARRAY(PG_UUID))),
                Interview.start < window[1] + margin,
                Interview.end > window[0] - margin,
            )
        )
    found: dict[uuid.UUID, list[Booked]] = {}
    for user_id, start, end in rows:
        found.setdefault(user_id, []).append(Booked(start, end))
    return found


def _person(
    spec: MemberSpec, result: freebusy.PersonFreeBusy, default_week: WorkingWeek
) -> tuple[Person, Participant]:
    key, user, schedule = _key(spec.ref), result.user, result.schedule
    hours = schedule.working_hours
    source: HoursSource
    if hours is not None:
        week, zone, source = WorkingWeek.from_domain(hours), hours.time_zone, "calendar"
    elif user is not None and user.working_hours:
        week, zone, source = (
            scheduling_settings.working_week(user.working_hours),
            user.time_zone,
            "settings",
        )
    else:
        week, source = default_week, "organization"
        zone = schedule.time_zone or (user.time_zone if user else "UTC")
    if schedule.error is not None:
        week = NEVER  # unreadable: never shown as free
    person = Person(
        id=key,
        time_zone=zone,
        working_hours=week,
        busy=schedule.blocks,  # the engine reads free/busy blocks as they are
        max_per_day=spec.max_per_day or (user.max_per_day if user else None),
        max_per_week=spec.max_per_week or (user.max_per_week if user else None),
    )
    participant = Participant(
        key=key,
        user_id=user.id if user else None,
        email=user.email if user else (spec.ref.email or schedule.email),
        name=user.name if user else None,
        time_zone=zone,
        hours_source=source,
        error=schedule.error,
    )
    return person, participant


async def find(
    runtime: Runtime, org_id: uuid.UUID, request: AvailabilityRequest, now: datetime
) -> AvailabilityAnswer:
    """Slots (or periods) when the panel can meet, per the organization's policy."""
    policy, rules = await _policy_and_rules(runtime, org_id, request.overrides)
    query = _engine_query(request, rules)
    members = [m for g in request.groups for m in g.members]
    _check_question(query, [_key(m.ref) for m in members], now)
    started = time.perf_counter()
    window = read_window(request.periods, rules, now)
    host = None
    if request.zoom_host is not None:
        host = await zoom_host(runtime, org_id, request.zoom_host, window)
        capacity = host.capacity()
        if capacity is not None:
            query = replace(query, capacities=(capacity,))
    people, participants = await _read(runtime, org_id, members, window, policy.default_week(), now)
    read_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    try:
        slots = find_availability(query, people, now) if window else ()
    except AvailabilityError as exc:
        raise _invalid(exc) from exc
    engine_ms = (time.perf_counter() - started) * 1000
    return AvailabilityAnswer(
        slots=slots,
        participants=participants,
        groups=tuple(g.members for g in query.groups),
        timings=Timings(read_ms, engine_ms),
        zoom_host=host,
        warnings=host.warnings(request.duration) if host else (),
    )


async def explain(
    runtime: Runtime,
    org_id: uuid.UUID,
    members: list[MemberSpec],
    start: datetime,
    duration: timedelta,
    now: datetime,
    overrides: Overrides | None = None,
) -> list[Explained]:
    """For each person, whether ``[start, start + duration)`` suits them, and every
    reason why not (busy block, buffer, working hours, caps, notice, horizon)."""
    if not members:
        raise InvalidInput("Name at least one person.", field="participants")
    if start.tzinfo is None:
        raise InvalidInput(
            "start needs a UTC offset.", hint="Write it like 2026-11-23T09:00:00Z.", field="start"
        )
    if duration <= timedelta(0) or duration > timedelta(hours=24):
        raise InvalidInput(
            "The duration must be more than 0 and at most 24 hours.", field="required_duration"
        )
    policy, rules = await _policy_and_rules(runtime, org_id, overrides or Overrides())
    window = (start - rules.buffer_before, start + duration + rules.buffer_after)
    people, participants = await _read(runtime, org_id, members, window, policy.default_week(), now)
    try:
        found = engine_explain.explain(list(people.values()), start, duration, now, rules)
    except AvailabilityError as exc:
        raise _invalid(exc) from exc
    explained = []
    for item in found:
        who = participants[item.person]
        if who.error is not None:  # the engine saw "never working"; the truth is "unknown"
            explained.append(Explained(who, False, (), unreadable=True))
        else:
            explained.append(Explained(who, item.available, item.conflicts))
    return explained


async def explain_zoom_host(
    runtime: Runtime,
    org_id: uuid.UUID,
    ref: PersonRef,
    start: datetime,
    duration: timedelta,
) -> tuple[ZoomHost, tuple[Any, ...]]:
    """The host's Zoom account at ``[start, start + duration)``: why it has no place left
    then (the meetings that fill it), if so. Plan warnings are on ``ZoomHost.warnings``."""
    host = await zoom_host(runtime, org_id, ref, (start, start + duration))
    capacity = host.capacity()
    if capacity is None:
        return host, ()
    try:
        return host, engine_explain.explain_capacities((capacity,), start, duration)
    except AvailabilityError as exc:
        raise _invalid(exc) from exc


@dataclass(frozen=True)
class SessionSpec:
    name: str
    duration: timedelta
    groups: tuple[GroupSpec, ...]


@dataclass(frozen=True)
class LoopRequest:
    """An interview loop: sessions for one candidate within one of their local days."""

    sessions: tuple[SessionSpec, ...]
    periods: tuple[Period, ...]
    candidate_time_zone: str
    interval: timedelta = timedelta(minutes=15)
    any_order: bool = False
    min_gap: timedelta = timedelta(0)
    max_gap: timedelta | None = timedelta(minutes=30)
    max_results: int = 10
    overrides: Overrides = field(default_factory=Overrides)


@dataclass(frozen=True)
class LoopAnswer:
    result: LoopResult
    participants: dict[str, Participant]


def _loop_query(request: LoopRequest, rules: Rules) -> LoopQuery:
    sessions = tuple(
        Session(
            s.name,
            s.duration,
            tuple(Group(tuple(_key(m.ref) for m in g.members), g.required) for g in s.groups),
        )
        for s in request.sessions
    )
    return LoopQuery(
        sessions=sessions,
        periods=request.periods,
        candidate_time_zone=request.candidate_time_zone,
        interval=request.interval,
        any_order=request.any_order,
        min_gap=request.min_gap,
        max_gap=request.max_gap,
        rules=rules,
        max_results=request.max_results,
    )


def _check_loop_question(query: LoopQuery, keys: list[str], now: datetime) -> None:
    """Each session checked as its own availability question, before any calendar is read."""
    try:
        check_loop(query)
        for session in query.sessions:
            single = AvailabilityQuery(
                session.groups, query.periods, session.duration, query.interval, query.rules
            )
            _check_question(single, keys, now)
    except AvailabilityError as exc:
        raise _invalid(exc) from exc


async def loops(
    runtime: Runtime, org_id: uuid.UUID, request: LoopRequest, now: datetime
) -> LoopAnswer:
    """The first loops (fewest days, balanced interviewer load) for the candidate."""
    policy, rules = await _policy_and_rules(runtime, org_id, request.overrides)
    query = _loop_query(request, rules)
    members = [m for s in request.sessions for g in s.groups for m in g.members]
    _check_loop_question(query, [_key(m.ref) for m in members], now)
    window = read_window(request.periods, rules, now)
    people, participants = await _read(runtime, org_id, members, window, policy.default_week(), now)
    if window is None:
        return LoopAnswer(LoopResult((), True), participants)
    try:
        result = find_loops(query, people, now)
    except AvailabilityError as exc:
        raise _invalid(exc) from exc
    return LoopAnswer(result, participants)
