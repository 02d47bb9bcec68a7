"""Attendee answers flow back: accepted, tentative or declined, read from the organizer's
event and shown on the interview; a declined interviewer is flagged, and replacements
who are free at that time are suggested.

Graph only tells the organizer's event about answers, so the periodic job reads the
events of upcoming sent interviews (one GET each, within the per-mailbox limits the
client enforces). Change notifications arrive with the sync issue; this poll stays as
the reconciliation that catches anything a notification missed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select

from hiresync.domain.interviews import LIVE_STATUSES
from hiresync.providers.errors import ProviderError
from hiresync.runtime import Runtime
from hiresync.services import availability, calendar_push, connections, webhooks
from hiresync.services.freebusy import PersonRef
from hiresync.services.interviews import history_entry, summary
from hiresync.store.tables import (
    CalendarLink,
    DirectoryMatch,
    Interview,
    InterviewAttendee,
    User,
)

log = structlog.get_logger(__name__)
HORIZON = timedelta(days=90)
MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class Replacement:
    user_id: uuid.UUID
    name: str
    email: str


async def refresh(runtime: Runtime, interview_id: uuid.UUID) -> int:
    """Read one interview's event and record changed answers; returns how many changed."""
    snapshot = await calendar_push.snapshot_of(runtime, interview_id, claim=False)
    if snapshot is None or snapshot.link.external_event_id is None:
        return 0
    connection = snapshot.connection
    if connection is None:
        return 0
    writer = runtime.calendar(connection.provider).events(
        connection.tenant_id, connections.token_for(runtime, connection)
    )
    event = await writer.get(snapshot.address, snapshot.link.external_event_id)
    if event is None:
        return 0
    return await _record(runtime, interview_id, dict(event.responses))


async def _record(runtime: Runtime, interview_id: uuid.UUID, answers: dict[str, str]) -> int:
    changed = 0
    async with runtime.db.transaction() as session:
        interview = await session.get(Interview, interview_id)
        if interview is None:
            return 0
        rows = await session.scalars(
            select(InterviewAttendee)
            .where(InterviewAttendee.interview_id == interview_id)
            .with_for_update()
        )
        for attendee in rows:
            answer = answers.get(attendee.email_key)
            if not answer or answer == "none" or answer == attendee.response:
                continue
            attendee.response, attendee.responded_at = answer, datetime.now(UTC)
            changed += 1
            details = {"attendee": attendee.email, "role": attendee.role, "response": answer}
            session.add(history_entry(interview, "attendee_responded", attendee.email, **details))
            await webhooks.emit(
                runtime,
                session,
                interview.organization_id,
                "attendee.responded",
                {**summary(interview), **details},
            )
    return changed


async def refresh_upcoming(runtime: Runtime) -> int:
    """Every upcoming sent interview with an event: the periodic reconciliation."""
    now = datetime.now(UTC)
    async with runtime.db.sessions() as session:
        ids = list(
            await session.scalars(
                select(Interview.id)
                .join(CalendarLink, CalendarLink.interview_id == Interview.id)
                .where(
                    Interview.status.in_([s.value for s in LIVE_STATUSES]),
                    Interview.end > now,
                    Interview.start < now + HORIZON,
                    CalendarLink.external_event_id.is_not(None),
                )
            )
        )
    changed = 0
    for interview_id in ids:
        try:
            changed += await refresh(runtime, interview_id)
        except ProviderError as exc:  # one calendar's trouble never stops the others
            log.warning("responses.refresh_failed", interview=str(interview_id), error=exc.message)
    return changed


async def replacements(
    runtime: Runtime, org_id: uuid.UUID, interview_id: uuid.UUID
) -> list[Replacement]:
    """Matched team members with the interviewer role, not on the interview, who are
    free for its whole time (by the same rules as availability)."""
    async with runtime.db.sessions() as session:
        interview = await session.scalar(
            select(Interview).where(
                Interview.organization_id == org_id, Interview.id == interview_id
            )
        )
        if interview is None:
            return []
        taken = set(
            await session.scalars(
                select(InterviewAttendee.user_id).where(
                    InterviewAttendee.interview_id == interview_id
                )
            )
        )
        pool = [
            (u.id, u.name, u.email)
            for u in await session.scalars(
                select(User)
                .join(DirectoryMatch, DirectoryMatch.user_id == User.id)
                .where(User.organization_id == org_id, User.role == "interviewer")
                .order_by(User.name)
            )
            if u.id not in taken
        ]
    if not pool:
        return []
    members = [availability.MemberSpec(PersonRef(user_id=uid)) for uid, _, _ in pool[:100]]
    found = await availability.explain(
        runtime,
        org_id,
        members,
        interview.start,
        interview.end - interview.start,
        datetime.now(UTC),
    )
    free = {e.participant.user_id for e in found if e.available}
    return [Replacement(uid, name, email) for uid, name, email in pool if uid in free][
        :MAX_SUGGESTIONS
    ]
