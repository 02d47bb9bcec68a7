"""Messages to team members: shown on Settings › Connected applications and, when SMTP is
set up, e-mailed.

A notification is written in the transaction of the change it announces (a pre-approval
request, an approval, a Zoom connection that stopped working), so it can never announce
something that did not happen; its e-mail is a ``send_notification_email`` job queued in
that same transaction (outbox), so it goes out once the change commits, and is retried on
a transient SMTP failure, even if the process that made the change dies. A slow mail
server never holds a page or a webhook answer. Each row records whether its e-mail went
(``email_status``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hiresync.jobs.engine import defer_in_transaction
from hiresync.providers.email.smtp import SmtpError, SmtpRejected, send
from hiresync.runtime import Runtime
from hiresync.services.candidate_mail import smtp_settings
from hiresync.services.errors import NotFound
from hiresync.store.tables import Notification, User

log = structlog.get_logger(__name__)
SHOWN = 50  # notifications listed on the page


def email_configured(runtime: Runtime) -> bool:
    return smtp_settings(runtime.settings) is not None and bool(runtime.settings.mail_from)


async def notify(
    runtime: Runtime,
    session: AsyncSession,
    recipients: Sequence[User],
    kind: str,
    title: str,
    body: str,
    link: str | None = None,
) -> list[uuid.UUID]:
    """One notification per recipient, in the caller's transaction, each with its e-mail
    queued (when e-mail is set up); returns their ids."""
    status = "pending" if email_configured(runtime) else "none"
    ids = []
    for user in recipients:
        row = Notification(
            id=uuid.uuid4(),
            organization_id=user.organization_id,
            user_id=user.id,
            kind=kind,
            title=title,
            body=body,
            link=link,
            email_status=status,
        )
        session.add(row)
        ids.append(row.id)
    await session.flush()
    if status == "pending":
        for notification_id in ids:
            await defer_in_transaction(
                runtime.jobs,
                session,
                "send_notification_email",
                args={"notification_id": str(notification_id)},
            )
    return ids


def _message(runtime: Runtime, row: Notification, user: User) -> EmailMessage:
    settings = runtime.settings
    message = EmailMessage()
    message["From"] = formataddr((settings.mail_from_name, settings.mail_from))
    message["To"] = formataddr((user.name, user.email))
    message["Subject"] = row.title
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    text = row.body
    if row.link:
        text += f"\n\n{settings.base_url}{row.link}"
    message.set_content(text + "\n\n-- \nhiresync\n")
    return message


async def deliver(runtime: Runtime, notification_id: uuid.UUID) -> None:
    """The job: e-mail one notification unless already sent. A refusal is recorded on the
    row (the in-app notification is there either way); a transient failure is raised for
    the job engine to retry with backoff."""
    smtp = smtp_settings(runtime.settings)
    async with runtime.db.sessions() as session:
        row = await session.get(Notification, notification_id)
        user = await session.get(User, row.user_id) if row else None
    if row is None or user is None or row.email_status != "pending":
        return
    if smtp is None:
        await _record(runtime, notification_id, "failed", "E-mail is not set up on this server.")
        return
    try:
        await send(smtp, _message(runtime, row, user))
    except SmtpRejected as exc:
        await _record(runtime, notification_id, "failed", f"The mail server refused it: {exc}")
        log.warning("notification.email_refused", notification=str(row.id), error=str(exc))
        return
    except SmtpError as exc:
        await _record(runtime, notification_id, "pending", str(exc))
        raise
    await _record(runtime, notification_id, "sent", None)


async def _record(
    runtime: Runtime, notification_id: uuid.UUID, status: str, error: str | None
) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(email_status=status, email_error=error)
        )


async def for_user(session: AsyncSession, user: User) -> list[Notification]:
    """The user's latest notifications, unread first, newest first within each."""
    return list(
        await session.scalars(
            select(Notification)
            .where(
                Notification.organization_id == user.organization_id,
                Notification.user_id == user.id,
            )
            .order_by(Notification.read_at.is_not(None), Notification.created_at.desc())
            .limit(SHOWN)
        )
    )


async def mark_read(
    session: AsyncSession, user: User, notification_id: uuid.UUID | None = None
) -> int:
    """Mark one of the user's notifications read (all of them without an id); another
    user's notification is not found, whatever its id."""
    query = update(Notification).where(
        Notification.organization_id == user.organization_id,
        Notification.user_id == user.id,
        Notification.read_at.is_(None),
    )
    if notification_id is not None:
        owned = await session.scalar(
            select(Notification.id).where(
                Notification.id == notification_id,
                Notification.organization_id == user.organization_id,
                Notification.user_id == user.id,
            )
        )
        if owned is None:
            raise NotFound("That notification does not exist.")
        query = query.where(Notification.id == notification_id)
    result = await session.execute(query.values(read_at=datetime.now(UTC)))
    return int(getattr(result, "rowcount", 0) or 0)
