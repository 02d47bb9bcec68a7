"""``POST /{tenant}/oauth2/v2.0/token``: client_credentials, authorization_code, refresh_token.

A refresh returns a new refresh token and leaves the old one valid (Microsoft does not revoke
refresh tokens on use); a revoked one (``tokens.revoke_refresh_tokens``) answers AADSTS50173.

Checks run in Entra ID's order: tenant → grant type → client → cloud → client secret →
grant-specific checks (scope and consent, or code/PKCE/refresh token). Every failure is the
identity platform's token-error JSON with its AADSTS code and HTTP status.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import tokens
from .identity import GENERIC_TENANTS, app_not_found, tenant_not_found
from .model import AppRegistration, RefreshGrant, Tenant, User
from .sandbox import MicrosoftSandbox
from .wire import aad_error, base_url

GRAPH_DEFAULT_SCOPES = (
    "https://graph.microsoft.com/.default",
    "00000003-0000-0000-c000-000000000000/.default",
)
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


class TokenFailure(Exception):
    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message = status, error, code, message


def _missing(name: str) -> TokenFailure:
    return TokenFailure(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


class TokenEndpoint:
    def __init__(self, sandbox: MicrosoftSandbox) -> None:
        self.sandbox = sandbox

    async def handle(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            body = self._dispatch(request, form)
        except TokenFailure as exc:
            return aad_error(request, exc.status, exc.error, exc.code, exc.message)
        return JSONResponse(
            body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        )

    def _dispatch(self, request: Request, form: dict[str, str]) -> dict[str, Any]:
        ref = request.path_params["tenant"]
        tenant = self.sandbox.find_tenant(ref)
        if tenant is None and ref.lower() not in GENERIC_TENANTS:
            raise TokenFailure(400, "invalid_request", 90002, tenant_not_found(ref))
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _missing("grant_type")
        if grant_type not in ("client_credentials", "authorization_code", "refresh_token"):
            raise TokenFailure(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        app = self._authenticate_client(request, form, tenant, ref)
        if grant_type == "client_credentials":
            if tenant is None:
                raise TokenFailure(
                    400,
                    "invalid_request",
                    9001023,
                    "The grant type is not supported over the /common or "
                    "/consumers endpoints. Please use the /organizations or "
                    "tenant-specific endpoint.",
                )
            return self._client_credentials(app, tenant, form)
        if grant_type == "authorization_code":
            return self._authorization_code(request, app, tenant, form)
        return self._refresh(request, app, tenant, form)

    # -- client authentication ------------------------------------------------------------------

    def _authenticate_client(
        self, request: Request, form: dict[str, str], tenant: Tenant | None, ref: str
    ) -> AppRegistration:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic" and encoded:
            try:
                user, _, password = base64.b64decode(encoded).decode().partition(":")
            except ValueError as exc:
                raise TokenFailure(
                    401, "invalid_client", 7000215, "Invalid client secret provided."
                ) from exc
            client_id, secret = client_id or unquote(user), unquote(password)
        if not client_id:
            raise _missing("client_id")
        app = self.sandbox.apps.get(client_id)
        directory = tenant.display_name if tenant else ref
        if app is None or (tenant and not app.multi_tenant and app.home_tenant_id != tenant.id):
            raise TokenFailure(
                400, "unauthorized_client", 700016, app_not_found(client_id, directory)
            )
        if tenant is not None and tenant.cloud.name != app.cloud:
            raise TokenFailure(
                400,
                "invalid_request",
                900439,
                "Confidential Client requests are not supported on the public "
                "endpoint (login.microsoftonline.com) for tenants in the Azure "
                "Government cloud. Send your login requests to "
                "https://login.microsoftonline.us instead. Please see "
                "https://devblogs.microsoft.com/azuregov/azure-government-aad-"
                "authority-endpoint-update/ for more details",
            )
        self._check_secret(app, tenant, secret)
        return app

    def _check_secret(
        self, app: AppRegistration, tenant: Tenant | None, secret: str | None
    ) -> None:
        if not secret:
            raise TokenFailure(
                401,
                "invalid_client",
                7000218,
                "The request body must contain "
                "the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        now = datetime.fromtimestamp(self.sandbox.clock(), UTC)
        for candidate in app.secrets:
            if not secrets.compare_digest(candidate.value, secret):
                continue
            expired = candidate.expires_at is not None and candidate.expires_at <= now
            if expired or (tenant and app.client_id in tenant.expired_secret_clients):
                raise TokenFailure(
                    401,
                    "invalid_client",
                    7000222,
                    f"The provided client secret keys for app '{app.client_id}' "
                    "are expired. Visit the Azure portal to create new keys for "
                    "your app: https://aka.ms/NewClientSecret, or consider using "
                    "certificate credentials for added security: "
                    "https://aka.ms/certCreds.",
                )
            return
        raise TokenFailure(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the "
            "request is the client secret value, not the client secret ID, for a "
            f"secret added to app '{app.client_id}'.",
        )

    # -- grants -------------------------------------------------------------------------------

    def _client_credentials(
        self, app: AppRegistration, tenant: Tenant, form: dict[str, str]
    ) -> dict[str, Any]:
        scope = form.get("scope", "").strip()
        if not scope:
            raise _missing("scope")
        if scope not in GRAPH_DEFAULT_SCOPES:
            raise TokenFailure(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client "
                "credential flows must have a scope value with /.default "
                "suffixed to the resource identifier (application ID URI).",
            )
        roles = tenant.grants.get(app.client_id)
        if roles is None:
            raise TokenFailure(
                401,
                "invalid_client",
                7000229,
                f"The client application {app.client_id} is missing service "
                f"principal in the tenant {tenant.id}. See instructions here: "
                "https://go.microsoft.com/fwlink/?linkid=2225119",
            )
        lifetime = self.sandbox.limits.token_lifetime
        token = tokens.issue(
            self.sandbox.signing_key,
            tenant_id=tenant.id,
            client_id=app.client_id,
            app_name=app.display_name,
            issued_at=self.sandbox.clock(),
            lifetime=lifetime,
            roles=roles,
        )
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    def _authorization_code(
        self, request: Request, app: AppRegistration, tenant: Tenant | None, form: dict[str, str]
    ) -> dict[str, Any]:
        code = self.sandbox.codes.get(form.get("code") or "")
        if not form.get("code"):
            raise _missing("code")
        if (
            code is None
            or code.client_id != app.client_id
            or (tenant is not None and code.tenant_id != tenant.id)
        ):
            raise TokenFailure(
                400,
                "invalid_grant",
                70000,
                "The provided value for the 'code' parameter is not valid.",
            )
        if code.redeemed:
            raise TokenFailure(
                400,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was "
                "already redeemed, please retry with a new valid code or use an "
                "existing refresh token.",
            )
        code.redeemed = True
        if code.expires_at <= self.sandbox.clock():
            raise TokenFailure(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or "
                "refresh token has expired due to inactivity. Send a new "
                "interactive authorization request for this user and resource.",
            )
        if form.get("redirect_uri") != code.redirect_uri:
            raise TokenFailure(
                400,
                "invalid_grant",
                50011,
                f"The redirect URI '{form.get('redirect_uri')}' specified in the "
                "request does not match the redirect URI used in the "
                "authorization request.",
            )
        self._check_pkce(code.code_challenge, code.code_challenge_method, form.get("code_verifier"))
        user_tenant = self.sandbox.tenants[code.tenant_id]
        user = user_tenant.users.get(code.user_id)
        if user is None:
            raise TokenFailure(400, "invalid_grant", 50034, "The user account does not exist.")
        return self._user_tokens(
            request, app, user_tenant, user, code.scopes, code.nonce, form.get("client_info") == "1"
        )

    @staticmethod
    def _check_pkce(challenge: str | None, method: str | None, verifier: str | None) -> None:
        if challenge is None:
            return
        if not verifier:
            raise _missing("code_verifier")
        if method == "S256":
            digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
            computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        else:
            computed = verifier
        if not secrets.compare_digest(computed, challenge):
            raise TokenFailure(
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match "
                "the code_challenge supplied in the authorization request.",
            )

    def _refresh(
        self, request: Request, app: AppRegistration, tenant: Tenant | None, form: dict[str, str]
    ) -> dict[str, Any]:
        if not form.get("refresh_token"):
            raise _missing("refresh_token")
        grant = self.sandbox.refresh_tokens.get(form["refresh_token"])
        if (
            grant is None
            or grant.client_id != app.client_id
            or (tenant is not None and grant.tenant_id != tenant.id)
        ):
            raise TokenFailure(
                400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if isinstance(grant, tokens.RevokedGrant):
            raise TokenFailure(400, "invalid_grant", 50173, grant.refusal())
        if grant.expires_at <= self.sandbox.clock():
            raise TokenFailure(
                400,
                "invalid_grant",
                700082,
                "The refresh token has expired due "
                "to inactivity. The token was issued on an earlier date and was "
                "inactive for 90.00:00:00.",
            )
        user_tenant = self.sandbox.tenants[grant.tenant_id]
        user = user_tenant.users.get(grant.user_id)
        if user is None:
            raise TokenFailure(400, "invalid_grant", 50034, "The user account does not exist.")
        scopes = tuple(form["scope"].split()) if form.get("scope") else grant.scopes
        return self._user_tokens(
            request, app, user_tenant, user, scopes, None, form.get("client_info") == "1"
        )

    def _user_tokens(
        self,
        request: Request,
        app: AppRegistration,
        tenant: Tenant,
        user: User,
        scopes: tuple[str, ...],
        nonce: str | None,
        client_info: bool,
    ) -> dict[str, Any]:
        """Delegated tokens; a refresh token only when ``offline_access`` was requested."""
        sandbox, now = self.sandbox, self.sandbox.clock()
        granted = tuple(s.rsplit("/", 1)[-1] for s in scopes if s not in OIDC_SCOPES)
        lifetime = sandbox.limits.token_lifetime
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(granted),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": tokens.issue(
                sandbox.signing_key,
                tenant_id=tenant.id,
                client_id=app.client_id,
                app_name=app.display_name,
                issued_at=now,
                lifetime=lifetime,
                scopes=granted,
                user_id=user.id,
                upn=user.user_principal_name,
            ),
        }
        if "offline_access" in scopes:
            token = "1.A" + secrets.token_urlsafe(64)
            sandbox.refresh_tokens[token] = RefreshGrant(
                token,
                app.client_id,
                tenant.id,
                user.id,
                scopes,
                now + sandbox.limits.refresh_token_lifetime,
            )
            body["refresh_token"] = token
        if "openid" in scopes:
            body["id_token"] = self._id_token(request, app, tenant, user, nonce, now)
        if client_info:
            info = json.dumps({"uid": user.id, "utid": tenant.id}).encode()
            body["client_info"] = base64.urlsafe_b64encode(info).decode().rstrip("=")
        return body

    def _id_token(
        self,
        request: Request,
        app: AppRegistration,
        tenant: Tenant,
        user: User,
        nonce: str | None,
        now: float,
    ) -> str:
        claims: dict[str, Any] = {
            "aud": app.client_id,
            "iss": f"{base_url(request)}/{tenant.id}/v2.0",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + 3600,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.user_principal_name,
            "sub": user.id,
            "tid": tenant.id,
            "ver": "2.0",
            "email": user.mail,
        }
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self.sandbox.signing_key, algorithm="HS256")
