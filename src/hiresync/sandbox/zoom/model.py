"""In-memory records of the emulated Zoom cloud: plans, accounts, users, meetings, apps, grants.

Plain mutable dataclasses; behaviour lives in :mod:`.sandbox` (state changes), :mod:`.meetings`
(the meeting wire format), :mod:`.oauth` and :mod:`.api` (HTTP) and :mod:`.webhooks` (delivery).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

LIGHT, MEDIUM, HEAVY = "Light", "Medium", "Heavy"


@dataclass(frozen=True)
class Plan:
    """What an account's plan changes on the wire.

    Rate limits: developers.zoom.us/docs/api/rate-limits ("Rate limits by account type": Free
    4/2/1 per second and 6000/2000/1000 a day, Pro 30/20/10, Business+ 80/60/40). Meeting length
    and concurrency: PROVIDERS.md "plans" (Basic users' meetings end at 40 minutes; a Pro host has
    1 meeting at a time ⚠, Business hosts 2) and the seed article ("Pro Zoom accounts will not
    allow for multiple meetings to occur at once").
    """

    name: str  # free | pro | business
    label: str
    per_second: dict[str, int]
    per_day: dict[str, int]  # empty: no daily cap for Light/Medium on this plan
    concurrent_meeting: str  # settings.feature.concurrent_meeting: None | Basic | Plus
    meeting_capacity: int


PLANS: dict[str, Plan] = {
    "free": Plan(
        "free",
        "Basic",
        {LIGHT: 4, MEDIUM: 2, HEAVY: 1},
        {LIGHT: 6000, MEDIUM: 2000, HEAVY: 1000},
        "None",
        100,
    ),
    "pro": Plan("pro", "Pro", {LIGHT: 30, MEDIUM: 20, HEAVY: 10}, {}, "None", 100),
    "business": Plan("business", "Business", {LIGHT: 80, MEDIUM: 60, HEAVY: 40}, {}, "Basic", 300),
}

BASIC, LICENSED = 1, 2  # user "type" (the spec also lists 3 and 99)


class _Settings:
    """Partial updates from Python or the control API, validated by name and type."""

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}")
            current = getattr(self, key)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, float):
                value = float(value)
                if key.endswith("_rate") and not 0.0 <= value <= 1.0:
                    raise ValueError(f"{key} must be between 0 and 1")
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, tuple):
                value = tuple(float(v) for v in value)
            elif isinstance(current, str):
                value = str(value)
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass
class Faults(_Settings):
    """Fault injection for one account's REST traffic (OAuth endpoints are never faulted).

    Same knobs as the Microsoft sandbox: ``fail_next`` fails the next N calls with
    ``fail_status``; ``throttle_rate`` / ``unavailable_rate`` are drawn from the seeded RNG;
    ``drop_response_after_commit_next`` commits the next N writes (create, update, delete) and
    then loses the answer: status 0 drops the connection, any other status (504) answers with
    an error although the change was applied. A call drawn at ``slow_rate`` answers ``slow_ms``
    late; a slow *write* is applied first (its answer then held back) with probability
    ``slow_write_applied``, otherwise a late 504 with nothing written (as the Microsoft
    sandbox's timeouts): a client killed while the answer is held leaves a meeting it never
    recorded.
    """

    latency_ms: int = 0
    throttle_rate: float = 0.0
    unavailable_rate: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    retry_after: int = 1
    drop_response_after_commit_next: int = 0
    drop_response_status: int = 0
    slow_rate: float = 0.0
    slow_ms: int = 0
    slow_write_applied: float = 0.5


@dataclass
class Limits(_Settings):
    """Zoom's limits and the ⚠-marked behaviours of PROVIDERS.md, configurable per sandbox."""

    code_lifetime: int = 300  # "code valid 5 min" (PROVIDERS.md)
    access_token_lifetime: int = 3599  # Zoom answers expires_in 3599
    refresh_token_lifetime: int = 90 * 24 * 3600  # ⚠ "≈ 90 days"
    refresh_grace_seconds: float = 0.0  # ⚠ a rotated refresh token dies at once
    require_pkce: bool = False  # Zoom accepts authorization without PKCE
    meeting_writes_per_day: int = 100  # create/update per user per UTC day (rate-limits doc)
    daily_limit_status: int = (
        429  # 429 per Zoom staff and the rate-limits doc; 300 per the 2023 spec
    )
    daily_limit_retry_after: bool = True  # docs example; ⚠ a forum report saw none
    enforce_rate_limits: bool = True
    qps_retry_after: bool = False  # per-second 429s carry X-RateLimit-Type: QPS, no Retry-After
    basic_meeting_minutes: int = 40
    pro_concurrent_meetings: int = 1  # ⚠ some sources say 2
    waiting_room_disables_jbh: bool = True  # PROVIDERS.md: join_before_host off with waiting room
    api_changes_emit_events: bool = True  # ⚠ Zoom also notifies changes the app made itself
    start_url_lifetime: int = 7200  # start_url "expires in 2 h"
    list_page_size: int = 30
    list_max_page_size: int = 300
    webhook_timeout: float = 3.0  # "respond with 200 or 204 within three seconds"
    webhook_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)  # Zoom: 300, 1200, 3600 s
    webhook_delivery: str = "background"  # or "manual": only deliver_webhooks() sends
    validate_before_first_delivery: bool = True  # Zoom won't save an unvalidated endpoint


@dataclass
class Account:
    id: str
    name: str
    plan: str
    number: int
    requires_preapproval: bool = False
    preapproved: set[str] = field(default_factory=set)  # client ids
    faults: Faults = field(default_factory=Faults)
    # Settings › Security passcode rules (``meeting_password_requirement``); None: Zoom's own.
    passcode_requirement: dict[str, Any] | None = None

    @property
    def plan_info(self) -> Plan:
        return PLANS[self.plan]


@dataclass
class User:
    id: str
    account_id: str
    email: str
    first_name: str
    last_name: str
    type: int = LICENSED
    role: str = "Member"  # Owner | Admin | Member
    timezone: str = "UTC"
    pmi: int = 0
    created_at: datetime | None = None
    language: str = "en-US"
    dept: str = ""
    job_title: str = ""
    can_sign_in: bool = True

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_admin(self) -> bool:
        return self.role in ("Owner", "Admin")


@dataclass
class Meeting:
    """A meeting as Zoom stores it; ``start_time`` is aware UTC (None for instant meetings)."""

    id: int
    uuid: str
    host_id: str
    topic: str
    type: int
    start_time: datetime | None
    duration: int
    timezone: str
    agenda: str
    password: str
    encrypted_password: str
    created_at: datetime
    settings: dict[str, Any] = field(default_factory=dict)
    status: str = "waiting"  # waiting | started


@dataclass
class WebhookSubscription:
    """An app's event subscription: endpoint, secret token and the events it asked for."""

    endpoint_url: str
    secret_token: str
    events: set[str]
    validated: bool | None = None  # None: never validated


@dataclass
class App:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: list[str]
    scopes: tuple[str, ...]
    webhook: WebhookSubscription | None = None

    def redirect_allowed(self, uri: str) -> bool:
        """Exact match, or prefix match for entries ending in ``*`` (the OAuth allow list)."""
        for registered in self.redirect_uris:
            if registered.endswith("*") and uri.startswith(registered[:-1]):
                return True
            if uri == registered:
                return True
        return False


@dataclass
class AuthCode:
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    used: bool = False


@dataclass
class Grant:
    """One user's authorization of one app; revoking it kills every token issued under it."""

    id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    created_at: float
    revoked_at: float | None = None


@dataclass
class IssuedToken:
    token: str
    grant_id: str
    kind: str  # access | refresh
    expires_at: float
    rotated_at: float | None = None  # refresh tokens: when a refresh replaced it


@dataclass
class PreapprovalRequest:
    account_id: str
    client_id: str
    user_id: str
    requested_at: datetime
    approved_at: datetime | None = None


@dataclass
class Attempt:
    at: datetime
    status: int | None  # None: transport error or timeout
    error: str = ""
    elapsed_ms: int = 0


@dataclass
class Delivery:
    """One event to one app's endpoint, with every attempt Zoom made."""

    id: str
    client_id: str
    event: str
    url: str
    body: bytes
    created_at: datetime
    status: str = "pending"  # pending | sending | retrying | delivered | failed | blocked
    attempts: list[Attempt] = field(default_factory=list)
    next_attempt_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "event": self.event,
            "url": self.url,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "attempts": [
                {
                    "at": a.at.isoformat(),
                    "status": a.status,
                    "error": a.error,
                    "elapsed_ms": a.elapsed_ms,
                }
                for a in self.attempts
            ],
            "body": json.loads(self.body),
        }


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of one ``endpoint.url_validation`` challenge."""

    at: datetime
    url: str
    passed: bool
    status: int | None
    detail: str
