"""Inbound Microsoft Graph notifications: parse and verify, purely (no I/O, no database).

What arrives at our notification URL is untrusted until proven otherwise
(concepts/change-notifications-delivery-webhooks.md, "Processing the change notification"):

* the **validation handshake** — a POST with ``?validationToken=…`` — must be answered 200
  ``text/plain`` with the decoded token within 10 seconds: :func:`validation_token` finds it;
* every notification names its ``subscriptionId``; one we do not hold is rejected, and its
  ``clientState`` must equal the one we gave that subscription (compared in constant time,
  so timing does not reveal how much of a forged value was right);
* a notification is a **change** (``changeType`` created/updated/deleted of
  ``Users/{id}/Events/{id}``) or a **lifecycle** event (``reauthorizationRequired``,
  ``subscriptionRemoved``, ``missed`` — concepts/change-notifications-lifecycle-events.md).

A body that is not Graph's shape (not JSON, no ``value`` array, an item without
``subscriptionId``…) raises :class:`MalformedNotification`; a well-formed item that fails
verification is returned in ``rejected`` with the reason, never among the accepted ones, so
the endpoint can acknowledge the batch and log the forgery.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .parse import parse_graph_timestamp

MAX_BODY_BYTES = 1_000_000
CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
_EVENT_RESOURCE = re.compile(r"^/?users/(?P<user>[^/]+)/events/(?P<event>[^/]+)$", re.IGNORECASE)

ClientStates = Mapping[str, str] | Callable[[str], str | None]


class MalformedNotification(ValueError):
    """The body is not a Graph notification collection."""


class LifecycleEvent(StrEnum):
    REAUTHORIZATION_REQUIRED = "reauthorizationRequired"
    SUBSCRIPTION_REMOVED = "subscriptionRemoved"
    MISSED = "missed"


class RejectReason(StrEnum):
    UNKNOWN_SUBSCRIPTION = "unknown_subscription"
    CLIENT_STATE_MISMATCH = "client_state_mismatch"
    UNKNOWN_LIFECYCLE_EVENT = "unknown_lifecycle_event"


@dataclass(frozen=True)
class EventChange:
    """A verified change to one event: fetch it (or run a delta round) to learn what changed."""

    subscription_id: str
    tenant_id: str | None
    change_type: str  # created | updated | deleted
    user_id: str | None
    event_id: str
    etag: str | None
    resource: str
    subscription_expires: datetime | None


@dataclass(frozen=True)
class LifecycleNotice:
    """A verified lifecycle event: reauthorize, recreate, or resync."""

    subscription_id: str
    tenant_id: str | None
    event: LifecycleEvent
    subscription_expires: datetime | None


@dataclass(frozen=True)
class Rejected:
    subscription_id: str
    reason: RejectReason
    detail: str = ""


@dataclass(frozen=True)
class NotificationBatch:
    changes: tuple[EventChange, ...] = ()
    lifecycle: tuple[LifecycleNotice, ...] = ()
    rejected: tuple[Rejected, ...] = ()

    @property
    def all_verified(self) -> bool:
        return not self.rejected


def validation_token(query: Mapping[str, str]) -> str | None:
    """The token of a validation request (already URL-decoded by the framework), to be sent
    back as is, 200 ``text/plain``; None for an ordinary notification."""
    return query.get("validationToken")


def parse_notifications(
    body: bytes | str, client_states: ClientStates, *, max_bytes: int = MAX_BODY_BYTES
) -> NotificationBatch:
    """Parse and verify a notification POST. ``client_states`` gives the clientState we set
    for a subscription id (a dict, or a callable returning None for unknown ids)."""
    items = _items(body, max_bytes)
    lookup = client_states.get if isinstance(client_states, Mapping) else client_states
    changes: list[EventChange] = []
    lifecycle: list[LifecycleNotice] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        sub_id = _text(item, "subscriptionId", index)
        problem = _verify(item, sub_id, lookup(sub_id))
        if problem is not None:
            rejected.append(problem)
        elif "lifecycleEvent" in item:
            notice = _lifecycle(item, sub_id, index)
            if isinstance(notice, Rejected):
                rejected.append(notice)
            else:
                lifecycle.append(notice)
        else:
            changes.append(_change(item, sub_id, index))
    return NotificationBatch(tuple(changes), tuple(lifecycle), tuple(rejected))


def _items(body: bytes | str, max_bytes: int) -> list[dict[str, Any]]:
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > max_bytes:
        raise MalformedNotification(f"notification body over {max_bytes} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedNotification("notification body is not JSON") from exc
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise MalformedNotification("notification body has no 'value' array")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise MalformedNotification(f"value[{index}] is not an object")
    return value


def _text(item: dict[str, Any], key: str, index: int) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedNotification(f"value[{index}].{key} is missing or not a string")
    return value


def _verify(item: dict[str, Any], sub_id: str, expected: str | None) -> Rejected | None:
    if expected is None:
        return Rejected(sub_id, RejectReason.UNKNOWN_SUBSCRIPTION)
    given = item.get("clientState")
    given_bytes = given.encode() if isinstance(given, str) else b""
    if not hmac.compare_digest(expected.encode(), given_bytes):
        return Rejected(sub_id, RejectReason.CLIENT_STATE_MISMATCH)
    return None


def _expires(item: dict[str, Any], index: int) -> datetime | None:
    raw = item.get("subscriptionExpirationDateTime")
    if raw is None:
        return None
    try:
        return parse_graph_timestamp(str(raw))
    except ValueError as exc:
        raise MalformedNotification(
            f"value[{index}].subscriptionExpirationDateTime is not a timestamp"
        ) from exc


def _tenant(item: dict[str, Any]) -> str | None:
    tenant = item.get("tenantId")
    return tenant if isinstance(tenant, str) else None


def _lifecycle(item: dict[str, Any], sub_id: str, index: int) -> LifecycleNotice | Rejected:
    raw = item.get("lifecycleEvent")
    try:
        event = LifecycleEvent(raw)
    except ValueError:
        return Rejected(sub_id, RejectReason.UNKNOWN_LIFECYCLE_EVENT, str(raw))
    return LifecycleNotice(sub_id, _tenant(item), event, _expires(item, index))


def _change(item: dict[str, Any], sub_id: str, index: int) -> EventChange:
    change = _text(item, "changeType", index)
    if change not in CHANGE_TYPES:
        raise MalformedNotification(f"value[{index}].changeType {change!r} is not a change type")
    resource = _text(item, "resource", index)
    data = item.get("resourceData")
    if data is not None and not isinstance(data, dict):
        raise MalformedNotification(f"value[{index}].resourceData is not an object")
    data = data or {}
    found = _EVENT_RESOURCE.match(resource)
    event_id = data.get("id") if isinstance(data.get("id"), str) else None
    event_id = event_id or (found.group("event") if found else None)
    if not event_id:
        raise MalformedNotification(f"value[{index}] names no event id")
    user = found.group("user").split("@", 1)[0] if found else None  # users/{id}@{tenant}/…
    etag = data.get("@odata.etag")
    return EventChange(
        subscription_id=sub_id,
        tenant_id=_tenant(item),
        change_type=change,
        user_id=user,
        event_id=event_id,
        etag=etag if isinstance(etag, str) else None,
        resource=resource,
        subscription_expires=_expires(item, index),
    )
