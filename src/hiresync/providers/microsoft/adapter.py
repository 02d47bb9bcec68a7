"""Microsoft 365 behind hiresync's provider Protocols (``DirectorySource``, ``FreeBusySource``).

Free/busy for a whole hiring team is one fan-out:

* addresses are de-duplicated (case-insensitively) and cut into batches of 100,
  the most getSchedule takes in one call;
* windows longer than 62 days (getSchedule's limit) are cut into chunks and the
  answers merged;
* every (batch, chunk) call runs at once. Each call is made *on a mailbox of its
  own batch* (``/users/{anchor}/calendar/getSchedule``), and the anchor rotates with
  the chunk, so calls land on different mailboxes and Outlook's limit of 4
  concurrent requests per mailbox is not what bounds us; the client enforces it
  anyway, plus the overall cap.

A call that still fails after the client's retries turns into a per-person
``PROVIDER_ERROR`` for its batch only, so one bad batch never blanks the whole
answer. ``AuthRevoked`` is the exception: it means the company connection is broken
and the caller must know, so it propagates. If Graph says a batch or a window is
too big (older tenants enforced 20 schedules / 42 days), it is halved and retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import structlog
from anyio.abc import TaskGroup

from hiresync.domain.freebusy import (
    DirectoryUser,
    Schedule,
    ScheduleError,
    ScheduleErrorCode,
)
from hiresync.providers.errors import (
    AuthRevoked,
    BadRequest,
    NotFound,
    ProviderError,
    UnsupportedCloud,
)

from .client import GraphClient
from .parse import match_schedules, merge_schedules, parse_user

log = structlog.get_logger(__name__)

MAX_SCHEDULES_PER_CALL = 100
MAX_WINDOW = timedelta(days=62)
MIN_WINDOW = timedelta(days=1)
ANCHOR_ATTEMPTS = 5
TOO_MANY_SCHEDULES = "ErrorMailboxDataArrayTooBig"
# Failures of the whole connection, not of a batch: the caller must hear about them.
CONNECTION_ERRORS = (AuthRevoked, UnsupportedCloud)
WINDOW_TOO_LONG = "ErrorTimeIntervalTooBig"


class MicrosoftDirectory:
    """``DirectorySource`` over ``GET /users`` (every page)."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def list_users(self) -> list[DirectoryUser]:
        users: list[DirectoryUser] = []
        async for page in self._client.list_users():
            users.extend(parse_user(wire) for wire in page)
        return users


@dataclass(frozen=True, slots=True)
class _Window:
    start: datetime
    end: datetime


def split_window(start: datetime, end: datetime, longest: timedelta) -> list[_Window]:
    """``[start, end)`` as consecutive windows no longer than ``longest``."""
    windows: list[_Window] = []
    cursor = start
    while cursor < end:
        stop = min(end, cursor + longest)
        windows.append(_Window(cursor, stop))
        cursor = stop
    return windows


def unique_addresses(emails: Sequence[str]) -> list[str]:
    """Addresses in first-seen order, duplicates (any case) dropped."""
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.strip().lower(), email.strip())
    return list(seen.values())


class MicrosoftFreeBusy:
    """``FreeBusySource`` over ``getSchedule``; see the module docstring for the fan-out."""

    def __init__(
        self,
        client: GraphClient,
        *,
        batch_size: int = MAX_SCHEDULES_PER_CALL,
        max_window: timedelta = MAX_WINDOW,
        interval_minutes: int = 60,
        anchors: Mapping[str, str] | None = None,
    ) -> None:
        """``anchors`` maps a lower-cased address to its user id (or UPN) when known.

        ``/users/{x}`` accepts an id or a userPrincipalName, not an arbitrary SMTP
        address, so an address whose UPN differs cannot anchor a call by itself; with
        no mapping the next addresses of the batch are tried.
        """
        self._client = client
        self._anchors = {k.lower(): v for k, v in (anchors or {}).items()}
        self._batch_size = batch_size
        self._max_window = max_window
        self._interval = interval_minutes

    async def get_schedules(
        self, emails: Sequence[str], start: datetime, end: datetime
    ) -> list[Schedule]:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be aware datetimes")
        if end <= start:
            raise ValueError("end must be after start")
        addresses = [a for a in unique_addresses(emails) if "@" in a]
        windows = split_window(start, end, self._max_window)
        size = self._batch_size
        batches = [addresses[i : i + size] for i in range(0, len(addresses), size)]
        answers: dict[str, list[Schedule]] = {a.lower(): [] for a in addresses}
        revoked: list[ProviderError] = []
        async with anyio.create_task_group() as group:
            for batch in batches:
                for rotation, window in enumerate(windows):
                    group.start_soon(self._run, batch, window, rotation, answers, revoked, group)
        if revoked:
            raise revoked[0]
        return [self._answer_for(email, answers) for email in emails]

    @staticmethod
    def _answer_for(email: str, answers: dict[str, list[Schedule]]) -> Schedule:
        parts = answers.get(email.strip().lower())
        if parts is None:
            error = ScheduleError(ScheduleErrorCode.MAILBOX_NOT_FOUND, "not an e-mail address")
            return Schedule(email=email, error=error)
        return merge_schedules(email, parts)

    async def _run(
        self,
        batch: list[str],
        window: _Window,
        rotation: int,
        answers: dict[str, list[Schedule]],
        revoked: list[ProviderError],
        group: TaskGroup,
    ) -> None:
        """One (batch, window) task: results land in ``answers``; a connection error stops all."""
        try:
            schedules = await self._fetch(batch, window, rotation)
        except CONNECTION_ERRORS as exc:
            revoked.append(exc)
            group.cancel_scope.cancel()
            return
        for schedule in schedules:
            answers[schedule.email.lower()].append(schedule)

    async def _fetch(self, batch: list[str], window: _Window, rotation: int) -> list[Schedule]:
        """getSchedule for one batch and window, halving on "too big", errors per person."""
        try:
            return await self._call(batch, window, rotation)
        except BadRequest as exc:
            if exc.code == TOO_MANY_SCHEDULES and len(batch) > 1:
                half = len(batch) // 2
                first = await self._fetch(batch[:half], window, rotation)
                return first + await self._fetch(batch[half:], window, rotation)
            if exc.code == WINDOW_TOO_LONG and window.end - window.start > MIN_WINDOW:
                middle = window.start + (window.end - window.start) / 2
                early = await self._fetch(batch, _Window(window.start, middle), rotation)
                late = await self._fetch(batch, _Window(middle, window.end), rotation)
                return [merge_schedules(a.email, (a, b)) for a, b in zip(early, late, strict=True)]
            return self._failed(batch, exc)
        except CONNECTION_ERRORS:
            raise
        except ProviderError as exc:
            return self._failed(batch, exc)
        except (KeyError, TypeError, ValueError) as exc:
            # Graph answered 2xx with JSON we cannot read: a provider fault, not ours to crash on.
            return self._failed(batch, ProviderError(f"unreadable getSchedule answer: {exc!r}"))

    async def _call(self, batch: list[str], window: _Window, rotation: int) -> list[Schedule]:
        """One getSchedule, made on a mailbox of the batch; a 404 anchor moves to the next one."""
        last: NotFound | None = None
        for attempt in range(min(ANCHOR_ATTEMPTS, len(batch))):
            address = batch[(rotation + attempt) % len(batch)]
            anchor = self._anchors.get(address.lower(), address)
            try:
                values = await self._client.get_schedule(
                    anchor, batch, window.start, window.end, self._interval
                )
            except NotFound as exc:
                last = exc
                continue
            return match_schedules(batch, values)
        assert last is not None
        raise last

    @staticmethod
    def _failed(batch: list[str], exc: ProviderError) -> list[Schedule]:
        log.warning(
            "microsoft.freebusy.batch_failed",
            size=len(batch),
            error=exc.message,
            code=exc.code,
            kind=type(exc).__name__,
        )
        error = ScheduleError(ScheduleErrorCode.PROVIDER_ERROR, exc.message or type(exc).__name__)
        return [Schedule(email=email, error=error) for email in batch]
