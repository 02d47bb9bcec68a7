"""Candidate invitations by hiresync's own e-mail, for organizations that choose it (and
calendars that cannot invite): an iCalendar REQUEST for each version of the interview,
a CANCEL when it is cancelled, over SMTP.

Each e-mail is a row written in the same transaction as the interview change it
announces (one per interview version: the unique (interview, sequence) makes a
repeated trigger a no-op), with the job that sends it. A transient SMTP failure is
retried by the job engine; a refusal (a 5xx: bad address, relay denied) is recorded on
the row and in the interview's history, where the recruiter sees it. SMTP has no
idempotency key: if the server accepts a message and the worker dies before recording
it, the retry sends it again with the same Message-ID, UID and SEQUENCE, which mail and
calendar clients treat as the same invitation.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.config import Settings
from hiresync.domain.interviews import Meeting, MeetingType
from hiresync.jobs.engine import defer_in_transaction
from hiresync.providers.email.ical import InvitationEvent, Person
from hiresync.providers.email.smtp import SmtpRejected, SmtpSettings, send
from hiresync.runtime import Runtime
from hiresync.services import email_templates, invitations
from hiresync.services.errors import InvalidInput
from hiresync.store.tables import Candidate, CandidateEmail, Interview, InterviewHistory, User

log = structlog.get_logger(__name__)
KIND_BY_ACTION = {"confirmed": "invitation", "rescheduled": "update", "cancelled": "cancellation"}


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    """The configured SMTP server, or None when e-mail is not set up."""
    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
        from_address=settings.mail_from,
        from_name=settings.mail_from_name,
    )


def require_smtp(settings: Settings) -> None:
    if smtp_settings(settings) is None or not settings.mail_from:
        raise InvalidInput(
            "E-mail is not set up on this hiresync server, so it cannot invite candidates itself.",
            hint="Set HIRESYNC_SMTP_HOST (and _PORT, _USERNAME, _PASSWORD) and "
            "HIRESYNC_MAIL_FROM, or keep candidate invitations with the calendar.",
            field="candidate_invitations",
        )


async def queue(runtime: Runtime, session: AsyncSession, interview: Interview, action: str) -> None:
    """Record the e-mail this change owes the candidate, and queue its job (outbox)."""
    kind = KIND_BY_ACTION[action]
    candidate = await session.get(Candidate, interview.candidate_id)
    assert candidate is not None
    row_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(CandidateEmail)
        .values(
            id=row_id,
            organization_id=interview.organization_id,
            interview_id=interview.id,
            sequence=interview.sequence,
            kind=kind,
            recipient=candidate.email,
            status="pending",
            attempts=0,
        )
        .on_conflict_do_nothing(constraint="uq_candidate_emails_interview_sequence")
        .returning(CandidateEmail.id)
    )
    if inserted is not None:
        await defer_in_transaction(
            runtime.jobs, session, "send_candidate_email", args={"email_id": str(row_id)}
        )


async def _compose(
    session: AsyncSession, row: CandidateEmail, settings: Settings
) -> EmailMessage | None:
    interview = await session.get(Interview, row.interview_id)
    candidate = await session.get(Candidate, interview.candidate_id) if interview else None
    if interview is None or candidate is None:
        return None
    organizer = (
        await session.get(User, interview.organizer_user_id)
        if interview.organizer_user_id
        else None
    )
    organizer_name = organizer.name if organizer else settings.mail_from_name
    meeting = Meeting(
        MeetingType(interview.meeting_type),
        interview.meeting_url,
        interview.meeting_id,
        interview.meeting_passcode,
        interview.meeting_phone,
        interview.meeting_address,
    )
    context = invitations.context_for(
        candidate_name=candidate.name,
        candidate_time_zone=candidate.time_zone,
        title=interview.title,
        start=interview.start,
        end=interview.end,
        organizer_name=organizer_name,
        meeting=meeting,
        location=interview.location,
        message=interview.message_to_candidate,
    )
    sender = Person(settings.mail_from, settings.mail_from_name)
    recipient = Person(candidate.email, candidate.name)
    event = invitations.build_event(
        row.kind,  # type: ignore[arg-type]
        interview_id=interview.id,
        sequence=row.sequence,
        title=interview.title,
        start=interview.start,
        end=interview.end,
        time_zone=interview.time_zone,
        organizer=sender,
        attendees=(recipient,),
        context=context,
        location=interview.location,
    )
    templates = await email_templates.overrides(session, interview.organization_id)
    return _with_templates(row, event, context, sender, recipient, templates)


def _with_templates(
    row: CandidateEmail,
    event: InvitationEvent,
    context: invitations.InvitationContext,
    sender: Person,
    recipient: Person,
    templates: dict[str, str],
) -> EmailMessage:
    """The message in the organization's templates; should an edited one fail on this
    interview's values (it passed the check on save), the defaults, so the candidate is
    still invited."""
    kind: invitations.Kind = row.kind  # type: ignore[assignment]
    try:
        return invitations.compose(
            kind, event, context, sender=sender, recipient=recipient, overrides=templates
        )
    except invitations.TemplateError as exc:
        if not templates:
            raise
        log.warning("candidate_mail.template_failed", email=str(row.id), error=str(exc))
    return invitations.compose(kind, event, context, sender=sender, recipient=recipient)


async def deliver(runtime: Runtime, email_id: uuid.UUID) -> None:
    """The job: send one e-mail unless already sent; see the module docstring."""
    smtp = smtp_settings(runtime.settings)
    async with runtime.db.sessions() as session:
        row = await session.get(CandidateEmail, email_id)
        if row is None or row.status != "pending":
            return
        message = await _compose(session, row, runtime.settings)
    if message is None:
        return
    if smtp is None:
        await _record(runtime, email_id, "failed", "E-mail is not set up on this server.")
        return
    try:
        await send(smtp, message)
    except SmtpRejected as exc:
        await _record(runtime, email_id, "failed", f"The mail server refused it: {exc}")
        return
    except Exception as exc:  # transient: the job engine retries with backoff
        await _record(runtime, email_id, "pending", f"{type(exc).__name__}: {exc}")
        raise
    await _record(runtime, email_id, "sent", None, str(message["Message-ID"]))


async def _record(
    runtime: Runtime,
    email_id: uuid.UUID,
    status: str,
    error: str | None,
    message_id: str | None = None,
) -> None:
    async with runtime.db.transaction() as session:
        row = await session.get(CandidateEmail, email_id, with_for_update=True)
        if row is None:
            return
        row.attempts += 1
        row.status, row.last_error = status, error
        if message_id:
            row.message_id, row.sent_at = message_id, datetime.now(UTC)
        if status != "pending":
            session.add(
                InterviewHistory(
                    organization_id=row.organization_id,
                    interview_id=row.interview_id,
                    action="candidate_emailed" if status == "sent" else "candidate_email_failed",
                    actor="mail",
                    details={"kind": row.kind, "to": row.recipient, "error": error}
                    if error
                    else {"kind": row.kind, "to": row.recipient},
                )
            )
    if status == "failed":
        log.warning("candidate_mail.failed", email=str(email_id), error=error)


async def log_for(session: AsyncSession, interview_id: uuid.UUID) -> list[CandidateEmail]:
    return list(
        await session.scalars(
            select(CandidateEmail)
            .where(CandidateEmail.interview_id == interview_id)
            .order_by(CandidateEmail.created_at)
        )
    )
