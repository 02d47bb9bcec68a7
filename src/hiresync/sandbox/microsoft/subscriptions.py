"""Change-notification subscriptions: Graph's rules, their lifecycle, and what triggers them.

Rules (microsoft-graph-docs-contrib ``api-reference/v1.0/resources/subscription.md``,
``concepts/change-notifications-delivery-webhooks.md``, ``…-lifecycle-events.md``):

* ``resource`` ``users/{id|upn}/events``, ``…/calendar/events``, ``…/calendars/{id}/events``
  (``me/events`` with a delegated token); ``changeType`` a comma list of created, updated,
  deleted; ``clientState`` at most 128 characters, echoed in every notification. ``…/events``
  covers "all events in a user's mailbox" (outlook-change-notifications-overview.md), every
  calendar of it; ``…/calendar/events`` only the default calendar, ``…/calendars/{id}/events``
  only that one (an unknown calendar: 404). A calendar deleted ends its subscriptions
  (``Limits.deleted_calendar_subscriptions`` ⚠);
* ``notificationUrl`` and ``lifecycleNotificationUrl`` must be https. The sandbox's one
  concession for local runs: ``Limits.http_notification_urls`` ("localhost" by default) also
  accepts http on the loopback; "never" is Graph's own rule;
* ``expirationDateTime`` at most 10,080 minutes ahead for Outlook events (older docs: 4,230 ⚠;
  400 ``ExtensionError`` "Subscription expiration can only be N minutes in the future.", the
  answer seen in microsoft-graph-docs issue #2988); a value under 45 minutes is set to 45;
* lifecycle: ``reauthorizationRequired`` (delivery pauses after a grace period until
  ``POST …/reauthorize`` or a renewal), ``subscriptionRemoved`` (the subscription is gone),
  ``missed`` (notifications were dropped); a subscription without ``lifecycleNotificationUrl``
  gets none of them.

A subscription can also die *silently* (:meth:`SubscriptionHub.expire_silently`): the failure
the issue's periodic reconciliation exists for.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .event_wire import etag, stamp
from .model import Event, Limits, User

if TYPE_CHECKING:
    from .sandbox import MicrosoftSandbox

CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
WRITABLE = frozenset(
    {
        "changeType",
        "notificationUrl",
        "lifecycleNotificationUrl",
        "resource",
        "expirationDateTime",
        "clientState",
        "includeResourceData",
        "latestSupportedTlsVersion",
        "encryptionCertificate",
        "encryptionCertificateId",
        "notificationQueryOptions",
        "notificationUrlAppId",
    }
)
PAYLOAD_ERROR = (
    "Could not process subscription creation payload. Are all property names spelled and "
    "camelCased properly?"
)
_RESOURCE = re.compile(
    r"^/?(?:users/(?P<uid>[^/]+)|(?P<me>me))/"
    r"(?:(?P<default>calendar)/|calendars/(?P<cid>[^/]+)/)?events/?$",
    re.IGNORECASE,
)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class SubscriptionError(Exception):
    """A Graph error answer for a subscription request."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(message: str, code: str = "InvalidRequest") -> SubscriptionError:
    return SubscriptionError(400, code, message)


@dataclass
class Subscription:
    id: str
    tenant_id: str
    client_id: str
    creator_id: str
    resource: str  # as the client wrote it
    user_id: str  # the mailbox watched
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    created: datetime
    tls_version: str = "v1_2"
    state: str = "active"  # active | stalled (silently dead, still listed)
    reauthorize_by: float | None = None  # delivery pauses after this (reauthorizationRequired)
    calendar_id: str | None = None  # the one calendar watched; None: all of the mailbox


@dataclass(frozen=True)
class CreateRequest:
    """A create body that passed every rule but the validation handshake."""

    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    resource: str
    user_ref: str | None  # None: ``me``
    calendar_id: str | None
    expires: datetime
    client_state: str | None
    tls_version: str
    default_calendar: bool = False  # ``…/calendar/events``


def _required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value in (None, ""):
        raise bad(f"{name} is a required property for subscription creation.")
    return value


def check_url(url: Any, name: str, limits: Limits) -> str:
    """https, or http on the loopback when ``Limits.http_notification_urls`` allows it."""
    parts = urlsplit(str(url))
    if parts.scheme == "https" and parts.hostname:
        return str(url)
    mode, host = limits.http_notification_urls, parts.hostname
    if (
        parts.scheme == "http"
        and host
        and (mode == "any" or (mode == "localhost" and host in LOOPBACK))
    ):
        return str(url)
    raise bad(f"Subscription validation request failed. The {name} must use https.")


def change_types(raw: Any) -> tuple[str, ...]:
    found = tuple(part.strip() for part in str(raw).split(",") if part.strip())
    unknown = [part for part in found if part not in CHANGE_TYPES]
    if not found or unknown:
        raise bad(f"Invalid change type: '{raw}'. Use created, updated or deleted.")
    return tuple(dict.fromkeys(found))


def expiry(raw: Any, limits: Limits, now: datetime) -> datetime:
    """The expiration Graph keeps: over the maximum is refused, under the minimum raised."""
    try:
        text = str(raw).strip().replace("Z", "+00:00").replace("z", "+00:00")
        text = re.sub(r"(\.\d{1,6})\d*", r"\1", text)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise bad(PAYLOAD_ERROR) from exc
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if moment - now > timedelta(minutes=limits.subscription_max_minutes):
        raise bad(
            f"Subscription expiration can only be {limits.subscription_max_minutes} minutes "
            "in the future.",
            "ExtensionError",
        )
    return max(moment, now + timedelta(minutes=limits.subscription_min_minutes))


def parse_create(body: Any, limits: Limits, now: datetime) -> CreateRequest:
    """Check a ``POST /subscriptions`` body against Graph's rules (not the handshake)."""
    if not isinstance(body, dict) or set(body) - WRITABLE - {"@odata.type"}:
        raise bad(PAYLOAD_ERROR)
    kinds = change_types(_required(body, "changeType"))
    url = check_url(_required(body, "notificationUrl"), "notificationUrl", limits)
    lifecycle = body.get("lifecycleNotificationUrl")
    if lifecycle is not None:
        lifecycle = check_url(lifecycle, "lifecycleNotificationUrl", limits)
    resource = str(_required(body, "resource"))
    found = _RESOURCE.match(resource.split("?", 1)[0])
    if found is None or "?" in resource:
        raise bad(f"The resource '{resource}' is not supported for change notifications.")
    expires = expiry(_required(body, "expirationDateTime"), limits, now)
    state = body.get("clientState")
    if state is not None and (not isinstance(state, str) or len(state) > 128):
        raise bad("The clientState property can be at most 128 characters long.")
    if body.get("includeResourceData"):
        raise bad("Rich notifications need an encryptionCertificate; the sandbox has none.")
    return CreateRequest(
        kinds,
        url,
        lifecycle,
        resource,
        None if found.group("me") else found.group("uid"),
        found.group("cid"),
        expires,
        state,
        str(body.get("latestSupportedTlsVersion") or "v1_2"),
        bool(found.group("default")),
    )


def subscription_json(sub: Subscription, root: str) -> dict[str, Any]:
    return {
        "@odata.context": f"{root}/$metadata#subscriptions/$entity",
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": sub.client_id,
        "changeType": ",".join(sub.change_types),
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": sub.lifecycle_url,
        "expirationDateTime": stamp(sub.expires),
        "creatorId": sub.creator_id,
        "includeResourceData": False,
        "latestSupportedTlsVersion": sub.tls_version,
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
    }


def change_payload(sub: Subscription, user: User, event: Event, change: str) -> dict[str, Any]:
    """One ``changeNotification`` (a basic one: the id, no resource data)."""
    resource = f"Users/{user.id}/Events/{event.id}"
    data: dict[str, Any] = {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource}
    if change != "deleted":
        data["@odata.etag"] = etag(event)
    data["id"] = event.id
    payload: dict[str, Any] = {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": stamp(sub.expires),
    }
    if sub.client_state is not None:
        payload["clientState"] = sub.client_state
    return payload | {
        "changeType": change,
        "resource": resource,
        "tenantId": sub.tenant_id,
        "resourceData": data,
    }


def lifecycle_payload(sub: Subscription, event: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": stamp(sub.expires),
        "tenantId": sub.tenant_id,
    }
    if sub.client_state is not None:
        payload["clientState"] = sub.client_state
    return payload | {"lifecycleEvent": event}


@dataclass
class SubscriptionHub:
    """Every subscription of the sandbox, and the triggers that notify them."""

    sandbox: MicrosoftSandbox
    items: dict[str, Subscription] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sandbox.clock(), UTC)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.sandbox.random.getrandbits(128), version=4))

    def add(self, sub: Subscription) -> Subscription:
        with self.lock:
            self.items[sub.id] = sub
        return sub

    def find(
        self, sub_id: str, tenant_id: str | None = None, client_id: str | None = None
    ) -> Subscription | None:
        """A subscription that still exists (expired ones are dropped on the way)."""
        self._sweep()
        sub = self.items.get(sub_id)
        if sub is None or (tenant_id and sub.tenant_id != tenant_id):
            return None
        return None if client_id and sub.client_id != client_id else sub

    def listed(
        self, tenant_id: str | None = None, client_id: str | None = None
    ) -> list[Subscription]:
        self._sweep()
        return [
            s
            for s in list(self.items.values())
            if (tenant_id is None or s.tenant_id == tenant_id)
            and (client_id is None or s.client_id == client_id)
        ]

    def delivering(self, sub: Subscription) -> bool:
        """Whether change notifications still flow (not stalled, expired or paused)."""
        if sub.state != "active" or sub.expires <= self.now() or sub.id not in self.items:
            return False
        return sub.reauthorize_by is None or self.sandbox.clock() <= sub.reauthorize_by

    def remove(self, sub_id: str) -> Subscription | None:
        with self.lock:
            return self.items.pop(sub_id, None)

    def _sweep(self) -> None:
        now = self.now()
        with self.lock:
            for sub_id in [k for k, s in self.items.items() if s.expires <= now]:
                del self.items[sub_id]

    # -- triggers ------------------------------------------------------------------------------

    def event_changed(self, user: User, event: Event, change: str) -> None:
        """Queue a notification for every live subscription on ``user``'s events."""
        if not self.items:
            return
        held_in = event.calendar or None
        for sub in self.listed():
            if sub.user_id != user.id or change not in sub.change_types:
                continue
            if sub.calendar_id is not None and sub.calendar_id != (held_in or _default_id(user)):
                continue
            if not self.delivering(sub):
                self.sandbox.stats.notifications["lost_while_paused"] += 1
                continue
            outbox = self.sandbox.notifications
            outbox.queue(sub, "change", change_payload(sub, user, event, change))
            repeat = self.sandbox.limits.duplicate_updated_rate
            if change != "deleted" and repeat and self.sandbox.random.random() < repeat:
                outbox.queue(sub, "change", change_payload(sub, user, event, "updated"))

    def lifecycle(self, sub: Subscription, event: str) -> bool:
        """Send ``event`` (when the subscription has a lifecycle URL) and apply its effect."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycle event must be one of {', '.join(LIFECYCLE_EVENTS)}")
        sent = sub.lifecycle_url is not None
        if sent:
            self.sandbox.notifications.queue(sub, "lifecycle", lifecycle_payload(sub, event))
        if event == "subscriptionRemoved":
            self.remove(sub.id)
        elif event == "reauthorizationRequired" and sub.reauthorize_by is None:
            sub.reauthorize_by = self.sandbox.clock() + self.sandbox.limits.reauthorization_grace
        return sent

    def expire_silently(self, sub_id: str, *, keep_listed: bool = False) -> Subscription:
        """Stop delivering without a word: gone (GET answers 404), or with ``keep_listed``
        still listed as if alive."""
        sub = self.items.get(sub_id)
        if sub is None:
            raise KeyError(sub_id)
        if keep_listed:
            sub.state = "stalled"
        else:
            self.remove(sub_id)
        return sub

    def consent_revoked(self, tenant_id: str, client_id: str | None) -> None:
        """An admin took the app's permissions away: every subscription must reauthorize."""
        for sub in self.listed(tenant_id):
            if client_id is None or sub.client_id == client_id:
                self.lifecycle(sub, "reauthorizationRequired")

    def calendar_removed(self, tenant_id: str, user_id: str, calendar_id: str) -> None:
        """A calendar was deleted: the subscriptions on it end (⚠ how: see ``Limits``)."""
        for sub in self.listed(tenant_id):
            if sub.user_id != user_id or sub.calendar_id != calendar_id:
                continue
            if self.sandbox.limits.deleted_calendar_subscriptions == "removed":
                self.lifecycle(sub, "subscriptionRemoved")
            else:
                self.remove(sub.id)

    def user_removed(self, tenant_id: str, user_id: str) -> None:
        for sub in self.listed(tenant_id):
            if sub.user_id == user_id:
                self.lifecycle(sub, "subscriptionRemoved")


def _default_id(user: User) -> str:
    from .graph_events import calendar_id  # the routes' module, loaded by then

    return calendar_id(user)
