"""In-memory implementations of the provider Protocols, held to the same contract suites.

Services and engines are tested against these; ``tests/contract`` runs the very same
tests against them and against the real adapters (on the sandboxes), so a fake that
drifts from the adapters fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hiresync.domain.freebusy import (
    BusyBlock,
    BusyStatus,
    DirectoryUser,
    Schedule,
    ScheduleError,
    ScheduleErrorCode,
    WorkingHours,
)


class InMemoryDirectory:
    """A ``DirectorySource`` over a list of users."""

    def __init__(self, users: Iterable[DirectoryUser] = ()) -> None:
        self.users: list[DirectoryUser] = list(users)

    def add(self, user: DirectoryUser) -> DirectoryUser:
        self.users.append(user)
        return user

    async def list_users(self) -> list[DirectoryUser]:
        return list(self.users)


@dataclass
class _Mailbox:
    addresses: set[str]
    blocks: list[BusyBlock] = field(default_factory=list)
    working_hours: WorkingHours | None = None


class InMemoryFreeBusy:
    """A ``FreeBusySource``: mailboxes reachable by any of their addresses, busy blocks in UTC."""

    def __init__(self) -> None:
        self._mailboxes: dict[str, _Mailbox] = {}
        self.calls: list[tuple[tuple[str, ...], datetime, datetime]] = []
        self.failing: set[str] = set()

    def add_mailbox(
        self, email: str, *aliases: str, working_hours: WorkingHours | None = None
    ) -> None:
        mailbox = _Mailbox({a.lower() for a in (email, *aliases)}, working_hours=working_hours)
        for address in mailbox.addresses:
            self._mailboxes[address] = mailbox

    def add_busy(
        self,
        email: str,
        start: datetime,
        end: datetime,
        *,
        status: BusyStatus = BusyStatus.BUSY,
        subject: str | None = None,
        private: bool = False,
    ) -> None:
        """Book time; a private block keeps no subject, as a real server withholds it."""
        block = BusyBlock(
            start=start.astimezone(UTC),
            end=end.astimezone(UTC),
            status=status,
            is_private=private,
            subject=None if private else subject,
        )
        self._mailboxes[email.lower()].blocks.append(block)

    async def get_schedules(
        self, emails: Sequence[str], start: datetime, end: datetime
    ) -> list[Schedule]:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be aware datetimes")
        if end <= start:
            raise ValueError("end must be after start")
        self.calls.append((tuple(emails), start, end))
        return [self._schedule(email, start, end) for email in emails]

    def _schedule(self, email: str, start: datetime, end: datetime) -> Schedule:
        key = email.strip().lower()
        if key in self.failing:
            return Schedule(email, error=ScheduleError(ScheduleErrorCode.PROVIDER_ERROR, "fault"))
        mailbox = self._mailboxes.get(key)
        if mailbox is None:
            error = ScheduleError(ScheduleErrorCode.MAILBOX_NOT_FOUND, f"{email} not found")
            return Schedule(email, error=error)
        blocks = sorted(
            (
                b
                for b in mailbox.blocks
                if b.start < end and b.end > start and b.status is not BusyStatus.FREE
            ),
            key=lambda b: (b.start, b.end),
        )
        hours = mailbox.working_hours
        return Schedule(email, tuple(blocks), hours, hours.time_zone if hours else None)
