"""The ``FreeBusySource`` contract, run against every implementation.

``FreeBusySourceContract`` holds the tests; each subclass supplies a ``world``
fixture: a source plus the means to create people and book their time in whatever
backs it (an in-memory fake, or the Microsoft sandbox behind the real adapter).
Every test makes its own people, so seeded data never matters.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hiresync.config import Settings
from hiresync.domain.freebusy import ScheduleErrorCode
from hiresync.providers.base import FreeBusySource
from hiresync.providers.errors import AuthRevoked
from hiresync.providers.microsoft import MicrosoftConnection, RetryPolicy, connect_tenant
from hiresync.sandbox.microsoft import CONTOSO_ID, Faults, MicrosoftSandbox
from tests.fakes import InMemoryFreeBusy

START = datetime(2026, 3, 30, tzinfo=UTC)  # a Monday
AddPerson = Callable[[str, Sequence[str]], None]
AddBusy = Callable[[str, datetime, datetime, bool, str], None]


@dataclass
class FreeBusyWorld:
    source: FreeBusySource
    domain: str
    add_person_to_backend: AddPerson
    add_busy: AddBusy  # (email, start, end, private, subject)

    def person(self, name: str, *aliases: str) -> str:
        """A new mailbox with an empty calendar; returns its primary address."""
        tag = uuid.uuid4().hex[:8]
        email = f"{name}.{tag}@{self.domain}"
        self.add_person_to_backend(email, [f"{a}.{tag}@{self.domain}" for a in aliases])
        return email

    def book(
        self,
        email: str,
        start: datetime,
        hours: float = 1,
        *,
        private: bool = False,
        subject: str = "Interview",
    ) -> tuple[datetime, datetime]:
        end = start + timedelta(hours=hours)
        self.add_busy(email, start, end, private, subject)
        return start, end


class FreeBusySourceContract:
    """Tests every ``FreeBusySource`` must pass."""

    @pytest.fixture
    def world(self) -> FreeBusyWorld:
        raise NotImplementedError

    def test_is_a_free_busy_source(self, world: FreeBusyWorld) -> None:
        assert isinstance(world.source, FreeBusySource)

    async def test_booked_time_shows_as_busy_at_the_right_utc_instant(
        self, world: FreeBusyWorld
    ) -> None:
        ann = world.person("ann")
        berlin = datetime(2026, 3, 31, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))
        world.book(ann, berlin, 1.5)
        [schedule] = await world.source.get_schedules([ann], START, START + timedelta(days=7))
        assert schedule.error is None
        spans = [(b.start, b.end) for b in schedule.blocks]
        assert (
            datetime(2026, 3, 31, 13, 0, tzinfo=UTC),
            datetime(2026, 3, 31, 14, 30, tzinfo=UTC),
        ) in spans
        assert all(b.start.utcoffset() == timedelta(0) for b in schedule.blocks)

    async def test_answers_come_in_input_order_spelled_as_asked_with_duplicates(
        self, world: FreeBusyWorld
    ) -> None:
        ann, bo = world.person("ann"), world.person("bo")
        world.book(ann, START + timedelta(hours=9))
        asked = [bo, ann.upper(), ann, bo]
        result = await world.source.get_schedules(asked, START, START + timedelta(days=1))
        assert [s.email for s in result] == asked
        assert result[1].blocks == result[2].blocks and result[1].blocks
        assert all(s.error is None for s in result)

    async def test_an_unknown_mailbox_gets_an_error_entry_and_the_rest_still_answers(
        self, world: FreeBusyWorld
    ) -> None:
        ann = world.person("ann")
        ghost = f"nobody.{uuid.uuid4().hex[:8]}@{world.domain}"
        result = await world.source.get_schedules([ghost, ann], START, START + timedelta(days=1))
        assert result[0].error is not None
        assert result[0].error.code is ScheduleErrorCode.MAILBOX_NOT_FOUND
        assert result[1].error is None

    async def test_a_private_meeting_blocks_time_without_revealing_its_subject(
        self, world: FreeBusyWorld
    ) -> None:
        ann = world.person("ann")
        world.book(ann, START + timedelta(hours=10), private=True, subject="Doctor")
        [schedule] = await world.source.get_schedules([ann], START, START + timedelta(days=1))
        [block] = schedule.blocks
        assert block.is_private and block.subject is None and block.location is None

    async def test_an_alias_is_answered_from_the_same_mailbox(self, world: FreeBusyWorld) -> None:
        ann = world.person("ann", "recruiting-ann")
        alias = "recruiting-" + ann
        world.book(ann, START + timedelta(hours=11))
        by_mail, by_alias = await world.source.get_schedules(
            [ann, alias], START, START + timedelta(days=1)
        )
        assert by_alias.email == alias
        assert by_alias.error is None and by_alias.blocks == by_mail.blocks != ()

    async def test_only_time_overlapping_the_window_is_reported(self, world: FreeBusyWorld) -> None:
        ann = world.person("ann")
        before = world.book(ann, START - timedelta(hours=3))
        straddling = world.book(ann, START - timedelta(minutes=30))
        after = world.book(ann, START + timedelta(days=2, hours=9))
        [schedule] = await world.source.get_schedules([ann], START, START + timedelta(days=1))
        spans = [(b.start, b.end) for b in schedule.blocks]
        assert straddling in spans
        assert before not in spans and after not in spans

    async def test_a_window_of_several_months_is_answered_in_full(
        self, world: FreeBusyWorld
    ) -> None:
        ann = world.person("ann")
        early = world.book(ann, START + timedelta(days=3, hours=9))
        late = world.book(ann, START + timedelta(days=80, hours=9))
        [schedule] = await world.source.get_schedules([ann], START, START + timedelta(days=90))
        spans = [(b.start, b.end) for b in schedule.blocks]
        assert early in spans and late in spans
        assert spans == sorted(spans)

    async def test_a_hiring_team_larger_than_one_request_is_answered_whole(
        self, world: FreeBusyWorld
    ) -> None:
        team = [world.person(f"p{i}") for i in range(130)]
        world.book(team[-1], START + timedelta(hours=9))
        result = await world.source.get_schedules(team, START, START + timedelta(days=5))
        assert [s.email for s in result] == team
        assert all(s.error is None for s in result)
        assert result[-1].blocks and not result[0].blocks

    async def test_empty_questions_get_empty_answers(self, world: FreeBusyWorld) -> None:
        assert await world.source.get_schedules([], START, START + timedelta(days=1)) == []

    async def test_naive_or_backwards_windows_are_refused(self, world: FreeBusyWorld) -> None:
        ann = world.person("ann")
        with pytest.raises(ValueError, match="aware"):
            await world.source.get_schedules([ann], datetime(2026, 3, 30), START)
        with pytest.raises(ValueError, match="after"):
            await world.source.get_schedules([ann], START, START - timedelta(days=1))


class TestInMemoryFreeBusy(FreeBusySourceContract):
    @pytest.fixture
    def world(self) -> FreeBusyWorld:
        fake = InMemoryFreeBusy()

        def add_person(email: str, aliases: Sequence[str]) -> None:
            fake.add_mailbox(email, *aliases)

        def add_busy(
            email: str, start: datetime, end: datetime, private: bool, subject: str
        ) -> None:
            fake.add_busy(email, start, end, private=private, subject=subject)

        return FreeBusyWorld(fake, "example.test", add_person, add_busy)


# -- Microsoft adapter on the Microsoft sandbox --------------------------------------------------
# ``ms_sandbox`` (seeded Contoso, demo app consented) and ``ms_base_url`` come from conftest.py.


def connect_sandbox(sandbox: Any, base_url: str) -> MicrosoftConnection:
    """The production factory pointed at the sandbox: login at the root, Graph under /graph."""
    settings = Settings(
        microsoft_login_url=base_url,
        microsoft_graph_url=base_url + "/graph",
        microsoft_client_id=sandbox.demo_client_id,
        microsoft_client_secret=sandbox.demo_client_secret,
    )
    retry = RetryPolicy(max_retries=3, base_delay=0.05, max_delay=0.5)
    return connect_tenant(settings, CONTOSO_ID, retry=retry)


class TestMicrosoftFreeBusyOnSandbox(FreeBusySourceContract):
    @pytest.fixture
    async def connection(
        self, ms_sandbox: MicrosoftSandbox, ms_base_url: str
    ) -> AsyncIterator[MicrosoftConnection]:
        connection = connect_sandbox(ms_sandbox, ms_base_url)
        signing_key = ms_sandbox.signing_key
        yield connection
        await connection.aclose()
        ms_sandbox.tenant(CONTOSO_ID).faults = Faults()
        ms_sandbox.grant_admin_consent(CONTOSO_ID, ms_sandbox.demo_client_id)
        ms_sandbox.signing_key = signing_key

    @pytest.fixture
    def world(self, ms_sandbox: MicrosoftSandbox, connection: MicrosoftConnection) -> FreeBusyWorld:
        def add_person(email: str, aliases: Sequence[str]) -> None:
            ms_sandbox.add_user(
                CONTOSO_ID, display_name=email.split("@")[0], mail=email, aliases=aliases
            )

        def add_busy(
            email: str, start: datetime, end: datetime, private: bool, subject: str
        ) -> None:
            ms_sandbox.add_event(
                CONTOSO_ID,
                email,
                subject=subject,
                start=start,
                end=end,
                sensitivity="private" if private else "normal",
            )

        return FreeBusyWorld(connection.freebusy, "contoso.com", add_person, add_busy)

    # Microsoft-specific behaviour, on top of the contract.

    async def test_transient_graph_failures_are_retried_invisibly(
        self, ms_sandbox: MicrosoftSandbox, world: FreeBusyWorld
    ) -> None:
        ann = world.person("ann")
        world.book(ann, START + timedelta(hours=9))
        ms_sandbox.set_faults(CONTOSO_ID, fail_next=2, fail_status=503, retry_after=0)
        [schedule] = await world.source.get_schedules([ann], START, START + timedelta(days=1))
        assert schedule.error is None and schedule.blocks

    async def test_revoked_consent_fails_the_whole_answer(
        self, ms_sandbox: MicrosoftSandbox, world: FreeBusyWorld
    ) -> None:
        ann = world.person("ann")
        ms_sandbox.revoke_consent(CONTOSO_ID, ms_sandbox.demo_client_id)
        with pytest.raises(AuthRevoked):
            await world.source.get_schedules([ann], START, START + timedelta(days=1))

    async def test_a_token_graph_stops_accepting_mid_query_is_renewed(
        self, ms_sandbox: MicrosoftSandbox, world: FreeBusyWorld
    ) -> None:
        ann = world.person("ann")
        await world.source.get_schedules([ann], START, START + timedelta(days=1))
        # Rotating the signing key makes the cached (still unexpired) token fail with 401.
        # (Shifting ms_sandbox.clock forward would be closer to expiry, but the sandbox's
        # PyJWT check then rejects every new token's future "iat"; reported.)
        ms_sandbox.signing_key = "rotated-signing-key-0123456789abcdef0123456789"
        [schedule] = await world.source.get_schedules([ann], START, START + timedelta(days=1))
        assert schedule.error is None

    async def test_a_thousand_people_over_four_weeks_stay_within_mailbox_limits(
        self, ms_sandbox: MicrosoftSandbox, connection: MicrosoftConnection
    ) -> None:
        tenant = ms_sandbox.tenant(CONTOSO_ID)
        missing = max(0, 1000 - len(tenant.users))
        ms_sandbox.add_generated_users(CONTOSO_ID, missing)
        emails = [u.mail for u in tenant.users.values() if u.account_enabled][:1000]
        ms_sandbox.stats.reset()
        start = ms_sandbox.now.replace(hour=0, minute=0, second=0, microsecond=0)
        result = await connection.freebusy.get_schedules(emails, start, start + timedelta(weeks=4))
        assert [s.email for s in result] == emails
        assert sum(1 for s in result if s.error is None) >= len(emails) - 5
        assert sum(1 for s in result if s.blocks) > len(emails) // 2  # seeded calendars seen
        assert not ms_sandbox.stats.throttled
        assert max(ms_sandbox.stats.max_concurrency.values()) <= 4
        assert ms_sandbox.stats.by_route["getSchedule"] <= len(emails) // 100 + 5
