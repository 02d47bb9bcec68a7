"""User-managed OAuth: ``/oauth/authorize``, ``/oauth/token``, ``/oauth/revoke``.

Authorize (developers.zoom.us "OAuth 2.0", "End user authorization"): problems with the *app*
(unknown ``client_id``, redirect URI not on the allow list, bad ``response_type``) show an error
page and never redirect; the user's choice comes back as ``?code=…&state=…`` or
``?error=access_denied&state=…``. Members of an account that requires admin pre-approval see
Zoom's pre-approval page with **Request Pre-approval** instead (then "Pre-approval Requested")
until :meth:`ZoomSandbox.pre_approve`; owners and admins may add the app themselves.

Token (HTTP Basic client auth; parameters in the query string or the form, as Zoom accepts):
codes live ``limits.code_lifetime`` (5 min), are single-use and bound to ``redirect_uri`` and
the PKCE challenge (S256 or plain, Zoom's default). **Every refresh returns a new refresh token
and kills the old one**; reusing it answers 400 ``{"reason":"Invalid Token!","error":
"invalid_grant"}`` (raycast/extensions#10896). Other bodies seen in the wild: ``Invalid client_id
or client_secret``/``invalid_client``, ``unsupported grant type``/``unsupported_grant_type``,
``Invalid authorization code``/``invalid_grant``; "Redirect URI mismatch." is the docs' OAuth
error table wording ⚠, ``Invalid code_verifier`` is the sandbox's ⚠ (docs: "invalid_grant").

Revoke: ``POST /oauth/revoke?token=…`` → ``{"status":"success"}``; the user's authorization of
the app ends, every token dies, and the app receives ``app_deauthorized``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .model import App, AuthCode, IssuedToken, User
from .pages import authorize_page, error_page, preapproval_page
from .wire import base_url, basic_credentials, oauth_error, pkce_matches

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
INVALID_CLIENT = ("invalid_client", "Invalid client_id or client_secret")


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


class OAuth:
    def __init__(self, sandbox: ZoomSandbox) -> None:
        self.sandbox = sandbox

    # -- authorize ----------------------------------------------------------------------------

    def _check_app(self, params: Any) -> tuple[App, str] | Response:
        app = self.sandbox.apps.get(str(params.get("client_id", "")))
        if app is None:
            return error_page(4702, f"Invalid client_id: {params.get('client_id', '')}")
        redirect_uri = str(params.get("redirect_uri", ""))
        if not redirect_uri or not app.redirect_allowed(redirect_uri):
            return error_page(4709, f"Invalid redirect: {redirect_uri}")
        if params.get("response_type") != "code":
            return error_page(4700, f"Unsupported response_type: {params.get('response_type')}")
        method = params.get("code_challenge_method")
        if params.get("code_challenge") and (method or "plain").upper() not in ("S256", "PLAIN"):
            return error_page(4700, f"Unsupported code_challenge_method: {method}")
        if self.sandbox.limits.require_pkce and not params.get("code_challenge"):
            return error_page(4700, "code_challenge is required")
        return app, redirect_uri

    async def authorize(self, request: Request) -> Response:
        params = await request.form() if request.method == "POST" else request.query_params
        checked = self._check_app(params)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri = checked
        keep = (
            "response_type",
            "client_id",
            "redirect_uri",
            "state",
            "code_challenge",
            "code_challenge_method",
        )
        hidden = {k: str(params[k]) for k in keep if k in params}
        action = str(request.url.path)
        if request.method == "GET":
            users = [u for u in self.sandbox.users.values() if u.can_sign_in]
            return authorize_page(action, app, users, self.sandbox.accounts, hidden)
        state = params.get("state")
        if params.get("action") == "cancel":
            query = {"error": "access_denied"} | (
                {"state": str(state)} if state is not None else {}
            )
            return RedirectResponse(_with_query(redirect_uri, query), status_code=302)
        user = self.sandbox.find_user(str(params.get("user", "")))
        if user is None or not user.can_sign_in:
            return error_page(1001, f"User does not exist: {params.get('user', '')}")
        if self.sandbox.needs_preapproval(user, app.client_id):
            return self._preapproval(action, app, user, hidden, params.get("action"))
        return self._issue_code(app, user, redirect_uri, params)

    def _preapproval(
        self, action: str, app: App, user: User, hidden: dict[str, str], choice: Any
    ) -> Response:
        if choice == "request_preapproval":
            self.sandbox.request_preapproval(user, app.client_id)
        requested = any(
            r.user_id == user.id and r.client_id == app.client_id and r.approved_at is None
            for r in self.sandbox.preapproval_requests
        )
        account = self.sandbox.accounts[user.account_id]
        return preapproval_page(action, app, user, account, hidden, requested)

    def _issue_code(self, app: App, user: User, redirect_uri: str, params: Any) -> Response:
        code = secrets.token_urlsafe(24)
        challenge = params.get("code_challenge")
        self.sandbox.codes[code] = AuthCode(
            code=code,
            client_id=app.client_id,
            user_id=user.id,
            redirect_uri=redirect_uri,
            code_challenge=str(challenge) if challenge else None,
            code_challenge_method=str(params.get("code_challenge_method") or "plain")
            if challenge
            else None,
            expires_at=self.sandbox.clock() + self.sandbox.limits.code_lifetime,
        )
        query = {"code": code}
        if params.get("state") is not None:
            query["state"] = str(params["state"])
        return RedirectResponse(_with_query(redirect_uri, query), status_code=302)

    # -- token --------------------------------------------------------------------------------

    async def _params(self, request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: str(v) for k, v in request.query_params.items()} | {
            k: str(v) for k, v in form.items()
        }

    def _client(self, request: Request, params: dict[str, str]) -> App | None:
        pair = basic_credentials(request.headers.get("authorization", ""))
        client_id, secret = pair or (params.get("client_id", ""), params.get("client_secret", ""))
        app = self.sandbox.apps.get(client_id)
        if app is None or not secrets.compare_digest(app.client_secret, secret):
            return None
        return app

    async def token(self, request: Request) -> Response:
        params = await self._params(request)
        app = self._client(request, params)
        if app is None:
            self.sandbox.stats.oauth["errors"] += 1
            return oauth_error(400, *INVALID_CLIENT)
        grant_type = params.get("grant_type")
        with self.sandbox.lock:
            if grant_type == "authorization_code":
                answer = self._authorization_code(app, params)
            elif grant_type == "refresh_token":
                answer = self._refresh(app, params)
            else:
                answer = oauth_error(400, "unsupported_grant_type", "unsupported grant type")
        if isinstance(answer, Response):
            self.sandbox.stats.oauth["errors"] += 1
            return answer
        access, refresh, scopes = answer
        body = {
            "access_token": access.token,
            "token_type": "bearer",
            "refresh_token": refresh.token,
            "expires_in": self.sandbox.limits.access_token_lifetime,
            "scope": " ".join(scopes),
            "api_url": base_url(request),
        }
        return JSONResponse(body, headers=NO_STORE)

    def _authorization_code(
        self, app: App, params: dict[str, str]
    ) -> tuple[IssuedToken, IssuedToken, tuple[str, ...]] | Response:
        code = self.sandbox.codes.get(params.get("code", ""))
        now = self.sandbox.clock()
        if code is None or code.used or code.client_id != app.client_id or code.expires_at <= now:
            return oauth_error(400, "invalid_grant", "Invalid authorization code")
        code.used = True  # single use, whatever happens next
        if params.get("redirect_uri") != code.redirect_uri:
            return oauth_error(400, "invalid_request", "Redirect URI mismatch.")
        if code.code_challenge is not None and not pkce_matches(
            params.get("code_verifier", ""), code.code_challenge, code.code_challenge_method
        ):
            return oauth_error(400, "invalid_grant", "Invalid code_verifier")
        user = self.sandbox.users.get(code.user_id)
        if user is None:
            return oauth_error(400, "invalid_grant", "Invalid authorization code")
        grant = self.sandbox.new_grant(user, app)
        access, refresh = self.sandbox.issue_tokens(grant)
        self.sandbox.stats.oauth["issued"] += 1
        return access, refresh, grant.scopes

    def _refresh(
        self, app: App, params: dict[str, str]
    ) -> tuple[IssuedToken, IssuedToken, tuple[str, ...]] | Response:
        issued = self.sandbox.tokens.get(params.get("refresh_token", ""))
        now = self.sandbox.clock()
        grant = self.sandbox.grants.get(issued.grant_id) if issued else None
        grace = self.sandbox.limits.refresh_grace_seconds
        if (
            issued is None
            or grant is None
            or issued.kind != "refresh"
            or grant.client_id != app.client_id
            or grant.revoked_at is not None
            or issued.expires_at <= now
            or (issued.rotated_at is not None and now > issued.rotated_at + grace)
        ):
            return oauth_error(400, "invalid_grant", "Invalid Token!")
        if issued.rotated_at is None:
            issued.rotated_at = now
        access, refresh = self.sandbox.issue_tokens(grant)
        self.sandbox.stats.oauth["refreshed"] += 1
        return access, refresh, grant.scopes

    # -- revoke -------------------------------------------------------------------------------

    async def revoke(self, request: Request) -> Response:
        params = await self._params(request)
        app = self._client(request, params)
        if app is None:
            return oauth_error(400, *INVALID_CLIENT)
        issued = self.sandbox.tokens.get(params.get("token", ""))
        grant = self.sandbox.grants.get(issued.grant_id) if issued else None
        if grant is None or grant.client_id != app.client_id or grant.revoked_at is not None:
            return oauth_error(400, "invalid_request", "Invalid Token!")
        with self.sandbox.lock:
            self.sandbox.revoke_grant(grant)
        return JSONResponse({"status": "success"}, headers=NO_STORE)
