"""The ``MeetingProvider`` contract, run against every implementation.

``MeetingProviderContract`` holds the tests; each subclass supplies a ``world`` fixture: a
provider signed in as a host, plus the means to look behind it (how many meetings carry a
key) and to make the backend misbehave (lose an answer, throttle, spend the daily quota,
expire the access token). A backend that cannot do one of those leaves it ``None`` and the
test is skipped, so Google Meet plugs in with its own world.

Today: Zoom (``ZoomAccounts`` as production builds it) against the Zoom sandbox on a loopback
port, signed in by driving the sandbox's authorize page with real OAuth tokens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from hiresync.providers.base import (
    MeetingProvider,
    MeetingRequest,
)
from hiresync.providers.errors import AuthRevoked, NotFound, RateLimited
from hiresync.providers.zoom import ZoomAccounts
from hiresync.providers.zoom.client import RetryPolicy
from hiresync.sandbox.zoom import CONTOSO_ACCOUNT_ID, ZoomSandbox
from tests.contract.zoom_fixtures import (  # noqa: F401 (fixtures: found by pytest by name)
    ALEX,
    FAY,
    PAUL,
    base_fixture,
    connect,
    http_fixture,
    sandbox_fixture,
    zoom_settings,
)

BERLIN = ZoneInfo("Europe/Berlin")
LENA = "lena.berg@fabrikam-talent.test"
PRIYA = "priya.sharma@contoso.com"


@dataclass(frozen=True)
class PlanCase:
    """A host whose plan limits are known: what ``host()`` must report."""

    label: str
    provider: MeetingProvider
    licensed: bool
    max_minutes: int | None
    concurrent_meetings: int | None


@dataclass
class MeetingWorld:
    provider: MeetingProvider
    count_with_key: Callable[[str], int]
    lose_next_create_answer: Callable[[int], None] | None = None  # 0: drop, else a status
    lost_answers: Callable[[], int] | None = None
    throttle_next_call: Callable[[], None] | None = None
    throttled: Callable[[], int] | None = None
    spend_daily_quota: Callable[[], None] | None = None
    expire_access_token: Callable[[], None] | None = None
    forced_refreshes: Callable[[], int] | None = None
    revoke: Callable[[], Awaitable[None]] | None = None
    plans: list[PlanCase] = field(default_factory=list)


def interview(
    key: str | None = None, *, days: int = 3, minutes: int = 45, **extra: Any
) -> MeetingRequest:
    """A future interview at 10:00 Berlin time."""
    day = (datetime.now(UTC) + timedelta(days=days)).astimezone(BERLIN).date()
    start = datetime(day.year, day.month, day.day, 10, 0, tzinfo=BERLIN)
    return MeetingRequest(
        key=key or f"iv-{uuid.uuid4().hex[:12]}",
        topic=extra.pop("topic", "Interview: Jordan Lee, Backend Engineer"),
        start=start,
        end=start + timedelta(minutes=minutes),
        time_zone="Europe/Berlin",
        **extra,
    )


def need(hook: object, what: str) -> None:
    if hook is None:
        pytest.skip(f"this backend cannot {what}")


class MeetingProviderContract:
    """Tests every ``MeetingProvider`` must pass."""

    @pytest.fixture
    def world(self) -> MeetingWorld:
        raise NotImplementedError

    def test_is_a_meeting_provider(self, world: MeetingWorld) -> None:
        assert isinstance(world.provider, MeetingProvider)

    async def test_lifecycle_create_find_get_update_delete(self, world: MeetingWorld) -> None:
        provider, request = world.provider, interview(agenda="Pairing on the rate limiter.")
        made = await provider.create(request)
        assert made.join_url.startswith("http") and made.passcode
        assert (made.start, made.duration_minutes) == (request.start, 45)
        found = await provider.find(request.key)
        assert found is not None and found.meeting_id == made.meeting_id
        assert await provider.get(made.meeting_id) == found
        moved = interview(request.key, days=4, minutes=60, agenda=request.agenda)
        updated = await provider.update(made.meeting_id, moved)
        assert (updated.start, updated.duration_minutes) == (moved.start, 60)
        assert (updated.join_url, updated.passcode) == (made.join_url, made.passcode)
        await provider.delete(made.meeting_id)
        assert await provider.get(made.meeting_id) is None
        await provider.delete(made.meeting_id)  # already gone counts as deleted
        assert await provider.find(request.key) is None
        assert world.count_with_key(request.key) == 0

    async def test_each_interview_gets_its_own_meeting(self, world: MeetingWorld) -> None:
        first, second = interview(), interview()
        a, b = await world.provider.create(first), await world.provider.create(second)
        assert a.meeting_id != b.meeting_id and a.join_url != b.join_url
        assert (await world.provider.find(second.key)).meeting_id == b.meeting_id  # type: ignore[union-attr]

    async def test_find_of_a_key_never_used_is_none(self, world: MeetingWorld) -> None:
        await world.provider.create(interview())
        assert await world.provider.find(f"never-{uuid.uuid4().hex}") is None

    async def test_a_long_agenda_never_hides_the_key(self, world: MeetingWorld) -> None:
        request = interview(agenda="Loop plan.\n" + "Discuss the design doc. " * 120)
        made = await world.provider.create(request)
        found = await world.provider.find(request.key)
        assert found is not None and found.meeting_id == made.meeting_id

    @pytest.mark.parametrize("lost_as", [0, 504], ids=["connection-dropped", "gateway-timeout"])
    async def test_a_create_whose_answer_was_lost_is_found_not_made_twice(
        self, world: MeetingWorld, lost_as: int
    ) -> None:
        need(world.lose_next_create_answer, "lose an answer")
        request = interview()
        world.lose_next_create_answer(lost_as)  # type: ignore[misc]
        made = await world.provider.create(request)
        assert world.lost_answers() == 1  # type: ignore[misc]
        assert world.count_with_key(request.key) == 1
        found = await world.provider.find(request.key)
        assert found is not None and found.meeting_id == made.meeting_id
        assert world.count_with_key(request.key) == 1

    async def test_a_per_second_throttle_is_waited_out(self, world: MeetingWorld) -> None:
        need(world.throttle_next_call, "throttle")
        world.throttle_next_call()  # type: ignore[misc]
        request = interview()
        made = await world.provider.create(request)
        assert world.throttled() == 1  # type: ignore[misc]
        assert world.count_with_key(request.key) == 1 and made.join_url

    async def test_the_daily_write_limit_says_when_it_resets_without_waiting(
        self, world: MeetingWorld
    ) -> None:
        need(world.spend_daily_quota, "spend a daily quota")
        world.spend_daily_quota()  # type: ignore[misc]
        started = time.monotonic()
        with pytest.raises(RateLimited) as caught:
            await world.provider.create(interview())
        assert time.monotonic() - started < 5  # never sleeps until midnight
        midnight = (datetime.now(UTC) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        assert abs(caught.value.retry_after - (midnight - datetime.now(UTC)).total_seconds()) < 60
        assert (
            "daily" in caught.value.message
            and f"{midnight:%Y-%m-%d} 00:00 UTC" in caught.value.message
        )

    async def test_an_expired_access_token_is_refreshed_once(self, world: MeetingWorld) -> None:
        need(world.expire_access_token, "expire a token")
        before = world.forced_refreshes()  # type: ignore[misc]
        world.expire_access_token()  # type: ignore[misc]
        host = await world.provider.host()
        assert host.email
        assert world.forced_refreshes() == before + 1  # type: ignore[misc]
        await world.provider.create(interview())
        assert world.forced_refreshes() == before + 1  # type: ignore[misc]

    async def test_a_revoked_connection_raises_auth_revoked(self, world: MeetingWorld) -> None:
        need(world.revoke, "revoke")
        await world.revoke()  # type: ignore[misc]
        with pytest.raises(AuthRevoked, match="Reconnect"):
            await world.provider.host()

    async def test_updating_a_deleted_meeting_raises_not_found(self, world: MeetingWorld) -> None:
        request = interview()
        made = await world.provider.create(request)
        await world.provider.delete(made.meeting_id)
        with pytest.raises(NotFound):
            await world.provider.update(made.meeting_id, request)

    async def test_host_reports_the_plan_limits(self, world: MeetingWorld) -> None:
        if not world.plans:
            pytest.skip("this backend has no plans to compare")
        for case in world.plans:
            host = await case.provider.host()
            assert (host.licensed, host.max_minutes, host.concurrent_meetings) == (
                case.licensed,
                case.max_minutes,
                case.concurrent_meetings,
            ), case.label
            assert host.email and host.user_id and host.account_id and host.display_name


# -- Zoom on the Zoom sandbox ---------------------------------------------------------------------


@pytest.fixture
async def zoom_accounts(sandbox: ZoomSandbox, base: str) -> AsyncIterator[ZoomAccounts]:
    retry = RetryPolicy(max_retries=3, base_delay=0.02, max_delay=0.2)
    accounts = ZoomAccounts.from_settings(zoom_settings(sandbox, base), retry=retry)
    yield accounts
    await accounts.aclose()


class TestZoomMeetings(MeetingProviderContract):
    @pytest.fixture
    async def world(
        self, zoom_accounts: ZoomAccounts, http: httpx.Client, sandbox: ZoomSandbox
    ) -> MeetingWorld:
        box = await connect(zoom_accounts, http, sandbox, LENA)
        account = sandbox.user(LENA).account_id
        sandbox.pre_approve(CONTOSO_ACCOUNT_ID)  # Priya's admin approved the app

        def count_with_key(key: str) -> int:
            return sum(
                f"hiresync:{key}" in m.agenda.splitlines() for m in sandbox.meetings_of(LENA)
            )

        def lose(status: int) -> None:
            sandbox.set_faults(
                account, drop_response_after_commit_next=1, drop_response_status=status
            )

        def expire() -> None:
            sandbox.tokens[box.tokens.access_token].expires_at = sandbox.clock() - 1

        plans = []
        for label, email, licensed, minutes, concurrent in (
            ("Basic (free account)", ALEX, False, 40, 1),
            ("Basic user in a Business account", PRIYA, False, 40, 1),
            ("Pro", PAUL, True, None, 1),
            ("Business", FAY, True, None, 2),
        ):
            host_box = await connect(zoom_accounts, http, sandbox, email)
            plans.append(
                PlanCase(label, zoom_accounts.meetings(host_box), licensed, minutes, concurrent)
            )

        return MeetingWorld(
            provider=zoom_accounts.meetings(box),
            count_with_key=count_with_key,
            lose_next_create_answer=lose,
            lost_answers=lambda: sandbox.stats.dropped[account],
            throttle_next_call=lambda: sandbox.set_faults(account, fail_next=1, fail_status=429),
            throttled=lambda: sandbox.stats.throttled[f"{account}/QPS"],
            spend_daily_quota=lambda: setattr(sandbox.limits, "meeting_writes_per_day", 0),
            expire_access_token=expire,
            forced_refreshes=lambda: box.forced,
            revoke=lambda: zoom_accounts.revoke(box.tokens.access_token),
            plans=plans,
        )

    async def test_the_meeting_lets_candidates_in_without_the_host(
        self, world: MeetingWorld, sandbox: ZoomSandbox
    ) -> None:
        made = await world.provider.create(interview())
        settings = sandbox.meeting(made.meeting_id).settings
        assert settings["join_before_host"] is True and settings["jbh_time"] == 0
        assert settings["waiting_room"] is False and settings["meeting_authentication"] is False

    async def test_the_old_style_daily_limit_answer_is_read_too(
        self, world: MeetingWorld, sandbox: ZoomSandbox
    ) -> None:
        sandbox.limits.meeting_writes_per_day, sandbox.limits.daily_limit_status = 0, 300
        with pytest.raises(RateLimited, match="daily Zoom limit of this host"):
            await world.provider.create(interview())

    @pytest.mark.parametrize(
        "rules",
        [
            {
                "length": 8,
                "have_letter": True,
                "have_number": True,
                "have_special_character": True,
                "have_upper_and_lower_characters": True,
                "consecutive_characters_length": 4,
            },
            {"length": 9, "only_allow_numeric": True, "consecutive_characters_length": 4},
        ],
        ids=["strong", "numeric-only"],
    )
    async def test_the_passcode_meets_the_hosts_account_rules(
        self, world: MeetingWorld, sandbox: ZoomSandbox, rules: dict[str, Any]
    ) -> None:
        """An account's Settings › Security rules are read from the user's settings, and
        the passcode hiresync sends meets them (Zoom refuses one that does not)."""
        account = sandbox.user(LENA).account_id
        sandbox.set_passcode_requirement(account, **rules)
        try:
            made = await world.provider.create(interview())
        finally:
            sandbox.set_passcode_requirement(account)
        assert made.passcode and len(made.passcode) >= rules["length"]
        assert made.passcode.isdigit() == bool(rules.get("only_allow_numeric"))
        assert sandbox.meeting(made.meeting_id).password == made.passcode
