"""In-memory records of the emulated Microsoft cloud: apps, tenants, users, events, grants.

Plain mutable dataclasses; all behaviour lives in :mod:`.sandbox` (state changes),
:mod:`.recurrence` (calendar expansion) and the route modules (wire format).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
APPLICATION_PERMISSIONS = ("Calendars.ReadWrite", "User.Read.All")
FREE_BUSY_STATUSES = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")


@dataclass
class Faults:
    """Fault injection for one tenant's Graph traffic (identity endpoints are never faulted).

    ``fail_next`` fails the next N Graph calls with ``fail_status`` deterministically;
    ``throttle_rate`` / ``unavailable_rate`` are probabilities drawn from the sandbox's seeded RNG.
    ``mailbox_concurrency`` is Outlook's limit of concurrent requests per app per mailbox
    (None disables it).
    """

    latency_ms: int = 0
    throttle_rate: float = 0.0
    retry_after: int = 2
    unavailable_rate: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    mailbox_concurrency: int | None = 4
    # "Applied, but the answer never arrived": the next N successful *writes* (create,
    # update, delete, cancel) are committed, then their response is lost. Status 0 closes
    # the connection mid-response (the client sees a transport error); any other status
    # (504) answers with Graph's error body instead.
    drop_response_after_commit_next: int = 0
    drop_response_status: int = 0
    # Timeouts: a call drawn at ``slow_rate`` answers ``slow_ms`` late (set it past the
    # client's timeout, and the client gives up first). A slow *write* is applied, its late
    # answer the handler's, with probability ``slow_write_applied``; otherwise Graph's
    # gateway gave up before the mailbox got it: a late 504 and nothing written.
    slow_rate: float = 0.0
    slow_ms: int = 0
    slow_write_applied: float = 0.5
    # A call back on a throttled app's mailbox before the Retry-After it was given has
    # passed is always counted (``stats.early``); with this it is also answered 429 again.
    throttle_early: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (from Python or the control API), validating names and types."""
        for key, value in changes.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown fault setting {key!r}")
            current = getattr(self, key)
            if key == "mailbox_concurrency":
                value = None if value is None else int(value)
            elif isinstance(current, bool):
                value = value if isinstance(value, bool) else str(value).lower() == "true"
            elif isinstance(current, float):
                value = float(value)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{key} must be between 0 and 1")
            elif isinstance(current, int):
                value = int(value)
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class Limits:
    """Service limits and ⚠-marked behaviours of PROVIDERS.md, configurable per sandbox."""

    max_schedules: int = 100  # older docs said 20
    max_schedule_days: int = 62  # some docs say 42
    users_page_size: int = 100
    users_max_top: int = 999
    calendar_view_page_size: int = 10
    calendar_view_max_page_size: int = 1000
    working_elsewhere_digit: str = "0"  # docs: "set to 0 instead of 4 for backward compatibility"
    token_lifetime: int = 3599
    code_lifetime: int = 600
    refresh_token_lifetime: int = 90 * 24 * 3600
    require_pkce: bool = True
    error_redirect_includes_admin_consent: bool = False  # ⚠ seen once in the wild
    error_redirect_includes_error_uri: bool = False
    # ⚠ An admin of another cloud (GCC High) consenting to a worldwide app: "redirect" sends
    # them back as if consent succeeded (no grant is recorded; the token endpoint then fails
    # with AADSTS900439), "error_page" shows AADSTS700016 instead.
    cross_cloud_consent: str = "redirect"
    # ⚠ Writes to calendars (graph_events / meetings). Documented behaviour is the default;
    # the alternatives model what the docs leave open.
    events_page_size: int = 10
    events_max_page_size: int = 1000
    # Calendar not allowing the requested onlineMeetingProvider: "ignore" creates the event
    # without a meeting (isOnlineMeeting false; what Graph is reported to do), "error" → 400.
    online_meeting_not_allowed: str = "ignore"
    # Same transactionId, different body: "return_existing" (the first event, 201),
    # "create" (a second event), "error" (400). Docs only say a retry must not duplicate.
    transaction_id_mismatch: str = "return_existing"
    # What a cancellation does to attendee copies: "mark" (isCancelled, "Canceled: " subject,
    # shown free; Outlook keeps it until the attendee removes it) or "remove".
    cancelled_copies: str = "mark"
    # A new start/end resets every attendee's response to none (Outlook re-asks).
    reschedule_resets_responses: bool = True
    # calendarView delta (graph_delta). event-delta.md documents no default page size.
    delta_page_size: int = 10  # ⚠ as calendarView's default
    delta_max_page_size: int = 1000  # ⚠
    # Outlook keeps state tokens in a bounded cache, not for a fixed time
    # (delta-query-overview.md, "Token duration"): both bounds are ⚠.
    delta_token_lifetime: float = 7 * 24 * 3600.0
    delta_token_cache: int = 500  # state tokens kept per mailbox; the oldest are evicted
    delta_series_master: bool = True  # ⚠ the series master comes with its instances
    delta_occurrence_stubs: bool = True  # occurrences carry only id/type/seriesMasterId/start/end
    delta_split_series: bool = False  # ⚠ observed: a series is never split across pages
    delta_cancelled_occurrence_removed: bool = False  # ⚠ observed: no @removed for one occurrence
    delta_out_of_window_removed: bool = True  # event-delta.md: such changes come as @removed
    # Subscriptions and change notifications (subscriptions.py, notifications.py).
    subscription_max_minutes: int = 10080  # Outlook events; older docs: 4230 ⚠
    subscription_min_minutes: int = 45  # "any value under 45 minutes is set to 45 minutes"
    # Real Graph accepts only https notification URLs. The sandbox's one concession for local
    # runs: "localhost" also accepts http://127.0.0.1, ::1 and localhost; "never" is Graph's
    # rule; "any" accepts every http URL.
    http_notification_urls: str = "localhost"
    validation_timeout: float = 10.0  # the endpoint must echo the token within 10 s
    validation_error_code: str = "ValidationError"  # ⚠ older answers said InvalidRequest
    notification_timeout: float = 3.0  # 2xx within 3 s, or Graph retries
    notification_slow_after: float = 2.9  # a publish over 2,900 ms counts as slow
    notification_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)  # Graph: up to 4 h
    notification_delivery: str = "background"  # or "manual": only deliver_notifications()
    notification_batch_size: int = 10  # ⚠ notifications combined into one POST
    slow_endpoint_min_samples: int = 100  # evaluated after 100 notifications …
    slow_endpoint_throttle_percent: float = 10.0  # … ≥ 10 % slow: delayed …
    slow_endpoint_drop_percent: float = 15.0  # … ≥ 15 % slow: dropped
    slow_endpoint_delay: float = 600.0  # throttled notifications wait 10 minutes
    slow_endpoint_window: float = 600.0  # the counts are flushed every 10 minutes
    missed_on_drop: bool = True  # a dropped notification sends a `missed` lifecycle event
    reauthorization_grace: float = 600.0  # ⚠ delivery pauses this long after the challenge
    duplicate_updated_rate: float = 0.0  # ⚠ Outlook often repeats `updated`; set > 0 to test
    # Calendars (graph_calendars). What happens to subscriptions on a calendar that is
    # deleted is undocumented ⚠: "removed" sends them ``subscriptionRemoved``, "silent" just
    # drops them.
    deleted_calendar_subscriptions: str = "removed"
    calendars_page_size: int = 10  # ⚠ as for events


@dataclass(frozen=True)
class CloudInfo:
    """What a tenant's OpenID configuration says about its cloud."""

    name: str
    tenant_region_scope: str
    cloud_instance_name: str
    cloud_graph_host_name: str
    msgraph_host: str
    tenant_region_sub_scope: str | None = None


WORLDWIDE = "worldwide"
US_GOV = "usgov"


@dataclass
class ClientSecret:
    value: str
    expires_at: datetime | None = None


@dataclass
class AppRegistration:
    client_id: str
    display_name: str
    secrets: list[ClientSecret]
    redirect_uris: list[str]
    cloud: str = WORLDWIDE
    multi_tenant: bool = True
    home_tenant_id: str | None = None
    permissions: tuple[str, ...] = APPLICATION_PERMISSIONS

    def redirect_allowed(self, uri: str) -> bool:
        """Exact match, or prefix match for registrations ending in ``*`` (sandbox convenience)."""
        for registered in self.redirect_uris:
            if registered.endswith("*") and uri.startswith(registered[:-1]):
                return True
            if uri == registered:
                return True
        return False


@dataclass
class WorkingHours:
    days: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday")
    start: time = time(8, 0)
    end: time = time(17, 0)


@dataclass
class Override:
    """A modified occurrence of a series; fields left None keep the master's value."""

    start: datetime
    end: datetime
    subject: str | None = None
    location: str | None = None
    show_as: str | None = None


@dataclass
class Attendee:
    """One attendee as the organizer's event tracks it (``attendee`` in Graph)."""

    address: str
    name: str = ""
    type: str = "required"  # required | optional | resource
    response: str = "none"  # none | accepted | tentativelyAccepted | declined | ...
    response_time: datetime | None = None


@dataclass
class Event:
    """A calendar item. ``start``/``end`` are aware datetimes in ``time_zone`` (IANA).

    For a series master, ``recurrence`` is Graph's patternedRecurrence JSON and
    ``exceptions`` maps an occurrence's original local start date to an Override, or to
    None when that occurrence was cancelled.
    """

    id: str
    subject: str
    start: datetime
    end: datetime
    time_zone: str
    location: str = ""
    show_as: str = "busy"
    sensitivity: str = "normal"
    is_all_day: bool = False
    is_cancelled: bool = False
    organizer: str = ""
    attendees: list[Attendee] = field(default_factory=list)
    recurrence: dict[str, Any] | None = None
    exceptions: dict[date, Override | None] = field(default_factory=dict)
    created: datetime | None = None
    is_online_meeting: bool = False
    body_preview: str = ""
    # Set for events written through Graph (graph_events) and their attendee copies.
    organizer_name: str = ""
    modified: datetime | None = None
    change_key: str = ""
    ical_uid: str = ""
    sequence: int = 0
    transaction_id: str | None = None
    zone_label: str = ""  # the zone name exactly as the client wrote it
    body: str = ""
    body_type: str = "html"
    importance: str = "normal"
    categories: list[str] = field(default_factory=list)
    response_requested: bool = True
    allow_new_time_proposals: bool = True
    response: str | None = None  # the mailbox owner's own response (attendee copies)
    response_time: datetime | None = None
    online_meeting: dict[str, Any] | None = None
    online_provider: str = "teamsForBusiness"
    extended: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (id, value)
    reminder_minutes: int = 15
    fingerprint: str = ""  # the create body a transactionId was first seen with
    calendar: str = ""  # the id of the (secondary) calendar holding it; "": the default one

    @property
    def is_private(self) -> bool:
        return self.sensitivity in ("private", "confidential")


@dataclass
class Calendar:
    """A calendar of a mailbox other than its default one (whose events are ``User.events``).

    It has the two things a calendar view needs of a holder of events, ``events`` and a
    ``version`` bumped on every write (see ``MicrosoftSandbox.touch``)."""

    id: str
    name: str
    color: str = "auto"
    change_key: str = ""
    events: list[Event] = field(default_factory=list)
    version: int = 0


@dataclass
class User:
    id: str
    display_name: str
    given_name: str
    surname: str
    mail: str
    user_principal_name: str
    proxy_addresses: list[str]
    time_zone: str = "UTC"
    working_hours: WorkingHours = field(default_factory=WorkingHours)
    account_enabled: bool = True
    job_title: str | None = None
    department: str | None = None
    office_location: str | None = None
    mobile_phone: str | None = None
    business_phones: list[str] = field(default_factory=list)
    preferred_language: str | None = "en-US"
    is_admin: bool = False
    can_sign_in: bool = False
    has_mailbox: bool = True
    events: list[Event] = field(default_factory=list)
    version: int = 0
    # None: the tenant's setting applies (Tenant.online_meeting_providers).
    online_meeting_providers: tuple[str, ...] | None = None
    calendar_name: str = "Calendar"  # the default calendar's, renamable like any other
    calendar_color: str = "auto"
    calendars: list[Calendar] = field(default_factory=list)  # every other calendar

    def addresses(self) -> set[str]:
        """Every SMTP address (lower-cased) the mailbox answers to."""
        found = {self.mail.lower(), self.user_principal_name.lower()}
        for proxy in self.proxy_addresses:
            if proxy.lower().startswith("smtp:"):
                found.add(proxy[5:].lower())
        return found


@dataclass
class Tenant:
    id: str
    display_name: str
    domains: list[str]
    cloud: CloudInfo
    users: dict[str, User] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    expired_secret_clients: set[str] = field(default_factory=set)
    grants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # client_id -> roles
    online_meeting_providers: tuple[str, ...] = ("teamsForBusiness",)
    outbox: list[SentMessage] = field(default_factory=list)


@dataclass(frozen=True)
class SentMessage:
    """A meeting message Exchange sent on the organizer's behalf (the sandbox's outbox log)."""

    to: str
    kind: str  # request | update | cancellation
    subject: str
    event_id: str
    ical_uid: str
    sequence: int
    time: datetime
    organizer: str
    start: datetime
    end: datetime
    internal: bool  # delivered to a mailbox of the same tenant
    comment: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "kind": self.kind,
            "subject": self.subject,
            "eventId": self.event_id,
            "iCalUId": self.ical_uid,
            "sequence": self.sequence,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "organizer": self.organizer,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "internal": self.internal,
            "comment": self.comment,
        }


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    tenant_id: str
    user_id: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    nonce: str | None = None
    redeemed: bool = False


@dataclass
class RefreshGrant:
    token: str
    client_id: str
    tenant_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float
