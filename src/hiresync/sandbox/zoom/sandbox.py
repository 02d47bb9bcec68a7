"""The sandbox's state and its Python control surface.

One :class:`ZoomSandbox` holds every app, account, user, meeting, authorization grant, token,
pre-approval, fault setting, rate-limit counter, webhook delivery and statistic. Tests drive it
directly (``sandbox.pre_approve(CONTOSO_ACCOUNT_ID)``) or over the ``/_control`` HTTP API,
which calls the same methods.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .model import (
    LICENSED,
    PLANS,
    Account,
    App,
    AuthCode,
    Delivery,
    Grant,
    IssuedToken,
    Limits,
    Meeting,
    PreapprovalRequest,
    User,
    ValidationResult,
    WebhookSubscription,
)
from .webhooks import EVENTS, WebhookOutbox, meeting_event_payload
from .wire import zoom_datetime

DEMO_CLIENT_ID = "hsZoomDemo7rT2xQ9vLk"
DEMO_CLIENT_SECRET = "hiresyncZoomDemoSecret8Fq2Lx7Mn4Pz"
DEMO_WEBHOOK_SECRET = "hiresync-zoom-webhook-secret-token"
DEMO_SCOPES = ("meeting:read", "meeting:write", "user:read")
DEMO_REDIRECT_URIS = (
    "http://localhost*",
    "http://127.0.0.1*",
    "https://localhost*",
    "https://127.0.0.1*",
)


@dataclass
class Stats:
    """Request accounting that tests and benchmarks read back."""

    by_route: Counter[str] = field(default_factory=Counter)
    by_account: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)  # "account/QPS|Daily-limit"
    daily_limited: Counter[str] = field(default_factory=Counter)  # user id -> refused writes
    dropped: Counter[str] = field(default_factory=Counter)
    unavailable: Counter[str] = field(default_factory=Counter)  # injected 5xx, by account
    slow: Counter[str] = field(default_factory=Counter)  # answers made late (``slow_rate``)
    oauth: Counter[str] = field(default_factory=Counter)  # issued, refreshed, revoked, errors

    def snapshot(self) -> dict[str, Any]:
        return {
            "by_route": dict(self.by_route),
            "by_account": dict(self.by_account),
            "throttled": dict(self.throttled),
            "daily_limited": dict(self.daily_limited),
            "dropped": dict(self.dropped),
            "unavailable": dict(self.unavailable),
            "slow": dict(self.slow),
            "oauth": dict(self.oauth),
            "total_requests": sum(self.by_route.values()),
        }

    def reset(self) -> None:
        for counter in (
            self.by_route,
            self.by_account,
            self.throttled,
            self.daily_limited,
            self.dropped,
            self.unavailable,
            self.slow,
            self.oauth,
        ):
            counter.clear()


class ZoomSandbox:
    """In-memory Zoom (OAuth, REST v2, webhooks). See the package docstring for the API."""

    def __init__(self, *, seed: int = 20240601) -> None:
        self.limits = Limits()
        self.random = random.Random(seed)
        self.clock: Callable[[], float] = time.time
        self.apps: dict[str, App] = {}
        self.accounts: dict[str, Account] = {}
        self.users: dict[str, User] = {}
        self.meetings: dict[int, Meeting] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.zaks: dict[str, tuple[int, float]] = {}  # start_url token -> (meeting, expiry)
        self.preapproval_requests: list[PreapprovalRequest] = []
        self.stats = Stats()
        self.webhooks = WebhookOutbox(self)
        self.demo_client_id = DEMO_CLIENT_ID
        self.demo_client_secret = DEMO_CLIENT_SECRET
        self.lock = threading.RLock()
        self._writes: Counter[tuple[str, str]] = Counter()  # (user, UTC day) -> writes
        self._daily: Counter[tuple[str, str, str]] = Counter()  # (account, category, day)
        self._windows: dict[tuple[str, str], deque[float]] = {}

    @classmethod
    def seeded(
        cls,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        redirect_uris: Iterable[str] = DEMO_REDIRECT_URIS,
        webhook_url: str | None = None,
        webhook_secret: str = DEMO_WEBHOOK_SECRET,
        seed: int = 20240601,
    ) -> ZoomSandbox:
        """Four accounts (see :mod:`.seed`) and the demo app; with ``webhook_url`` the app's
        event subscription is configured (validated on first delivery, as Zoom requires)."""
        from .seed import seed_all

        sandbox = cls(seed=seed)
        sandbox.demo_client_id, sandbox.demo_client_secret = client_id, client_secret
        sandbox.register_app(client_id, client_secret, redirect_uris, name="hiresync (demo)")
        seed_all(sandbox)
        if webhook_url:
            sandbox.configure_webhooks(webhook_url, webhook_secret, client_id=client_id)
        return sandbox

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- apps, accounts, users --------------------------------------------------------------

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        *,
        name: str = "",
        scopes: Iterable[str] = DEMO_SCOPES,
    ) -> App:
        """Register (or replace) a user-managed OAuth app; redirect URIs ending in ``*`` match
        by prefix."""
        app = App(client_id, client_secret, name or client_id, list(redirect_uris), tuple(scopes))
        self.apps[client_id] = app
        return app

    def add_account(
        self,
        name: str,
        plan: str,
        *,
        account_id: str | None = None,
        requires_preapproval: bool = False,
    ) -> Account:
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; one of {sorted(PLANS)}")
        account_id = account_id or secrets.token_urlsafe(16)[:22]
        number = self.random.randrange(10**8, 10**9)
        account = Account(account_id, name, plan, number, requires_preapproval)
        self.accounts[account_id] = account
        return account

    def add_user(
        self,
        account: str | Account,
        *,
        email: str,
        first_name: str,
        last_name: str = "",
        user_type: int = LICENSED,
        role: str = "Member",
        timezone: str = "UTC",
        user_id: str | None = None,
    ) -> User:
        account = self.account(account)
        if self.find_user(email) is not None:
            raise ValueError(f"email already in use: {email}")
        user = User(
            id=user_id or secrets.token_urlsafe(16)[:22],
            account_id=account.id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            type=user_type,
            role=role,
            timezone=timezone,
            pmi=self.random.randrange(10**9, 10**10),
            created_at=self.now().replace(microsecond=0),
        )
        self.users[user.id] = user
        return user

    def account(self, ref: str | Account) -> Account:
        """An account by id or exact name; raises KeyError."""
        if isinstance(ref, Account):
            return ref
        found = self.accounts.get(ref) or next(
            (a for a in self.accounts.values() if a.name == ref), None
        )
        if found is None:
            raise KeyError(f"unknown account {ref!r}")
        return found

    def find_user(self, ref: str) -> User | None:
        """A user by id or e-mail (case-insensitive), as ``/users/{userId}`` resolves it."""
        if ref in self.users:
            return self.users[ref]
        key = ref.lower()
        return next((u for u in self.users.values() if u.email.lower() == key), None)

    def user(self, ref: str | User) -> User:
        found = ref if isinstance(ref, User) else self.find_user(ref)
        if found is None:
            raise KeyError(f"unknown user {ref!r}")
        return found

    def plan_limits(self, user: str | User) -> dict[str, Any]:
        """What a host's plan means for interviews: the 40-minute cap of Basic users and the
        number of meetings a licensed host can run at once (PROVIDERS.md "plans")."""
        user = self.user(user)
        account = self.accounts[user.account_id]
        concurrent = {"None": 1, "Basic": 2, "Plus": 20}[account.plan_info.concurrent_meeting]
        if account.plan == "pro":
            concurrent = self.limits.pro_concurrent_meetings
        basic = user.type != LICENSED or account.plan == "free"
        return {
            "plan": account.plan,
            "user_type": user.type,
            "meeting_time_limit_minutes": self.limits.basic_meeting_minutes if basic else None,
            "concurrent_meetings": concurrent,
            "concurrent_meeting": account.plan_info.concurrent_meeting,
        }

    # -- pre-approval -----------------------------------------------------------------------

    def needs_preapproval(self, user: User, client_id: str) -> bool:
        """Members of an account that requires pre-approval cannot add an app the admin has not
        pre-approved; owners and admins can (support.zoom.us "Pre-approving … apps")."""
        account = self.accounts[user.account_id]
        return (
            account.requires_preapproval
            and client_id not in account.preapproved
            and not user.is_admin
        )

    def request_preapproval(self, user: str | User, client_id: str) -> PreapprovalRequest:
        """The "Request Pre-approval" button: recorded once per user and app."""
        user = self.user(user)
        for request in self.preapproval_requests:
            if request.user_id == user.id and request.client_id == client_id:
                return request
        request = PreapprovalRequest(user.account_id, client_id, user.id, self.now())
        self.preapproval_requests.append(request)
        return request

    def pre_approve(self, account: str | Account, client_id: str | None = None) -> None:
        """An admin pre-approves the app for the whole account; pending requests are approved."""
        account = self.account(account)
        client_id = client_id or self.demo_client_id
        account.preapproved.add(client_id)
        for request in self.preapproval_requests:
            if request.account_id == account.id and request.client_id == client_id:
                request.approved_at = request.approved_at or self.now()

    def revoke_pre_approval(self, account: str | Account, client_id: str | None = None) -> None:
        self.account(account).preapproved.discard(client_id or self.demo_client_id)

    # -- grants and tokens --------------------------------------------------------------------

    def active_grant(self, user_id: str, client_id: str) -> Grant | None:
        return next(
            (
                g
                for g in self.grants.values()
                if g.user_id == user_id and g.client_id == client_id and g.revoked_at is None
            ),
            None,
        )

    def new_grant(self, user: User, app: App) -> Grant:
        """Authorizing an app again keeps the existing grant (Zoom lists an app once per user)."""
        grant = self.active_grant(user.id, app.client_id)
        if grant is None:
            grant = Grant(secrets.token_hex(8), app.client_id, user.id, app.scopes, self.clock())
            self.grants[grant.id] = grant
        return grant

    def issue_tokens(self, grant: Grant) -> tuple[IssuedToken, IssuedToken]:
        now = self.clock()
        access = IssuedToken(
            secrets.token_urlsafe(48), grant.id, "access", now + self.limits.access_token_lifetime
        )
        refresh = IssuedToken(
            secrets.token_urlsafe(48),
            grant.id,
            "refresh",
            now + self.limits.refresh_token_lifetime,
        )
        self.tokens[access.token] = access
        self.tokens[refresh.token] = refresh
        return access, refresh

    def token_owner(self, token: str) -> tuple[Grant, User] | str:
        """The grant and user behind a bearer token, or Zoom's reason for refusing it."""
        issued = self.tokens.get(token)
        if issued is None or issued.kind != "access":
            return "Invalid access token."
        grant = self.grants[issued.grant_id]
        user = self.users.get(grant.user_id)
        if grant.revoked_at is not None or user is None:
            return "Invalid access token."
        if issued.expires_at <= self.clock():
            return "Access token is expired."
        return grant, user

    def revoke_grant(self, grant: Grant) -> None:
        """Deauthorize: every token of the grant dies and the app gets ``app_deauthorized``."""
        if grant.revoked_at is not None:
            return
        grant.revoked_at = self.clock()
        self.stats.oauth["revoked"] += 1
        user = self.users[grant.user_id]
        self.webhooks.emit_deauthorized(user, grant.client_id)

    def deauthorize(self, user: str | User, client_id: str | None = None) -> Grant | None:
        """The user removes the app in Zoom (App Marketplace › Manage › Remove)."""
        grant = self.active_grant(self.user(user).id, client_id or self.demo_client_id)
        if grant is not None:
            self.revoke_grant(grant)
        return grant

    # -- rate limits ---------------------------------------------------------------------------

    def take_rate(self, account: Account, category: str) -> tuple[str, int, int] | None:
        """Count one call; returns ``(type, limit, remaining)`` when it is over a limit
        (``QPS`` per second, ``Daily-limit`` per day on free accounts), else None."""
        if not self.limits.enforce_rate_limits:
            return None
        plan, now = account.plan_info, self.clock()
        window = self._windows.setdefault((account.id, category), deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= plan.per_second[category]:
            return ("QPS", plan.per_second[category], 0)
        cap = plan.per_day.get(category)
        day_key = (account.id, category, self.now().date().isoformat())
        if cap is not None and self._daily[day_key] >= cap:
            return ("Daily-limit", cap, 0)
        window.append(now)
        self._daily[day_key] += 1
        return None

    def daily_remaining(self, account: Account, category: str) -> tuple[int, int] | None:
        cap = account.plan_info.per_day.get(category)
        if cap is None:
            return None
        used = self._daily[(account.id, category, self.now().date().isoformat())]
        return cap, max(cap - used, 0)

    def take_meeting_write(self, user: User) -> int | None:
        """Count a create/update for the host; returns the remaining quota, None when spent
        ("100 create/update requests per day (UTC) per user")."""
        key = (user.id, self.now().date().isoformat())
        if self._writes[key] >= self.limits.meeting_writes_per_day:
            return None
        self._writes[key] += 1
        return self.limits.meeting_writes_per_day - self._writes[key]

    def reset_rate_limits(self) -> None:
        self._writes.clear()
        self._daily.clear()
        self._windows.clear()

    # -- meetings ------------------------------------------------------------------------------

    def meeting(self, meeting_id: int | str) -> Meeting:
        found = self.meetings.get(int(meeting_id))
        if found is None:
            raise KeyError(f"meeting {meeting_id} does not exist")
        return found

    def meetings_of(self, user: str | User) -> list[Meeting]:
        host = self.user(user)
        return sorted(
            (m for m in self.meetings.values() if m.host_id == host.id),
            key=lambda m: (m.start_time or m.created_at, m.id),
        )

    def new_meeting_id(self) -> int:
        while True:
            candidate = self.random.randrange(8 * 10**10, 10**11)  # 11 digits, like 85746065432
            if candidate not in self.meetings:
                return candidate

    def update_meeting_in_zoom(
        self, meeting_id: int | str, *, operator: str | None = None, **changes: Any
    ) -> Meeting:
        """A change made in the Zoom app (not through the API): ``topic``, ``start_time``
        (aware datetime or Zoom string), ``duration``, ``timezone``, ``agenda``, ``password``,
        ``settings``. Subscribed apps get ``meeting.updated``. Raises KeyError/ValueError."""
        from .meetings import MeetingInputError, apply_changes

        meeting = self.meeting(meeting_id)
        body = {k: zoom_datetime(v) if isinstance(v, datetime) else v for k, v in changes.items()}
        with self.lock:
            try:
                old, new = apply_changes(self, meeting, body)
            except MeetingInputError as exc:
                raise ValueError(f"{exc.message} {exc.fields}") from exc
            self.emit_meeting_event("meeting.updated", meeting, operator, old, new)
        return meeting

    def delete_meeting_in_zoom(self, meeting_id: int | str, *, operator: str | None = None) -> None:
        """The host deletes the meeting in Zoom; subscribed apps get ``meeting.deleted``."""
        with self.lock:
            meeting = self.meetings.pop(int(meeting_id))
            self.emit_meeting_event("meeting.deleted", meeting, operator)

    def start_meeting_in_zoom(self, meeting_id: int | str) -> Meeting:
        """The host starts the meeting. A host at their plan's concurrent-meeting limit cannot
        (ValueError), which is what makes overlapping interviews on a Pro host fail."""
        meeting = self.meeting(meeting_id)
        running = [
            m
            for m in self.meetings.values()
            if m.host_id == meeting.host_id and m.status == "started" and m is not meeting
        ]
        if len(running) >= self.plan_limits(meeting.host_id)["concurrent_meetings"]:
            raise ValueError(
                f"host already runs {len(running)} meeting(s): {[m.id for m in running]}"
            )
        meeting.status = "started"
        return meeting

    def end_meeting_in_zoom(self, meeting_id: int | str) -> Meeting:
        meeting = self.meeting(meeting_id)
        meeting.status = "waiting"
        return meeting

    def emit_meeting_event(
        self,
        event: str,
        meeting: Meeting,
        operator: str | None,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
    ) -> list[Delivery]:
        """Queue ``meeting.updated``/``meeting.deleted`` for every app the host authorized."""
        host = self.users[meeting.host_id]
        actor = self.find_user(operator) if operator else host
        payload = meeting_event_payload(event, meeting, host, actor or host, old, new, self.now())
        clients = [g.client_id for g in self.grants.values() if g.user_id == host.id]
        active = [c for c in dict.fromkeys(clients) if self.active_grant(host.id, c)]
        return self.webhooks.emit(event, payload, active)

    # -- webhooks ------------------------------------------------------------------------------

    def configure_webhooks(
        self,
        endpoint_url: str,
        secret_token: str = DEMO_WEBHOOK_SECRET,
        *,
        client_id: str | None = None,
        events: Iterable[str] | None = None,
    ) -> WebhookSubscription:
        """Set the app's event notification endpoint and secret token (Features › Access ›
        Event Subscriptions). A new URL must pass ``endpoint.url_validation`` again."""
        app = self.apps[client_id or self.demo_client_id]
        chosen = set(events) if events is not None else set(EVENTS)
        unknown = chosen - set(EVENTS)
        if unknown:
            raise ValueError(f"unsupported events: {sorted(unknown)}")
        app.webhook = WebhookSubscription(endpoint_url, secret_token, chosen)
        return app.webhook

    def validate_endpoint(self, client_id: str | None = None) -> ValidationResult:
        """Send ``endpoint.url_validation`` now (the **Validate** button) and record the result."""
        return self.webhooks.validate(self.apps[client_id or self.demo_client_id])

    def deliver_webhooks(self, *, force: bool = False) -> list[Delivery]:
        """Send every due delivery now and wait for those in flight; ``force`` also sends
        scheduled retries at once, until each is delivered or out of attempts."""
        return self.webhooks.deliver(force=force)

    def deliveries(
        self, *, client_id: str | None = None, event: str | None = None
    ) -> list[Delivery]:
        return [
            d
            for d in self.webhooks.deliveries
            if (client_id is None or d.client_id == client_id)
            and (event is None or d.event == event)
        ]

    # -- faults --------------------------------------------------------------------------------

    def set_passcode_requirement(self, account: str | Account, **rules: Any) -> None:
        """The account's Settings › Security passcode rules (``length``, ``have_letter``,
        ``have_number``, ``have_special_character``, ``have_upper_and_lower_characters``,
        ``only_allow_numeric``, ``consecutive_characters_length``); none given clears them."""
        self.account(account).passcode_requirement = dict(rules) or None

    def set_faults(self, account: str | Account, **changes: Any) -> dict[str, Any]:
        faults = self.account(account).faults
        faults.update(changes)
        return faults.as_dict()
