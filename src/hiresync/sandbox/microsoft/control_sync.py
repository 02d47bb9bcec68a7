"""``/_control`` for sync tests: edits made in Outlook, delta tokens, subscriptions, deliveries.

Not part of Microsoft's surface; no authentication. Every endpoint calls the
:class:`MicrosoftSandbox` method a Python test would; those that talk to a notification
endpoint run on a worker thread so a receiver served by this same process can answer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .event_wire import stamp
from .graph_calendar import BadRequest
from .sandbox import MicrosoftSandbox
from .subscriptions import Subscription


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def subscription_summary(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "tenantId": sub.tenant_id,
        "applicationId": sub.client_id,
        "resource": sub.resource,
        "userId": sub.user_id,
        "changeType": ",".join(sub.change_types),
        "notificationUrl": sub.notification_url,
        "lifecycleNotificationUrl": sub.lifecycle_url,
        "expirationDateTime": stamp(sub.expires),
        "state": sub.state,
        "awaitingReauthorization": sub.reauthorize_by is not None,
    }


class SyncControl:
    def __init__(self, sandbox: MicrosoftSandbox) -> None:
        self.sandbox = sandbox

    async def event(self, request: Request) -> Response:
        """PATCH (a Graph PATCH body) or DELETE ``…/users/{u}/events/{id}``: the user edits
        or deletes the event in Outlook; attendees and subscribers are told."""
        tenant, user = request.path_params["tenant"], request.path_params["user"]
        event_id = request.path_params["event"]
        try:
            if request.method == "DELETE":
                self.sandbox.delete_event_as_user(tenant, user, event_id)
                return Response(status_code=204)
            event = self.sandbox.update_event_as_user(tenant, user, event_id, await _body(request))
        except KeyError as exc:
            return _problem(404, f"unknown tenant, user or event: {exc}")
        except BadRequest as exc:
            return _problem(400, f"{exc.code}: {exc.message}")
        except ValueError as exc:
            return _problem(400, str(exc))
        return JSONResponse({"id": event.id, "changeKey": event.change_key})

    async def calendars(self, request: Request) -> Response:
        """POST ``{name}`` on ``…/users/{u}/calendars``: the user adds a calendar in Outlook;
        DELETE ``…/users/{u}/calendars/{id or name}``: they delete one (with its events)."""
        tenant, user = request.path_params["tenant"], request.path_params["user"]
        try:
            if request.method == "DELETE":
                ref = request.path_params["calendar"]
                self.sandbox.delete_calendar_as_user(tenant, user, ref)
                return Response(status_code=204)
            name = str((await _body(request)).get("name") or "").strip()
            if not name:
                return _problem(400, "name is required")
            made = self.sandbox.create_calendar_as_user(tenant, user, name)
        except KeyError as exc:
            return _problem(404, f"unknown tenant, user or calendar: {exc}")
        except ValueError as exc:
            return _problem(409 if "already exists" in str(exc) else 400, str(exc))
        return JSONResponse({"id": made.id, "name": made.name}, status_code=201)

    async def expire_delta_tokens(self, request: Request) -> Response:
        """POST ``{user?, reset?}``: expire the tenant's (or a mailbox's) delta tokens."""
        try:
            body = await _body(request)
            count = self.sandbox.expire_delta_tokens(
                request.path_params["tenant"], body.get("user"), reset=bool(body.get("reset"))
            )
        except KeyError as exc:
            return _problem(404, f"unknown tenant or user: {exc}")
        except ValueError as exc:
            return _problem(400, str(exc))
        return JSONResponse({"expired": count})

    async def subscriptions(self, request: Request) -> Response:
        tenant = request.query_params.get("tenant")
        try:
            found = self.sandbox.list_subscriptions(tenant)
        except KeyError:
            return _problem(404, "unknown tenant")
        return JSONResponse([subscription_summary(s) for s in found])

    async def expire_silently(self, request: Request) -> Response:
        """POST ``{keepListed?}``: the subscription stops delivering, nobody is told."""
        try:
            body = await _body(request)
            sub = self.sandbox.expire_subscription_silently(
                request.path_params["subscription"], keep_listed=bool(body.get("keepListed"))
            )
        except KeyError:
            return _problem(404, "unknown subscription")
        except ValueError as exc:
            return _problem(400, str(exc))
        return JSONResponse(subscription_summary(sub))

    async def lifecycle(self, request: Request) -> Response:
        """POST ``{event: reauthorizationRequired|subscriptionRemoved|missed}``."""
        try:
            body = await _body(request)
            sent = self.sandbox.emit_lifecycle(
                request.path_params["subscription"], str(body["event"])
            )
        except KeyError as exc:
            return _problem(404 if exc.args[0] != "event" else 400, f"missing or unknown: {exc}")
        except ValueError as exc:
            return _problem(400, str(exc))
        return JSONResponse({"sent": sent})

    async def deliveries(self, request: Request) -> Response:
        query = request.query_params
        found = self.sandbox.notification_deliveries(
            subscription_id=query.get("subscriptionId"), kind=query.get("kind")
        )
        return JSONResponse([d.as_dict() for d in found])

    async def deliver(self, request: Request) -> Response:
        """POST ``{force?}``: send due notifications now (and wait for them)."""
        try:
            force = bool((await _body(request)).get("force", False))
        except ValueError as exc:
            return _problem(400, str(exc))
        sent = await asyncio.to_thread(lambda: self.sandbox.deliver_notifications(force=force))
        return JSONResponse([d.as_dict() for d in sent])
