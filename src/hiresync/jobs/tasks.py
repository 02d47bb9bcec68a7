"""Task definitions and periodic schedules. Each task is a few lines: it finds the runtime
in its context and calls a service.

Procrastinate binds a blueprint's tasks to the one app they are added to, so every
``build_job_app`` gets a fresh blueprint from ``build_blueprint``; the task bodies are
plain functions here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from procrastinate import Blueprint, JobContext, RetryStrategy, jobs
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Status

log = structlog.get_logger(__name__)

# Calendar syncs and subscription upkeep run in their own queue, with their own slots
# (``jobs.worker``): a remote server that stopped answering never delays interviews.
CALENDAR_QUEUE = "calendars"
DEFAULT_QUEUE = jobs.DEFAULT_QUEUE

# Provider hiccups are retried with backoff (5 s, 10 s, 20 s, …); the service already
# retried each HTTP call, so reaching here means a longer outage.
_PROVIDER_RETRY = RetryStrategy(max_attempts=6, exponential_wait=5)


def _runtime(context: JobContext) -> Any:
    return context.additional_context["runtime"]


async def refresh_directory(context: JobContext, organization_id: str) -> None:
    """Read the whole company directory and rematch the hiring team."""
    from hiresync.services import connections

    await connections.refresh_directory(_runtime(context), uuid.UUID(organization_id))


async def push_interview(context: JobContext, interview_id: str) -> None:
    """Bring the interview's calendar event up to date (create, update or cancel)."""
    from hiresync.services import calendar_push

    await calendar_push.push(_runtime(context), uuid.UUID(interview_id))


async def deliver_webhook(context: JobContext, delivery_id: str) -> None:
    """One delivery attempt; the service schedules the next one itself on failure."""
    from hiresync.services import webhooks

    await webhooks.deliver(_runtime(context), uuid.UUID(delivery_id))


async def refresh_interview_responses(context: JobContext, timestamp: int) -> None:
    """Read attendees' answers to upcoming interviews (reconciliation for missed pushes)."""
    from hiresync.services import responses

    changed = await responses.refresh_upcoming(_runtime(context))
    log.info("interview responses refreshed", changed=changed)


async def send_candidate_email(context: JobContext, email_id: str) -> None:
    """One iCalendar e-mail to a candidate; transient SMTP failures are retried."""
    from hiresync.services import candidate_mail

    await candidate_mail.deliver(_runtime(context), uuid.UUID(email_id))


async def send_notification_email(context: JobContext, notification_id: str) -> None:
    """A team member's notification by e-mail; transient SMTP failures are retried."""
    from hiresync.services import notifications

    await notifications.deliver(_runtime(context), uuid.UUID(notification_id))


async def apply_meeting_events(context: JobContext) -> None:
    """Meetings changed or deleted in Zoom, said on their interviews (services.meeting_push)."""
    from hiresync.services import meeting_push

    applied = await meeting_push.apply_events(_runtime(context))
    log.info("meeting events applied", applied=applied)


async def sync_calendar(context: JobContext, calendar_id: str, force: bool = False) -> None:
    """One run of a synced calendar (services.calendar_sync); one at a time per calendar."""
    from hiresync.services import calendar_sync

    runtime = _runtime(context)
    await calendar_sync.sync_calendar(
        runtime,
        uuid.UUID(calendar_id),
        force=force,
        initial_limit=runtime.settings.sync_initial_limit,
    )


async def poll_calendars(context: JobContext, timestamp: int) -> None:
    """Calendars on servers without push (CalDAV): a run for each one whose poll is due."""
    from hiresync.services import calendar_sync

    queued = await calendar_sync.poll_due(_runtime(context))
    if queued:
        log.info("calendar polls queued", count=queued)


async def refresh_all_directories(context: JobContext, timestamp: int) -> None:
    """Queue a directory refresh for each connection whose copy is older than the setting,
    so people added to the directory are matched without anyone asking."""
    from hiresync.services import connections

    queued = await connections.queue_stale_directory_refreshes(_runtime(context))
    log.info("directory refreshes queued", count=queued)


async def retry_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Put back jobs whose worker died (no heartbeat for 30 s) so another worker runs them."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=30):
        if job.id == context.job.id:
            continue
        try:
            await manager.retry_job(job, retry_at=datetime.now(UTC) + timedelta(seconds=1))
        except UniqueViolation:
            # A newer job with the same queueing lock is already waiting and does the
            # same work: the dead one is closed instead of blocking its lock forever.
            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            log.warning("stalled job superseded", job_id=job.id, task=job.task_name)
            continue
        log.warning("stalled job retried", job_id=job.id, task=job.task_name)


def build_blueprint() -> Blueprint:
    """A blueprint holding every task, ready to add to one app."""
    bp = Blueprint()
    bp.task(name="refresh_directory", pass_context=True, retry=_PROVIDER_RETRY)(refresh_directory)
    bp.task(name="push_interview", pass_context=True, retry=_PROVIDER_RETRY)(push_interview)
    bp.task(name="deliver_webhook", pass_context=True)(deliver_webhook)
    bp.task(name="send_candidate_email", pass_context=True, retry=_PROVIDER_RETRY)(
        send_candidate_email
    )
    bp.task(name="send_notification_email", pass_context=True, retry=_PROVIDER_RETRY)(
        send_notification_email
    )
    bp.task(name="apply_meeting_events", pass_context=True, retry=_PROVIDER_RETRY)(
        apply_meeting_events
    )
    # No engine retry: a failed run queues its own next try (services.calendar_sync), which
    # a run already waiting for the calendar makes unnecessary instead of stuck.
    bp.task(name="sync_calendar", pass_context=True, queue=CALENDAR_QUEUE)(sync_calendar)
    # Periodic tasks are deferred once per tick across all workers (Procrastinate
    # de-duplicates them in the database); the queueing lock keeps backlogs at one.
    bp.periodic(cron="*/15 * * * *")(
        bp.task(name="refresh_all_directories", pass_context=True, queueing_lock="refresh_all")(
            refresh_all_directories
        )
    )
    bp.periodic(cron="*/5 * * * *")(
        bp.task(
            name="refresh_interview_responses",
            pass_context=True,
            queueing_lock="refresh_responses",
        )(refresh_interview_responses)
    )
    bp.periodic(cron="* * * * *")(
        bp.task(name="retry_stalled_jobs", pass_context=True, queueing_lock="retry_stalled")(
            retry_stalled_jobs
        )
    )
    bp.periodic(cron="* * * * *")(
        bp.task(name="poll_calendars", pass_context=True, queueing_lock="poll_calendars")(
            poll_calendars
        )
    )
    add_calendar_subscription_tasks(bp)
    return bp


# -- Graph change notifications of synced calendars (services.calendar_subscriptions) ----------


async def keep_calendar_subscription(context: JobContext, calendar_id: str) -> None:
    """Create, renew or re-create one synced calendar's Graph subscription."""
    from hiresync.services import calendar_subscriptions

    done = await calendar_subscriptions.keep(_runtime(context), uuid.UUID(calendar_id))
    log.info("calendar subscription kept", calendar_id=calendar_id, outcome=done)


async def calendar_subscription_lifecycle(
    context: JobContext, calendar_id: str, event: str
) -> None:
    """Act on a Graph lifecycle event: reauthorize, or re-create with a full sync."""
    from hiresync.services import calendar_subscriptions

    done = await calendar_subscriptions.handle_lifecycle(
        _runtime(context), uuid.UUID(calendar_id), event
    )
    log.info("calendar subscription lifecycle", calendar_id=calendar_id, event=event, outcome=done)


async def renew_calendar_subscriptions(context: JobContext, timestamp: int) -> None:
    """Queue a renewal for every subscription that expires within a few hours (or is missing)."""
    from hiresync.services import calendar_subscriptions

    queued = await calendar_subscriptions.renew_all(_runtime(context))
    log.info("calendar subscription renewals queued", count=queued)


async def reconcile_calendar_syncs(context: JobContext, timestamp: int) -> None:
    """Queue a sync for every Microsoft calendar not synced lately: what a silently dead
    subscription did not say is read anyway."""
    from hiresync.services import calendar_subscriptions

    await calendar_subscriptions.reconcile(_runtime(context))


def add_calendar_subscription_tasks(bp: Blueprint) -> None:
    for name, run in (
        ("keep_calendar_subscription", keep_calendar_subscription),
        ("calendar_subscription_lifecycle", calendar_subscription_lifecycle),
    ):
        bp.task(name=name, pass_context=True, retry=_PROVIDER_RETRY, queue=CALENDAR_QUEUE)(run)
    bp.periodic(cron="*/30 * * * *")(
        bp.task(
            name="renew_calendar_subscriptions",
            pass_context=True,
            queueing_lock="renew_calendar_subscriptions",
        )(renew_calendar_subscriptions)
    )
    bp.periodic(cron="*/15 * * * *")(
        bp.task(
            name="reconcile_calendar_syncs",
            pass_context=True,
            queueing_lock="reconcile_calendar_syncs",
        )(reconcile_calendar_syncs)
    )
