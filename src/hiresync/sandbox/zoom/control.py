"""``/_control``: drive the sandbox over HTTP (faults, limits, pre-approval, changes made "in
Zoom", webhooks, statistics).

Not part of Zoom's surface; no authentication. Every endpoint calls the same
:class:`ZoomSandbox` method a Python test would. Calls that talk to a webhook endpoint run on a
worker thread, so the endpoint may live in the same server as the sandbox (the demo).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .model import Account, User
from .sandbox import DEMO_WEBHOOK_SECRET
from .wire import base_url

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def user_summary(sandbox: ZoomSandbox, user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.display_name,
        "type": user.type,
        "role": user.role,
        "timezone": user.timezone,
        "account_id": user.account_id,
        **sandbox.plan_limits(user),
        "authorized_apps": sorted(
            g.client_id
            for g in sandbox.grants.values()
            if g.user_id == user.id and g.revoked_at is None
        ),
    }


def account_summary(sandbox: ZoomSandbox, account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "plan": account.plan,
        "requires_preapproval": account.requires_preapproval,
        "preapproved": sorted(account.preapproved),
        "users": [
            user_summary(sandbox, u) for u in sandbox.users.values() if u.account_id == account.id
        ],
    }


class Control:
    def __init__(self, sandbox: ZoomSandbox) -> None:
        self.sandbox = sandbox

    def _account(self, request: Request) -> Account | None:
        try:
            return self.sandbox.account(request.path_params["account"])
        except KeyError:
            return None

    async def accounts(self, request: Request) -> Response:
        return JSONResponse(
            [account_summary(self.sandbox, a) for a in self.sandbox.accounts.values()]
        )

    async def faults(self, request: Request) -> Response:
        """GET the account's faults, or PUT a partial update (unknown keys → 400)."""
        account = self._account(request)
        if account is None:
            return _problem(404, "unknown account")
        if request.method == "PUT":
            try:
                account.faults.update(await _json(request))
            except (ValueError, TypeError) as exc:
                return _problem(400, str(exc))
        return JSONResponse(account.faults.as_dict())

    async def limits(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                self.sandbox.limits.update(await _json(request))
            except (ValueError, TypeError) as exc:
                return _problem(400, str(exc))
        return JSONResponse(self.sandbox.limits.as_dict())

    async def pre_approval(self, request: Request) -> Response:
        """POST …/pre-approve or …/revoke-pre-approval, body ``{"client_id"?}`` (demo app)."""
        account = self._account(request)
        if account is None:
            return _problem(404, "unknown account")
        try:
            client_id = (await _json(request)).get("client_id") or self.sandbox.demo_client_id
        except ValueError as exc:
            return _problem(400, str(exc))
        if client_id not in self.sandbox.apps:
            return _problem(404, "unknown client_id")
        if request.url.path.endswith("revoke-pre-approval"):
            self.sandbox.revoke_pre_approval(account, client_id)
        else:
            self.sandbox.pre_approve(account, client_id)
        return JSONResponse(account_summary(self.sandbox, account))

    async def approve_form(self, request: Request) -> Response:
        """The overview page's **Pre-approve** button (the admin's side of a request)."""
        form = await request.form()
        try:
            self.sandbox.pre_approve(
                str(form.get("account_id", "")), str(form.get("client_id", "")) or None
            )
        except KeyError as exc:
            return _problem(404, str(exc))
        return RedirectResponse(f"{base_url(request)}/", status_code=303)

    async def preapproval_requests(self, request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "account_id": r.account_id,
                    "client_id": r.client_id,
                    "user_id": r.user_id,
                    "email": self.sandbox.users[r.user_id].email,
                    "requested_at": r.requested_at.isoformat(),
                    "approved_at": r.approved_at.isoformat() if r.approved_at else None,
                }
                for r in self.sandbox.preapproval_requests
            ]
        )

    async def deauthorize(self, request: Request) -> Response:
        """POST ``{"client_id"?}``: the user removes the app in Zoom (→ ``app_deauthorized``)."""
        try:
            client_id = (await _json(request)).get("client_id")
            grant = self.sandbox.deauthorize(request.path_params["user"], client_id)
        except KeyError as exc:
            return _problem(404, str(exc))
        except ValueError as exc:
            return _problem(400, str(exc))
        return JSONResponse({"deauthorized": grant is not None})

    async def webhooks(self, request: Request) -> Response:
        """GET or PUT ``{endpoint_url, secret_token?, events?}`` of an app's subscription."""
        app = self.sandbox.apps.get(request.path_params["client_id"])
        if app is None:
            return _problem(404, "unknown client_id")
        if request.method == "PUT":
            try:
                body = await _json(request)
                current = app.webhook.secret_token if app.webhook else DEMO_WEBHOOK_SECRET
                self.sandbox.configure_webhooks(
                    str(body["endpoint_url"]),
                    str(body.get("secret_token") or current),
                    client_id=app.client_id,
                    events=body.get("events"),
                )
            except (KeyError, ValueError, TypeError) as exc:
                return _problem(400, f"invalid subscription: {exc}")
        hook = app.webhook
        if hook is None:
            return JSONResponse({"endpoint_url": None})
        return JSONResponse(
            {
                "endpoint_url": hook.endpoint_url,
                "events": sorted(hook.events),
                "validated": hook.validated,
            }
        )

    async def validate(self, request: Request) -> Response:
        client_id = request.path_params["client_id"]
        if client_id not in self.sandbox.apps:
            return _problem(404, "unknown client_id")
        try:
            result = await asyncio.to_thread(self.sandbox.validate_endpoint, client_id)
        except ValueError as exc:
            return _problem(400, str(exc))
        return JSONResponse(
            {"passed": result.passed, "status": result.status, "detail": result.detail}
        )

    async def deliveries(self, request: Request) -> Response:
        query = request.query_params
        found = self.sandbox.deliveries(client_id=query.get("client_id"), event=query.get("event"))
        return JSONResponse([d.as_dict() for d in found])

    async def deliver(self, request: Request) -> Response:
        """POST ``{"force"?: bool}``: send due deliveries now (and wait for them)."""
        try:
            force = bool((await _json(request)).get("force", False))
        except ValueError as exc:
            return _problem(400, str(exc))
        sent = await asyncio.to_thread(lambda: self.sandbox.deliver_webhooks(force=force))
        return JSONResponse([d.as_dict() for d in sent])

    async def meeting(self, request: Request) -> Response:
        """PATCH ``{topic?, start_time?, duration?, …, operator?}`` or DELETE: a change made in
        the Zoom app by the host (or ``operator``); subscribed apps are notified."""
        meeting_id = request.path_params["meeting"]
        try:
            if request.method == "DELETE":
                self.sandbox.delete_meeting_in_zoom(meeting_id)
                return Response(status_code=204)
            body = await _json(request)
            operator = body.pop("operator", None)
            self.sandbox.update_meeting_in_zoom(meeting_id, operator=operator, **body)
        except KeyError as exc:
            return _problem(404, f"unknown meeting: {exc}")
        except ValueError as exc:
            return _problem(400, str(exc))
        return JSONResponse({"id": int(meeting_id)})

    async def meeting_status(self, request: Request) -> Response:
        """POST …/start or …/end: the host starts or ends the meeting in Zoom."""
        meeting_id = request.path_params["meeting"]
        try:
            if request.url.path.endswith("/start"):
                meeting = self.sandbox.start_meeting_in_zoom(meeting_id)
            else:
                meeting = self.sandbox.end_meeting_in_zoom(meeting_id)
        except KeyError as exc:
            return _problem(404, f"unknown meeting: {exc}")
        except ValueError as exc:
            return _problem(409, str(exc))
        return JSONResponse({"id": meeting.id, "status": meeting.status})

    async def stats(self, request: Request) -> Response:
        """GET counters; POST …/stats/reset clears them and the rate-limit counters."""
        if request.method == "POST":
            self.sandbox.stats.reset()
            self.sandbox.reset_rate_limits()
        return JSONResponse(self.sandbox.stats.snapshot())
