"""``/subscriptions``: create (with the validation handshake), list, get, renew, delete, reauthorize.

Wire behaviour (microsoft-graph-docs-contrib ``api-reference/v1.0/api/subscription-*.md`` and
``concepts/includes/change-notifications-delivery-notificationurl-validation.md``):

* ``POST`` → 201 with the subscription, only after Graph POSTed
  ``{notificationUrl}?validationToken=…`` (``Content-Type: text/plain``) and got, within 10
  seconds, a 200 ``text/plain`` answer holding the URL-decoded token — for
  ``lifecycleNotificationUrl`` too. Otherwise 400 with the answers seen in the field
  (microsoft-graph-docs issues; code ``ValidationError``, older ``InvalidRequest`` ⚠):
  "Subscription validation request failed. Notification endpoint must respond with 200 OK to
  validation request.", "… Response must exactly match validationToken query parameter.",
  "Subscription validation request timed out.";
* ``PATCH /subscriptions/{id}`` ``{expirationDateTime}`` renews (200 with the subscription) and
  reauthorizes; ``DELETE`` → 204; ``POST …/reauthorize`` → 204 (⚠ status);
* an app sees only its own subscriptions in its tenant; others → 404 ``ResourceNotFound`` ⚠.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from starlette.responses import Response

from .graph import GraphCall
from .subscriptions import (
    PAYLOAD_ERROR,
    CreateRequest,
    Subscription,
    SubscriptionError,
    bad,
    check_url,
    expiry,
    parse_create,
    subscription_json,
)
from .wire import graph_error, graph_headers, graph_json, graph_root

MUST_BE_200 = (
    "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
    "validation request."
)
MUST_MATCH = (
    "Subscription validation request failed. Response must exactly match validationToken query "
    "parameter."
)
TIMED_OUT = "Subscription validation request timed out."
NOT_FOUND = "The object was not found."


async def _answer(call: GraphCall, work: Any) -> Response:
    try:
        return await work(call)
    except SubscriptionError as exc:
        return graph_error(call.request, exc.status, exc.code, exc.message)


async def _json(call: GraphCall) -> Any:
    try:
        return json.loads(await call.request.body() or b"null")
    except ValueError as exc:
        raise bad(PAYLOAD_ERROR) from exc


def _own(call: GraphCall) -> Subscription:
    sub = call.sandbox.subscriptions.find(
        call.params.get("sid", ""), call.tenant.id, str(call.claims.get("appid", ""))
    )
    if sub is None:
        raise SubscriptionError(404, "ResourceNotFound", NOT_FOUND)
    return sub


async def validate_endpoint(call: GraphCall, url: str) -> None:
    """Graph's handshake: POST ``?validationToken=…`` and expect it back as plain text."""
    sandbox = call.sandbox
    token = (
        "Validation: Testing client application reachability for subscription Request-Id: "
        f"{uuid.uuid4()}"
    )
    target = f"{url}{'&' if '?' in url else '?'}validationToken={quote(token, safe='')}"
    sandbox.stats.notifications["validations"] += 1
    try:
        async with httpx.AsyncClient(timeout=sandbox.limits.validation_timeout) as client:
            response = await client.post(
                target, headers={"content-type": "text/plain; charset=utf-8"}
            )
    except httpx.TimeoutException as exc:
        raise _failed(call, TIMED_OUT) from exc
    except httpx.HTTPError as exc:
        raise _failed(call, MUST_BE_200) from exc
    if response.status_code != 200:
        raise _failed(call, MUST_BE_200)
    plain = response.headers.get("content-type", "").split(";")[0].strip().lower() == "text/plain"
    if not plain or response.text != token:
        raise _failed(call, MUST_MATCH)


def _failed(call: GraphCall, message: str) -> SubscriptionError:
    call.sandbox.stats.notifications["validations_failed"] += 1
    return bad(message, call.sandbox.limits.validation_error_code)


async def create_subscription(call: GraphCall) -> Response:
    return await _answer(call, _create)


async def _create(call: GraphCall) -> Response:
    hub = call.sandbox.subscriptions
    wanted = parse_create(await _json(call), call.sandbox.limits, hub.now())
    user_id, watched_calendar = _watched(call, wanted)
    await validate_endpoint(call, wanted.notification_url)
    if wanted.lifecycle_url:
        await validate_endpoint(call, wanted.lifecycle_url)
    client_id = str(call.claims.get("appid", ""))
    creator = call.claims.get("oid") if call.delegated else None
    sub = hub.add(
        Subscription(
            id=hub.new_id(),
            tenant_id=call.tenant.id,
            client_id=client_id,
            creator_id=str(
                creator or uuid.uuid5(uuid.NAMESPACE_URL, f"{call.tenant.id}/{client_id}")
            ),
            resource=wanted.resource,
            user_id=user_id,
            change_types=wanted.change_types,
            notification_url=wanted.notification_url,
            lifecycle_url=wanted.lifecycle_url,
            client_state=wanted.client_state,
            expires=wanted.expires,
            created=hub.now(),
            tls_version=wanted.tls_version,
            calendar_id=watched_calendar,
        )
    )
    return graph_json(call.request, subscription_json(sub, graph_root(call.request)), 201)


def _watched(call: GraphCall, wanted: CreateRequest) -> tuple[str, str | None]:
    """The mailbox the resource names (``me`` only with a delegated token), and the one
    calendar watched (None: every calendar of the mailbox)."""
    from .graph_events import calendar_id

    if wanted.user_ref is None and not call.delegated:
        raise bad("/me request is only valid with delegated authentication flow.", "BadRequest")
    ref = wanted.user_ref or str(call.claims.get("oid", ""))
    user = call.sandbox.find_user(call.tenant, ref)
    known = user is not None and user.has_mailbox
    if known and wanted.calendar_id and wanted.calendar_id != calendar_id(user):  # type: ignore[arg-type]
        known = call.sandbox.calendar_of(user, wanted.calendar_id) is not None  # type: ignore[arg-type]
    if not known:
        raise SubscriptionError(
            404,
            "ExtensionError",
            "Operation: Create; Exception: [Status Code: NotFound; Reason: The specified object "
            "was not found in the store.]",
        )
    assert user is not None
    if wanted.default_calendar:
        return user.id, calendar_id(user)
    return user.id, wanted.calendar_id


async def list_subscriptions(call: GraphCall) -> Response:
    hub, root = call.sandbox.subscriptions, graph_root(call.request)
    mine = hub.listed(call.tenant.id, str(call.claims.get("appid", "")))
    value = [
        {k: v for k, v in subscription_json(s, root).items() if k != "@odata.context"} for s in mine
    ]
    body = {"@odata.context": f"{root}/$metadata#subscriptions", "value": value}
    return graph_json(call.request, body)


async def get_subscription(call: GraphCall) -> Response:
    async def work(call: GraphCall) -> Response:
        return graph_json(call.request, subscription_json(_own(call), graph_root(call.request)))

    return await _answer(call, work)


async def update_subscription(call: GraphCall) -> Response:
    return await _answer(call, _update)


async def _update(call: GraphCall) -> Response:
    sub, hub = _own(call), call.sandbox.subscriptions
    body = await _json(call)
    if (
        not isinstance(body, dict)
        or not body
        or set(body) - {"expirationDateTime", "notificationUrl"}
    ):
        raise bad("Only expirationDateTime and notificationUrl can be updated.")
    if "notificationUrl" in body:
        url = check_url(body["notificationUrl"], "notificationUrl", call.sandbox.limits)
        await validate_endpoint(call, url)
        sub.notification_url = url
    if "expirationDateTime" in body:
        sub.expires = expiry(body["expirationDateTime"], call.sandbox.limits, hub.now())
    sub.reauthorize_by = None  # "renewing your subscription also reauthorizes your endpoint"
    return graph_json(call.request, subscription_json(sub, graph_root(call.request)))


async def delete_subscription(call: GraphCall) -> Response:
    async def work(call: GraphCall) -> Response:
        call.sandbox.subscriptions.remove(_own(call).id)
        return Response(status_code=204, headers=graph_headers(call.request))

    return await _answer(call, work)


async def reauthorize_subscription(call: GraphCall) -> Response:
    async def work(call: GraphCall) -> Response:
        _own(call).reauthorize_by = None
        return Response(status_code=204, headers=graph_headers(call.request))

    return await _answer(call, work)
