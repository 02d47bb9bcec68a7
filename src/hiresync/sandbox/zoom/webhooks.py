"""Webhooks out: signed event notifications, endpoint validation, Zoom's retry rules.

Per developers.zoom.us/docs/api/webhooks ("Using webhooks"):

* every POST carries ``x-zm-request-timestamp`` (seconds) and ``x-zm-signature`` =
  ``v0=`` + hex HMAC-SHA256(secret token, ``v0:{timestamp}:{raw body}``), with
  ``user-agent: Zoom Marketplace/1.0a`` and ``content-type: application/json; charset=utf-8``;
* ``endpoint.url_validation`` sends ``payload.plainToken``; the endpoint must answer 200/204
  within 3 s with ``{plainToken, encryptedToken: hex HMAC-SHA256(secret, plainToken)}``;
* a delivery succeeds on 2xx within 3 s; it is retried three times, only for status ≥ 500 and
  transport errors/timeouts (real delays +5, +20, +60 min; here ``limits.webhook_retry_delays``);
  3xx and 4xx are never retried.

Each retry is signed afresh with the current timestamp (the body, and its ``event_ts``, stay the
same). Deliveries run on daemon threads (``limits.webhook_delivery == "background"``) or only
when :meth:`WebhookOutbox.deliver` is called ("manual"); either way every attempt is recorded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from .model import App, Attempt, Delivery, Meeting, User, ValidationResult
from .wire import encrypted_token, sign, zoom_datetime

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox

EVENTS = ("meeting.updated", "meeting.deleted", "app_deauthorized")
USER_AGENT = "Zoom Marketplace/1.0a"


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def encode(body: dict[str, Any]) -> bytes:
    """Compact JSON, as Zoom sends it; the signature covers exactly these bytes."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def meeting_event_payload(
    event: str,
    meeting: Meeting,
    host: User,
    operator: User,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """``meeting.updated`` carries only what changed (``object``/``old_object`` with ``id`` and
    ``uuid``); ``meeting.deleted`` the meeting's summary (docs: Meetings webhooks).
    ``operation`` is ``all`` for a whole meeting ⚠ (``single`` is one occurrence)."""
    payload: dict[str, Any] = {
        "account_id": host.account_id,
        "operator": operator.email,
        "operator_id": operator.id,
        "operation": "all",
    }
    ids = {"id": meeting.id, "uuid": meeting.uuid}
    if event == "meeting.updated":
        payload["object"] = ids | (new or {})
        payload["old_object"] = ids | (old or {})
        payload["time_stamp"] = _ms(now)
    else:
        payload["object"] = ids | {
            "host_id": meeting.host_id,
            "topic": meeting.topic,
            "type": meeting.type,
            "start_time": zoom_datetime(meeting.start_time) if meeting.start_time else "",
            "duration": meeting.duration,
            "timezone": meeting.timezone,
        }
    return payload


class WebhookOutbox:
    """Queue, sender and log of every event the sandbox sends."""

    def __init__(self, sandbox: ZoomSandbox) -> None:
        self.sandbox = sandbox
        self.deliveries: list[Delivery] = []
        self.validations: list[ValidationResult] = []
        self._cond = threading.Condition()
        self._in_flight = 0

    # -- queueing -----------------------------------------------------------------------------

    def emit(
        self, event: str, payload: dict[str, Any], client_ids: Iterable[str]
    ) -> list[Delivery]:
        """Queue ``event`` for each app subscribed to it; returns the new deliveries."""
        now = self.sandbox.now()
        made = []
        for client_id in client_ids:
            app = self.sandbox.apps.get(client_id)
            if app is None or app.webhook is None or event not in app.webhook.events:
                continue
            body = {"event": event, "payload": payload, "event_ts": _ms(now)}
            made.append(self._queue(app, event, body, now))
        return made

    def emit_deauthorized(self, user: User, client_id: str) -> list[Delivery]:
        """``app_deauthorized`` as the Marketplace spec has it: everything inside ``payload``,
        ``event_ts`` included (``signature`` is a unique id for this deauthorization)."""
        app = self.sandbox.apps.get(client_id)
        if app is None or app.webhook is None or "app_deauthorized" not in app.webhook.events:
            return []
        now = self.sandbox.now()
        payload = {
            "account_id": user.account_id,
            "user_id": user.id,
            "signature": hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
            "deauthorization_time": now.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{now.microsecond // 1000:03d}Z",
            "client_id": client_id,
            "event_ts": _ms(now),
        }
        return [
            self._queue(
                app, "app_deauthorized", {"event": "app_deauthorized", "payload": payload}, now
            )
        ]

    def _queue(self, app: App, event: str, body: dict[str, Any], now: datetime) -> Delivery:
        assert app.webhook is not None
        delivery = Delivery(
            id=secrets.token_hex(8),
            client_id=app.client_id,
            event=event,
            url=app.webhook.endpoint_url,
            body=encode(body),
            created_at=now,
            next_attempt_at=self.sandbox.clock(),
        )
        with self._cond:
            self.deliveries.append(delivery)
        if self.sandbox.limits.webhook_delivery == "background":
            self._spawn(0.0)
        return delivery

    def _spawn(self, delay: float) -> None:
        timer = threading.Timer(max(delay, 0.0), self._background)
        timer.daemon = True
        timer.start()

    def _background(self) -> None:
        self.deliver(force=False, wait=False)
        with self._cond:
            waiting = [d.next_attempt_at for d in self.deliveries if d.status == "retrying"]
        if waiting and self.sandbox.limits.webhook_delivery == "background":
            self._spawn(min(waiting) - self.sandbox.clock())

    # -- sending ------------------------------------------------------------------------------

    def deliver(self, *, force: bool = False, wait: bool = True) -> list[Delivery]:
        """Attempt every due delivery (all pending ones with ``force``, repeatedly, until none
        is left to retry). With ``wait``, first let deliveries already in flight finish."""
        sent: list[Delivery] = []
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
                return sent
            for delivery in due:
                try:
                    self._attempt(delivery)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
            sent += due
            if not force:
                return sent

    def _attempt(self, delivery: Delivery) -> None:
        app = self.sandbox.apps[delivery.client_id]
        subscription = app.webhook
        if subscription is None or subscription.endpoint_url != delivery.url:
            delivery.status = "blocked"  # the subscription changed before it was sent
            return
        limits = self.sandbox.limits
        if subscription.validated is None and limits.validate_before_first_delivery:
            self.validate(app)
        if subscription.validated is False:
            delivery.status = "blocked"  # Zoom keeps no subscription to a failing endpoint
            return
        status, error, elapsed = self._post(delivery.url, delivery.body, subscription.secret_token)
        delivery.attempts.append(Attempt(self.sandbox.now(), status, error, elapsed))
        if status is not None and 200 <= status < 300:
            delivery.status = "delivered"
            return
        retries_used = len(delivery.attempts) - 1
        retryable = status is None or status >= 500
        if retryable and retries_used < len(limits.webhook_retry_delays):
            delivery.status = "retrying"
            delivery.next_attempt_at = (
                self.sandbox.clock() + limits.webhook_retry_delays[retries_used]
            )
        else:
            delivery.status = "failed"

    def _post(self, url: str, body: bytes, secret: str) -> tuple[int | None, str, int]:
        timestamp = str(int(self.sandbox.clock()))
        headers = {
            "content-type": "application/json; charset=utf-8",
            "user-agent": USER_AGENT,
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(secret, timestamp, body),
            "x-zm-request-id": secrets.token_hex(18),
            "x-zm-trackingid": f"v=2.0;clid=us05;rid=WH_{secrets.token_hex(12)}",
        }
        started = time.perf_counter()
        try:
            with httpx.Client(timeout=self.sandbox.limits.webhook_timeout) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, "ReadTimeOut(-1)", int((time.perf_counter() - started) * 1000)
        except httpx.HTTPError as exc:
            return (
                None,
                f"ConnectionRefused(-2): {exc}",
                int((time.perf_counter() - started) * 1000),
            )
        return response.status_code, "", int((time.perf_counter() - started) * 1000)

    # -- endpoint validation --------------------------------------------------------------------

    def validate(self, app: App) -> ValidationResult:
        """Challenge-response check: passes only on 200/204 within the timeout with the right
        ``plainToken`` and ``encryptedToken``. The result is recorded on the subscription."""
        subscription = app.webhook
        if subscription is None:
            raise ValueError(f"app {app.client_id} has no event subscription")
        plain = secrets.token_urlsafe(16)[:22]
        body = encode(
            {
                "payload": {"plainToken": plain},
                "event_ts": _ms(self.sandbox.now()),
                "event": "endpoint.url_validation",
            }
        )
        timestamp = str(int(self.sandbox.clock()))
        headers = {
            "content-type": "application/json; charset=utf-8",
            "user-agent": USER_AGENT,
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(subscription.secret_token, timestamp, body),
        }
        try:
            with httpx.Client(timeout=self.sandbox.limits.webhook_timeout) as client:
                response = client.post(subscription.endpoint_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return self._record(app, None, f"no answer within the timeout: {exc!r}")
        if response.status_code not in (200, 204):
            return self._record(app, response.status_code, "status must be 200 or 204")
        try:
            answer = response.json()
        except ValueError:
            return self._record(app, response.status_code, "body is not JSON")
        expected = {
            "plainToken": plain,
            "encryptedToken": encrypted_token(subscription.secret_token, plain),
        }
        if not isinstance(answer, dict) or {k: answer.get(k) for k in expected} != expected:
            return self._record(app, response.status_code, f"wrong answer: {answer!r}")
        return self._record(app, response.status_code, "validated", passed=True)

    def _record(
        self, app: App, status: int | None, detail: str, *, passed: bool = False
    ) -> ValidationResult:
        assert app.webhook is not None
        app.webhook.validated = passed
        result = ValidationResult(
            self.sandbox.now(), app.webhook.endpoint_url, passed, status, detail
        )
        self.validations.append(result)
        return result
