"""``/_control``: drive the sandbox over HTTP (faults, consent, users, events, statistics).

Not part of Microsoft's surface; no authentication. Every endpoint calls the same
:class:`MicrosoftSandbox` method a Python test would.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .event_wire import attendee_json
from .model import Tenant, User, WorkingHours
from .sandbox import MicrosoftSandbox
from .tokens import revoke_refresh_tokens


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def user_summary(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "displayName": user.display_name,
        "mail": user.mail,
        "userPrincipalName": user.user_principal_name,
        "timeZone": user.time_zone,
        "isAdmin": user.is_admin,
        "accountEnabled": user.account_enabled,
    }


class Control:
    def __init__(self, sandbox: MicrosoftSandbox) -> None:
        self.sandbox = sandbox

    def _tenant(self, request: Request) -> Tenant | None:
        return self.sandbox.find_tenant(request.path_params["tenant"])

    async def _json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        data = json.loads(raw) if raw.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    async def faults(self, request: Request) -> Response:
        """GET the tenant's faults, or PUT a partial update (unknown keys → 400)."""
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        if request.method == "PUT":
            try:
                tenant.faults.update(await self._json(request))
            except (ValueError, TypeError) as exc:
                return _problem(400, str(exc))
        return JSONResponse(tenant.faults.as_dict())

    async def consent(self, request: Request) -> Response:
        """POST …/revoke-consent or …/consent, body ``{"client_id": …}`` (default demo app).

        ``…/revoke-consent {"user": id or UPN, "client_id"?}`` revokes that user's refresh
        tokens instead (all apps, or one): what ``revokeSignInSessions`` or the user's own
        "sign out everywhere" does; their next refresh fails with AADSTS50173."""
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        try:
            body = await self._json(request)
        except ValueError as exc:
            return _problem(400, str(exc))
        if request.url.path.endswith("revoke-consent") and body.get("user"):
            return self._revoke_user_tokens(tenant, str(body["user"]), body.get("client_id"))
        if request.url.path.endswith("revoke-consent"):
            self.sandbox.revoke_consent(tenant, body.get("client_id"))
        else:
            client_id = body.get("client_id", self.sandbox.demo_client_id)
            if client_id not in self.sandbox.apps:
                return _problem(404, "unknown client_id")
            self.sandbox.grant_admin_consent(tenant, client_id)
        return JSONResponse({"grants": {k: list(v) for k, v in tenant.grants.items()}})

    def _revoke_user_tokens(self, tenant: Tenant, ref: str, client_id: Any) -> Response:
        user = self.sandbox.find_user(tenant, ref)
        if user is None:
            return _problem(404, "unknown user")
        count = revoke_refresh_tokens(
            self.sandbox.refresh_tokens,
            tenant_id=tenant.id,
            user_id=user.id,
            now=self.sandbox.clock(),
            lifetime=self.sandbox.limits.refresh_token_lifetime,
            client_id=str(client_id) if client_id else None,
        )
        return JSONResponse({"user": user.id, "revokedRefreshTokens": count})

    async def users(self, request: Request) -> Response:
        """POST a user ``{displayName, mail, userPrincipalName?, aliases?, timeZone?,
        workingHours?: {daysOfWeek, startTime, endTime}}`` → 201."""
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        try:
            body = await self._json(request)
            user = self.sandbox.add_user(
                tenant,
                display_name=body["displayName"],
                mail=body["mail"],
                user_principal_name=body.get("userPrincipalName"),
                aliases=body.get("aliases", []),
                time_zone=body.get("timeZone", "UTC"),
                working_hours=_working_hours(body.get("workingHours")),
                user_id=body.get("id"),
                is_admin=bool(body.get("isAdmin", False)),
                can_sign_in=bool(body.get("canSignIn", False)),
                account_enabled=bool(body.get("accountEnabled", True)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            return _problem(400, f"invalid user: {exc}")
        return JSONResponse(user_summary(user), status_code=201)

    async def generate_users(self, request: Request) -> Response:
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        try:
            count = int((await self._json(request)).get("count", 0))
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))
        made = self.sandbox.add_generated_users(tenant, count)
        return JSONResponse({"added": len(made), "total": len(tenant.users)}, status_code=201)

    async def delete_user(self, request: Request) -> Response:
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        try:
            self.sandbox.remove_user(tenant, request.path_params["user"])
        except KeyError:
            return _problem(404, "unknown user")
        return Response(status_code=204)

    async def events(self, request: Request) -> Response:
        """POST ``{subject, start, end (ISO with offset), showAs?, sensitivity?, isAllDay?}``."""
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        try:
            body = await self._json(request)
            event = self.sandbox.add_event(
                tenant,
                request.path_params["user"],
                subject=body["subject"],
                start=datetime.fromisoformat(body["start"]),
                end=datetime.fromisoformat(body["end"]),
                time_zone=body.get("timeZone"),
                show_as=body.get("showAs", "busy"),
                location=body.get("location", ""),
                sensitivity=body.get("sensitivity", "normal"),
                is_all_day=bool(body.get("isAllDay", False)),
            )
        except KeyError as exc:
            return _problem(
                404 if exc.args and exc.args[0] == request.path_params["user"] else 400,
                f"missing or unknown: {exc}",
            )
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))
        return JSONResponse({"id": event.id}, status_code=201)

    async def responses(self, request: Request) -> Response:
        """POST ``{attendee, response: accepted|declined|tentativelyAccepted, comment?}``:
        that attendee answers the meeting; returns the organizer's attendee statuses."""
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        try:
            body = await self._json(request)
            event = self.sandbox.respond(
                tenant,
                request.path_params["event"],
                str(body["attendee"]),
                str(body["response"]),
                str(body.get("comment") or ""),
            )
        except KeyError as exc:
            return _problem(404, f"unknown event or attendee: {exc}")
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))
        return JSONResponse(
            {"id": event.id, "attendees": [attendee_json(a) for a in event.attendees]}
        )

    async def invitations(self, request: Request) -> Response:
        """GET the meeting messages the tenant "sent" (``?to=`` / ``?eventId=`` narrow it)."""
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        query = request.query_params
        sent = self.sandbox.invitations(tenant, to=query.get("to"), event_id=query.get("eventId"))
        return JSONResponse([m.as_dict() for m in sent])

    async def online_meetings(self, request: Request) -> Response:
        """PUT ``{providers: [...], user?}``: which online meeting providers calendars allow
        (``[]`` disables Teams) for the tenant or one mailbox."""
        tenant = self._tenant(request)
        if tenant is None:
            return _problem(404, "unknown tenant")
        try:
            body = await self._json(request)
            self.sandbox.set_online_meeting_providers(
                tenant, list(body["providers"]), body.get("user")
            )
        except KeyError as exc:
            return _problem(404 if body.get("user") else 400, f"missing or unknown: {exc}")
        except (ValueError, TypeError) as exc:
            return _problem(400, str(exc))
        return JSONResponse({"providers": list(tenant.online_meeting_providers)})

    async def stats(self, request: Request) -> Response:
        """GET counters; POST …/stats/reset clears them."""
        if request.method == "POST":
            self.sandbox.stats.reset()
        return JSONResponse(self.sandbox.stats.snapshot())

    async def tenants(self, request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "id": t.id,
                    "displayName": t.display_name,
                    "domains": t.domains,
                    "users": len(t.users),
                    "grants": list(t.grants),
                    "signInAccounts": [a.__dict__ for a in self.sandbox.sign_in_accounts(t.id)],
                }
                for t in self.sandbox.tenants.values()
            ]
        )


def _working_hours(raw: dict[str, Any] | None) -> WorkingHours | None:
    if not raw:
        return None
    from datetime import time

    return WorkingHours(
        tuple(raw.get("daysOfWeek", WorkingHours().days)),
        time.fromisoformat(raw.get("startTime", "08:00")[:8]),
        time.fromisoformat(raw.get("endTime", "17:00")[:8]),
    )
