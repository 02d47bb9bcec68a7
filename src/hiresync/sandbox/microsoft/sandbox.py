"""The sandbox's state and its Python control surface.

One :class:`MicrosoftSandbox` holds every app registration, tenant, user, event, consent
grant, issued code and refresh token, fault setting and request statistic. Tests and
benchmarks drive it directly (``sandbox.tenant("contoso.com").faults.latency_ms = 50``) or over
the ``/_control`` HTTP API, which calls the same methods.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .delta_state import DeltaStore
from .model import (
    WORLDWIDE,
    AppRegistration,
    AuthCode,
    Calendar,
    ClientSecret,
    CloudInfo,
    Event,
    Limits,
    Override,
    RefreshGrant,
    SentMessage,
    Tenant,
    User,
    WorkingHours,
)
from .notifications import Delivery, NotificationOutbox
from .recurrence import MailboxIndex, is_occurrence_date
from .subscriptions import Subscription, SubscriptionHub

CALL_LOG_SIZE = 50_000
DEMO_CLIENT_ID = "6b1f3c2e-8d4a-4f7b-9e21-5a0c7d3e9f10"
DEMO_CLIENT_SECRET = "hiresync-demo-secret~Q8x.7Jm2Vn4Kp6Rt"
DEMO_REDIRECT_URIS = (
    "http://localhost*",
    "http://127.0.0.1*",
    "https://localhost*",
    "https://127.0.0.1*",
)


@dataclass(frozen=True)
class SignInAccount:
    """An account shown on the sandbox's sign-in page."""

    user_principal_name: str
    display_name: str
    is_admin: bool
    tenant_id: str
    tenant_name: str


@dataclass
class Stats:
    """Request accounting that benchmarks and tests read back."""

    requests: Counter[str] = field(default_factory=Counter)  # "tenant/mailbox" -> count
    by_route: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    max_concurrency: dict[str, int] = field(default_factory=dict)
    in_flight: Counter[str] = field(default_factory=Counter)
    by_mailbox_route: Counter[str] = field(default_factory=Counter)  # "tenant/mailbox/route"
    dropped: Counter[str] = field(default_factory=Counter)  # responses lost after commit
    slow: Counter[str] = field(default_factory=Counter)  # answers made late (``slow_rate``)
    notifications: Counter[str] = field(default_factory=Counter)  # queued, posts, slow, dropped…
    # Calls that came back on an app's mailbox before the Retry-After it was given had passed
    # (with ``faults.throttle_early`` answered 429 again, as Graph keeps throttling them).
    early: Counter[str] = field(default_factory=Counter)
    # The latest Graph calls: (arrived, "tenant/mailbox", route, status, Retry-After given).
    calls: deque[tuple[float, str, str, int, float | None]] = field(
        default_factory=lambda: deque(maxlen=CALL_LOG_SIZE)
    )

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "by_route": dict(self.by_route),
            "by_mailbox_route": dict(self.by_mailbox_route),
            "dropped": dict(self.dropped),
            "slow": dict(self.slow),
            "throttled": dict(self.throttled),
            "max_concurrency": dict(self.max_concurrency),
            "notifications": dict(self.notifications),
            "early": dict(self.early),
            "total_requests": sum(self.by_route.values()),
        }

    def reset(self) -> None:
        self.requests.clear()
        self.by_route.clear()
        self.throttled.clear()
        self.max_concurrency.clear()
        self.by_mailbox_route.clear()
        self.dropped.clear()
        self.slow.clear()
        self.notifications.clear()
        self.early.clear()
        self.calls.clear()


class MicrosoftSandbox:
    """In-memory Microsoft identity platform + Graph. See the package docstring for the API."""

    def __init__(
        self,
        *,
        now: datetime | None = None,
        seed: int = 20240601,
        signing_key: str = "hiresync-sandbox-signing-key-0123456789abcdef",
    ) -> None:
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        self.limits = Limits()
        self.random = random.Random(seed)
        self.signing_key = signing_key
        self.clock: Callable[[], float] = time.time
        self.apps: dict[str, AppRegistration] = {}
        self.tenants: dict[str, Tenant] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.stats = Stats()
        self.demo_client_id = DEMO_CLIENT_ID
        self.demo_client_secret = DEMO_CLIENT_SECRET
        self._domains: dict[str, str] = {}
        self._addresses: dict[str, dict[str, str]] = {}
        self._indexes: dict[str, MailboxIndex] = {}
        self.throttled_until: dict[str, float] = {}  # "app|tenant/mailbox" -> clock()
        self.event_owners: dict[str, str] = {}  # id of an event written via Graph -> user id
        self.delta_tokens = DeltaStore()
        self.subscriptions = SubscriptionHub(self)
        self.notifications = NotificationOutbox(self)

    @classmethod
    def seeded(
        cls,
        now: datetime | None = None,
        *,
        extra_users: int = 0,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        redirect_uris: Iterable[str] = DEMO_REDIRECT_URIS,
        seed: int = 20240601,
    ) -> MicrosoftSandbox:
        """Contoso (250 people + ``extra_users``), Fabrikam Gov (GCC High) and Northwind
        (expired client secret), plus the demo multi-tenant app. Deterministic for a given
        ``now`` week and ``seed``."""
        from .seed import seed_all

        sandbox = cls(now=now, seed=seed)
        sandbox.demo_client_id, sandbox.demo_client_secret = client_id, client_secret
        sandbox.register_app(
            client_id, client_secret, list(redirect_uris), display_name="hiresync (demo)"
        )
        seed_all(sandbox, extra_users=extra_users, seed=seed)
        return sandbox

    # -- apps and tenants -------------------------------------------------------------------

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        *,
        display_name: str = "",
        cloud: str = WORLDWIDE,
        secret_expires_at: datetime | None = None,
        multi_tenant: bool = True,
        home_tenant_id: str | None = None,
    ) -> AppRegistration:
        """Register (or replace) an app; redirect URIs ending in ``*`` match by prefix."""
        app = AppRegistration(
            client_id=client_id,
            display_name=display_name or client_id,
            secrets=[ClientSecret(client_secret, secret_expires_at)],
            redirect_uris=list(redirect_uris),
            cloud=cloud,
            multi_tenant=multi_tenant,
            home_tenant_id=home_tenant_id,
        )
        self.apps[client_id] = app
        return app

    def add_tenant(
        self, tenant_id: str, display_name: str, domains: list[str], cloud: CloudInfo
    ) -> Tenant:
        tenant = Tenant(id=tenant_id, display_name=display_name, domains=domains, cloud=cloud)
        self.tenants[tenant_id] = tenant
        for domain in domains:
            self._domains[domain.lower()] = tenant_id
        self._addresses[tenant_id] = {}
        return tenant

    def find_tenant(self, ref: str) -> Tenant | None:
        """Tenant by GUID or by any verified domain name (case-insensitive)."""
        key = ref.strip().lower()
        tenant_id = key if key in self.tenants else self._domains.get(key)
        return self.tenants.get(tenant_id) if tenant_id else None

    def tenant(self, ref: str) -> Tenant:
        """Like :meth:`find_tenant` but raises KeyError for an unknown tenant."""
        found = self.find_tenant(ref)
        if found is None:
            raise KeyError(f"unknown tenant {ref!r}")
        return found

    # -- users ------------------------------------------------------------------------------

    def add_user(
        self,
        tenant: str | Tenant,
        *,
        display_name: str,
        mail: str,
        user_principal_name: str | None = None,
        aliases: Iterable[str] = (),
        time_zone: str = "UTC",
        working_hours: WorkingHours | None = None,
        user_id: str | None = None,
        **attrs: Any,
    ) -> User:
        """Add a directory user with a mailbox; ``aliases`` become ``smtp:`` proxy addresses."""
        tenant = self._resolve(tenant)
        given, _, surname = display_name.partition(" ")
        user = User(
            id=user_id or str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            display_name=display_name,
            given_name=attrs.pop("given_name", given),
            surname=attrs.pop("surname", surname),
            mail=mail,
            user_principal_name=user_principal_name or mail,
            proxy_addresses=[f"SMTP:{mail}"] + [f"smtp:{a}" for a in aliases],
            time_zone=time_zone,
            working_hours=working_hours or WorkingHours(),
            **attrs,
        )
        clash = user.addresses() & self._addresses[tenant.id].keys()
        if clash or user.id in tenant.users:
            raise ValueError(f"address or id already in use: {sorted(clash) or user.id}")
        tenant.users[user.id] = user
        self._index_addresses(tenant, user)
        return user

    def remove_user(self, tenant: str | Tenant, ref: str) -> User:
        """Delete a user (by id, UPN or any SMTP address); raises KeyError when absent."""
        tenant = self._resolve(tenant)
        user = self.find_user(tenant, ref) or self.find_mailbox(tenant, ref)
        if user is None:
            raise KeyError(ref)
        del tenant.users[user.id]
        self.subscriptions.user_removed(tenant.id, user.id)
        self._addresses[tenant.id] = {
            a: uid for a, uid in self._addresses[tenant.id].items() if uid != user.id
        }
        self._indexes.pop(user.id, None)
        return user

    def find_user(self, tenant: str | Tenant, ref: str) -> User | None:
        """Resolve ``/users/{id|userPrincipalName}`` as Graph does (not by mail or alias)."""
        tenant = self._resolve(tenant)
        if ref in tenant.users:
            return tenant.users[ref]
        key = ref.lower()
        for user in tenant.users.values():
            if user.id == key or user.user_principal_name.lower() == key:
                return user
        return None

    def find_mailbox(self, tenant: str | Tenant, address: str) -> User | None:
        """Resolve an SMTP address (primary, UPN or alias) to a mailbox, as getSchedule does."""
        tenant = self._resolve(tenant)
        user_id = self._addresses[tenant.id].get(address.strip().lower())
        return tenant.users.get(user_id) if user_id else None

    def add_generated_users(self, tenant: str | Tenant, count: int) -> list[User]:
        """Grow a tenant with ``count`` generated people, each with a realistic calendar."""
        from .seed import generate_people

        return generate_people(self, self._resolve(tenant), count)

    def sign_in_accounts(self, tenant: str | None = None) -> list[SignInAccount]:
        """Accounts offered on the sign-in page (all tenants when ``tenant`` is None/common)."""
        tenants = list(self.tenants.values())
        if tenant and tenant.lower() not in ("common", "organizations"):
            tenants = [self.tenant(tenant)]
        return [
            SignInAccount(u.user_principal_name, u.display_name, u.is_admin, t.id, t.display_name)
            for t in tenants
            for u in t.users.values()
            if u.can_sign_in
        ]

    # -- events -----------------------------------------------------------------------------

    def add_event(
        self,
        tenant: str | Tenant,
        user_ref: str,
        *,
        subject: str,
        start: datetime,
        end: datetime,
        time_zone: str | None = None,
        **attrs: Any,
    ) -> Event:
        """Put an event on a user's calendar (aware datetimes; ``time_zone`` IANA)."""
        tenant = self._resolve(tenant)
        user = self.find_user(tenant, user_ref) or self.find_mailbox(tenant, user_ref)
        if user is None:
            raise KeyError(user_ref)
        from zoneinfo import ZoneInfo

        zone_name = time_zone or user.time_zone
        zone = ZoneInfo(zone_name)
        event = Event(
            id=attrs.pop("event_id", None) or self.new_event_id(),
            subject=subject,
            start=start.astimezone(zone),
            end=end.astimezone(zone),
            time_zone=zone_name,
            organizer=attrs.pop("organizer", user.mail),
            created=attrs.pop("created", self.now - timedelta(days=30)),
            **attrs,
        )
        user.events.append(event)
        self.touch(user)
        self.event_changed(user, event, "created")
        return event

    def add_exception(
        self, user: User, event: Event, original_day: Any, override: Override | None
    ) -> None:
        """Cancel (override None) or modify one occurrence of a series."""
        if event.recurrence is None or not is_occurrence_date(event, original_day):
            raise ValueError(f"{original_day} is not an occurrence of {event.subject!r}")
        event.exceptions[original_day] = override
        self.touch(user, event)
        self.event_changed(user, event, "updated")

    def new_event_id(self) -> str:
        import base64

        raw = b"\x00\x00\x0e\x00" + self.random.getrandbits(8 * 44).to_bytes(44, "big")
        return "AAMkA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def touch(self, user: User, event: Event | None = None) -> None:
        """Mark a user's calendar (the one holding ``event``; by default the default one) as
        changed so its cached expansion is rebuilt and delta sees a new version."""
        found = self.calendar_of(user, event.calendar) if event and event.calendar else None
        if found is not None:
            found.version += 1
        else:
            user.version += 1

    # -- calendars other than the default one (see graph_calendars.py) ----------------------

    def calendar_of(self, user: User, calendar_id: str) -> Calendar | None:
        """One of the user's secondary calendars, by id."""
        return next((c for c in user.calendars if c.id == calendar_id), None)

    def events_in(self, user: User, calendar: Calendar | None = None) -> list[Event]:
        """The events of one calendar (None: the default one)."""
        return user.events if calendar is None else calendar.events

    def all_events(self, user: User) -> list[Event]:
        """Every event of the mailbox: event ids are unique across its calendars
        (microsoft-graph-docs issue #391), so ``/events/{id}`` finds any of them."""
        return [*user.events, *(e for c in user.calendars for e in c.events)]

    def add_calendar(self, user: User, name: str, color: str = "auto") -> Calendar:
        """A new secondary calendar; raises ValueError when the mailbox has one of that name
        (folder names are unique, whatever their case)."""
        taken = {user.calendar_name.lower(), *(c.name.lower() for c in user.calendars)}
        if name.strip().lower() in taken:
            raise ValueError(f"a calendar named {name!r} already exists")
        import base64

        raw = b"\x00\x00\x0e\x01" + self.random.getrandbits(8 * 40).to_bytes(40, "big")
        calendar = Calendar(
            id="AAMkAD" + base64.urlsafe_b64encode(raw).decode().rstrip("="),
            name=name.strip(),
            color=color,
            change_key=base64.b64encode(self.random.getrandbits(144).to_bytes(18, "big")).decode(),
        )
        user.calendars.append(calendar)
        return calendar

    def drop_calendar(self, tenant: Tenant, user: User, calendar: Calendar) -> None:
        """Delete a secondary calendar with its events (no meeting messages: the folder goes
        to Deleted Items whole); subscriptions on it end (``Limits.deleted_calendar_…``)."""
        user.calendars.remove(calendar)
        for event in calendar.events:
            self.event_owners.pop(event.id, None)
        calendar.version += 1
        self.subscriptions.calendar_removed(tenant.id, user.id, calendar.id)

    def create_calendar_as_user(self, tenant: str | Tenant, user_ref: str, name: str) -> Calendar:
        """The user adds a calendar in Outlook. Raises KeyError (unknown user) or ValueError
        (the name is taken)."""
        _, user = self._mailbox_of(tenant, user_ref)
        return self.add_calendar(user, name)

    def delete_calendar_as_user(self, tenant: str | Tenant, user_ref: str, ref: str) -> Calendar:
        """The user deletes a (secondary) calendar in Outlook, by id or name; its events go
        with it. Raises KeyError (unknown user or calendar)."""
        tenant, user = self._mailbox_of(tenant, user_ref)
        found = self.calendar_of(user, ref) or next(
            (c for c in user.calendars if c.name.lower() == ref.lower()), None
        )
        if found is None:
            raise KeyError(ref)
        self.drop_calendar(tenant, user, found)
        return found

    def event_changed(self, user: User, event: Event, change: str) -> None:
        """Every write to a mailbox reports here (``created``/``updated``/``deleted``), so that
        subscribed apps get a change notification (delta needs no report: it diffs)."""
        self.subscriptions.event_changed(user, event, change)

    def mailbox_index(self, user: User, calendar: Calendar | None = None) -> MailboxIndex:
        """The expansion of the default calendar (what getSchedule reads), or of ``calendar``."""
        holder: User | Calendar = user if calendar is None else calendar
        index = self._indexes.get(holder.id)
        if index is None or index.version != holder.version or index.user is not holder:
            index = MailboxIndex(holder)
            self._indexes[holder.id] = index
        return index

    def warm_calendars(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        tenant: str | Tenant | None = None,
    ) -> int:
        """Expand every mailbox over [start, end) now (default: a week back to five weeks
        ahead of ``now``) so benchmarks measure steady-state cost, not first-touch expansion.
        Returns the number of occurrences cached."""
        start = start or self.now - timedelta(weeks=1)
        end = end or self.now + timedelta(weeks=5)
        tenants = [self._resolve(tenant)] if tenant else list(self.tenants.values())
        return sum(
            len(self.mailbox_index(u).overlapping(start, end))
            for t in tenants
            for u in t.users.values()
        )

    # -- meetings (see meetings.py) ---------------------------------------------------------

    def respond(
        self, tenant: str | Tenant, event_id: str, attendee: str, response: str, comment: str = ""
    ) -> Event:
        """Make ``attendee`` answer a meeting (``accepted``, ``declined``,
        ``tentativelyAccepted``): the organizer's ``attendees[].status`` changes and the
        attendee's copy follows. ``event_id``: the organizer's or the attendee's event.
        Raises KeyError (unknown event/attendee) or ValueError (unknown response)."""
        from .meetings import respond

        return respond(self, self._resolve(tenant), event_id, attendee, response, comment)

    def invitations(
        self, tenant: str | Tenant, *, to: str | None = None, event_id: str | None = None
    ) -> list[SentMessage]:
        """The meeting messages Exchange "sent" for the tenant, oldest first."""
        sent = self._resolve(tenant).outbox
        return [
            m
            for m in sent
            if (to is None or m.to.lower() == to.lower())
            and (event_id is None or m.event_id == event_id)
        ]

    def set_online_meeting_providers(
        self, tenant: str | Tenant, providers: Iterable[str], user: str | None = None
    ) -> None:
        """Which online meeting providers calendars allow (``[]`` = Teams disabled): the
        whole tenant, or one mailbox when ``user`` is given."""
        tenant = self._resolve(tenant)
        allowed = tuple(providers)
        unknown = set(allowed) - {"teamsForBusiness", "skypeForBusiness", "skypeForConsumer"}
        if unknown:
            raise ValueError(f"unknown online meeting providers: {sorted(unknown)}")
        if user is None:
            tenant.online_meeting_providers = allowed
            return
        found = self.find_user(tenant, user) or self.find_mailbox(tenant, user)
        if found is None:
            raise KeyError(user)
        found.online_meeting_providers = allowed

    # -- sync: edits made in Outlook, delta tokens, subscriptions (see subscriptions.py) -----

    def create_event_as_user(
        self,
        tenant: str | Tenant,
        user_ref: str,
        body: dict[str, Any],
        calendar: str | None = None,
    ) -> Event:
        """The user creates an event in Outlook (not through Graph): ``body`` in Graph's event
        JSON, in the default calendar or ``calendar`` (a secondary one's id); attendees get
        invitations and subscribed apps a ``created`` notification."""
        from .event_body import fingerprint, parse_event_body
        from .meetings import create

        tenant, user = self._mailbox_of(tenant, user_ref)
        target = self.calendar_of(user, calendar) if calendar else None
        if calendar and target is None:
            raise KeyError(calendar)
        changes = parse_event_body(body)
        return create(self, tenant, user, changes, fingerprint(body), target)[0]

    def update_event_as_user(
        self, tenant: str | Tenant, user_ref: str, event_id: str, changes: dict[str, Any]
    ) -> Event:
        """The user edits an event in Outlook; ``changes`` as a Graph PATCH body. Raises
        KeyError (unknown user/event) or the sandbox's BadRequest (invalid changes)."""
        from .event_body import parse_event_body
        from .meetings import find_event, update

        tenant, user = self._mailbox_of(tenant, user_ref)
        event = find_event(user, event_id)
        if event is None:
            raise KeyError(event_id)
        return update(self, tenant, user, event, parse_event_body(changes))

    def delete_event_as_user(self, tenant: str | Tenant, user_ref: str, event_id: str) -> Event:
        """The user deletes an event in Outlook (an organizer's attendees get a cancellation)."""
        from .meetings import find_event, remove

        tenant, user = self._mailbox_of(tenant, user_ref)
        event = find_event(user, event_id)
        if event is None:
            raise KeyError(event_id)
        remove(self, tenant, user, event)
        return event

    def expire_delta_tokens(
        self, tenant: str | Tenant, user: str | None = None, *, reset: bool = False
    ) -> int:
        """Expire every calendarView delta token of the tenant (or one mailbox): the next call
        answers 410 ``syncStateNotFound``, or with ``reset`` 410 ``resyncRequired``."""
        tenant = self._resolve(tenant)
        prefix = f"{tenant.id}/"
        if user is not None:
            prefix += self._mailbox_of(tenant, user)[1].id
        return self.delta_tokens.expire(prefix, reset=reset)

    def deliver_notifications(self, *, force: bool = False) -> list[Delivery]:
        """Send every due notification now and wait for those in flight; ``force`` also sends
        scheduled retries at once, until each is delivered or dropped."""
        return self.notifications.deliver(force=force)

    def notification_deliveries(
        self, *, subscription_id: str | None = None, kind: str | None = None
    ) -> list[Delivery]:
        """Every POST made or queued (``kind``: change | lifecycle), oldest first."""
        return [
            d
            for d in list(self.notifications.deliveries)
            if (kind is None or d.kind == kind)
            and (
                subscription_id is None
                or any(i.get("subscriptionId") == subscription_id for i in d.items)
            )
        ]

    def list_subscriptions(self, tenant: str | Tenant | None = None) -> list[Subscription]:
        return self.subscriptions.listed(self._resolve(tenant).id if tenant else None)

    def expire_subscription_silently(
        self, subscription_id: str, *, keep_listed: bool = False
    ) -> Subscription:
        """Stop notifying without a lifecycle event: the subscription is gone (404), or with
        ``keep_listed`` still listed and renewable but dead. Raises KeyError."""
        return self.subscriptions.expire_silently(subscription_id, keep_listed=keep_listed)

    def emit_lifecycle(self, subscription_id: str, event: str) -> bool:
        """Send ``reauthorizationRequired``, ``subscriptionRemoved`` or ``missed`` now, with its
        effect; False when the subscription has no lifecycleNotificationUrl. Raises KeyError."""
        sub = self.subscriptions.items.get(subscription_id)
        if sub is None:
            raise KeyError(subscription_id)
        return self.subscriptions.lifecycle(sub, event)

    # -- consent, faults --------------------------------------------------------------------

    def grant_admin_consent(self, tenant: str | Tenant, client_id: str) -> None:
        """Record tenant-wide admin consent: the app's application permissions become roles."""
        tenant = self._resolve(tenant)
        tenant.grants[client_id] = tuple(self.apps[client_id].permissions)

    def revoke_consent(self, tenant: str | Tenant, client_id: str | None = None) -> None:
        """Remove the app's service principal from the tenant (all apps when client_id None)."""
        tenant = self._resolve(tenant)
        if client_id is None:
            tenant.grants.clear()
        else:
            tenant.grants.pop(client_id, None)
        self.subscriptions.consent_revoked(tenant.id, client_id)

    def set_faults(self, tenant: str | Tenant, **changes: Any) -> dict[str, Any]:
        tenant = self._resolve(tenant)
        tenant.faults.update(changes)
        return tenant.faults.as_dict()

    # -- internals --------------------------------------------------------------------------

    def _resolve(self, tenant: str | Tenant) -> Tenant:
        return tenant if isinstance(tenant, Tenant) else self.tenant(tenant)

    def _mailbox_of(self, tenant: str | Tenant, ref: str) -> tuple[Tenant, User]:
        tenant = self._resolve(tenant)
        user = self.find_user(tenant, ref) or self.find_mailbox(tenant, ref)
        if user is None:
            raise KeyError(ref)
        return tenant, user

    def _index_addresses(self, tenant: Tenant, user: User) -> None:
        for address in user.addresses():
            self._addresses[tenant.id][address] = user.id
