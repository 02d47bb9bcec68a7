"""Change and lifecycle notifications out: batching, Graph's 3-second budget, retries, throttling.

Per microsoft-graph-docs-contrib ``concepts/change-notifications-delivery-webhooks.md``:

* notifications are POSTed as ``{"value": [changeNotification, …]}`` (several changes can share
  one POST, ``Limits.notification_batch_size`` ⚠), ``Content-Type: application/json``;
* a delivery succeeds on a 2xx within 3 seconds (``Limits.notification_timeout``); otherwise
  Graph retries (for up to 4 hours; here ``Limits.notification_retry_delays``) and then
  discards it — the sandbox then sends a ``missed`` lifecycle notification
  (``Limits.missed_on_drop``; lifecycle-events.md: "some change notifications weren't
  delivered");
* "If the publishing time is greater than 2900 ms, the response is considered slow"; after 100
  notifications an endpoint with ≥ 10 % slow answers is throttled (notifications wait 10
  minutes), with ≥ 15 % its notifications are dropped; the counts are flushed every 10
  minutes. Every threshold is a ``Limits`` field so tests can reach them quickly.

Deliveries run on daemon threads (``Limits.notification_delivery == "background"``) or only when
:meth:`NotificationOutbox.deliver` is called ("manual"), as the Zoom sandbox's webhooks do;
every attempt is recorded and counted in ``sandbox.stats.notifications``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .sandbox import MicrosoftSandbox
    from .subscriptions import Subscription


@dataclass
class Attempt:
    at: datetime
    status: int | None  # None: transport error or timeout
    error: str = ""
    elapsed_ms: int = 0
    slow: bool = False


@dataclass
class Delivery:
    """One POST (with its retries) of notifications to one URL."""

    id: str
    url: str
    kind: str  # change | lifecycle
    items: list[dict[str, Any]]
    created_at: datetime
    status: str = "pending"  # pending | sending | retrying | delivered | dropped | blocked
    attempts: list[Attempt] = field(default_factory=list)
    next_attempt_at: float = 0.0

    def body(self) -> bytes:
        return json.dumps({"value": self.items}, separators=(",", ":")).encode()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "kind": self.kind,
            "status": self.status,
            "createdAt": self.created_at.isoformat(),
            "attempts": [
                {
                    "at": a.at.isoformat(),
                    "status": a.status,
                    "error": a.error,
                    "elapsedMs": a.elapsed_ms,
                    "slow": a.slow,
                }
                for a in self.attempts
            ],
            "body": {"value": self.items},
        }


@dataclass
class Health:
    """Slow answers of one endpoint in the current counting window."""

    since: float
    sent: int = 0
    slow: int = 0


class NotificationOutbox:
    """Queue, sender and log of every notification the sandbox sends."""

    def __init__(self, sandbox: MicrosoftSandbox) -> None:
        self.sandbox = sandbox
        self.deliveries: list[Delivery] = []
        self.health: dict[str, Health] = {}
        self._cond = threading.Condition()
        self._in_flight = 0
        self._timer_due: float | None = None  # when the scheduled background run starts

    # -- queueing -------------------------------------------------------------------------------

    def queue(self, sub: Subscription, kind: str, item: dict[str, Any]) -> Delivery:
        """Add ``item`` to a pending POST for the subscription's URL (or start one)."""
        url = sub.notification_url if kind == "change" else sub.lifecycle_url
        assert url is not None, "lifecycle notifications need a lifecycleNotificationUrl"
        limits, stats, now = (
            self.sandbox.limits,
            self.sandbox.stats.notifications,
            self.sandbox.clock(),
        )
        stats[f"queued_{kind}"] += 1
        verdict = self.endpoint_state(url)
        with self._cond:
            delivery = next(
                (
                    d
                    for d in self.deliveries
                    if d.status == "pending"
                    and not d.attempts
                    and d.url == url
                    and d.kind == kind
                    and len(d.items) < limits.notification_batch_size
                ),
                None,
            )
            if delivery is None:
                delay = limits.slow_endpoint_delay if verdict == "throttled" else 0.0
                delivery = Delivery(
                    secrets.token_hex(8), url, kind, [], self._now(), next_attempt_at=now + delay
                )
                self.deliveries.append(delivery)
            delivery.items.append(item)
        if verdict == "dropping":
            self._drop(delivery)
        elif limits.notification_delivery == "background":
            self._spawn(max(0.0, delivery.next_attempt_at - now))
        return delivery

    def endpoint_state(self, url: str) -> str:
        """ok, throttled (≥ 10 % slow) or dropping (≥ 15 % slow), after enough samples."""
        limits, now = self.sandbox.limits, self.sandbox.clock()
        with self._cond:
            health = self.health.get(url)
            if health is None or now - health.since > limits.slow_endpoint_window:
                self.health[url] = Health(now)
                return "ok"
        if health.sent < max(1, limits.slow_endpoint_min_samples):
            return "ok"
        percent = 100.0 * health.slow / health.sent
        if percent >= limits.slow_endpoint_drop_percent:
            return "dropping"
        return "throttled" if percent >= limits.slow_endpoint_throttle_percent else "ok"

    def _spawn(self, delay: float) -> None:
        """Schedule a background run, unless one already starts at least as early (a burst
        of changes shares one thread, and one POST where they fit in a batch)."""
        due = self.sandbox.clock() + delay
        with self._cond:
            if self._timer_due is not None and self._timer_due <= due:
                return
            self._timer_due = due
        timer = threading.Timer(delay, self._background)
        timer.daemon = True
        timer.start()

    def _background(self) -> None:
        with self._cond:
            self._timer_due = None
        self.deliver(force=False, wait=False)
        with self._cond:
            waiting = [d.next_attempt_at for d in self.deliveries if d.status == "retrying"]
        if waiting and self.sandbox.limits.notification_delivery == "background":
            self._spawn(max(0.0, min(waiting) - self.sandbox.clock()))

    # -- sending --------------------------------------------------------------------------------

    def deliver(self, *, force: bool = False, wait: bool = True) -> list[Delivery]:
        """Attempt every due delivery (all of them with ``force``, repeatedly, until none is
        left to retry). With ``wait``, first let deliveries already in flight finish."""
        sent: dict[str, Delivery] = {}  # each delivery once, however often it was retried
        while True:
            with self._cond:
                while wait and self._in_flight:
                    self._cond.wait(timeout=30)
                now = self.sandbox.clock()
                due = [
                    d
                    for d in self.deliveries
                    if d.status in ("pending", "retrying") and (force or d.next_attempt_at <= now)
                ]
                for delivery in due:
                    delivery.status = "sending"
                self._in_flight += len(due)
            if not due:
                return list(sent.values())
            for delivery in due:
                try:
                    self._attempt(delivery)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
            sent.update((d.id, d) for d in due)
            if not force:
                return list(sent.values())

    def _attempt(self, delivery: Delivery) -> None:
        limits = self.sandbox.limits
        if delivery.kind == "change":  # a subscription deleted or dead since: nothing to send
            live = [i for i in delivery.items if self._live(i["subscriptionId"])]
            if not live:
                delivery.status = "blocked"
                return
            delivery.items = live
        status, error, elapsed = self._post(delivery.url, delivery.body())
        slow = elapsed > limits.notification_slow_after * 1000 or status is None
        delivery.attempts.append(Attempt(self._now(), status, error, elapsed, slow))
        self._count(delivery.url, slow)
        if status is not None and 200 <= status < 300 and not error:
            delivery.status = "delivered"
            self.sandbox.stats.notifications["delivered"] += len(delivery.items)
            return
        self.sandbox.stats.notifications["failed_attempts"] += 1
        retries = len(delivery.attempts) - 1
        if retries < len(limits.notification_retry_delays):
            delivery.status = "retrying"
            delivery.next_attempt_at = (
                self.sandbox.clock() + limits.notification_retry_delays[retries]
            )
        else:
            self._drop(delivery)

    def _live(self, sub_id: str) -> bool:
        hub = self.sandbox.subscriptions
        sub = hub.items.get(sub_id)
        return sub is not None and hub.delivering(sub)

    def _drop(self, delivery: Delivery) -> None:
        """Graph gives up on ``delivery``; its subscriptions hear ``missed`` (once each)."""
        delivery.status = "dropped"
        self.sandbox.stats.notifications["dropped"] += len(delivery.items)
        if delivery.kind != "change" or not self.sandbox.limits.missed_on_drop:
            return
        hub = self.sandbox.subscriptions
        for sub_id in dict.fromkeys(i["subscriptionId"] for i in delivery.items):
            sub = hub.items.get(sub_id)
            if sub is not None and sub.lifecycle_url and hub.lifecycle(sub, "missed"):
                self.sandbox.stats.notifications["missed_sent"] += 1

    def _count(self, url: str, slow: bool) -> None:
        stats = self.sandbox.stats.notifications
        stats["posts"] += 1
        stats["slow"] += int(slow)
        with self._cond:
            health = self.health.setdefault(url, Health(self.sandbox.clock()))
            health.sent += 1
            health.slow += int(slow)

    def _post(self, url: str, body: bytes) -> tuple[int | None, str, int]:
        headers = {"content-type": "application/json; charset=utf-8"}
        started = time.perf_counter()
        try:
            with httpx.Client(timeout=self.sandbox.limits.notification_timeout) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, "timeout: no answer within the 3-second budget", _ms(started)
        except httpx.HTTPError as exc:
            return None, f"transport error: {exc!r}", _ms(started)
        return response.status_code, "", _ms(started)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.sandbox.clock(), UTC)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
